//! Dispute Desk's pure core: the domain (what a dispute is, how its events
//! fold into its state) and the providers (one module each: verify and
//! parse their notifications, sign as they would, sign queries as the
//! merchant would). No database, no HTTP server, no web framework: bytes
//! and headers in, values out, so intake, replay, status queries, the
//! simulator and the benchmarks all share it.
#![forbid(unsafe_code)]

pub mod domain;
pub mod providers;
