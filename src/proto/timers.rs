//! Per-peer timers as a deadline table, with the hooks named after the kernel's
//! timers.c (spec §7.1–7.2). Hooks only set or clear deadlines; the peer acts on
//! the timers that [`Timers::pop_expired`] hands back. Jitter comes from the
//! caller's RNG, time from the caller's clock.

use rand_core::RngCore;
use std::time::{Duration, Instant};

pub use super::consts::{
    KEEPALIVE_TIMEOUT, MAX_JITTER_MS, MAX_TIMER_HANDSHAKES, REJECT_AFTER_TIME, REKEY_AFTER_TIME,
    REKEY_TIMEOUT, ZERO_KEY_MATERIAL_AFTER,
};

/// The five per-peer timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    RetransmitHandshake,
    SendKeepalive,
    NewHandshake,
    ZeroKeyMaterial,
    PersistentKeepalive,
}

const KINDS: [TimerKind; 5] = [
    TimerKind::RetransmitHandshake,
    TimerKind::SendKeepalive,
    TimerKind::NewHandshake,
    TimerKind::ZeroKeyMaterial,
    TimerKind::PersistentKeepalive,
];

fn jitter(rng: &mut impl RngCore) -> Duration {
    Duration::from_millis((rng.next_u32() % MAX_JITTER_MS) as u64)
}

/// One peer's timers and the counters that go with them.
#[derive(Clone, Debug)]
pub struct Timers {
    deadlines: [Option<Instant>; 5],
    enabled: bool,
    /// The persistent-keepalive interval in seconds, 0 = off (the kernel's
    /// p_persistent_keepalive; the peer's one copy of it).
    persistent_keepalive: u16,
    /// The peer existed when the interface was last brought down: if_wg.c has its
    /// timers disabled (t_disabled) until `up`, and wg_timers_set_persistent_keepalive
    /// ignores a new interval meanwhile (openbsd-wg-interface spec §1.9, HAS_PKA
    /// quirk). Not the same as `!enabled`: a peer created while the interface is down
    /// arms no timer, yet takes a new interval.
    persistent_keepalive_frozen: bool,
    /// Initiations sent without an answer since the last completed handshake.
    pub handshake_attempts: u32,
    /// A keepalive is due again after the pending one (spec §7.2, data received).
    pub need_another_keepalive: bool,
    /// The initiator's one "last-minute" rekey of this session was sent (spec §7.3).
    pub sent_lastminute_handshake: bool,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            deadlines: [None; 5],
            enabled: true,
            persistent_keepalive: 0,
            persistent_keepalive_frozen: false,
            handshake_attempts: 0,
            need_another_keepalive: false,
            sent_lastminute_handshake: false,
        }
    }
}

impl Timers {
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(kind: TimerKind) -> usize {
        kind as usize
    }

    fn arm(&mut self, kind: TimerKind, at: Instant) {
        if self.enabled {
            self.deadlines[Self::slot(kind)] = Some(at);
        }
    }

    fn del(&mut self, kind: TimerKind) {
        self.deadlines[Self::slot(kind)] = None;
    }

    pub fn is_pending(&self, kind: TimerKind) -> bool {
        self.deadlines[Self::slot(kind)].is_some()
    }

    pub fn deadline(&self, kind: TimerKind) -> Option<Instant> {
        self.deadlines[Self::slot(kind)]
    }

    /// Timers run (interface up); a frozen keepalive interval may change again.
    pub fn enable(&mut self) {
        self.enabled = true;
        self.persistent_keepalive_frozen = false;
    }

    /// Timers stop and forget their deadlines (interface down, or a peer created
    /// while it is down).
    pub fn disable(&mut self) {
        self.enabled = false;
        self.deadlines = [None; 5];
    }

    /// The persistent-keepalive interval in seconds (0: off).
    pub fn persistent_keepalive(&self) -> u16 {
        self.persistent_keepalive
    }

    /// Sets the persistent-keepalive interval in seconds (0 disables it). While the
    /// interval is frozen nothing changes, and false says so.
    pub fn set_persistent_keepalive(&mut self, secs: u16) -> bool {
        if self.persistent_keepalive_frozen {
            return false;
        }
        self.persistent_keepalive = secs;
        if secs == 0 {
            self.del(TimerKind::PersistentKeepalive);
        }
        true
    }

    /// The interface went down with this peer on it: the keepalive interval keeps its
    /// value until [`Timers::enable`] (see `persistent_keepalive_frozen`).
    pub fn freeze_persistent_keepalive(&mut self) {
        self.persistent_keepalive_frozen = true;
    }

    /// A non-keepalive transport packet was sent.
    pub fn data_sent(&mut self, now: Instant, rng: &mut impl RngCore) {
        if !self.is_pending(TimerKind::NewHandshake) {
            self.arm(
                TimerKind::NewHandshake,
                now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter(rng),
            );
        }
    }

