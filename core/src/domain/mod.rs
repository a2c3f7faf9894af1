//! The domain: what a dispute is, how a provider's notification becomes a
//! normalized event, and how a dispute's events fold into its current state.
//! Pure: no I/O, no clock, no database; everything here is unit-tested.

pub mod audit_words;
pub mod casework;
pub mod connection;
pub mod deliveries;
pub mod display_time;
pub mod dispute;
pub mod event;
pub mod evidence;
pub mod fold;
pub mod headline;
pub mod jobs;
pub mod lifecycle;
pub mod links;
pub mod money;
pub mod notification;
pub mod queue;
pub mod reasons;
pub mod rebuild;
pub mod sender;
pub mod submission;
pub mod text;
pub mod time;
pub mod user;

pub use casework::{NoteText, ViewName};
pub use connection::{
    AddressPreset, ConnectionDraft, ConnectionSettings, ConnectionSlug, ProviderKind, QueryBaseUrl,
    SourceAllowlist,
};
pub use deliveries::{DeliveryCursor, DeliveryFilter};
pub use dispute::{DisputeRef, Stage, Status};
pub use event::{Effect, EventKey, EventOrigin, NormalizedEvent, PaymentEvent, ProviderTime};
pub use fold::{fold, DisputeState, FoldEvent};
pub use jobs::{JobKind, JobState};
pub use money::Money;
pub use notification::Verdict;
pub use queue::{Assignee, DeadlineWindow, QueueCursor, QueueFilter, Sort, SortValue};
pub use sender::{Sender, SenderGroup};
pub use time::ZoneName;
pub use user::{DisplayName, Email, NewPassword, Permission, Role};
