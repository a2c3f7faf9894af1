//! Who sent a request: the peer address, or — when the peer is a trusted
//! reverse proxy — the nearest untrusted hop in `X-Forwarded-For`, read
//! from the right. A hop that is not an address makes the sender unknown,
//! never the proxy.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use dispute_core::domain::{Sender, SourceAllowlist};

pub fn address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &SourceAllowlist) -> Sender {
    if trusted_proxies.is_empty() || !trusted_proxies.allows(peer) {
        return Sender::Address(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or_default())
        .flat_map(|v| v.split(','))
        .collect();
    // Walk back from the proxy that connected to us; the first hop that is
    // not one of our proxies is the sender. Hops further left are claims
    // the sender made and are not believed.
    let mut leftmost = None;
    for hop in hops.iter().rev() {
        match hop_address(hop) {
            None => return Sender::Unknown,
            Some(ip) if trusted_proxies.allows(ip) => leftmost = Some(ip),
            Some(ip) => return Sender::Address(ip),
        }
    }
    // Every hop is a proxy of ours: the first of them received the request.
    Sender::Address(leftmost.unwrap_or(peer))
}

/// One hop as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies() -> SourceAllowlist {
        SourceAllowlist::parse(&["10.0.0.0/8"], &[]).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_sender() {
        let none = SourceAllowlist::default();
        assert_eq!(
            address(ip("10.0.0.5"), &headers("3.125.243.2"), &none),
            Sender::Address(ip("10.0.0.5"))
        );
    }

    #[test]
    fn an_untrusted_peers_forwarding_header_is_ignored() {
        assert_eq!(
            address(ip("192.0.2.9"), &headers("garbage"), &proxies()),
            Sender::Address(ip("192.0.2.9"))
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_sender() {
        let spoofed = headers("1.2.3.4, 3.125.243.2, 10.0.0.7");
        assert_eq!(
            address(ip("10.0.0.5"), &spoofed, &proxies()),
            Sender::Address(ip("3.125.243.2"))
        );
    }

    #[test]
    fn hops_with_ports_and_bracketed_ipv6_are_read() {
        for (hop, sender) in [
            ("9.9.9.9:4711", "9.9.9.9"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            (" 2001:db8::2 ", "2001:db8::2"),
        ] {
            assert_eq!(
                address(ip("10.0.0.5"), &headers(hop), &proxies()),
                Sender::Address(ip(sender)),
                "{hop}"
            );
        }
    }

    #[test]
    fn an_unreadable_hop_is_an_unknown_sender_not_the_proxy() {
        for xff in [
            "garbage",
            "1.2.3.4, garbage",
            "garbage, 10.0.0.7",
            "",
            "1.2.3.4,,",
        ] {
            assert_eq!(
                address(ip("10.0.0.5"), &headers(xff), &proxies()),
                Sender::Unknown,
                "{xff:?}"
            );
        }
        let mut two = headers("garbage");
        two.append("x-forwarded-for", HeaderValue::from_static("10.0.0.7"));
        assert_eq!(address(ip("10.0.0.5"), &two, &proxies()), Sender::Unknown);
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_sender() {
        assert_eq!(
            address(ip("10.0.0.5"), &HeaderMap::new(), &proxies()),
            Sender::Address(ip("10.0.0.5"))
        );
    }

    #[test]
    fn when_every_hop_is_a_proxy_the_first_of_them_is_the_sender() {
        assert_eq!(
            address(ip("10.0.0.5"), &headers("10.0.0.9, 10.0.0.7"), &proxies()),
            Sender::Address(ip("10.0.0.9"))
        );
    }
}
