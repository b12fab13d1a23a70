//! The inbound path (the kernel's receive.c): the mac1/cookie/rate-limit gate,
//! initiations, responses and cookie replies, and transport data: authentication,
//! replay, roaming to the last authenticated source, key confirmation, the allowed-IPs
//! source check and the timer hooks after a receive.

use super::*;
use crate::proto::consts::*;
use crate::proto::cookie::{self, MacCheck};
use crate::proto::crypto::PrivateKey;
use crate::proto::keypair::Keypair;
use crate::proto::noise;
use crate::proto::tai64n::Tai64N;
use crate::proto::wire::{self, CookieReply, Initiation, Kind, Response};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Inner source and true length (spec §9.3); None if not a consistent IPv4/IPv6 packet.
pub(super) fn inner_src_len(pkt: &[u8]) -> Option<(IpAddr, usize)> {
    match pkt.first()? >> 4 {
        4 if pkt.len() >= 20 => {
            let len = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
            if !(20..=pkt.len()).contains(&len) {
                return None;
            }
            let mut a = [0u8; 4];
            a.copy_from_slice(&pkt[12..16]);
            Some((IpAddr::V4(Ipv4Addr::from(a)), len))
        }
        6 if pkt.len() >= 40 => {
            let len = u16::from_be_bytes([pkt[4], pkt[5]]) as usize + 40;
            if len > pkt.len() {
                return None;
            }
            let mut a = [0u8; 16];
            a.copy_from_slice(&pkt[8..24]);
            Some((IpAddr::V6(Ipv6Addr::from(a)), len))
        }
        _ => None,
    }
}

/// The first step of consuming an initiation (spec §4.2 steps 1-4: the es
/// Diffie-Hellman and the initiator's static key), done without the engine, so that
/// the control thread holds the engine's lock, which the data workers need for every
/// batch, only for the steps that touch a peer. A flood of initiations with valid MACs
/// that name no peer costs its one Diffie-Hellman each here.
pub struct Prepared {
    /// The interface's public key it was computed with.
    public: [u8; 32],
    /// The message it was computed for.
    msg: [u8; INITIATION_LEN],
    partial: Option<noise::PartialInitiation>,
}

/// The interface's key pair and mac1 key, as [`prepare_initiation`] needs them.
pub struct Identity {
    private: PrivateKey,
    public: [u8; 32],
    mac1_key: [u8; 32],
}

/// [`Prepared`] for `buf` if it is an initiation with a valid mac1 (one without is
/// refused by the engine before any Diffie-Hellman, as always).
pub fn prepare_initiation(buf: &[u8], id: &Identity) -> Option<Prepared> {
    if wire::classify(buf) != Some(Kind::Initiation) || !cookie::mac1_ok(&id.mac1_key, buf) {
        return None;
    }
    let msg = Initiation::new_checked(buf)?;
    let mut bytes = [0u8; INITIATION_LEN];
    bytes.copy_from_slice(msg.bytes());
    Some(Prepared {
        public: id.public,
        msg: bytes,
        partial: noise::consume_initiation_static(&msg, &id.private, &id.public),
    })
}

/// The keypair a data message opens with, and whose it is.
#[derive(Debug, Clone)]
pub struct DataKey {
    pub peer: PeerId,
    pub keypair: Arc<Keypair>,
}

impl Interface {
    /// One inbound datagram, opened in place: `Tun(range)` is the inner packet to
    /// deliver, `Handled` a handshake message or keepalive (replies are queued).
    #[allow(clippy::too_many_arguments)]
    pub fn decapsulate(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &mut [u8],
        under_load: bool,
    ) -> RecvOutcome {
        self.decapsulate_prepared(now, wall, rng, from, local, buf, under_load, None)
    }

    /// [`Self::decapsulate`] for a message whose first, peer-independent step was done
    /// outside the engine's lock by [`prepare_initiation`] (ignored if the interface's
    /// key changed since, or for any other message).
    #[allow(clippy::too_many_arguments)]
    pub fn decapsulate_prepared(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &mut [u8],
        under_load: bool,
        prepared: Option<Prepared>,
    ) -> RecvOutcome {
        let r = match wire::classify(buf) {
            None => RecvOutcome::Dropped(DropReason::Malformed),
            Some(Kind::Initiation) => {
                self.recv_initiation(now, wall, rng, from, local, buf, under_load, prepared)
            }
            Some(Kind::Response) => {
                self.recv_response(now, wall, rng, from, local, buf, under_load)
            }
            Some(Kind::Cookie) => self.recv_cookie(now, from, buf),
            Some(Kind::Data) => self.recv_data(now, wall, rng, from, local, buf),
        };
        self.requeue_touched();
        r
    }

