//! The stylesheet, compiled from `style/` by the build script, and the one
//! script (the sign-in page's, which reads the browser's time zone), both
//! embedded in the binary. Their URLs carry a hash of their content, so
//! they can be cached forever and a new build is never masked by an old
//! copy.

/// The compiled CSS.
pub const STYLESHEET: &str = include_str!(concat!(env!("OUT_DIR"), "/main.css"));

/// Where the shell links the stylesheet and the server serves it.
pub const STYLESHEET_PATH: &str = concat!("/assets/main-", env!("STYLE_HASH"), ".css");

/// Fills the sign-in form's `browser_timezone` field. Pages work without it.
pub const ZONE_SCRIPT: &str = include_str!("../assets/zone.js");

/// Where the sign-in page loads the script and the server serves it.
pub const ZONE_SCRIPT_PATH: &str = concat!("/assets/zone-", env!("ZONE_SCRIPT_HASH"), ".js");
