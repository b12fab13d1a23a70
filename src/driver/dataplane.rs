//! One interface's data plane as the threads share it: the tun, the UDP sockets,
//! the protocol engine behind a lock that is held only to route a batch and reserve
//! its counters, and to commit what was opened, never while sealing or opening; the
//! reader locks and order tickets that keep each source's packets in the order they
//! came; and the queue that hands handshake messages to the control thread.
//!
//! A batch from the tun: read under the reader lock (ticket taken), planned under
//! the engine lock (`Interface::plan_send`, `commit_grants`), sealed outside any
//! lock, sent in ticket order. A batch from a UDP socket: read (ticket), keys found
//! under the engine lock while handshake messages are queued for the control
//! thread, opened outside any lock, committed under the engine lock and written to
//! the tun in ticket order.

use super::handshakes::HandshakeQueue;
use super::link::{
    deliver, fill_tx, flush_gro, push_datagram, Clock, DataBufs, Dgram, Env, Link, TunDevice,
    UdpEndpoint, BATCHES_PER_CALL, RX_SLOT, TX_TAIL,
};
use super::log::{Level, LogSink};
use super::sequencer::Sequencer;
use crate::proto::prepare_initiation;
use crate::proto::wire::{self, Kind};
use crate::proto::{DropReason, Planned, RecvOutcome, TxKind};
use rand_core::CryptoRngCore;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Handshake messages the control thread handles per turn and interface before it
/// looks at its other work.
const HANDSHAKES_PER_TURN: usize = 64;

pub struct DataPlane<T, U> {
    pub tun: T,
    engine: Mutex<Link>,
    udp: RwLock<Option<Arc<U>>>,
    /// The tunnel MTU, for the stride of the transmit arena (read before the lock).
    mtu: AtomicUsize,
    tx_read: Mutex<()>,
    tx_order: Sequencer,
    rx_read: [Mutex<()>; 2],
    rx_order: [Sequencer; 2],
    pub handshakes: HandshakeQueue,
    /// Wakes the control thread: handshake messages queued, or a timer due earlier
    /// than it sleeps.
    wake: Box<dyn Fn() + Send + Sync>,
}

/// What one turn of a source did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turn {
    /// The source was read until empty.
    pub drained: bool,
    /// Batches that came back full with more behind them: more was waiting than one
    /// batch holds.
    pub full: usize,
}

/// What one batch did: whether the source is now empty, whether it read anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Batch {
    drained: bool,
    got: bool,
}

impl Turn {
    /// Runs `batch` until the source drains or the turn's bound is reached. A full
    /// batch counts only when the next one still finds something (or the bound ends
    /// the turn first): a batch of one (no recvmmsg) is always full, and a lone
    /// packet must not call the parked workers in.
    fn run(mut batch: impl FnMut() -> Batch) -> Turn {
        let mut full = 0;
        let mut behind = false;
        for _ in 0..BATCHES_PER_CALL {
            let b = batch();
            if behind && b.got {
                full += 1;
            }
            if b.drained {
                return Turn {
                    drained: true,
                    full,
                };
            }
            behind = true;
        }
        Turn {
            drained: false,
            full: full + 1,
        }
    }
}

fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    // A panicked worker leaves the state as consistent as each step is: go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: TunDevice, U: UdpEndpoint> DataPlane<T, U> {
    pub fn new(tun: T, link: Link, mtu: usize, wake: Box<dyn Fn() + Send + Sync>) -> Self {
        DataPlane {
            tun,
            engine: Mutex::new(link),
            udp: RwLock::new(None),
            mtu: AtomicUsize::new(mtu),
            tx_read: Mutex::new(()),
            tx_order: Sequencer::new(),
            rx_read: [Mutex::new(()), Mutex::new(())],
            rx_order: [Sequencer::new(), Sequencer::new()],
            handshakes: HandshakeQueue::default(),
            wake,
        }
    }

    /// The engine and the interface's data-path state, locked.
    pub fn link(&self) -> MutexGuard<'_, Link> {
        lock(&self.engine)
    }

    pub fn udp(&self) -> Option<Arc<U>> {
        self.udp.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the sockets; returns the old ones (a worker may still hold them for
    /// the batch it is in).
    pub fn set_udp(&self, u: Option<U>) -> Option<Arc<U>> {
        let mut g = self.udp.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *g, u.map(Arc::new))
    }

    pub fn set_mtu(&self, mtu: usize) {
        self.mtu.store(mtu, Ordering::Relaxed);
        self.link().proto.set_mtu(mtu);
    }

    /// Wakes the control thread if the engine now has a deadline earlier than the
    /// one it sleeps toward.
    fn note_deadline(&self, link: &mut Link) {
        if let Some(t) = link.proto.poll_timeout() {
            if link.armed.map_or(true, |a| t < a) {
                link.armed = Some(t);
                (self.wake)();
            }
        }
    }

    /// The engine's next deadline, which the control thread then sleeps toward.
    pub fn arm(&self) -> Option<std::time::Instant> {
        let mut l = self.link();
        let t = l.proto.poll_timeout();
        l.armed = t;
        t
    }

    /// Serves the tun for a bounded number of batches; returns whether it drained.
    pub fn tun_readable<C: Clock, R: CryptoRngCore, L: LogSink>(
        &self,
        bufs: &mut DataBufs,
        env: &mut Env<C, R, L>,
    ) -> bool {
        self.tun_turn(bufs, env).drained
    }

    /// Serves the `v6` socket for a bounded number of batches; returns whether it
    /// drained.
    pub fn udp_readable<C: Clock, R: CryptoRngCore, L: LogSink>(
        &self,
        v6: bool,
        bufs: &mut DataBufs,
        env: &mut Env<C, R, L>,
    ) -> bool {
        self.udp_turn(v6, bufs, env).drained
    }

    /// [`Self::tun_readable`], telling also how many batches came back full.
    pub fn tun_turn<C: Clock, R: CryptoRngCore, L: LogSink>(
        &self,
        bufs: &mut DataBufs,
        env: &mut Env<C, R, L>,
    ) -> Turn {
        Turn::run(|| self.tun_batch(bufs, env))
    }

    /// [`Self::udp_readable`], telling also how many batches came back full.
    pub fn udp_turn<C: Clock, R: CryptoRngCore, L: LogSink>(
        &self,
        v6: bool,
        bufs: &mut DataBufs,
        env: &mut Env<C, R, L>,
    ) -> Turn {
        Turn::run(|| self.udp_batch(v6, bufs, env))
    }

    /// One batch from the tun.
    fn tun_batch<C: Clock, R: CryptoRngCore, L: LogSink>(
        &self,
        bufs: &mut DataBufs,
        env: &mut Env<C, R, L>,
    ) -> Batch {
        let udp = self.udp();
        let mtu = self.mtu.load(Ordering::Relaxed);
        let (drained, bad, ticket) = {
            let _r = lock(&self.tx_read);
            let (drained, bad) = fill_tx(&self.tun, bufs, mtu);
            let ticket = (!bufs.segs.is_empty()).then(|| self.tx_order.ticket());
            (drained, bad, ticket)
        };
        let (now, wall) = (env.clock.now(), env.clock.wall());
        bufs.grants.clear();
        bufs.plans.clear();
        if bad > 0 || ticket.is_some() {
            let mut link = self.link();
            link.drops.output_other += bad;
            if !link.up() {
                link.drops.output_other += bufs.segs.len() as u64;
                bufs.segs.clear();
            }
            for s in &bufs.segs {
                let slot = &bufs.tx[s.off..s.off + s.stride + TX_TAIL];
                let plan = link
                    .proto
                    .plan_send(now, wall, env.rng, slot, s.len, &mut bufs.grants);
                match plan {
                    Planned::Dropped(DropReason::NoRoute) => link.drops.no_route += 1,
                    Planned::Dropped(DropReason::NoEndpoint) => link.drops.no_endpoint += 1,
                    Planned::Dropped(_) => link.drops.output_other += 1,
                    _ => {}
                }
                bufs.plans.push(plan);
            }
            link.proto
                .commit_grants(now, wall, env.rng, &mut bufs.grants);
            link.flush(udp.as_deref(), &mut bufs.scratch, env.log);
            self.note_deadline(&mut link);
        }
        let Some(ticket) = ticket else {
            return Batch {
                drained,
                got: bad > 0,
            };
        };
        let max_segments = udp.as_ref().map_or(1, |u| u.max_segments());
        bufs.msgs.clear();
        bufs.kinds.clear();
        let mut unsealed = 0;
        for (s, plan) in bufs.segs.iter().zip(&bufs.plans) {
            let Planned::Seal(g) = *plan else { continue };
            let g = &mut bufs.grants[g];
            let slot = &mut bufs.tx[s.off..s.off + s.stride + TX_TAIL];
            match g.seal(slot, s.len) {
                Some(n) => push_datagram(
                    &mut bufs.msgs,
                    &mut bufs.kinds,
                    s.off,
                    n,
                    g.to,
                    g.src,
                    TxKind::Data(g.peer),
                    max_segments,
                ),
                None => unsealed += 1,
            }
        }
        self.tx_order.wait(ticket);
        if let Some(u) = &udp {
            u.send_batch(&bufs.tx, &mut bufs.msgs);
        }
        self.tx_order.done(ticket);
        let failed = bufs.msgs.iter().any(|m| m.err != 0);
        if failed || unsealed > 0 {
            let mut link = self.link();
            link.drops.output_other += unsealed;
            if let Some(u) = &udp {
                for (m, k) in bufs.msgs.iter().zip(&bufs.kinds) {
                    if m.err != 0 {
                        link.send_failed(&**u, &bufs.tx, *m, *k, env.log);
                    }
                }
            }
        }
        Batch { drained, got: true }
    }

    /// One batch from the `v6` socket.
    fn udp_batch<C: Clock, R: CryptoRngCore, L: LogSink>(
        &self,
        v6: bool,
        bufs: &mut DataBufs,
        env: &mut Env<C, R, L>,
    ) -> Batch {
        let Some(udp) = self.udp() else {
            return Batch {
                drained: true,
                got: false,
            };
        };
        let src = v6 as usize;
        let (n, drained, ticket) = {
            let _r = lock(&self.rx_read[src]);
            match udp.recv_batch(v6, &mut bufs.rx, RX_SLOT, &mut bufs.rx_meta) {
                Ok((0, _)) => {
                    return Batch {
                        drained: true,
                        got: false,
                    }
                }
                Ok((n, drained)) => (n, drained, self.rx_order[src].ticket()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    return Batch {
                        drained: false,
                        got: false,
                    }
                }
                Err(_) => {
                    return Batch {
                        drained: true,
                        got: false,
                    }
                }
            }
        };
        let (now, wall) = (env.clock.now(), env.clock.wall());
        bufs.dgrams.clear();
        bufs.keys.clear();
        let mut queued = false;
        {
            let mut link = self.link();
            let mut last_index = None;
            for i in 0..n {
                let m = bufs.rx_meta[i];
                if m.len == 0 {
                    // Empty, cut short or without a source: nothing to open.
                    link.drops.input += 1;
                    continue;
                }
                let seg = if m.segment == 0 { m.len } else { m.segment };
                let base = i * RX_SLOT;
                let mut o = 0;
                while o < m.len {
                    let (start, l) = (base + o, seg.min(m.len - o));
                    o += l;
                    let pkt = &bufs.rx[start..start + l];
                    match wire::classify(pkt) {
                        Some(Kind::Data) => {
                            // A run of datagrams on one session shares the lookup.
                            let index = u32::from_le_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
                            if last_index != Some(index) {
                                match link.proto.data_key(now, pkt) {
                                    Ok(k) => {
                                        bufs.keys.push(k);
                                        last_index = Some(index);
                                    }
                                    Err(_) => {
                                        link.drops.input += 1;
                                        continue;
                                    }
                                }
                            }
                            bufs.dgrams.push(Dgram {
                                start,
                                len: l,
                                msg: i,
                                key: bufs.keys.len() - 1,
                                opened: None,
                            });
                        }
                        Some(_) => {
                            // Under load the gate (mac1, cookie reply, rate limit) runs
                            // here, so a flood costs the workers and what passes it, not
                            // the flood, waits for the control thread's public-key work.
                            if link.count_handshake(pkt, now) {
                                match link
                                    .proto
                                    .screen_handshake(now, env.rng, m.from, m.local, pkt)
                                {
                                    None => {}
                                    Some(RecvOutcome::Dropped(_)) => {
                                        link.drops.input += 1;
                                        continue;
                                    }
                                    Some(_) => continue,
                                }
                            }
                            if self.handshakes.push(pkt, m.from, m.local) {
                                queued = true;
                            } else {
                                link.drops.input += 1;
                                // Once a second at most: a flood fills the queue, and a
                                // line per datagram would make the log its bottleneck.
                                if link.debug && link.note_handshake_drop(now) {
                                    env.log.log(
                                        Level::Debug,
                                        &format!(
                                            "{}: Dropping handshakepacket from {}",
                                            link.name,
                                            m.from.ip()
                                        ),
                                    );
                                }
                            }
                        }
                        None => link.drops.input += 1,
                    }
                }
            }
        }
        for d in bufs.dgrams.iter_mut() {
            let pkt = &mut bufs.rx[d.start..d.start + d.len];
            d.opened = bufs.keys[d.key].keypair.open_unreplayed(pkt);
        }
        self.rx_order[src].wait(ticket);
        bufs.deliveries.clear();
        {
            let mut link = self.link();
            for d in &bufs.dgrams {
                let Some((counter, pt_len)) = d.opened else {
                    link.drops.input += 1;
                    continue;
                };
                let m = bufs.rx_meta[d.msg];
                let pkt = &mut bufs.rx[d.start..d.start + d.len];
                let key = &bufs.keys[d.key];
                let r = link.proto.commit_data(
                    now, wall, env.rng, key, counter, pt_len, m.from, m.local, pkt,
                );
                match r {
                    RecvOutcome::Tun(r) => bufs
                        .deliveries
                        .push((d.start, d.start + r.start..d.start + r.end)),
                    RecvOutcome::Handled => {}
                    RecvOutcome::Dropped(_) => link.drops.input += 1,
                }
            }
            link.flush(Some(&*udp), &mut bufs.scratch, env.log);
            self.note_deadline(&mut link);
        }
        let mode = self.tun.mode();
        bufs.gro.set_kinds(mode.gro_tcp, mode.gro_udp);
        for i in 0..bufs.deliveries.len() {
            let (dgram, r) = bufs.deliveries[i].clone();
            deliver(&self.tun, mode, bufs, dgram, r);
        }
        flush_gro(&self.tun, bufs);
        self.rx_order[src].done(ticket);
        if queued {
            (self.wake)();
        }
        Batch { drained, got: true }
    }

    /// The control thread's share: handshake messages from the queue, a bounded
    /// number per call, each under the engine lock on its own so the workers' batches
    /// pass in between. Returns whether the queue was drained.
    pub fn serve_handshakes<C: Clock, R: CryptoRngCore, L: LogSink>(
        &self,
        scratch: &mut [u8],
        env: &mut Env<C, R, L>,
    ) -> bool {
        let udp = self.udp();
        // The key pair, for the initiations' first Diffie-Hellman outside the lock (a
        // key changed meanwhile is noticed by the engine, which then does it again).
        let identity = self.link().proto.identity();
        for _ in 0..HANDSHAKES_PER_TURN {
            let Some(mut m) = self.handshakes.pop() else {
                return true;
            };
            let prepared = identity
                .as_ref()
                .and_then(|id| prepare_initiation(&m.data[..m.len], id));
            let (now, wall) = (env.clock.now(), env.clock.wall());
            let mut link = self.link();
            let r = link.proto.decapsulate_prepared(
                now,
                wall,
                env.rng,
                m.from,
                m.local,
                &mut m.data[..m.len],
                // Under load, a queued message passed the gate on the worker already.
                false,
                prepared,
            );
            if let RecvOutcome::Dropped(_) = r {
                link.drops.input += 1;
            }
            link.flush(udp.as_deref(), scratch, env.log);
        }
        self.handshakes.is_empty()
    }

    /// Runs the engine's expired timers and sends what they queued.
    pub fn run_timers<C: Clock, R: CryptoRngCore, L: LogSink>(
        &self,
        scratch: &mut [u8],
        env: &mut Env<C, R, L>,
    ) {
        let udp = self.udp();
        let now = env.clock.now();
        let mut link = self.link();
        if link.proto.poll_timeout().is_some_and(|t| t <= now) {
            link.proto.handle_timeout(now, env.clock.wall(), env.rng);
        }
        link.flush(udp.as_deref(), scratch, env.log);
    }

    /// Sends what the engine queued and logs its events (after a configuration
    /// change).
    pub fn flush<L: LogSink>(&self, scratch: &mut [u8], log: &L) {
        let udp = self.udp();
        self.link().flush(udp.as_deref(), scratch, log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_counts_the_full_batches_before_the_source_drained() {
        let got = |drained| Batch { drained, got: true };
        let mut left = 3;
        let t = Turn::run(|| {
            left -= 1;
            got(left == 0)
        });
        assert_eq!(
            t,
            Turn {
                drained: true,
                full: 2
            }
        );
        let mut calls = 0;
        let t = Turn::run(|| {
            calls += 1;
            got(false)
        });
        assert_eq!(calls, BATCHES_PER_CALL, "a turn is bounded");
        assert_eq!(
            t,
            Turn {
                drained: false,
                full: BATCHES_PER_CALL
            }
        );
        assert_eq!(
            Turn::run(|| got(true)),
            Turn {
                drained: true,
                full: 0
            },
            "a lone packet calls nobody in"
        );
    }

    /// A batch of one (recvmmsg off: `-O mmsg`) is always full; it is followed by a
    /// read that finds nothing, and that is no backlog. Before this, every lone packet
    /// woke a parked worker.
    #[test]
    fn a_full_batch_with_nothing_behind_it_is_no_backlog() {
        let run = |reads: &[(bool, bool)]| {
            let mut it = reads.iter().map(|&(drained, got)| Batch { drained, got });
            Turn::run(|| it.next().unwrap())
        };
        assert_eq!(
            run(&[(false, true), (true, false)]),
            Turn {
                drained: true,
                full: 0
            }
        );
        assert_eq!(
            run(&[(false, true), (false, true), (true, false)]),
            Turn {
                drained: true,
                full: 1
            },
            "the second read found more: one full batch with more behind it"
        );
    }
}
