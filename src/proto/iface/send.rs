//! The outbound path (the kernel's send.c): routing an inner packet to its peer by
//! allowed IPs, sealing it with the current keypair or staging it while a handshake
//! runs, the timer hooks after a send, keepalives and initiations.

use super::*;
use crate::proto::consts::*;
use crate::proto::crypto::PrivateKey;
use crate::proto::keypair::Keypair;
use crate::proto::noise;
use crate::proto::peer::Peer;
use crate::proto::tai64n::Tai64N;
use crate::proto::wire;
use crate::proto::{PeerId, HEADROOM, TAILROOM};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Inner destination (spec §9.2) of `pkt`.
pub(super) fn inner_dst(pkt: &[u8]) -> Option<IpAddr> {
    match pkt.first()? >> 4 {
        4 if pkt.len() >= 20 => {
            let mut a = [0u8; 4];
            a.copy_from_slice(&pkt[16..20]);
            Some(IpAddr::V4(Ipv4Addr::from(a)))
        }
        6 if pkt.len() >= 40 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&pkt[24..40]);
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

impl IfaceState {
    /// Sends an initiation to `p` (spec §4.1, §7.3). `retry` keeps the attempt counter.
    pub(super) fn send_initiation<R: rand_core::CryptoRngCore>(
        &mut self,
        p: &mut Peer,
        now: Instant,
        wall: SystemTime,
        rng: &mut R,
        retry: bool,
    ) {
        if !retry {
            p.timers.handshake_attempts = 0;
        }
        if p.handshake_recently_sent(now) || !self.up {
            return;
        }
        let Some(public) = self.public else {
            return;
        };
        if let Some(old) = p.initiation.take() {
            self.index.remove(old.local_index);
        }
        let idx = self.index.insert(
            &mut *rng,
            IndexEntry {
                peer: p.id,
                slot: Slot::Handshake,
            },
        );
        let e = PrivateKey::generate(&mut *rng);
        let ts = Tai64N::from_system_time(wall);
        let mut msg = [0u8; INITIATION_LEN];
        p.refresh_ss(self.private.as_ref());
        let Some(st) =
            noise::create_initiation(&mut msg, &public, &p.public, &p.ss, e, ts.as_bytes(), idx)
        else {
            self.index.remove(idx);
            return;
        };
        p.cookie.add_macs(now, &mut msg);
        p.initiation = Some(st);
        p.last_sent_handshake = Some(now);
        self.event(Event::SendingInitiation {
            peer: p.id,
            ep: log_endpoint(p),
        });
        // wg_peer_send_buf counts the bytes before trying; without an endpoint the send
        // then fails quietly (EAFNOSUPPORT) and the timers retry every 5 s ("(bad sa)").
        p.tx_bytes += INITIATION_LEN as u64;
        if let Some(to) = p.endpoint {
            self.queue(
                to,
                p.src,
                TxKind::Handshake,
                msg.to_vec(),
                0..INITIATION_LEN,
            );
        }
        p.timers.any_authenticated_packet_sent();
        p.timers.any_authenticated_packet_traversal(now);
        p.timers.handshake_initiated(now, &mut *rng);
    }

    /// Encrypts `buf` (inner packet at HEADROOM) with the current keypair, if usable.
    pub(super) fn seal(
        &self,
        p: &Peer,
        now: Instant,
        buf: &mut [u8],
        len: usize,
    ) -> Option<(Arc<Keypair>, usize)> {
        let k = p.sessions.current.as_ref()?;
        if !k.can_send(now) {
            return None;
        }
        let mtu = match buf.get(HEADROOM..HEADROOM + len).and_then(inner_dst) {
            Some(dst) => self.routes.mtu_for(dst, len),
            None => self.routes.mtu(),
        };
        let n = k.seal(buf, len, mtu)?;
        Some((k.clone(), n))
    }

    /// Hooks after a transport packet is sent (spec §7.2, §7.3 trigger 2).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn after_data_sent<R: rand_core::CryptoRngCore>(
        &mut self,
        p: &mut Peer,
        k: &Keypair,
        n: usize,
        keepalive: bool,
        now: Instant,
        wall: SystemTime,
        rng: &mut R,
    ) {
        p.tx_bytes += n as u64;
        p.timers.any_authenticated_packet_sent();
        p.timers.any_authenticated_packet_traversal(now);
        if !keepalive {
            p.timers.data_sent(now, &mut *rng);
        }
        if k.sent() > REKEY_AFTER_MESSAGES
            || (k.initiator && now.saturating_duration_since(k.created) > REKEY_AFTER_TIME)
        {
            self.send_initiation(p, now, wall, rng, false);
        }
    }

    /// Sends the staged packets, or a keepalive if none (spec §4.4 step 6, §6.2).
    pub(super) fn send_staged<R: rand_core::CryptoRngCore>(
        &mut self,
        p: &mut Peer,
        now: Instant,
        wall: SystemTime,
        rng: &mut R,
        keepalive_if_empty: bool,
    ) {
        if !self.up {
            return;
        }
        let Some(to) = p.endpoint else {
            if !p.staged.is_empty() || keepalive_if_empty {
                self.send_initiation(p, now, wall, rng, false);
            }
            return;
        };
        if p.staged.is_empty() {
            if keepalive_if_empty {
                self.send_keepalive(p, now, wall, rng);
            }
            return;
        }
        while let Some(mut s) = p.staged.pop_front() {
            match self.seal(p, now, &mut s.buf, s.len) {
                Some((k, n)) => {
                    self.queue(to, p.src, TxKind::Data(p.id), s.buf, 0..n);
                    self.after_data_sent(p, &k, n, false, now, wall, &mut *rng);
                }
                None => {
                    p.staged.push_front(s);
                    self.send_initiation(p, now, wall, rng, false);
                    return;
                }
            }
        }
    }

    pub(super) fn send_keepalive<R: rand_core::CryptoRngCore>(
        &mut self,
        p: &mut Peer,
        now: Instant,
        wall: SystemTime,
        rng: &mut R,
    ) {
        if !p.staged.is_empty() {
            return self.send_staged(p, now, wall, rng, false);
        }
        let mut buf = vec![0u8; DATA_MIN_LEN];
        match self.seal(p, now, &mut buf, 0) {
            Some((k, n)) => {
                self.event(Event::SendingKeepalive {
                    peer: p.id,
                    ep: log_endpoint(p),
                });
                if let Some(to) = p.endpoint {
                    self.queue(to, p.src, TxKind::Data(p.id), buf, 0..n);
                }
                self.after_data_sent(p, &k, n, true, now, wall, rng);
            }
            None => self.send_initiation(p, now, wall, rng, false),
        }
    }
}

