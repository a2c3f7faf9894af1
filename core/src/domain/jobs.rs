//! The job system's rules, pure: the kinds of work there are, how long a
//! failed attempt waits before the next, and which period a moment falls
//! in (periodic work runs once per cluster per period).

use std::{fmt, str::FromStr};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::dispute::{text_enum, UnknownName};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JobKind {
    /// Ask a dispute's provider where it stands.
    StatusQuery,
    /// Periodic: find disputes that need asking, and ask (as status
    /// queries of their own).
    Reconcile,
    /// Periodic: remove what retention says is old.
    Retention,
    /// Periodic: remove expired sessions.
    SessionSweep,
    /// Periodic: recompute the dashboard's figures when events came since.
    Dashboard,
    Rebuild,
    BulkReplay,
    /// Asking a provider what a response needs (PingPong's checklist).
    Checklist,
    /// Sending a response or an acceptance through the provider, step by
    /// step.
    Submission,
}

text_enum!(JobKind, "kind of job", {
    JobKind::StatusQuery => "status_query",
    JobKind::Reconcile => "reconcile",
    JobKind::Retention => "retention",
    JobKind::SessionSweep => "session_sweep",
    JobKind::Dashboard => "dashboard",
    JobKind::Rebuild => "rebuild",
    JobKind::BulkReplay => "bulk_replay",
    JobKind::Checklist => "checklist",
    JobKind::Submission => "submission",
});

impl JobKind {
    /// In words, for ops.
    pub fn label(self) -> &'static str {
        match self {
            JobKind::StatusQuery => "Status query",
            JobKind::Reconcile => "Reconciliation",
            JobKind::Retention => "Retention",
            JobKind::SessionSweep => "Expired sessions",
            JobKind::Dashboard => "Dashboard figures",
            JobKind::Rebuild => "Rebuild",
            JobKind::BulkReplay => "Bulk replay",
            JobKind::Checklist => "What a response needs",
            JobKind::Submission => "Sending a response",
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Waiting,
    Running,
    Done,
    /// Its attempts are used up.
    Failed,
}

text_enum!(JobState, "job state", {
    JobState::Waiting => "waiting",
    JobState::Running => "running",
    JobState::Done => "done",
    JobState::Failed => "failed",
});

/// How long after its `attempt`th failed attempt (1 for the first) a job
/// is tried again: 10 s, doubling, at most an hour.
pub fn retry_after(attempt: i32) -> SignedDuration {
    let doublings = attempt.clamp(1, 20) - 1;
    SignedDuration::from_secs(10 << doublings).min(SignedDuration::from_hours(1))
}

/// The start of the period of length `period` that `now` falls in,
/// counted from the Unix epoch, so every replica agrees on it.
pub fn period_start(now: Timestamp, period: SignedDuration) -> Timestamp {
    let length = period.as_millis().max(1);
    let into = now.as_millisecond() as i128;
    let start = into - into.rem_euclid(length);
    Timestamp::from_millisecond(start as i64).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_state_reads_back_from_its_name() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>(), Ok(*kind));
            assert!(!kind.label().is_empty());
        }
        assert!("reboot".parse::<JobKind>().is_err());
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(*state));
        }
    }

    #[test]
    fn a_failed_attempt_waits_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_after(1), SignedDuration::from_secs(10));
        assert_eq!(retry_after(2), SignedDuration::from_secs(20));
        assert_eq!(retry_after(3), SignedDuration::from_secs(40));
        assert_eq!(retry_after(9), SignedDuration::from_secs(2560));
        assert_eq!(retry_after(10), SignedDuration::from_hours(1));
        assert_eq!(retry_after(i32::MAX), SignedDuration::from_hours(1));
        assert_eq!(retry_after(0), SignedDuration::from_secs(10));
    }

    #[test]
    fn a_moment_falls_in_the_period_every_replica_computes() {
        let at: Timestamp = "2026-12-02T15:07:42.5Z".parse().unwrap();
        let hour = SignedDuration::from_hours(1);
        assert_eq!(
            period_start(at, hour),
            "2026-12-02T15:00:00Z".parse().unwrap()
        );
        let ten = SignedDuration::from_secs(10);
        assert_eq!(
            period_start(at, ten),
            "2026-12-02T15:07:40Z".parse().unwrap()
        );
        let start = period_start(at, ten);
        assert_eq!(
            period_start(start, ten),
            start,
            "a period's start is its own"
        );
        assert_eq!(
            period_start(start - SignedDuration::from_millis(1), ten),
            start - ten
        );
    }
}
