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

    pub fn push(&mut self, a: (IpAddr, u8)) -> u32 {
        self.slots.push(Some(a));
        self.live += 1;
        self.slots.len() as u32 - 1
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
