//! The providers' side of the conversation, for tests, demos and load:
//! scripted dispute lifecycles (`scenario`), each provider's notifications
//! signed as it signs them (`notifications`), and a sender that judges each
//! answer by the provider's rule and retries on its schedule (`sender`).
//! The providers' status-query APIs are still to come.
#![forbid(unsafe_code)]

pub mod notifications;
pub mod scenario;
pub mod sender;
