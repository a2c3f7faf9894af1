//! Where Dispute Desk may send requests of its own (status queries): only
//! `https` addresses of public hosts, unless a setting allows plain `http`
//! and this machine's or a private network's addresses (a simulator, local
//! testing). Every name is resolved through the guard, so a host cannot be
//! pointed elsewhere between the check and the connection, and redirects are
//! never followed.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    Url,
};

/// What outbound requests may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Allow `http` and loopback, private and link-local addresses.
    pub allow_local: bool,
}

/// Why an address may not be asked. An address that is not public and a
/// name that does not resolve read the same, and neither names what a name
/// resolved to: whoever reads the answer (a page, a flash) must not learn
/// the inside of the network from it. The variants carry the detail for
/// the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundRefusal {
    #[error("{0:?} is not a valid address")]
    Invalid(String),
    #[error("the address must use https (plain http is allowed only for local testing)")]
    NotHttps,
    #[error("{NOT_PUBLIC}")]
    NotPublic(IpAddr),
    #[error("{NOT_PUBLIC}")]
    Unresolvable(String),
}

const NOT_PUBLIC: &str =
    "the address does not lead to a public internet address; requests there are not allowed";

impl OutboundRefusal {
    /// The refusal behind a failed request, if the guard refused it.
    pub fn behind<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e OutboundRefusal> {
        let mut cause = Some(error);
        while let Some(e) = cause {
            if let Some(refusal) = e.downcast_ref::<OutboundRefusal>() {
                return Some(refusal);
            }
            cause = e.source();
        }
        None
    }
}

impl OutboundPolicy {
    /// The URL, checked: its scheme and, for an IP literal, its address.
    /// Names are checked when they are resolved (`client`).
    pub fn check_url(&self, text: &str) -> Result<Url, OutboundRefusal> {
        let url = Url::parse(text).map_err(|_| OutboundRefusal::Invalid(text.to_owned()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_local => {}
            _ => return Err(OutboundRefusal::NotHttps),
        }
        // Credentials in an address would be logged and shown with it.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundRefusal::Invalid(text.to_owned()));
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip))?,
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip))?,
            Some(url::Host::Domain(_)) => {}
            None => return Err(OutboundRefusal::Invalid(text.to_owned())),
        }
        Ok(url)
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), OutboundRefusal> {
        if self.allow_local || is_public(ip) {
            Ok(())
        } else {
            Err(OutboundRefusal::NotPublic(ip))
        }
    }

    /// A client whose every connection goes through this policy's resolver,
    /// that follows no redirects and gives up after `timeout`.
    pub fn client(&self, timeout: Duration) -> reqwest::Client {
        // No proxy from the environment: a proxy would resolve the names
        // itself, past this guard.
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Guarded(*self)))
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .expect("the TLS backend initializes")
    }
}

/// Whether `ip` is an address of the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10 carrier-grade NAT, 198.18.0.0/15 benchmarking,
                // 192.0.0.0/24 protocol assignments, 240.0.0.0/4 reserved
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0)
                || a >= 240
                || a == 0)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            // Forms that carry an IPv4 address are as public as it is:
            // mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
            // (64:ff9b::/96) and 6to4 (2002::/16).
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            // IPv4-translated, ::ffff:0:a.b.c.d (RFC 2765)
            if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
                return is_public(embedded(s[6], s[7]));
            }
            if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_public(embedded(s[6], s[7]));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local, fec0::/10
                // the old site-local
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0)
        }
    }
}

/// Resolves names and keeps only the addresses the policy allows.
struct Guarded(OutboundPolicy);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| OutboundRefusal::Unresolvable(host.clone()))?
                .collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.check_ip(a.ip()).is_ok())
                .collect();
            match (allowed.is_empty(), found.first()) {
                (false, _) => Ok(Box::new(allowed.into_iter()) as Addrs),
                (true, Some(refused)) => Err(OutboundRefusal::NotPublic(refused.ip()).into()),
                (true, None) => Err(OutboundRefusal::Unresolvable(host).into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: OutboundPolicy = OutboundPolicy { allow_local: false };
    const LOCAL: OutboundPolicy = OutboundPolicy { allow_local: true };

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:0:127.0.0.1",
            "::ffff:0:10.0.0.1",
            "::ffff:0:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "fec0::1",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "8.8.8.8",
            "3.125.243.2",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "::ffff:0:1.1.1.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_must_be_https_to_public_addresses_unless_local_is_allowed() {
        assert!(STRICT
            .check_url("https://acquirer-payment.pingpongx.com")
            .is_ok());
        assert_eq!(
            STRICT.check_url("http://acquirer-payment.pingpongx.com"),
            Err(OutboundRefusal::NotHttps)
        );
        assert!(matches!(
            STRICT.check_url("https://127.0.0.1:3100/pingpong"),
            Err(OutboundRefusal::NotPublic(_))
        ));
        assert!(matches!(
            STRICT.check_url("https://[::1]/x"),
            Err(OutboundRefusal::NotPublic(_))
        ));
        assert!(matches!(
            STRICT.check_url("ftp://example.com"),
            Err(OutboundRefusal::NotHttps)
        ));
        assert!(matches!(
            STRICT.check_url("not a url"),
            Err(OutboundRefusal::Invalid(_))
        ));
        // Other spellings of loopback are read as the address they are.
        for spelling in [
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0177.0.0.1/",
            "https://127.1/",
        ] {
            assert!(
                matches!(
                    STRICT.check_url(spelling),
                    Err(OutboundRefusal::NotPublic(_))
                ),
                "{spelling}"
            );
        }
        assert!(matches!(
            STRICT.check_url("https://user:secret@acquirer-payment.pingpongx.com"),
            Err(OutboundRefusal::Invalid(_))
        ));
        assert!(LOCAL.check_url("http://127.0.0.1:3100/pingpong").is_ok());
        assert!(matches!(
            LOCAL.check_url("file:///etc/passwd"),
            Err(OutboundRefusal::NotHttps)
        ));
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_when_it_is_resolved() {
        let error = STRICT
            .client(Duration::from_secs(2))
            .get("https://localhost:9/")
            .send()
            .await
            .unwrap_err();
        let refusal = OutboundRefusal::behind(&error).expect("the guard refused it");
        assert!(
            matches!(refusal, OutboundRefusal::NotPublic(ip) if ip.is_loopback()),
            "{refusal:?}"
        );
        let chain = crate::chain(&error);
        assert!(chain.contains(NOT_PUBLIC), "{chain}");
        assert!(
            !chain.contains("127.0.0.1") && !chain.contains("::1"),
            "{chain}"
        );
    }
}
