//! Dispute Desk's workflows: the domain (`dispute_core`) and the store
//! (`dispute_store`) put to work — intake, the one executor that calls
//! providers, status queries, replay, rebuild, the dashboard's figures,
//! the keys and the vault that seals them, and the metrics they count.
//! Nothing here speaks SQL or renders a page.
#![forbid(unsafe_code)]

pub mod dashboard;
pub mod evidence;
pub mod executor;
pub mod intake;
pub mod keyring;
pub mod metrics;
pub mod outbound;
pub mod packet;
pub mod rebuild;
pub mod replay;
pub mod responses;
pub mod status_queries;
pub mod submissions;
pub mod vault;

/// An error and all its sources, `outer: inner: innermost`, for the logs.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    chain
}
