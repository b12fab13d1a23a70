//! Tickets that keep batches in the order they were read while the work between
//! reading and writing them (sealing, opening) runs on several threads at once: a
//! batch takes a ticket where it is read, and waits for its turn before it is sent
//! or written. One per direction and source, like the kernel's per-peer serial
//! queues and wireguard-go's sequential sender.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Spins before sleeping: the batch ahead is usually about to finish.
const SPINS: u32 = 200;

#[derive(Default)]
pub struct Sequencer {
    next_ticket: AtomicU64,
    turn: AtomicU64,
    /// Threads asleep in `wait`: `done` wakes only when there are some, so a lone
    /// worker makes no system call for its turn.
    sleeping: AtomicUsize,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Sequencer {
    pub fn new() -> Sequencer {
        Sequencer::default()
    }

    /// The next ticket: taken where the batch is read (under the reader's lock, so
    /// that ticket order is read order).
    pub fn ticket(&self) -> u64 {
        self.next_ticket.fetch_add(1, Ordering::Relaxed)
    }

    /// Returns when every earlier ticket is `done`.
    pub fn wait(&self, ticket: u64) {
        for _ in 0..SPINS {
            if self.turn.load(Ordering::Acquire) == ticket {
                return;
            }
            std::hint::spin_loop();
        }
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // SeqCst on both sides: either `done` sees this sleeper, or this sees its turn.
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        while self.turn.load(Ordering::SeqCst) != ticket {
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
    }

    /// Ends `ticket`'s turn (after `wait(ticket)`).
    pub fn done(&self, ticket: u64) {
        self.turn.store(ticket + 1, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cv.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn turns_follow_tickets_across_threads() {
        let s = Arc::new(Sequencer::new());
        let out = Arc::new(Mutex::new(Vec::new()));
        let take = Arc::new(Mutex::new(()));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (s, out, take) = (s.clone(), out.clone(), take.clone());
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        let t = {
                            let _g = take.lock().unwrap();
                            s.ticket()
                        };
                        // Uneven work between the ticket and the turn.
                        if (t + i) % 3 == 0 {
                            std::thread::yield_now();
                        }
                        s.wait(t);
                        out.lock().unwrap().push(t);
                        s.done(t);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let out = out.lock().unwrap();
        assert_eq!(out.len(), 2000);
        assert!(out.iter().enumerate().all(|(i, t)| *t == i as u64));
    }
}
