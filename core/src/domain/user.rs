//! People: their roles, what each role may do, and the rules for the
//! values they type (email, name, password).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// One role per person; each includes everything the one before may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Analyst,
    Ops,
    Admin,
}

/// What a request may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Disputes and deadlines.
    ReadDisputes,
    /// Notes, assignments, status queries.
    WorkDisputes,
    /// Delivery history.
    ReadDeliveries,
    /// Replaying a stored notification.
    Replay,
    ManageConnections,
    ManageUsers,
    ReadAuditLog,
    /// Refolding every dispute from its events as the providers' modules
    /// read them today.
    RebuildDisputes,
    /// The cover letters responses start from.
    ManageLetters,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Analyst, Role::Ops, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Ops => "ops",
            Role::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Analyst => "Analyst",
            Role::Ops => "Ops",
            Role::Admin => "Admin",
        }
    }

    /// The least role that holds each permission.
    pub fn may(self, permission: Permission) -> bool {
        let needed = match permission {
            Permission::ReadDisputes | Permission::WorkDisputes => Role::Analyst,
            Permission::ReadDeliveries | Permission::Replay => Role::Ops,
            Permission::ManageConnections
            | Permission::ManageUsers
            | Permission::ReadAuditLog
            | Permission::RebuildDisputes
            | Permission::ManageLetters => Role::Admin,
        };
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected analyst, ops or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// An email address as people sign in with it: trimmed, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an email address")]
pub struct EmailError(pub String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let email = text.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            });
        if valid {
            Ok(Self(email))
        } else {
            Err(EmailError(text.trim().to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's name as shown in the UI and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a name must have 1 to 100 characters")]
pub struct NameError;

impl DisplayName {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let name = text.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            Err(NameError)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The smallest and largest passwords accepted.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 12..=256;

/// A password someone chose: long enough, not absurdly long (hashing cost).
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password must have at least 12 characters")]
    TooShort,
    #[error("a password must have at most 256 characters")]
    TooLong,
}

impl NewPassword {
    pub fn parse(text: &str) -> Result<Self, PasswordError> {
        let chars = text.chars().count();
        if chars < *PASSWORD_CHARS.start() {
            Err(PasswordError::TooShort)
        } else if chars > *PASSWORD_CHARS.end() {
            Err(PasswordError::TooLong)
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Failed sign-ins counted together: one account from one address, or one
/// address across every account it tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: i64,
    pub last_at: jiff::Timestamp,
}

/// How sign-in failures slow further attempts. Failures are counted per
/// (account, address), so a stranger cannot lock someone else out from their
/// own address; an address that fails across many accounts is slowed on its
/// own. Each failure past the free ones doubles the wait, up to a cap, and
/// attempts refused while waiting are not counted, so retrying never
/// extends it.
pub mod throttle {
    use jiff::{SignedDuration, Timestamp};

    use super::Failures;

    /// Failures of one account from one address before the first wait.
    pub const FREE_PER_ACCOUNT: i64 = 5;
    /// Failures from one address, over all accounts, before the first wait.
    pub const FREE_PER_ADDRESS: i64 = 20;
    pub const FIRST_WAIT: SignedDuration = SignedDuration::from_secs(30);
    pub const LONGEST_WAIT: SignedDuration = SignedDuration::from_mins(15);
    /// Failures older than this are forgotten.
    pub const MEMORY: SignedDuration = SignedDuration::from_hours(1);

    /// Until when attempts are refused after `failures`, of which `free`
    /// cost nothing.
    pub fn closed_until(failures: Failures, free: i64) -> Option<Timestamp> {
        let over = failures.count - free;
        if over < 0 {
            return None;
        }
        // 30 s doubled per failure past the free ones, at most 15 minutes.
        let doublings = u32::try_from(over).unwrap_or(u32::MAX).min(16);
        let wait = FIRST_WAIT
            .checked_mul(1 << doublings)
            .map_or(LONGEST_WAIT, |w| w.min(LONGEST_WAIT));
        failures.last_at.checked_add(wait).ok()
    }

    /// Whether an attempt at `now` is refused, given the account's failures
    /// from this address and the address's failures over all accounts.
    pub fn refuses(
        for_account: Option<Failures>,
        from_address: Option<Failures>,
        now: Timestamp,
    ) -> bool {
        let closed = |f: Option<Failures>, free| {
            f.and_then(|f| closed_until(f, free))
                .is_some_and(|until| now < until)
        };
        closed(for_account, FREE_PER_ACCOUNT) || closed(from_address, FREE_PER_ADDRESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_what_the_one_below_may_and_more() {
        use Permission::*;
        let all = [
            ReadDisputes,
            WorkDisputes,
            ReadDeliveries,
            Replay,
            ManageConnections,
            ManageUsers,
            ReadAuditLog,
            RebuildDisputes,
        ];
        let allowed = |role: Role| {
            all.iter()
                .filter(|p| role.may(**p))
                .copied()
                .collect::<Vec<_>>()
        };
        assert_eq!(allowed(Role::Analyst), [ReadDisputes, WorkDisputes]);
        assert_eq!(
            allowed(Role::Ops),
            [ReadDisputes, WorkDisputes, ReadDeliveries, Replay]
        );
        assert_eq!(allowed(Role::Admin), all);
    }

    #[test]
    fn roles_round_trip_and_unknown_roles_are_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(role.to_string(), role.as_str());
        }
        let labels: Vec<&str> = Role::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels, ["Analyst", "Ops", "Admin"]);
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ana@Example.COM ").unwrap().as_str(),
            "ana@example.com"
        );
        assert_eq!(
            Email::parse("Ana@Example.COM").unwrap().to_string(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@example",
            "ana@.com",
            "a b@example.com",
            "a@b@c.com",
            "a\u{0}b@example.com",
            "a\u{7}b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse(" Ana ").unwrap().as_str(), "Ana");
        assert!(DisplayName::parse(" ").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        assert!(DisplayName::parse(&"x".repeat(100)).is_ok());
        assert!(DisplayName::parse("a\u{7}b").is_err());
    }

    #[test]
    fn passwords_have_12_to_256_characters_and_are_never_shown() {
        assert_eq!(
            NewPassword::parse("short").unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            NewPassword::parse(&"x".repeat(257)).unwrap_err(),
            PasswordError::TooLong
        );
        assert!(NewPassword::parse(&"x".repeat(256)).is_ok());
        let ok = NewPassword::parse("correct horse battery").unwrap();
        assert_eq!(ok.expose(), "correct horse battery");
        assert_eq!(format!("{ok:?}"), "NewPassword([REDACTED])");
        assert!(
            NewPassword::parse("ééééééééééèè").is_ok(),
            "characters, not bytes"
        );
    }

    fn failures(count: i64, last_at: jiff::Timestamp) -> Option<Failures> {
        Some(Failures { count, last_at })
    }

    #[test]
    fn the_first_failures_cost_nothing_then_the_wait_doubles_up_to_its_cap() {
        let t = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let wait = |count| {
            throttle::closed_until(Failures { count, last_at: t }, throttle::FREE_PER_ACCOUNT)
                .map(|until| until.duration_since(t).as_secs())
        };
        assert_eq!(wait(0), None);
        assert_eq!(wait(4), None);
        assert_eq!(wait(5), Some(30));
        assert_eq!(wait(6), Some(60));
        assert_eq!(wait(8), Some(240));
        assert_eq!(wait(10), Some(900));
        assert_eq!(wait(1_000_000), Some(900));
        assert_eq!(wait(i64::MAX), Some(900));
    }

    #[test]
    fn an_attempt_is_refused_only_while_a_wait_runs() {
        let t = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let later = |secs| t + jiff::SignedDuration::from_secs(secs);
        assert!(!throttle::refuses(None, None, t));
        assert!(!throttle::refuses(failures(4, t), failures(4, t), t));
        assert!(throttle::refuses(failures(5, t), None, later(29)));
        assert!(!throttle::refuses(failures(5, t), None, later(30)));
        assert!(!throttle::refuses(None, failures(19, t), t));
        assert!(throttle::refuses(None, failures(20, t), later(29)));
        assert!(!throttle::refuses(None, failures(20, t), later(30)));
    }
}
