//! The timer handlers (the kernel's timers.c): retransmitting and giving up on
//! handshakes, keepalives, the new-handshake and zero-key-material deadlines, and
//! the immediate keepalives owed after `up` or a persistent keepalive turned on.

use super::*;
use crate::proto::consts::*;
use crate::proto::timers::TimerKind;

use std::time::{Instant, SystemTime};

impl Interface {
    pub(super) fn send_owed_keepalives<R: rand_core::CryptoRngCore>(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut R,
    ) {
        self.state.owed_at = None;
        self.state.owed_set.clear();
        for id in std::mem::take(&mut self.state.owed) {
            if let Some(p) = self.peers.get_mut(&id) {
                self.state.send_keepalive(p, now, wall, &mut *rng);
                self.timerq
                    .note(id, &mut p.queued, p.timers.next_deadline());
            }
        }
    }

    pub fn handle_timeout(
        &mut self,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl rand_core::CryptoRngCore,
    ) {
        self.state.limiter.gc(now);
        self.state.cookie_limiter.gc(now);
        if self.state.owed_at.is_some_and(|t| t <= now) {
            self.send_owed_keepalives(now, wall, rng);
        }
        // Only the peers with an entry due: O(log peers) each, none for the others.
        while let Some(id) = self.timerq.pop_due(now) {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            p.queued = None;
            self.state.touched.push(id);
            while let Some(kind) = p.timers.pop_expired(now) {
                match kind {
                    TimerKind::RetransmitHandshake => {
                        if p.timers.handshake_attempts > MAX_TIMER_HANDSHAKES {
                            self.state.event(Event::HandshakeGaveUp {
                                peer: id,
                                ep: log_endpoint(p),
                                retries: MAX_TIMER_HANDSHAKES + 2,
                            });
                            p.timers.cancel(TimerKind::SendKeepalive);
                            p.staged.clear();
                            p.timers.schedule_zero_key_material(now);
                        } else {
                            p.timers.handshake_attempts += 1;
                            self.state.event(Event::HandshakeRetry {
                                peer: id,
                                ep: log_endpoint(p),
                                secs: REKEY_TIMEOUT.as_secs(),
                                attempt: p.timers.handshake_attempts + 1,
                            });
                            p.src = None;
                            self.state.send_initiation(p, now, wall, &mut *rng, true);
                        }
                    }
                    TimerKind::SendKeepalive => {
                        self.state.send_keepalive(p, now, wall, &mut *rng);
                        if p.timers.need_another_keepalive {
                            p.timers.need_another_keepalive = false;
                            p.timers.rearm_keepalive(now);
                        }
                    }
                    TimerKind::NewHandshake => {
                        self.state.event(Event::StoppedHearing {
                            peer: id,
                            ep: log_endpoint(p),
                            secs: (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT).as_secs(),
                        });
                        p.src = None;
                        self.state.send_initiation(p, now, wall, &mut *rng, false);
                    }
                    TimerKind::ZeroKeyMaterial => {
                        self.state.event(Event::ZeroingKeys {
                            peer: id,
                            ep: log_endpoint(p),
                        });
                        self.state.clear_sessions(p);
                    }
                    TimerKind::PersistentKeepalive => {
                        if p.timers.persistent_keepalive() > 0 {
                            self.state.send_keepalive(p, now, wall, &mut *rng);
                        }
                    }
                }
            }
        }
        self.requeue_touched();
        // Stale entries (deadlines moved later, removed peers) beyond twice the peers:
        // rebuild, so the heap stays O(peers) (amortised O(1) per push).
        if self.timerq.len() > 2 * self.peers.len() + 1024 {
            self.timerq.clear();
            for (id, p) in self.peers.iter_mut() {
                p.queued = None;
                self.timerq
                    .note(*id, &mut p.queued, p.timers.next_deadline());
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self
            .timerq
            .peek()
            .into_iter()
            .chain(self.state.owed_at)
            .chain(self.state.limiter.gc_due())
            .chain(self.state.cookie_limiter.gc_due())
            .min();
        // The queue's invariant, checked against the linear scan it replaces.
        debug_assert!(
            self.peers.len() > 64
                || self
                    .peers
                    .values()
                    .filter_map(|p| p.timers.next_deadline())
                    .all(|d| t.is_some_and(|t| t <= d)),
            "a peer's deadline is missing from the queue"
        );
        t
    }
}
