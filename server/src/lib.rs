//! The `dispute-desk` executable's library: configuration, the database
//! (external or private cluster), the axum router and the serving loop.
//! Tests use it to start the whole application in-process.
#![forbid(unsafe_code)]

pub mod accept;
pub mod assets;
pub mod canonical;
pub mod config;
pub mod connections_import;
pub mod database;
pub mod demo;
pub mod disputes_rebuild;
pub mod error_page;
pub mod evidence;
pub mod evidence_links;
pub mod exports;
pub mod guard;
pub mod health;
pub mod jobs;
pub mod master_key;
pub mod metrics;
pub mod pages;
pub mod router;
pub mod sender;
pub mod startup;
pub mod tasks;
pub mod telemetry;
pub mod users_create;
pub mod webhooks;
