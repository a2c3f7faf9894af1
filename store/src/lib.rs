//! The store: the only place in Dispute Desk that speaks SQL. Every query is
//! a method here, and every method has a test against a real database.

mod board;
mod casework;
mod columns;
mod connect;
mod connections;
mod dashboard;
mod deliveries;
mod disputes;
mod evidence_links;
mod health;
mod jobs;
mod notifications;
mod people;
pub mod private_postgres;
mod provider_calls;
mod queue;
mod rebuilds;
mod record;
mod replay_runs;
mod replays;
mod responses;
mod retention;
mod status_queries;
mod submissions;
mod views;

pub use board::{BoardBounds, BoardColumn, Column};
pub use casework::{AssignError, Casework};
pub use connect::{connect, create_database_if_missing, pool_options};
pub use connections::{
    ConnectionChanges, ConnectionDetail, ConnectionOverview, ConnectionSummary, IntakeConnection,
    KeyPurpose, KeySlot, NewKey, SaveError, Saved, SavedConnection, Saving, SlotFingerprints,
    StoredKey, StoredKeyMaterial,
};
pub use dashboard::{Dashboard, Outcomes};
pub use deliveries::{DeliveryRecord, SEARCH_TIMEOUT_SECS};
pub use disputes::{DisputeRecord, PaymentRecord, Person, TimelineEntry};
pub use evidence_links::{EvidenceLink, LinkFetch};
pub use health::ConnectionHealth;
pub use jobs::{new_claim, Job, JobRecord, NewJob};
pub use notifications::{NewNotification, StoredNotification, ThrottledCount};
pub use people::{
    Actor, AuditEntry, AuditFilter, AuditKey, AuditRecord, NewUser, SignInFailureRecord,
    UserRecord, UserSummary,
};
pub use provider_calls::ProviderCall;
pub use queue::{CursorMismatch, StatusCounts};
pub use rebuilds::{
    NewRebuildChange, RebuildChange, RebuildKind, RebuildRecord, RebuildSubject, Reread,
};
pub use record::{EventSource, Recorded, StoredDelivery};
pub use replay_runs::ReplayRun;
pub use replays::{ReplayOutcome, ReplayRecord};
pub use responses::{
    EvidenceFile, EvidenceUpload, NewEvidence, Prepared, ResponseRecord, ResponseRefusal,
    CHUNK_BYTES,
};
pub use retention::Purged;
pub use status_queries::{
    QueryConflict, QueryOutcome, QueryRecord, QueryRecorded, QueryRequested, QuerySubject,
    ReconcileRules, StatusQueryEntry,
};
pub use submissions::{
    Confirming, Finished, Outside, SentCall, StepRecord, SubmissionRecord, SubmissionWork,
    SubmitRefusal, SubmitRequest, Submitted,
};
pub use views::SavedView;

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use dispute_core::domain::Money;
use sqlx::{migrate::Migrator, PgPool};

/// The migrations in `migrations/`, embedded in the binary and applied at
/// start-up.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A database failure. Callers log it and answer with a generic error; its
/// text never reaches a browser or a provider.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A unique constraint refused the change; carries the constraint's name.
    #[error("conflicts with an existing row ({0})")]
    Conflict(String),
    /// A stored value this version cannot read back (a bug or a manual edit).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// Another runner took over the job this one was working on (it was
    /// thought stopped): this one's work on it ends.
    #[error("another runner took the job over")]
    ClaimLost,
    /// The statement ran past its time limit and was stopped (a search
    /// through every body): asking for less can succeed.
    #[error("the query took too long and was stopped")]
    TooSlow,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e.as_database_error() {
            Some(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or_default().to_owned())
            }
            // query_canceled: a statement timeout of ours (or an operator
            // cancelling a statement, which stopped it just the same).
            Some(db) if db.code().as_deref() == Some("57014") => StoreError::TooSlow,
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    fn corrupt(detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(detail.to_string())
    }

    /// Whether the database is away or overloaded (retrying later can
    /// succeed), as opposed to refusing this particular change.
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                // Connection exceptions, insufficient resources, operator
                // intervention (shutdown, cancelled); serialization failures
                // and deadlocks succeed when tried again.
                ["08", "53", "57"]
                    .iter()
                    .any(|class| code.starts_with(class))
                    || code == "40001"
                    || code == "40P01"
            }),
            StoreError::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => true,
            StoreError::Database(_)
            | StoreError::Corrupt(_)
            | StoreError::Conflict(_)
            | StoreError::ClaimLost
            | StoreError::TooSlow => false,
            StoreError::Migration(_) => true,
        }
    }
}

/// A text column holding one of a domain enum's names, decoded into the
/// enum at the store's boundary (an unknown name is a decoding error).
#[derive(Clone, Copy)]
pub(crate) struct Named<T>(pub T);

impl<T> sqlx::Type<sqlx::Postgres> for Named<T> {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r, T> sqlx::Decode<'r, sqlx::Postgres> for Named<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(Named(text.parse()?))
    }
}

/// An amount as stored (the provider's text and the currency) read back.
fn money(text: Option<String>, currency: Option<String>) -> Result<Option<Money>, StoreError> {
    match (text, currency) {
        (Some(text), Some(currency)) => Money::parse(&text, &currency)
            .map(Some)
            .map_err(StoreError::corrupt),
        _ => Ok(None),
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    connections_version: Arc<AtomicU64>,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            connections_version: Arc::default(),
        }
    }

    /// Moves on with every change to connections or their keys this process
    /// commits, or learns of (`note_connections_changed`): what was read
    /// of them under an older version may be stale.
    pub fn connections_version(&self) -> u64 {
        self.connections_version.load(Ordering::Acquire)
    }

    /// Another process changed connections (announced by the database), or
    /// they were changed behind the store's back.
    pub fn note_connections_changed(&self) {
        self.connections_version.fetch_add(1, Ordering::AcqRel);
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Connections the pool holds open, and how many of them are idle.
    pub fn pool_usage(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// True when the database answers and every embedded migration has been
    /// applied successfully: what `/readyz` reports.
    pub async fn is_ready(&self) -> Result<bool, StoreError> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "select version from _sqlx_migrations where success order by version",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.binary_search(&m.version).is_ok()))
    }
}
