//! Per-peer state (spec §4–§8): identity and precomputed static DH, handshake slot, the three
//! keypairs, cookie maker, endpoint with its sticky local source address, staged packets,
//! timers, counters and the configuration SIOCGWG reports.

use super::consts::*;
use super::cookie::CookieMaker;
use super::crypto::{dh, PrivateKey, Secret32};
use super::keypair::Sessions;
use super::noise::InitiatorState;
use super::tai64n::Tai64N;
use super::timers::Timers;
use super::PeerId;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime};

/// One staged inner packet, stored with HEADROOM before and TAILROOM after it so it can be
/// encrypted in place once a session exists.
pub struct Staged {
    pub buf: Vec<u8>,
    pub len: usize,
}

/// A peer's allowed IPs as given, oldest first. The allowed-IPs table keeps each
/// prefix's slot here, so that the prefix moving to another peer takes it out in O(1)
/// (a tombstone; the slots are compacted once half are dead, which the owner of the
/// table follows by rewriting the live slots: amortised O(1) per removal).
#[derive(Default)]
pub struct OwnedAips {
    slots: Vec<Option<(IpAddr, u8)>>,
    live: usize,
}

impl OwnedAips {
    /// The slot the next `push` uses.
    pub fn next_slot(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Adds a prefix in the slot [`OwnedAips::next_slot`] gave.
    pub fn push(&mut self, a: (IpAddr, u8)) {
        self.slots.push(Some(a));
        self.live += 1;
    }

    /// Takes the prefix out of `slot`.
    pub fn take(&mut self, slot: u32) -> Option<(IpAddr, u8)> {
        let a = self.slots.get_mut(slot as usize)?.take();
        if a.is_some() {
            self.live -= 1;
        }
        a
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The live prefixes with their slots, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u32, (IpAddr, u8))> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i as u32, a)))
    }

    /// Whether half the slots are dead (then [`OwnedAips::compact`]).
    pub fn sparse(&self) -> bool {
        self.slots.len() >= 16 && self.live * 2 < self.slots.len()
    }

    /// Drops the dead slots; the live ones are renumbered in order (their new slot is
    /// their position in `iter()`).
    pub fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        self.slots.shrink_to_fit();
    }
}

pub struct Peer {
    pub id: PeerId,
    pub public: [u8; 32],
    pub psk: Secret32,
    /// SS = DH(own private, peer public); all zero = handshakes refused (spec §2).
    /// Computed on first use after a key change ([`Peer::refresh_ss`]), so that
    /// configuring many peers or changing the key costs no X25519 per peer.
    pub ss: Secret32,
    ss_stale: bool,
    pub cookie: CookieMaker,
    pub endpoint: Option<SocketAddr>,
    /// Sticky local source address of the endpoint (spec §8).
    pub src: Option<IpAddr>,
    pub description: String,
    /// As given, oldest first (SIOCGWG lists them the other way round).
    pub aips: OwnedAips,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub last_handshake: Option<SystemTime>,
    /// INITIATION_CREATED state; its local index is live in the index table.
    pub initiation: Option<InitiatorState>,
    pub latest_timestamp: Option<Tai64N>,
    pub last_initiation_consumed: Option<Instant>,
    pub last_sent_handshake: Option<Instant>,
    pub sessions: Sessions,
    pub staged: VecDeque<Staged>,
    pub timers: Timers,
    /// The earliest entry this peer has in the interface's deadline queue.
    pub queued: super::deadlines::Queued,
    /// Position in the interface's peer order (creation order).
    pub seq: u64,
}

impl Peer {
    pub fn new(id: PeerId, public: [u8; 32], private: Option<&PrivateKey>) -> Peer {
        let mut p = Peer {
            id,
            public,
            psk: Secret32::default(),
            ss: Secret32::default(),
            ss_stale: true,
            cookie: CookieMaker::new(&public),
            endpoint: None,
            src: None,
            description: String::new(),
            aips: OwnedAips::default(),
            tx_bytes: 0,
            rx_bytes: 0,
            last_handshake: None,
            initiation: None,
            latest_timestamp: None,
            last_initiation_consumed: None,
            last_sent_handshake: None,
            sessions: Sessions::default(),
            staged: VecDeque::new(),
            timers: Timers::new(),
            queued: None,
            seq: 0,
        };
        p.set_private(private);
        p
    }

    /// The interface private key changed: SS is recomputed when next needed.
    pub fn set_private(&mut self, _private: Option<&PrivateKey>) {
        self.ss = Secret32::default();
        self.ss_stale = true;
    }

    /// Makes `ss` current for `private` (the interface's key, unchanged since the last
    /// `set_private`).
    pub fn refresh_ss(&mut self, private: Option<&PrivateKey>) {
        if self.ss_stale {
            self.ss = private
                .and_then(|k| dh(k, &self.public))
                .unwrap_or_default();
            self.ss_stale = false;
        }
    }

    /// Stages a copy of an inner packet (oldest dropped beyond MAX_STAGED_PACKETS).
    pub fn stage(&mut self, packet: &[u8], headroom: usize, tailroom: usize) {
        if self.staged.len() >= MAX_STAGED_PACKETS {
            self.staged.pop_front();
        }
        let mut buf = vec![0u8; headroom + packet.len() + tailroom];
        buf[headroom..headroom + packet.len()].copy_from_slice(packet);
        self.staged.push_back(Staged {
            buf,
            len: packet.len(),
        });
    }

