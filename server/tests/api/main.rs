//! Integration tests: the whole application on a random port against a fresh
//! database per test.

mod health;
mod helpers;
mod migrations;
mod pages;
mod provider_fixtures;
