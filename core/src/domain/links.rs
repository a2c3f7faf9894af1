//! The links a provider fetches a submitted response's files from
//! (PayerMax's `representmentFile`), pure: a link names its row and when
//! it expires, signed with a key only the desk holds, so a link cannot be
//! guessed, altered or stretched past its expiry; whether it was revoked,
//! and whether its file belongs to a submitted response, is the store's to
//! say. Its path ends in the file's safe `name.ext`, as PayerMax requires.

use hmac::{Mac, SimpleHmac};
use jiff::Timestamp;
use sha2::Sha256;

/// Where links are served.
pub const PREFIX: &str = "/evidence-links";

/// The key links are signed with (derived from the master key).
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl LinkKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self, id: i64, expires: i64) -> SimpleHmac<Sha256> {
        let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(format!("evidence link {id} {expires}").as_bytes());
        mac
    }
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey([REDACTED])")
    }
}

/// A link to one file of a submitted response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Its row in the store.
    pub id: i64,
    pub expires: Timestamp,
}

/// Why a link is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("this is not a link Dispute Desk made")]
    Malformed,
    #[error("this link was altered")]
    Forged,
    #[error("this link has expired")]
    Expired,
}

impl Link {
    /// The token that names it: `{id}-{expiry, Unix seconds}-{HMAC, hex}`.
    pub fn token(&self, key: &LinkKey) -> String {
        let expires = self.expires.as_second();
        let mac = key.mac(self.id, expires).finalize().into_bytes();
        format!("{}-{expires}-{}", self.id, hex::encode(mac))
    }

    /// The path it is served at, ending in the file's safe name.
    pub fn path(&self, key: &LinkKey, safe_name: &str) -> String {
        format!("{PREFIX}/{}/{safe_name}", self.token(key))
    }

    /// The link `token` names, if `key` signed it and it has not expired
    /// at `now`.
    pub fn read(token: &str, key: &LinkKey, now: Timestamp) -> Result<Link, LinkRefusal> {
        let mut parts = token.splitn(3, '-');
        let (Some(id), Some(expires), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkRefusal::Malformed);
        };
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(id) || !digits(expires) || mac.len() != 64 {
            return Err(LinkRefusal::Malformed);
        }
        let (Ok(id), Ok(expires)) = (id.parse::<i64>(), expires.parse::<i64>()) else {
            return Err(LinkRefusal::Malformed);
        };
        let mac = hex::decode(mac).map_err(|_| LinkRefusal::Malformed)?;
        key.mac(id, expires)
            .verify_slice(&mac)
            .map_err(|_| LinkRefusal::Forged)?;
        let expires = Timestamp::from_second(expires).map_err(|_| LinkRefusal::Malformed)?;
        if expires <= now {
            return Err(LinkRefusal::Expired);
        }
        Ok(Link { id, expires })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> LinkKey {
        LinkKey::new([byte; 32])
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn a_link_reads_back_until_it_expires() {
        let link = Link {
            id: 42,
            expires: at(2_000_000_000),
        };
        let token = link.token(&key(1));
        assert!(token.starts_with("42-2000000000-"), "{token}");
        assert_eq!(Link::read(&token, &key(1), at(1_999_999_999)), Ok(link));
        assert_eq!(
            Link::read(&token, &key(1), at(2_000_000_000)),
            Err(LinkRefusal::Expired)
        );
        assert_eq!(
            link.path(&key(1), "invoice.pdf"),
            format!("/evidence-links/{token}/invoice.pdf")
        );
    }

    #[test]
    fn an_altered_or_foreign_link_is_refused() {
        let link = Link {
            id: 42,
            expires: at(2_000_000_000),
        };
        let token = link.token(&key(1));
        assert_eq!(
            Link::read(&token, &key(2), at(0)),
            Err(LinkRefusal::Forged),
            "another installation's key"
        );
        let other_file = token.replacen("42-", "43-", 1);
        assert_eq!(
            Link::read(&other_file, &key(1), at(0)),
            Err(LinkRefusal::Forged)
        );
        let later = token.replacen("-2000000000-", "-2100000000-", 1);
        assert_eq!(Link::read(&later, &key(1), at(0)), Err(LinkRefusal::Forged));
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            Link::read(&String::from_utf8(flipped).unwrap(), &key(1), at(0)),
            Err(LinkRefusal::Forged)
        );
        for malformed in [
            "",
            "42",
            "42-2000000000",
            "x-2000000000-00",
            "42--00",
            "-42-2000000000-00",
            "42-2000000000-zz",
            "99999999999999999999-1-00",
        ] {
            assert_eq!(
                Link::read(malformed, &key(1), at(0)),
                Err(LinkRefusal::Malformed),
                "{malformed}"
            );
        }
    }
}