    /// The interface's key pair, for [`prepare_initiation`] outside the lock.
    pub fn identity(&self) -> Option<Identity> {
        let public = self.state.public?;
        Some(Identity {
            private: self.state.private.clone()?,
            public,
            mac1_key: cookie::mac1_key(&public),
        })
    }

    /// The gate of [`Self::decapsulate`] alone, for a handshake message received while
    /// under load: mac1, then a cookie reply for a message without a valid mac2, then
    /// the per-source rate limit. `Some(outcome)` if the message stops here (a cookie
    /// reply may be queued); `None` if it passed and is to be processed, by
    /// `decapsulate` with `under_load` false so that it does not pay the rate limit
    /// twice. Data messages and cookie replies pass untouched. Costs no Diffie-Hellman,
    /// so the data workers run it and only what passes reaches the control thread.
    pub fn screen_handshake(
        &mut self,
        now: Instant,
        rng: &mut impl rand_core::CryptoRngCore,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &[u8],
    ) -> Option<RecvOutcome> {
        let initiation = match wire::classify(buf) {
            None => return Some(RecvOutcome::Dropped(DropReason::Malformed)),
            Some(Kind::Initiation) => true,
            Some(Kind::Response) => false,
            Some(Kind::Cookie | Kind::Data) => return None,
        };
        // Without a key the cookie checker has no mac1 key: every MAC is wrong, and
        // processing says so in the log.
        self.state.private.as_ref()?;
        self.admit_handshake(now, rng, from, local, buf, true, initiation)
    }