    /// A non-keepalive transport packet was accepted.
    pub fn data_received(&mut self, now: Instant) {
        if !self.enabled {
            return;
        }
        if !self.is_pending(TimerKind::SendKeepalive) {
            self.arm(TimerKind::SendKeepalive, now + KEEPALIVE_TIMEOUT);
        } else {
            self.need_another_keepalive = true;
        }
    }

    /// Any authenticated packet (handshake, data, keepalive) is about to be sent.
    pub fn any_authenticated_packet_sent(&mut self) {
        self.del(TimerKind::SendKeepalive);
    }

    /// Any authenticated packet was received.
    pub fn any_authenticated_packet_received(&mut self) {
        self.del(TimerKind::NewHandshake);
    }

    /// Any authenticated packet was sent or received.
    pub fn any_authenticated_packet_traversal(&mut self, now: Instant) {
        if self.persistent_keepalive > 0 {
            self.arm(
                TimerKind::PersistentKeepalive,
                now + Duration::from_secs(self.persistent_keepalive as u64),
            );
        }
    }

    /// A handshake initiation was sent.
    pub fn handshake_initiated(&mut self, now: Instant, rng: &mut impl RngCore) {
        self.arm(
            TimerKind::RetransmitHandshake,
            now + REKEY_TIMEOUT + jitter(rng),
        );
    }

    /// A handshake completed (response consumed, or key confirmation by the responder).
    pub fn handshake_complete(&mut self) {
        self.del(TimerKind::RetransmitHandshake);
        self.handshake_attempts = 0;
        self.sent_lastminute_handshake = false;
    }

    /// A keypair was derived on either side.
    pub fn session_derived(&mut self, now: Instant) {
        self.arm(TimerKind::ZeroKeyMaterial, now + ZERO_KEY_MATERIAL_AFTER);
    }

    /// After giving up on a handshake: key erasure unless already scheduled.
    pub fn schedule_zero_key_material(&mut self, now: Instant) {
        if !self.is_pending(TimerKind::ZeroKeyMaterial) {
            self.arm(TimerKind::ZeroKeyMaterial, now + ZERO_KEY_MATERIAL_AFTER);
        }
    }

    /// Re-arms the keepalive timer (a second keepalive was owed).
    pub fn rearm_keepalive(&mut self, now: Instant) {
        self.arm(TimerKind::SendKeepalive, now + KEEPALIVE_TIMEOUT);
    }

