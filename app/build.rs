//! Compiles `style/main.scss` into the CSS the binary embeds, and names it by
//! its content hash so the browser may cache it forever. Also asks for a
//! rebuild when a migration is added: `sqlx::migrate!` embeds them.

use sha2::{Digest, Sha256};
use std::{env, fs, path::PathBuf};

fn main() {
    let style_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../style");
    println!("cargo:rerun-if-changed={}", style_dir.display());
    println!("cargo:rerun-if-changed=../migrations");

    let css = grass::from_path(
        style_dir.join("main.scss"),
        &grass::Options::default().style(grass::OutputStyle::Compressed),
    )
    .unwrap_or_else(|e| panic!("style/main.scss does not compile: {e}"));

    let digest = Sha256::digest(css.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("main.css"), css).unwrap();
    println!("cargo:rustc-env=STYLE_HASH={hash}");
}