    /// mac1/mac2/cookie/rate-limit gate for types 1 and 2 (spec §5.4). Some(outcome) = stop.
    #[allow(clippy::too_many_arguments)]
    fn admit_handshake<R: rand_core::CryptoRngCore>(
        &mut self,
        now: Instant,
        rng: &mut R,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &[u8],
        under_load: bool,
        initiation: bool,
    ) -> Option<RecvOutcome> {
        let check = self.state.checker.check(now, buf, from);
        if check == MacCheck::BadMac1 {
            self.state.event(if initiation {
                Event::InvalidInitiationMac { from: from.ip() }
            } else {
                Event::InvalidResponseMac { from: from.ip() }
            });
            return Some(RecvOutcome::Dropped(DropReason::Invalid));
        }
        if !under_load {
            return None;
        }
        if check != MacCheck::Both {
            // A cookie reply costs a seal and a datagram, several times what
            // refusing costs: per source they are limited as the handshakes past
            // mac2 are, so a flood from many (spoofed) sources is answered at 20/s
            // each instead of at its whole rate, and does not crowd the tunnel's
            // data out of the socket it shares (the kernel bounds the same work by
            // dropping what overflows its handshake queue, whoever sent it). A
            // separate bucket: a spoofed flood from a peer's address must not use
            // up what that peer's own mac2-valid handshakes are allowed.
            if !self.state.cookie_limiter.allow(now, from.ip()) {
                if self.state.cookie_limiter.report_any(now) {
                    self.state.event(Event::Ratelimited { from: from.ip() });
                }
                return Some(RecvOutcome::Dropped(DropReason::RateLimited));
            }
            if let Some(reply) = self.state.checker.create_reply(now, rng, buf, from) {
                self.state.event(Event::SendingCookie);
                let reply = reply.to_vec();
                self.state
                    .queue(from, local, TxKind::Handshake, reply, 0..COOKIE_LEN);
            }
            return Some(RecvOutcome::Handled);
        }
        if !self.state.limiter.allow(now, from.ip()) {
            if self.state.limiter.report(now, from.ip()) {
                self.state.event(Event::Ratelimited { from: from.ip() });
            }
            return Some(RecvOutcome::Dropped(DropReason::RateLimited));
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn recv_initiation(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &[u8],
        under_load: bool,
        prepared: Option<Prepared>,
    ) -> RecvOutcome {
        let (Some(private), Some(public)) = (self.state.private.clone(), self.state.public) else {
            // Without a key the cookie checker has no mac1 key: every MAC is wrong.
            self.state
                .event(Event::InvalidInitiationMac { from: from.ip() });
            return RecvOutcome::Dropped(DropReason::NoIdentity);
        };
        if let Some(o) = self.admit_handshake(now, rng, from, local, buf, under_load, true) {
            return o;
        }
        let invalid = |state: &mut IfaceState| {
            state.event(Event::InvalidInitiation { from: from.ip() });
            RecvOutcome::Dropped(DropReason::Invalid)
        };
        let Some(msg) = Initiation::new_checked(buf) else {
            return RecvOutcome::Dropped(DropReason::Malformed);
        };
        let partial = match prepared {
            Some(p) if p.public == public && p.msg == msg.bytes() => p.partial,
            _ => noise::consume_initiation_static(&msg, &private, &public),
        };
        let Some(partial) = partial else {
            return invalid(&mut self.state);
        };
        let Some(id) = self.by_public.get(&partial.remote_static).copied() else {
            return invalid(&mut self.state);
        };
        let Some(p) = self.peers.get_mut(&id) else {
            return invalid(&mut self.state);
        };
        self.state.touched.push(id);
        p.refresh_ss(self.state.private.as_ref());
        let Some((st, ts)) = noise::consume_initiation_finish(partial, &msg, &p.ss) else {
            return invalid(&mut self.state);
        };
        let ts = Tai64N::from_bytes(ts);
        let replay = p.latest_timestamp.as_ref().is_some_and(|l| ts <= *l);
        let flood = p
            .last_initiation_consumed
            .is_some_and(|t| now.saturating_duration_since(t) < INITIATION_SPACING);
        if replay || flood {
            return invalid(&mut self.state);
        }
        self.state.event(Event::ReceivingInitiation {
            peer: id,
            from: from.ip(),
        });
        p.latest_timestamp = Some(ts);
        p.last_initiation_consumed = Some(now);
        p.rx_bytes += INITIATION_LEN as u64;
        p.endpoint = Some(from);
        p.src = local;
        p.timers.any_authenticated_packet_received();
        p.timers.any_authenticated_packet_traversal(now);
        // Our own in-flight initiation is overwritten (spec §4.2 step 8).
        self.state.clear_handshake(p);
        // Response (spec §4.3).
        let idx = self.state.index.insert(
            &mut *rng,
            IndexEntry {
                peer: id,
                slot: Slot::Keypair,
            },
        );
        let e = PrivateKey::generate(&mut *rng);
        let mut out = [0u8; RESPONSE_LEN];
        let Some(c) = noise::create_response(&mut out, &st, &p.public, &p.psk, e, idx) else {
            self.state.index.remove(idx);
            return invalid(&mut self.state);
        };
        p.cookie.add_macs(now, &mut out);
        let (t1, t2) = noise::derive_transport_keys(&c);
        let Some(k) = Keypair::new(&t1, &t2, false, now, idx, st.remote_index) else {
            self.state.index.remove(idx);
            return RecvOutcome::Dropped(DropReason::Invalid);
        };
        for dead in p.sessions.install(Arc::new(k)) {
            self.state.free_index(dead);
        }
        p.last_sent_handshake = Some(now);
        p.tx_bytes += RESPONSE_LEN as u64;
        self.state.event(Event::SendingResponse {
            peer: id,
            ep: log_endpoint(p),
        });
        self.state.queue(
            from,
            local,
            TxKind::Handshake,
            out.to_vec(),
            0..RESPONSE_LEN,
        );
        p.timers.session_derived(now);
        p.timers.any_authenticated_packet_sent();
        p.timers.any_authenticated_packet_traversal(now);
        let _ = wall;
        RecvOutcome::Handled
    }

    #[allow(clippy::too_many_arguments)]
    fn recv_response(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &[u8],
        under_load: bool,
    ) -> RecvOutcome {
        let Some(private) = self.state.private.clone() else {
            // Without a key the cookie checker has no mac1 key: every MAC is wrong.
            self.state
                .event(Event::InvalidResponseMac { from: from.ip() });
            return RecvOutcome::Dropped(DropReason::NoIdentity);
        };
        if let Some(o) = self.admit_handshake(now, rng, from, local, buf, under_load, false) {
            return o;
        }
        let Some(msg) = Response::new_checked(buf) else {
            return RecvOutcome::Dropped(DropReason::Malformed);
        };
        let unknown = |state: &mut IfaceState| {
            state.event(Event::UnknownResponse { from: from.ip() });
            RecvOutcome::Dropped(DropReason::Invalid)
        };
        let invalid = |state: &mut IfaceState| {
            state.event(Event::InvalidResponse { from: from.ip() });
            RecvOutcome::Dropped(DropReason::Invalid)
        };
        let idx = msg.receiver();
        let Some(entry) = self.state.index.get(idx).copied() else {
            return unknown(&mut self.state);
        };
        let Some(p) = self.peers.get_mut(&entry.peer) else {
            return unknown(&mut self.state);
        };
        self.state.touched.push(entry.peer);
        // wg_index_get knows every index, a session's too: a response naming one that
        // is not a pending handshake fails in noise_consume_response, as "Invalid".
        if entry.slot != Slot::Handshake {
            return invalid(&mut self.state);
        }
        let Some(st) = p.initiation.as_ref().filter(|s| s.local_index == idx) else {
            return invalid(&mut self.state);
        };
        let Some(c) = noise::consume_response(&msg, st, &private, &p.psk) else {
            return invalid(&mut self.state);
        };
        p.initiation = None;
        let (t1, t2) = noise::derive_transport_keys(&c);
        let Some(k) = Keypair::new(&t1, &t2, true, now, idx, msg.sender()) else {
            return RecvOutcome::Dropped(DropReason::Invalid);
        };
        if let Some(e) = self.state.index.get_mut(idx) {
            e.slot = Slot::Keypair;
        }
        for dead in p.sessions.install(Arc::new(k)) {
            self.state.free_index(dead);
        }
        self.state.event(Event::ReceivingResponse {
            peer: p.id,
            from: from.ip(),
        });
        p.rx_bytes += RESPONSE_LEN as u64;
        p.endpoint = Some(from);
        p.src = local;
        p.timers.any_authenticated_packet_traversal(now);
        p.timers.any_authenticated_packet_received();
        p.timers.session_derived(now);
        p.timers.handshake_complete();
        p.last_handshake = Some(wall);
        self.state.send_staged(p, now, wall, rng, true);
        RecvOutcome::Handled
    }

    fn recv_cookie(&mut self, now: Instant, from: SocketAddr, buf: &[u8]) -> RecvOutcome {
        let Some(msg) = CookieReply::new_checked(buf) else {
            return RecvOutcome::Dropped(DropReason::Malformed);
        };
        let Some(entry) = self.state.index.get(msg.receiver()).copied() else {
            self.state
                .event(Event::UnknownCookieIndex { from: from.ip() });
            return RecvOutcome::Dropped(DropReason::Invalid);
        };
        let Some(p) = self.peers.get_mut(&entry.peer) else {
            self.state
                .event(Event::UnknownCookieIndex { from: from.ip() });
            return RecvOutcome::Dropped(DropReason::Invalid);
        };
        if !p.cookie.consume_reply(now, &msg) {
            self.state
                .event(Event::CookieDecryptFailed { from: from.ip() });
            return RecvOutcome::Dropped(DropReason::Invalid);
        }
        self.state.event(Event::ReceivingCookie { from: from.ip() });
        RecvOutcome::Handled
    }

    fn recv_data(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &mut [u8],
    ) -> RecvOutcome {
        let key = match self.data_key(now, buf) {
            Ok(k) => k,
            Err(r) => return RecvOutcome::Dropped(r),
        };
        let Some((counter, pt_len)) = key.keypair.open_unreplayed(buf) else {
            return RecvOutcome::Dropped(DropReason::Invalid);
        };
        self.commit_data_in_place(now, wall, rng, &key, counter, pt_len, from, local, buf)
    }

    /// The keypair a transport data message is to be opened with (outside the
    /// engine's lock, by [`Keypair::open_unreplayed`]); then [`Interface::commit_data`].
    pub fn data_key(&mut self, now: Instant, buf: &[u8]) -> Result<DataKey, DropReason> {
        let Some(msg) = wire::Data::new_checked(buf) else {
            return Err(DropReason::Malformed);
        };
        let idx = msg.receiver();
        let Some(entry) = self.state.index.get(idx).copied() else {
            return Err(DropReason::Invalid);
        };
        if entry.slot != Slot::Keypair {
            return Err(DropReason::Invalid);
        }
        let Some(p) = self.peers.get(&entry.peer) else {
            return Err(DropReason::Invalid);
        };
        let Some(k) = p.sessions.find(idx) else {
            return Err(DropReason::Invalid);
        };
        if !k.can_receive(now) {
            return Err(DropReason::Invalid);
        }
        Ok(DataKey {
            peer: entry.peer,
            keypair: k.clone(),
        })
    }

    /// What follows the opening of a data message, in the order the datagrams came
    /// (after [`Interface::data_key`] and [`Keypair::open_unreplayed`]).
    #[allow(clippy::too_many_arguments)]
    pub fn commit_data(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        key: &DataKey,
        counter: u64,
        pt_len: usize,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &mut [u8],
    ) -> RecvOutcome {
        let r = self.commit_data_in_place(now, wall, rng, key, counter, pt_len, from, local, buf);
        self.requeue_touched();
        r
    }

    /// What follows the opening of a data message, in the order the datagrams came:
    /// the replay check, the byte counter, roaming to the last authenticated source,
    /// key confirmation, the timers and the allowed-IPs check of the inner source.
    /// A keypair that went away meanwhile (rekey, peer removed) drops the packet.
    #[allow(clippy::too_many_arguments)]
    fn commit_data_in_place(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
        key: &DataKey,
        counter: u64,
        pt_len: usize,
        from: SocketAddr,
        local: Option<IpAddr>,
        buf: &mut [u8],
    ) -> RecvOutcome {
        let idx = key.keypair.local_index;
        let Some(p) = self.peers.get_mut(&key.peer) else {
            return RecvOutcome::Dropped(DropReason::Invalid);
        };
        self.state.touched.push(key.peer);
        if !p
            .sessions
            .find(idx)
            .is_some_and(|k| Arc::ptr_eq(k, &key.keypair))
        {
            return RecvOutcome::Dropped(DropReason::Invalid);
        }
        if !key.keypair.replay_check(counter) {
            return RecvOutcome::Dropped(DropReason::Invalid);
        }
        p.rx_bytes += buf.len() as u64;
        p.endpoint = Some(from);
        p.src = local;
        let confirmed = match p.sessions.confirm(idx) {
            Some(dead) => {
                if let Some(d) = dead {
                    self.state.free_index(d);
                }
                p.timers.handshake_complete();
                p.last_handshake = Some(wall);
                true
            }
            None => false,
        };
        // keep_key_fresh on receive: the initiator's `current`, whichever keypair this
        // packet came on.
        let lastminute = !p.timers.sent_lastminute_handshake
            && p.sessions.current.as_ref().is_some_and(|c| {
                c.initiator
                    && now.saturating_duration_since(c.created) > REKEY_ON_RECEIVE_AGE
                    && c.can_send(now)
            });
        p.timers.any_authenticated_packet_received();
        p.timers.any_authenticated_packet_traversal(now);
        let outcome = if pt_len == 0 {
            self.state.event(Event::ReceivingKeepalive {
                peer: p.id,
                ep: log_endpoint(p),
            });
            RecvOutcome::Handled
        } else {
            p.timers.data_received(now);
            let pt = &buf[DATA_HEADER_LEN..DATA_HEADER_LEN + pt_len];
            match inner_src_len(pt) {
                None => {
                    self.state.event(Event::NotIp {
                        peer: p.id,
                        ep: log_endpoint(p),
                    });
                    RecvOutcome::Dropped(DropReason::BadPacket)
                }
                Some((src, _)) if self.aips.lookup(src).map(|o| o.0) != Some(p.id) => {
                    self.state.event(Event::UnallowedSource {
                        peer: p.id,
                        ep: log_endpoint(p),
                    });
                    RecvOutcome::Dropped(DropReason::UnallowedSource)
                }
                Some((_, len)) => RecvOutcome::Tun(DATA_HEADER_LEN..DATA_HEADER_LEN + len),
            }
        };
        // The kernel sends staged packets and the last-minute initiation from its
        // workers, so their timer hooks run after this packet's receive hooks: the
        // sends come last here too.
        if confirmed {
            // wg_timers_event_handshake_complete runs the keepalive task: the staged
            // packets go out, or an empty keepalive when there are none.
            self.state.send_staged(p, now, wall, &mut *rng, true);
        }
        if lastminute {
            p.timers.sent_lastminute_handshake = true;
            self.state.send_initiation(p, now, wall, &mut *rng, false);
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decrypted packet too short for its version's header is not a packet: None,
    /// never an index past its end (an authenticated peer could send one).
    #[test]
    fn short_inner_packets_have_no_source() {
        for n in 1..40 {
            let mut v6 = vec![0u8; n];
            v6[0] = 0x60;
            assert_eq!(inner_src_len(&v6), None, "IPv6, {n} bytes");
            if n < 20 {
                let mut v4 = vec![0u8; n];
                v4[0] = 0x45;
                assert_eq!(inner_src_len(&v4), None, "IPv4, {n} bytes");
            }
        }
        let mut v6 = vec![0u8; 40];
        v6[0] = 0x60;
        v6[23] = 1;
        assert_eq!(
            inner_src_len(&v6),
            Some((IpAddr::V6(Ipv6Addr::from(1u128)), 40))
        );
    }
}
