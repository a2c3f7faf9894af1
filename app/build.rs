//! Compiles `style/main.scss` into the CSS the binary embeds, and names it
//! and the sign-in page's script by their content hashes so the browser may
//! cache them forever. Also asks for a rebuild when a migration is added:
//! `sqlx::migrate!` embeds them.

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

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rustc-env=STYLE_HASH={}", hash(css.as_bytes()));
    fs::write(out.join("main.css"), css).unwrap();

    println!("cargo:rerun-if-changed=assets/zone.js");
    let script = fs::read("assets/zone.js").expect("assets/zone.js");
    println!("cargo:rustc-env=ZONE_SCRIPT_HASH={}", hash(&script));
}

fn hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
