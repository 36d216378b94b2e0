//! Limits per client, one place for all of them, so no client can take what others need:
//! - **new credentials** (a mailbox, an owner of jobs): at most so many an hour from one address
//!   (a keyed GCRA limiter from `governor`, with a burst), `429` with `Retry-After` past it;
//! - **open event streams** and **open connections**: at most so many at once from one address
//!   ([`PerAddress`]), `429` with `Retry-After` (a connection is answered so and closed by the
//!   connection layer, `connections.rs`). The global connection cap stays the last line.
//!
//! A client is its IP address, as the connection layer saw it ([`ClientAddress`]); an IPv6
//! client counts by its /64, the block one machine is usually given. Behind a reverse proxy every
//! client is the proxy: these limits then count the proxy, and its own limits must do the rest.
//! Counted in this process's memory: each server process of a deployment counts its own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// The numbers; [`Default`] is what the binary uses without flags.
#[derive(Debug, Clone, Copy)]
pub struct ClientLimits {
    /// New mailboxes and owners of jobs one address may make in an hour, in all.
    pub credentials_per_hour: u32,
    /// How many of those may come at once (a class starting together behind one address).
    pub credentials_burst: u32,
    /// Event streams one address may hold open at once.
    pub streams_per_address: usize,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            credentials_per_hour: 120,
            credentials_burst: 40,
            streams_per_address: 64,
        }
    }
}

/// The state behind the limits, shared by every request.
#[derive(Debug)]
pub struct Clients {
    limits: ClientLimits,
    credentials: DefaultKeyedRateLimiter<IpAddr>,
    streams: Arc<PerAddress>,
}

impl Default for Clients {
    fn default() -> Self {
        Self::new(ClientLimits::default())
    }
}

impl Clients {
    pub fn new(limits: ClientLimits) -> Self {
        let per_hour = NonZeroU32::new(limits.credentials_per_hour).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.credentials_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limits,
            credentials: RateLimiter::keyed(Quota::per_hour(per_hour).allow_burst(burst)),
            streams: Arc::new(PerAddress::new(limits.streams_per_address)),
        }
    }

    /// One more credential for `client`, or `429` with how long until the next may be made.
    pub fn new_credential(&self, ClientAddress(client): ClientAddress) -> Result<(), ApiError> {
        self.credentials.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests {
                message: format!(
                    "One address may make {} mailboxes or owners of jobs an hour; try again later.",
                    self.limits.credentials_per_hour
                ),
                retry_after: wait.max(Duration::from_secs(1)),
            }
        })
    }

    /// A place for one more event stream of `client`, held until the stream ends; `429` with
    /// `Retry-After` when the address has as many open as allowed.
    pub fn open_stream(&self, ClientAddress(client): ClientAddress) -> Result<Held, ApiError> {
        self.streams
            .enter(client)
            .ok_or_else(|| ApiError::TooManyRequests {
                message: format!(
                    "One address may have {} event streams open; close one first.",
                    self.limits.streams_per_address
                ),
                retry_after: crate::streams::KEEP_ALIVE,
            })
    }

    /// Forgets the rate limiter's state of addresses that have been quiet long enough to be
    /// back at their full allowance, so memory does not grow with every address ever seen.
    pub fn forget_quiet(&self) {
        self.credentials.retain_recent();
    }
}

/// The client's address as this server counts it: the peer of the connection, an IPv6 address by
/// its /64. Without connection information (a router driven in-process by a test) it is the
/// unspecified address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    pub fn of(peer: IpAddr) -> Self {
        Self(match peer {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let block = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(Ipv6Addr::from(block))
                }
            },
            v4 => v4,
        })
    }
}

impl<S> FromRequestParts<S> for ClientAddress
where
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(
            Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            |ConnectInfo(peer)| Self::of(peer.ip()),
        ))
    }
}

/// How many of something each address holds at once, up to a limit.
#[derive(Debug)]
pub struct PerAddress {
    limit: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            held: Mutex::default(),
        }
    }

    /// One more for `client`, given back when the [`Held`] is dropped; `None` at the limit.
    pub fn enter(self: &Arc<Self>, client: IpAddr) -> Option<Held> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(client).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Held {
            of: self.clone(),
            client,
        })
    }
}

/// One place held in a [`PerAddress`].
#[derive(Debug)]
pub struct Held {
    of: Arc<PerAddress>,
    client: IpAddr,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.of.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_counts_by_its_64_and_a_mapped_ipv4_one_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("address");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("address");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        assert_eq!(ClientAddress::of(a), ClientAddress::of(b));
        assert_ne!(ClientAddress::of(a), ClientAddress::of(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        assert_eq!(
            ClientAddress::of(mapped).0,
            "192.0.2.7".parse::<IpAddr>().expect("address")
        );
    }

    #[test]
    fn a_place_is_given_back_when_dropped_and_addresses_count_apart() {
        let places = Arc::new(PerAddress::new(2));
        let one: IpAddr = "192.0.2.1".parse().expect("address");
        let two: IpAddr = "192.0.2.2".parse().expect("address");
        let first = places.enter(one).expect("first");
        let _second = places.enter(one).expect("second");
        assert!(places.enter(one).is_none(), "a third is past the limit");
        assert!(places.enter(two).is_some(), "another address has its own");
        drop(first);
        assert!(places.enter(one).is_some(), "a place given back is free");
    }
}
