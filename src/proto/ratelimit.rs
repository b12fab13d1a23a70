//! The handshake rate limiter consulted under load (spec §5.4): a token bucket per
//! source, 20 packets/s with a burst of 5, keyed by the full IPv4 address or the
//! IPv6 /64 as the kernel does. Time comes from the caller.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// PACKETS_PER_SECOND.
pub const PACKETS_PER_SECOND: u64 = 20;
/// PACKETS_BURSTABLE.
pub const PACKETS_BURSTABLE: u64 = 5;
const PACKET_COST_NS: u64 = 1_000_000_000 / PACKETS_PER_SECOND;
const TOKEN_MAX_NS: u64 = PACKET_COST_NS * PACKETS_BURSTABLE;
/// Entries idle this long are forgotten by `gc`.
pub const IDLE: Duration = Duration::from_secs(1);
/// The most sources tracked at once; past it new sources are refused until `gc`
/// frees room (the kernel's table is bounded the same way).
pub const MAX_ENTRIES: usize = 65_536;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4([u8; 4]),
    V6Net([u8; 8]),
}

struct Bucket {
    last: Instant,
    tokens_ns: u64,
    /// When a refusal of this source was last reported.
    reported: Option<Instant>,
}

/// Refusals of one source are reported (logged) this often at most: a flood is
/// refused at its whole rate, and a line per message would make the log its
/// bottleneck.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct RateLimiter {
    table: HashMap<Key, Bucket>,
    /// When the next `gc` pass is due: a second after the table last became
    /// non-empty or was last swept (the kernel's periodic gc), None while empty.
    gc_due: Option<Instant>,
    /// When a refusal of a source without an entry (the table full) was last reported.
    reported_untracked: Option<Instant>,
    /// When any refusal was last reported (`report_any`).
    reported_any: Option<Instant>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn key(addr: IpAddr) -> Key {
        match addr {
            IpAddr::V4(a) => Key::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Key::V4(v4.octets()),
                None => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&a.octets()[..8]);
                    Key::V6Net(n)
                }
            },
        }
    }

    /// Whether one more handshake message from `addr` may be processed now.
    pub fn allow(&mut self, now: Instant, addr: IpAddr) -> bool {
        let key = Self::key(addr);
        if let Some(b) = self.table.get_mut(&key) {
            let elapsed = now
                .saturating_duration_since(b.last)
                .as_nanos()
                .min(TOKEN_MAX_NS as u128) as u64;
            b.tokens_ns = (b.tokens_ns + elapsed).min(TOKEN_MAX_NS);
            b.last = now;
            if b.tokens_ns >= PACKET_COST_NS {
                b.tokens_ns -= PACKET_COST_NS;
                return true;
            }
            return false;
        }
        if self.table.len() >= MAX_ENTRIES {
            return false;
        }
        if self.table.is_empty() {
            self.gc_due = Some(now + IDLE);
        }
        self.table.insert(
            key,
            Bucket {
                last: now,
                tokens_ns: TOKEN_MAX_NS - PACKET_COST_NS,
                reported: None,
            },
        );
        true
    }

    /// After `allow` refused `addr`: whether to report it, once per [`REPORT_EVERY`]
    /// per source at most.
    pub fn report(&mut self, now: Instant, addr: IpAddr) -> bool {
        let key = Self::key(addr);
        let last = match self.table.get_mut(&key) {
            Some(b) => &mut b.reported,
            None => &mut self.reported_untracked,
        };
        if last.is_some_and(|t| now.saturating_duration_since(t) < REPORT_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// After `allow` refused someone: whether to report it, once per [`REPORT_EVERY`]
    /// for all sources together (where a line per source and second would be a
    /// thousand lines a second for a flood from a thousand addresses).
    pub fn report_any(&mut self, now: Instant) -> bool {
        if self
            .reported_any
            .is_some_and(|t| now.saturating_duration_since(t) < REPORT_EVERY)
        {
            return false;
        }
        self.reported_any = Some(now);
        true
    }

    /// Forgets sources idle for more than [`IDLE`], once the pass is due.
    pub fn gc(&mut self, now: Instant) {
        if !self.gc_due.is_some_and(|t| t <= now) {
            return;
        }
        self.table
            .retain(|_, b| now.saturating_duration_since(b.last) <= IDLE);
        self.gc_due = (!self.table.is_empty()).then(|| now + IDLE);
    }

    /// When [`RateLimiter::gc`] wants to run next; the caller's timer wakes it.
    pub fn gc_due(&self) -> Option<Instant> {
        self.gc_due
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_twenty_per_second() {
        let t0 = crate::test_origin();
        let mut r = RateLimiter::new();
        let a = ip("192.0.2.1");
        for i in 0..5 {
            assert!(r.allow(t0, a), "burst packet {i}");
        }
        assert!(!r.allow(t0, a), "sixth packet at once");
        assert!(!r.allow(t0 + Duration::from_millis(49), a));
        assert!(r.allow(t0 + Duration::from_millis(50) + Duration::from_micros(1), a));
        // One second at 20/s: about 20 more allowed, never a new burst on top.
        let mut allowed = 0;
        for ms in (0..1000).step_by(5) {
            if r.allow(t0 + Duration::from_millis(51 + ms), a) {
                allowed += 1;
            }
        }
        assert!((19..=21).contains(&allowed), "{allowed}");
        // Another source is independent.
        assert!(r.allow(t0, ip("192.0.2.2")));
    }

    #[test]
    fn refusals_are_reported_once_a_second_per_source() {
        let t0 = crate::test_origin();
        let mut r = RateLimiter::new();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        for _ in 0..5 {
            r.allow(t0, a);
            r.allow(t0, b);
        }
        assert!(!r.allow(t0, a));
        assert!(r.report(t0, a), "the first refusal");
        assert!(
            !r.report(t0 + Duration::from_millis(999), a),
            "within the second"
        );
        assert!(r.report(t0, b), "another source has its own");
        assert!(r.report(t0 + REPORT_EVERY, a), "a second later");
        // Past the table's bound there is no entry: one report a second for them all.
        assert!(r.report(t0, ip("198.51.100.1")));
        assert!(!r.report(t0, ip("198.51.100.2")));
        assert!(r.report(t0 + REPORT_EVERY, ip("198.51.100.2")));
    }

    #[test]
    fn report_any_is_once_a_second_for_all_sources() {
        let t0 = crate::test_origin();
        let mut r = RateLimiter::new();
        assert!(r.report_any(t0));
        assert!(!r.report_any(t0 + Duration::from_millis(999)));
        // Per-source reports keep their own clocks.
        assert!(r.report(t0, ip("192.0.2.1")));
        assert!(r.report_any(t0 + REPORT_EVERY));
    }

    #[test]
    fn v6_is_keyed_by_slash_64() {
        let t0 = crate::test_origin();
        let mut r = RateLimiter::new();
        for i in 0..5 {
            assert!(r.allow(t0, ip(&format!("2001:db8::{i}"))));
        }
        assert!(!r.allow(t0, ip("2001:db8::ffff:1")));
        assert!(r.allow(t0, ip("2001:db8:0:1::1")));
    }

    #[test]
    fn gc_forgets_idle_sources() {
        let t0 = crate::test_origin();
        let mut r = RateLimiter::new();
        r.allow(t0, ip("192.0.2.1"));
        r.allow(t0 + Duration::from_millis(900), ip("192.0.2.2"));
        r.gc(t0 + Duration::from_millis(1500));
        assert_eq!(r.len(), 1);
        r.gc(t0 + Duration::from_secs(5));
        assert!(r.is_empty());
    }

    /// The sweep has its own deadline, so it happens even when nothing else wakes
    /// the caller: due a second after the first entry, again while any remain.
    #[test]
    fn gc_has_a_deadline_while_entries_remain() {
        let t0 = crate::test_origin();
        let mut r = RateLimiter::new();
        assert_eq!(r.gc_due(), None);
        r.allow(t0, ip("192.0.2.1"));
        assert_eq!(r.gc_due(), Some(t0 + IDLE));
        r.gc(t0 + Duration::from_millis(500));
        assert_eq!(r.len(), 1, "not due yet");
        r.allow(t0 + Duration::from_millis(800), ip("192.0.2.1"));
        r.gc(t0 + IDLE);
        assert_eq!(r.len(), 1, "used 200 ms ago");
        assert_eq!(r.gc_due(), Some(t0 + IDLE + IDLE));
        r.gc(t0 + IDLE + IDLE);
        assert!(r.is_empty());
        assert_eq!(r.gc_due(), None);
    }
}