    /// Whether a handshake message was sent less than REKEY_TIMEOUT ago (spec §7.3).
    pub fn handshake_recently_sent(&self, now: Instant) -> bool {
        self.last_sent_handshake
            .is_some_and(|t| now.saturating_duration_since(t) < REKEY_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn prefix(i: u8) -> (IpAddr, u8) {
        (IpAddr::V4(Ipv4Addr::new(10, 0, i, 0)), 24)
    }

    /// `slots` prefixes pushed, all but the first `live` taken out again.
    fn owned(slots: u8, live: u8) -> OwnedAips {
        let mut a = OwnedAips::default();
        for i in 0..slots {
            a.push(prefix(i));
        }
        for i in live..slots {
            a.take(u32::from(i));
        }
        a
    }

    /// The live count is what SIOCGWG sizes its answer by (`config_counts`).
    #[test]
    fn owned_aips_count_the_live_prefixes() {
        let mut a = OwnedAips::default();
        assert!(a.is_empty());
        for i in 0..3 {
            assert_eq!(a.next_slot(), u32::from(i));
            a.push(prefix(i));
        }
        assert_eq!((a.len(), a.is_empty()), (3, false));
        assert_eq!(a.take(1), Some(prefix(1)));
        assert_eq!(a.take(1), None, "a dead slot");
        assert_eq!(a.take(9), None, "past the end");
        assert_eq!(a.len(), 2);
        assert_eq!(a.next_slot(), 3, "slots are not reused before compact");
        let live: Vec<_> = a.iter().collect();
        assert_eq!(live, vec![(0, prefix(0)), (2, prefix(2))]);
        a.take(0);
        a.take(2);
        assert_eq!((a.len(), a.is_empty()), (0, true));
    }

    /// Compaction is due from 16 slots once fewer than half are live.
    #[test]
    fn owned_aips_are_sparse_below_half_live_from_16_slots() {
        assert!(!owned(15, 0).sparse(), "fewer than 16 slots");
        assert!(owned(16, 7).sparse());
        assert!(!owned(16, 8).sparse(), "exactly half live");
        assert!(!owned(16, 16).sparse());
        assert!(owned(40, 19).sparse());
        assert!(!owned(40, 20).sparse());
    }

    #[test]
    fn compact_renumbers_the_live_prefixes_in_order() {
        let mut a = owned(20, 20);
        for i in (0..20).filter(|i| i % 3 != 0) {
            a.take(i);
        }
        a.compact();
        let want: Vec<_> = (0..20u8)
            .filter(|i| i % 3 == 0)
            .enumerate()
            .map(|(slot, i)| (slot as u32, prefix(i)))
            .collect();
        assert_eq!(a.iter().collect::<Vec<_>>(), want);
        assert_eq!((a.len(), a.next_slot()), (7, 7));
        assert!(!a.sparse());
    }

    /// SS follows the interface key: made stale by a new key and recomputed from it
    /// at the next use, never from the key it was first computed with.
    #[test]
    fn a_new_private_key_makes_ss_anew() {
        let (k1, k2) = (
            PrivateKey::from_bytes(&[1; 32]),
            PrivateKey::from_bytes(&[2; 32]),
        );
        let public = PrivateKey::from_bytes(&[3; 32]).public_key();
        let mut p = Peer::new(1, public, Some(&k1));
        p.refresh_ss(Some(&k1));
        assert!(p.ss.0 == dh(&k1, &public).unwrap().0);
        p.set_private(Some(&k2));
        p.refresh_ss(Some(&k2));
        assert!(p.ss.0 == dh(&k2, &public).unwrap().0);
        p.set_private(None);
        p.refresh_ss(None);
        assert!(p.ss.is_zero(), "no key, no SS");
    }

    /// Beyond MAX_STAGED_PACKETS the oldest goes; each copy sits between its
    /// headroom and tailroom, ready to be sealed in place.
    #[test]
    fn staging_keeps_the_newest_packets_between_head_and_tailroom() {
        let mut p = Peer::new(1, [9; 32], None);
        for i in 0..=MAX_STAGED_PACKETS {
            p.stage(&[i as u8, 0xee], 3, 5);
        }
        assert_eq!(p.staged.len(), MAX_STAGED_PACKETS);
        let first = &p.staged[0];
        assert_eq!(first.len, 2);
        assert_eq!(first.buf, [0, 0, 0, 1, 0xee, 0, 0, 0, 0, 0]);
        assert_eq!(
            p.staged[MAX_STAGED_PACKETS - 1].buf[3],
            MAX_STAGED_PACKETS as u8
        );
    }

    /// spec §7.3: a handshake is "recent" for strictly less than REKEY_TIMEOUT.
    #[test]
    fn a_handshake_is_recent_for_less_than_rekey_timeout() {
        let t0 = crate::test_origin();
        let mut p = Peer::new(1, [9; 32], None);
        assert!(!p.handshake_recently_sent(t0), "never sent");
        p.last_sent_handshake = Some(t0 + Duration::from_secs(1));
        assert!(p.handshake_recently_sent(t0), "a clock behind the send");
        let at = |d: Duration| p.handshake_recently_sent(t0 + Duration::from_secs(1) + d);
        assert!(at(Duration::ZERO));
        assert!(at(REKEY_TIMEOUT - Duration::from_nanos(1)));
        assert!(!at(REKEY_TIMEOUT));
        assert!(!at(REKEY_TIMEOUT * 10));
    }
}
