//! The accept loop: every connection under `ConnectionLimits`, so that slow,
//! silent or numerous clients cannot hold the server. Headers must arrive
//! in time and a connection may not sit idle; at most so many connections
//! are open at once, and one address (an IPv6 /64) may hold only its share
//! of them — trusted proxies excepted, as they carry everyone. Only
//! HTTP/1.1 is spoken (cleartext HTTP/2 would let one connection carry
//! many streams and keep itself alive with pings), and a connection ends
//! after `MAX_REQUESTS` requests or `MAX_LIFETIME`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{extract::ConnectInfo, http::HeaderValue};
use dispute_core::domain::{Sender, SenderGroup, SourceAllowlist};
use hyper::{body::Incoming, header, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_io_timeout::TimeoutStream;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

use crate::config::ConnectionLimits;

/// Requests one connection may carry; the answer to the last says
/// `Connection: close`.
pub const MAX_REQUESTS: usize = 1000;
/// How long one connection may stay open; past it, it is closed after the
/// request under way…
pub const MAX_LIFETIME: Duration = Duration::from_secs(600);
/// …which has this long to end (the longest of the requests' own time
/// limits, an upload's) before the connection is dropped.
const LAST_REQUEST: Duration = crate::evidence::TIME;

/// Serves `router` on `listener` until `stop` is cancelled, each address
/// within its share of `per_address` (shared by every listener); each
/// connection is a task of `connections`, told to finish its request and
/// close when `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    per_address: PerAddress,
    stop: CancellationToken,
    connections: TaskTracker,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        // At the cap, stop accepting: further clients wait in the kernel's
        // queue until a connection closes.
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => permit.expect("never closed"),
            () = stop.cancelled() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let share = match per_address.take(peer) {
            Ok(share) => share,
            Err(()) => {
                tracing::debug!(%peer, "closed a connection past its address's share");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_read_timeout(Some(limits.idle_timeout));
        stream.set_write_timeout(Some(limits.idle_timeout));
        let service = service(router.clone(), peer);
        let connection = http.serve_connection(TokioIo::new(Box::pin(stream)), service);
        let stop = stop.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => Ok(ended),
                () = tokio::time::sleep(MAX_LIFETIME) => {
                    connection.as_mut().graceful_shutdown();
                    tokio::time::timeout(LAST_REQUEST, connection).await
                }
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    Ok(connection.await)
                }
            };
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, %peer, "connection closed with an error"),
                Err(_) => tracing::debug!(%peer, "connection dropped past its lifetime"),
            }
            drop((permit, share));
        });
    }
}

/// One connection's service: the router with the peer's address, closing
/// the connection after its `MAX_REQUESTS`th answer.
fn service(
    router: axum::Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    let served = Arc::new(AtomicUsize::new(0));
    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let last = served.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_REQUESTS;
        let answered = router.clone().oneshot(request);
        async move {
            let mut response = answered.await?;
            if last {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        }
    })
}

/// Open connections per address group, each group at most `max`; trusted
/// proxies, which carry everyone, are not counted.
#[derive(Clone)]
pub struct PerAddress {
    max: usize,
    trusted_proxies: SourceAllowlist,
    open: Arc<Mutex<HashMap<SenderGroup, usize>>>,
}

/// One connection's place in its group's share; given back when dropped.
struct Share {
    group: SenderGroup,
    of: PerAddress,
}

impl PerAddress {
    pub fn new(max: usize, trusted_proxies: SourceAllowlist) -> Self {
        Self {
            max,
            trusted_proxies,
            open: Arc::default(),
        }
    }

    /// A place for one more connection from `peer`: `None` for a trusted
    /// proxy, `Err` when its group has none left.
    fn take(&self, peer: SocketAddr) -> Result<Option<Share>, ()> {
        if !self.trusted_proxies.is_empty() && self.trusted_proxies.allows(peer.ip()) {
            return Ok(None);
        }
        let group = Sender::Address(peer.ip()).group();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(group).or_default();
        if *count >= self.max {
            return Err(());
        }
        *count += 1;
        Ok(Some(Share {
            group,
            of: self.clone(),
        }))
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut open = self.of.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.group) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.group);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 4711)
    }

    fn shares(max: usize) -> PerAddress {
        PerAddress::new(max, SourceAllowlist::parse(&["10.0.0.0/8"], &[]).unwrap())
    }

    #[test]
    fn an_address_holds_at_most_its_share_and_gets_places_back() {
        let per_address = shares(2);
        let first = per_address.take(peer("192.0.2.1")).unwrap();
        let _second = per_address.take(peer("192.0.2.1")).unwrap();
        assert!(per_address.take(peer("192.0.2.1")).is_err());
        assert!(
            per_address.take(peer("192.0.2.2")).is_ok(),
            "others are not held"
        );
        drop(first);
        assert!(per_address.take(peer("192.0.2.1")).is_ok());
    }

    #[test]
    fn an_ipv6_64_shares_one_share_and_empty_groups_are_forgotten() {
        let per_address = shares(1);
        let held = per_address.take(peer("2001:db8::1")).unwrap();
        assert!(per_address.take(peer("2001:db8::2")).is_err());
        drop(held);
        assert!(per_address.open.lock().unwrap().is_empty());
    }

    #[test]
    fn a_trusted_proxy_is_not_counted() {
        let per_address = shares(1);
        let held: Vec<_> = (0..3)
            .map(|_| per_address.take(peer("10.1.2.3")).unwrap())
            .collect();
        assert!(held.iter().all(Option::is_none));
        assert!(per_address.open.lock().unwrap().is_empty());
    }
}