    /// Cancels one timer.
    pub fn cancel(&mut self, kind: TimerKind) {
        self.del(kind);
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Takes one expired timer, earliest first.
    pub fn pop_expired(&mut self, now: Instant) -> Option<TimerKind> {
        let (i, _) = self
            .deadlines
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.filter(|d| *d <= now).map(|d| (i, d)))
            .min_by_key(|&(_, d)| d)?;
        self.deadlines[i] = None;
        Some(KINDS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// The jitter is drawn, not fixed: over many arms the new-handshake deadline
    /// takes many values, all within REKEY_TIMEOUT + [0, MAX_JITTER_MS).
    #[test]
    fn jitter_spreads_deadlines() {
        let t0 = crate::test_origin();
        let mut rng = StdRng::seed_from_u64(4);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let mut t = Timers::new();
            t.data_sent(t0, &mut rng);
            let d = t.deadline(TimerKind::NewHandshake).unwrap() - t0;
            assert!(d >= s(15) && d < s(15) + Duration::from_millis(MAX_JITTER_MS as u64));
            seen.insert(d);
        }
        assert!(seen.len() > 32, "only {} distinct deadlines", seen.len());
    }

    #[test]
    fn data_sent_arms_new_handshake_once_with_jitter() {
        let t0 = crate::test_origin();
        let mut rng = StdRng::seed_from_u64(3);
        let mut t = Timers::new();
        t.data_sent(t0, &mut rng);
        let d = t.deadline(TimerKind::NewHandshake).unwrap();
        assert!(d >= t0 + s(15) && d < t0 + s(15) + Duration::from_millis(334));
        t.data_sent(t0 + s(3), &mut rng);
        assert_eq!(
            t.deadline(TimerKind::NewHandshake),
            Some(d),
            "not re-armed while pending"
        );
        t.any_authenticated_packet_received();
        assert!(!t.is_pending(TimerKind::NewHandshake));
    }

    #[test]
    fn data_received_keepalive_and_need_another() {
        let t0 = crate::test_origin();
        let mut t = Timers::new();
        t.data_received(t0);
        assert_eq!(t.deadline(TimerKind::SendKeepalive), Some(t0 + s(10)));
        t.data_received(t0 + s(1));
        assert!(t.need_another_keepalive);
        assert_eq!(t.pop_expired(t0 + s(9)), None);
        assert_eq!(t.pop_expired(t0 + s(10)), Some(TimerKind::SendKeepalive));
        t.data_received(t0 + s(11));
        t.any_authenticated_packet_sent();
        assert!(!t.is_pending(TimerKind::SendKeepalive));
    }

    #[test]
    fn traversal_arms_persistent_keepalive_only_when_set() {
        let t0 = crate::test_origin();
        let mut t = Timers::new();
        t.any_authenticated_packet_traversal(t0);
        assert!(!t.is_pending(TimerKind::PersistentKeepalive));
        t.set_persistent_keepalive(25);
        t.any_authenticated_packet_traversal(t0);
        assert_eq!(t.deadline(TimerKind::PersistentKeepalive), Some(t0 + s(25)));
        t.set_persistent_keepalive(0);
        assert!(!t.is_pending(TimerKind::PersistentKeepalive));
    }

    /// The hooks of the retransmit timer's two outcomes (spec §7.2): giving up
    /// cancels the keepalive and schedules key erasure 540 s on; a keepalive owed
    /// twice is re-armed 10 s on.
    #[test]
    fn give_up_and_second_keepalive_hooks() {
        let t0 = crate::test_origin();
        let mut t = Timers::new();
        t.schedule_zero_key_material(t0 + s(7));
        assert_eq!(t.deadline(TimerKind::ZeroKeyMaterial), Some(t0 + s(547)));
        t.data_received(t0);
        t.cancel(TimerKind::SendKeepalive);
        assert!(!t.is_pending(TimerKind::SendKeepalive));
        t.rearm_keepalive(t0 + s(3));
        assert_eq!(t.deadline(TimerKind::SendKeepalive), Some(t0 + s(13)));
        t.disable();
        t.rearm_keepalive(t0 + s(3));
        t.schedule_zero_key_material(t0);
        assert_eq!(t.next_deadline(), None, "disabled timers arm nothing");
    }

    /// openbsd-wg-interface spec §1.9's HAS_PKA quirk, at the timers: frozen by a
    /// down, the interval refuses changes (0 too) until `enable`; `disable` alone,
    /// as for a peer created while down, does not freeze it.
    #[test]
    fn a_frozen_keepalive_interval_waits_for_enable() {
        let t0 = crate::test_origin();
        let mut t = Timers::new();
        assert!(t.set_persistent_keepalive(10));
        t.disable();
        t.freeze_persistent_keepalive();
        assert!(!t.set_persistent_keepalive(25));
        assert!(!t.set_persistent_keepalive(0));
        assert_eq!(t.persistent_keepalive(), 10);
        t.enable();
        t.any_authenticated_packet_traversal(t0);
        assert_eq!(t.deadline(TimerKind::PersistentKeepalive), Some(t0 + s(10)));
        assert!(t.set_persistent_keepalive(25));
        assert_eq!(t.persistent_keepalive(), 25);

        let mut created_while_down = Timers::new();
        created_while_down.disable();
        assert!(created_while_down.set_persistent_keepalive(25));
        assert_eq!(created_while_down.persistent_keepalive(), 25);
    }

    #[test]
    fn handshake_hooks() {
        let t0 = crate::test_origin();
        let mut rng = StdRng::seed_from_u64(4);
        let mut t = Timers::new();
        t.handshake_initiated(t0, &mut rng);
        let d = t.deadline(TimerKind::RetransmitHandshake).unwrap();
        assert!(d >= t0 + s(5) && d < t0 + s(5) + Duration::from_millis(334));
        t.handshake_attempts = 7;
        t.sent_lastminute_handshake = true;
        t.handshake_complete();
        assert!(!t.is_pending(TimerKind::RetransmitHandshake));
        assert_eq!(
            (t.handshake_attempts, t.sent_lastminute_handshake),
            (0, false)
        );
        t.session_derived(t0);
        assert_eq!(t.deadline(TimerKind::ZeroKeyMaterial), Some(t0 + s(540)));
        t.schedule_zero_key_material(t0 + s(100));
        assert_eq!(
            t.deadline(TimerKind::ZeroKeyMaterial),
            Some(t0 + s(540)),
            "kept when pending"
        );
    }

    #[test]
    fn disabled_timers_do_not_arm_and_pop_in_order() {
        let t0 = crate::test_origin();
        let mut rng = StdRng::seed_from_u64(5);
        let mut t = Timers::new();
        t.session_derived(t0);
        t.data_received(t0);
        t.disable();
        assert_eq!(t.next_deadline(), None);
        t.data_received(t0);
        t.handshake_initiated(t0, &mut rng);
        assert_eq!(t.next_deadline(), None);
        t.enable();
        t.session_derived(t0);
        t.data_received(t0);
        assert_eq!(t.next_deadline(), Some(t0 + s(10)));
        assert_eq!(t.pop_expired(t0 + s(600)), Some(TimerKind::SendKeepalive));
        assert_eq!(t.pop_expired(t0 + s(600)), Some(TimerKind::ZeroKeyMaterial));
        assert_eq!(t.pop_expired(t0 + s(600)), None);
    }
}
