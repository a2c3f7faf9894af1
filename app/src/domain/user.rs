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
            Permission::ManageConnections | Permission::ManageUsers | Permission::ReadAuditLog => {
                Role::Admin
            }
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
            && !email.chars().any(char::is_whitespace)
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

/// Failed sign-ins (per account or per address) within the window that
/// close the door for a while.
pub const MAX_FAILED_SIGN_INS: i64 = 5;
/// The window, in minutes, in which failures are counted.
pub const SIGN_IN_WINDOW_MINUTES: i64 = 15;

/// Whether another attempt is refused, given the failures in the window.
pub fn sign_in_throttled(failures_for_account: i64, failures_from_address: i64) -> bool {
    failures_for_account >= MAX_FAILED_SIGN_INS || failures_from_address >= MAX_FAILED_SIGN_INS
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
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ana@Example.COM ").unwrap().as_str(),
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
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse(" Ana ").unwrap().as_str(), "Ana");
        assert!(DisplayName::parse(" ").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
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
        let ok = NewPassword::parse("correct horse battery").unwrap();
        assert_eq!(format!("{ok:?}"), "NewPassword([REDACTED])");
        assert!(
            NewPassword::parse("ééééééééééèè").is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn the_fifth_failure_closes_the_door() {
        assert!(!sign_in_throttled(4, 4));
        assert!(sign_in_throttled(5, 0));
        assert!(sign_in_throttled(0, 5));
    }
}
