//! Who sent a request, as far as can be told, and the group a sender's
//! allowances are counted in.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

/// The sender of a request: the peer's address, or the address a trusted
/// proxy forwarded for — or unknown, when that proxy's forwarding header
/// named something that is not an address. An unknown sender is never the
/// proxy: allowances and allowlists that cover the proxy must not cover
/// whoever wrote a bad header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sender {
    Address(IpAddr),
    Unknown,
}

const UNKNOWN: &str = "unknown";

impl Sender {
    /// Whom the sender's allowance is shared with: an IPv4 address alone
    /// (IPv4-mapped IPv6 too), an IPv6 address with the rest of its /64 (a
    /// single host is usually given a whole /64), every unknown sender
    /// together.
    pub fn group(self) -> SenderGroup {
        match self {
            Sender::Unknown => SenderGroup::Unknown,
            Sender::Address(IpAddr::V4(v4)) => SenderGroup::V4(v4),
            Sender::Address(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => SenderGroup::V4(v4),
                None => {
                    SenderGroup::V6Prefix(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1)))
                }
            },
        }
    }
}

impl From<IpAddr> for Sender {
    fn from(ip: IpAddr) -> Self {
        Sender::Address(ip)
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sender::Address(ip) => ip.fmt(f),
            Sender::Unknown => f.write_str(UNKNOWN),
        }
    }
}

impl FromStr for Sender {
    type Err = std::net::AddrParseError;

    /// What `Display` wrote.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            UNKNOWN => Ok(Sender::Unknown),
            address => address.parse().map(Sender::Address),
        }
    }
}

/// The senders one allowance is counted for (see `Sender::group`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SenderGroup {
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address; the rest are zero.
    V6Prefix(Ipv6Addr),
    Unknown,
}

impl fmt::Display for SenderGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenderGroup::V4(v4) => v4.fmt(f),
            SenderGroup::V6Prefix(v6) => write!(f, "{v6}/64"),
            SenderGroup::Unknown => f.write_str(UNKNOWN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(text: &str) -> Sender {
        text.parse().unwrap()
    }

    #[test]
    fn an_ipv6_sender_shares_its_allowance_with_its_64() {
        let a = sender("2001:db8:1:2:aaaa::1").group();
        let b = sender("2001:db8:1:2:ffff:ffff:ffff:ffff").group();
        let other = sender("2001:db8:1:3::1").group();
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn an_ipv4_sender_is_its_own_group_however_it_is_written() {
        assert_eq!(sender("192.0.2.7").group().to_string(), "192.0.2.7");
        assert_eq!(
            sender("::ffff:192.0.2.7").group(),
            sender("192.0.2.7").group()
        );
        assert_ne!(sender("192.0.2.7").group(), sender("192.0.2.8").group());
    }

    #[test]
    fn unknown_senders_share_one_group_and_read_back() {
        assert_eq!(Sender::Unknown.group(), SenderGroup::Unknown);
        assert_eq!(sender("unknown"), Sender::Unknown);
        assert_eq!(Sender::Unknown.to_string(), "unknown");
        assert_eq!(sender("2001:db8::1").to_string(), "2001:db8::1");
        assert!("garbage".parse::<Sender>().is_err());
    }
}
