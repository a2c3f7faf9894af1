//! The providers' side of the conversation, for tests, demos and load:
//! scripted dispute lifecycles (`scenario`), each provider's notifications
//! signed as it signs them (`notifications`), and a sender that judges each
//! answer by the provider's rule and retries on its schedule (`sender`), and
//! the providers' status-query APIs answering from the same scripts
//! (`queries`).
#![forbid(unsafe_code)]

pub mod notifications;
pub mod queries;
pub mod scenario;
pub mod sender;
