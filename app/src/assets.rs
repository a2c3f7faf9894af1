//! The stylesheet, compiled from `style/` by the build script and embedded in
//! the binary. Its URL carries a hash of its content, so it can be cached
//! forever and a new build is never masked by an old copy.

/// The compiled CSS.
pub const STYLESHEET: &str = include_str!(concat!(env!("OUT_DIR"), "/main.css"));

/// Where the shell links the stylesheet and the server serves it.
pub const STYLESHEET_PATH: &str = concat!("/assets/main-", env!("STYLE_HASH"), ".css");