/// A peer's right to seal a run of packets outside the engine's lock (several
/// threads may seal at once): the keypair, the counters reserved for the run with
/// one atomic add, and where the datagrams go. Made by [`Interface::plan_send`],
/// made usable by [`Interface::commit_grants`].
#[derive(Debug, Clone)]
pub struct SendGrant {
    pub peer: PeerId,
    pub to: SocketAddr,
    pub src: Option<IpAddr>,
    keypair: Arc<Keypair>,
    packets: u64,
    bytes: u64,
    next: u64,
    /// The MTU the run's packets are padded under: a packet whose route gives
    /// another starts a run of its own.
    mtu: usize,
}

impl SendGrant {
    /// Seals the run's next packet in place (`buf[HEADROOM..HEADROOM+len]`, with
    /// room for padding and the tag): the packets of a run must be sealed in the
    /// order they were planned. None: the keypair ran out of counters.
    pub fn seal(&mut self, buf: &mut [u8], len: usize) -> Option<usize> {
        let counter = self.next;
        self.next += 1;
        self.keypair.seal_at(counter, buf, len, self.mtu)
    }
}

/// Where [`Interface::plan_send`] put a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// To be sealed with the grant at this index.
    Seal(usize),
    /// Staged for the handshake under way (or sent from the engine's queue).
    Staged,
    Dropped(DropReason),
}

