//! The receive-side anti-replay window (RFC 6479 style, as the kernel's counter.c):
//! 8192 bits kept as a ring of 64-bit words, so counters up to 8128 behind the greatest
//! one seen are still accepted once. Spec: wireguard-protocol.md §6.5–6.6.
//!
//! The window is a plain struct; a keypair keeps it behind its own lock so that
//! several decrypting threads share it (see `keypair.rs`).

/// REJECT_AFTER_MESSAGES = 2^64 − 2^13 − 1 (spec §6.6, the whitepaper/wireguard-go value).
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
const BITS_PER_WORD: u64 = 64;
/// COUNTER_BITS_TOTAL in the kernel.
const BITS_TOTAL: u64 = 8192;
const WORDS: usize = (BITS_TOTAL / BITS_PER_WORD) as usize;
/// COUNTER_WINDOW_SIZE = 8192 − 64 (spec §6.5).
pub const WINDOW_SIZE: u64 = BITS_TOTAL - BITS_PER_WORD;

/// Which counters have been received on one keypair.
#[derive(Clone)]
pub struct ReplayWindow {
    /// Greatest counter seen plus one (0 = none yet), as the kernel stores it.
    next: u64,
    bitmap: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    pub fn new() -> Self {
        ReplayWindow {
            next: 0,
            bitmap: [0; WORDS],
        }
    }

    /// Accepts `counter` once: false if it was seen, is too old, or is past the limit.
    /// Call only after the packet authenticated, so forgeries never move the window.
    pub fn check_and_update(&mut self, counter: u64) -> bool {
        if self.next > REJECT_AFTER_MESSAGES || counter >= REJECT_AFTER_MESSAGES {
            return false;
        }
        let their = counter + 1;
        if WINDOW_SIZE + their < self.next {
            return false;
        }
        let index = their / BITS_PER_WORD;
        if their > self.next {
            let current = self.next / BITS_PER_WORD;
            let top = (index - current).min(WORDS as u64);
            for i in 1..=top {
                self.bitmap[((i + current) % WORDS as u64) as usize] = 0;
            }
            self.next = their;
        }
        let word = &mut self.bitmap[(index % WORDS as u64) as usize];
        let bit = 1u64 << (their % BITS_PER_WORD);
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }

    /// The greatest counter accepted so far, if any.
    pub fn greatest(&self) -> Option<u64> {
        self.next.checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `greatest` is the largest counter accepted, not the last one; rejected
    /// counters do not move it (the property test below draws counters around it).
    #[test]
    fn greatest_is_the_largest_accepted_counter() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.greatest(), None);
        assert!(w.check_and_update(0));
        assert_eq!(w.greatest(), Some(0));
        assert!(w.check_and_update(7));
        assert!(w.check_and_update(3));
        assert!(!w.check_and_update(7));
        assert_eq!(w.greatest(), Some(7));
        assert!(w.check_and_update(5000));
        assert_eq!(w.greatest(), Some(5000));
    }

    /// The kernel's selftest/counter.c sequence (also OpenBSD's noise_counter_test),
    /// with T_LIM = COUNTER_WINDOW_SIZE + 1.
    #[test]
    fn kernel_counter_selftest() {
        const T_LIM: u64 = WINDOW_SIZE + 1;
        const R: u64 = REJECT_AFTER_MESSAGES;
        let table: &[(u64, bool)] = &[
            (0, true),
            (1, true),
            (1, false),
            (9, true),
            (8, true),
            (7, true),
            (7, false),
            (T_LIM, true),
            (T_LIM - 1, true),
            (T_LIM - 1, false),
            (T_LIM - 2, true),
            (2, true),
            (2, false),
            (T_LIM + 16, true),
            (3, false),
            (T_LIM + 16, false),
            (T_LIM * 4, true),
            (T_LIM * 4 - (T_LIM - 1), true),
            (10, false),
            (T_LIM * 4 - T_LIM, false),
            (T_LIM * 4 - (T_LIM + 1), false),
            (T_LIM * 4 - (T_LIM - 2), true),
            (T_LIM * 4 + 1 - T_LIM, false),
            (0, false),
            (R, false),
            (R - 1, true),
            (R, false),
            (R - 1, false),
            (R - 2, true),
            (R + 1, false),
            (R + 2, false),
            (R - 2, false),
            (R - 3, true),
            (0, false),
        ];
        let mut w = ReplayWindow::new();
        for (i, &(n, ok)) in table.iter().enumerate() {
            assert_eq!(w.check_and_update(n), ok, "vector {} (counter {n})", i + 1);
        }
    }

    #[test]
    fn kernel_window_edges() {
        let mut w = ReplayWindow::new();
        for i in 1..=WINDOW_SIZE {
            assert!(w.check_and_update(i));
        }
        assert!(w.check_and_update(0));
        assert!(!w.check_and_update(0));

        let mut w = ReplayWindow::new();
        for i in 2..=WINDOW_SIZE + 1 {
            assert!(w.check_and_update(i));
        }
        assert!(w.check_and_update(1));
        assert!(!w.check_and_update(0));

        let mut w = ReplayWindow::new();
        for i in (0..=WINDOW_SIZE).rev() {
            assert!(w.check_and_update(i), "{i}");
        }

        let mut w = ReplayWindow::new();
        for i in (1..=WINDOW_SIZE + 1).rev() {
            assert!(w.check_and_update(i));
        }
        assert!(!w.check_and_update(0));

        let mut w = ReplayWindow::new();
        for i in (1..=WINDOW_SIZE).rev() {
            assert!(w.check_and_update(i));
        }
        assert!(w.check_and_update(WINDOW_SIZE + 1));
        assert!(!w.check_and_update(0));

        let mut w = ReplayWindow::new();
        for i in (1..=WINDOW_SIZE).rev() {
            assert!(w.check_and_update(i));
        }
        assert!(w.check_and_update(0));
        assert!(w.check_and_update(WINDOW_SIZE + 1));
    }

    /// The live boundary check of spec §6.5 against wireguard-go.
    #[test]
    fn wireguard_go_boundary() {
        let mut w = ReplayWindow::new();
        assert!(w.check_and_update(10000));
        assert!(w.check_and_update(1872));
        assert!(!w.check_and_update(1871));
        assert!(!w.check_and_update(10000));
        let mut w = ReplayWindow::new();
        assert!(w.check_and_update(u64::MAX - (1 << 13) - 1));
        assert!(!w.check_and_update(u64::MAX - (1 << 13)));
    }

    #[test]
    fn arbitrary_sequences_never_panic_and_never_accept_twice() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut w = ReplayWindow::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = match x % 4 {
                0 => x,
                1 => x % 20000,
                2 => w.greatest().unwrap_or(0).saturating_sub(x % 9000),
                _ => w.greatest().unwrap_or(0).saturating_add(x % 100),
            };
            if w.check_and_update(n) {
                assert!(seen.insert(n), "{n} accepted twice");
            }
        }
    }
}
