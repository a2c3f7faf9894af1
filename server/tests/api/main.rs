//! Integration tests: the whole application on a random port against a fresh
//! database per test.

mod access;
mod connections;
mod connections_import;
mod deliveries;
mod desk;
mod evidence;
mod floods;
mod health;
mod helpers;
mod hostile_input;
mod hostile_senders;
mod intake;
mod metrics;
mod migrations;
mod pages;
mod provider_fixtures;
mod provider_health;
mod rebuild;
mod replay;
mod responding;
mod retention;
mod sessions;
mod simulated;
mod simulator;
mod status_queries;
mod users;