impl Interface {
    /// Routes one outbound packet of a batch, `buf[HEADROOM..HEADROOM+len]`, without
    /// sealing it: it joins the last grant in `grants` when that is the same peer's
    /// run, or starts one. A peer without a usable session stages the packet (and
    /// starts a handshake). After the batch, [`Interface::commit_grants`].
    pub fn plan_send(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        buf: &[u8],
        len: usize,
        grants: &mut Vec<SendGrant>,
    ) -> Planned {
        // Padding (<= 15) and the tag must fit after the packet.
        let fits = match len.checked_add(HEADROOM + PADDING_MULTIPLE - 1 + TAG_LEN) {
            Some(n) => buf.len() >= n,
            None => false,
        };
        if !fits {
            return Planned::Dropped(DropReason::BufferTooSmall);
        }
        let Some(dst) = inner_dst(&buf[HEADROOM..HEADROOM + len]) else {
            return Planned::Dropped(DropReason::BadPacket);
        };
        let Some((id, _)) = self.aips.lookup(dst) else {
            return Planned::Dropped(DropReason::NoRoute);
        };
        let Some(p) = self.peers.get_mut(&id) else {
            return Planned::Dropped(DropReason::NoRoute);
        };
        self.state.touched.push(id);
        let Some(to) = p.endpoint else {
            self.state.event(Event::NoEndpoint { peer: id });
            return Planned::Dropped(DropReason::NoEndpoint);
        };
        if p.staged.is_empty() && self.state.up {
            if let Some(k) = p.sessions.current.as_ref().filter(|k| k.can_send(now)) {
                let mtu = self.state.routes.mtu_for(dst, len);
                let bytes = (DATA_HEADER_LEN + wire::padded_len(len, mtu) + TAG_LEN) as u64;
                if let Some(g) = grants.last_mut() {
                    if g.peer == id
                        && Arc::ptr_eq(&g.keypair, k)
                        && g.to == to
                        && g.src == p.src
                        && g.mtu == mtu
                    {
                        g.packets += 1;
                        g.bytes += bytes;
                        return Planned::Seal(grants.len() - 1);
                    }
                }
                grants.push(SendGrant {
                    peer: id,
                    to,
                    src: p.src,
                    keypair: k.clone(),
                    packets: 1,
                    bytes,
                    next: 0,
                    mtu,
                });
                return Planned::Seal(grants.len() - 1);
            }
        }
        p.stage(&buf[HEADROOM..HEADROOM + len], HEADROOM, TAILROOM);
        if self.state.up {
            self.state.send_staged(p, now, wall, rng, false);
        }
        Planned::Staged
    }

    /// Makes the batch's grants usable: each reserves its run's counters with one
    /// atomic add, and the send hooks (byte counters, timers, rekey after messages
    /// or time) run once per run instead of once per packet.
    pub fn commit_grants(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        grants: &mut [SendGrant],
    ) {
        for g in grants.iter_mut() {
            g.next = g.keypair.reserve(g.packets);
            if let Some(p) = self.peers.get_mut(&g.peer) {
                self.state.after_data_sent(
                    p,
                    &g.keypair,
                    g.bytes as usize,
                    false,
                    now,
                    wall,
                    &mut *rng,
                );
            }
        }
        self.requeue_touched();
    }

    /// One outbound packet, `buf[HEADROOM..HEADROOM+len]`, sealed in place (`Send`) or
    /// staged while a handshake runs; `buf` needs TAILROOM after the packet. The
    /// batch path for one packet: plan, commit, seal.
    pub fn encapsulate(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        buf: &mut [u8],
        len: usize,
    ) -> SendOutcome {
        let mut grants = std::mem::take(&mut self.state.grants);
        grants.clear();
        let r = match self.plan_send(now, wall, rng, buf, len, &mut grants) {
            Planned::Seal(i) => {
                self.commit_grants(now, wall, rng, &mut grants[i..=i]);
                let g = &mut grants[i];
                match g.seal(buf, len) {
                    Some(n) => SendOutcome::Send {
                        to: g.to,
                        src: g.src,
                        range: 0..n,
                        peer: g.peer,
                    },
                    // Out of counters: wait for the next session, as without one.
                    None => {
                        let id = g.peer;
                        if let Some(p) = self.peers.get_mut(&id) {
                            p.stage(&buf[HEADROOM..HEADROOM + len], HEADROOM, TAILROOM);
                            self.state.send_staged(p, now, wall, rng, false);
                        }
                        SendOutcome::Staged
                    }
                }
            }
            Planned::Staged => SendOutcome::Staged,
            Planned::Dropped(r) => SendOutcome::Dropped(r),
        };
        grants.clear();
        self.state.grants = grants;
        self.requeue_touched();
        r
    }

    /// `encapsulate` over a batch; each outcome is stored in its `PacketBuf`.
    pub fn encapsulate_batch(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        bufs: &mut [PacketBuf<'_>],
    ) {
        for b in bufs.iter_mut() {
            b.outcome = Some(self.encapsulate(now, wall, rng, b.buf, b.len));
        }
    }
}
