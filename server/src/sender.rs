//! Who sent a request: the peer address, or — when the peer is a trusted
//! reverse proxy — the nearest untrusted address in `X-Forwarded-For`.

use std::net::IpAddr;

use axum::http::HeaderMap;
use dispute_core::domain::SourceAllowlist;

pub fn address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &SourceAllowlist) -> IpAddr {
    if trusted_proxies.is_empty() || !trusted_proxies.allows(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map_while(|hop| hop.trim().parse().ok())
        .collect();
    // Walk back from the proxy that connected to us; the first hop that is
    // not one of our proxies is the sender. Hops further left are claims
    // the sender made and are not believed.
    forwarded
        .iter()
        .rev()
        .find(|hop| !trusted_proxies.allows(**hop))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
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

    #[test]
    fn without_trusted_proxies_the_peer_is_the_sender() {
        let none = SourceAllowlist::default();
        assert_eq!(
            address(ip("10.0.0.5"), &headers("3.125.243.2"), &none),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn an_untrusted_peers_forwarding_header_is_ignored() {
        let proxies = SourceAllowlist::parse(&["10.0.0.0/8"], &[]).unwrap();
        assert_eq!(
            address(ip("192.0.2.9"), &headers("3.125.243.2"), &proxies),
            ip("192.0.2.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_sender() {
        let proxies = SourceAllowlist::parse(&["10.0.0.0/8"], &[]).unwrap();
        let spoofed = headers("1.2.3.4, 3.125.243.2, 10.0.0.7");
        assert_eq!(
            address(ip("10.0.0.5"), &spoofed, &proxies),
            ip("3.125.243.2")
        );
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_sender() {
        let proxies = SourceAllowlist::parse(&["10.0.0.0/8"], &[]).unwrap();
        assert_eq!(
            address(ip("10.0.0.5"), &HeaderMap::new(), &proxies),
            ip("10.0.0.5")
        );
    }
}
