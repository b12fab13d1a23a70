//! Transport keypairs (spec §4.5, §6, §7.4): ChaCha20-Poly1305 via `ring` in place, an atomic
//! send counter and a replay window behind its own Mutex so that one keypair can seal and
//! open from several threads; and the previous/current/next slots of a peer.

use super::consts::*;
use super::crypto::Secret32;
use super::replay::ReplayWindow;
use super::wire::put_type;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One session's keys and counters.
pub struct Keypair {
    send: LessSafeKey,
    recv: LessSafeKey,
    send_counter: AtomicU64,
    replay: Mutex<ReplayWindow>,
    valid: AtomicBool,
    pub created: Instant,
    pub initiator: bool,
    pub local_index: u32,
    pub remote_index: u32,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keypair")
            .field("local_index", &self.local_index)
            .field("remote_index", &self.remote_index)
            .field("initiator", &self.initiator)
            .finish()
    }
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    Nonce::assume_unique_for_key(n)
}

fn key(k: &Secret32) -> Option<LessSafeKey> {
    UnboundKey::new(&CHACHA20_POLY1305, &k.0)
        .ok()
        .map(LessSafeKey::new)
}

impl Keypair {
    /// From the split of spec §4.5: initiator sends with T1, responder with T2.
    pub fn new(
        t1: &Secret32,
        t2: &Secret32,
        initiator: bool,
        created: Instant,
        local_index: u32,
        remote_index: u32,
    ) -> Option<Keypair> {
        let (s, r) = if initiator { (t1, t2) } else { (t2, t1) };
        Some(Keypair {
            send: key(s)?,
            recv: key(r)?,
            send_counter: AtomicU64::new(0),
            replay: Mutex::new(ReplayWindow::new()),
            valid: AtomicBool::new(true),
            created,
            initiator,
            local_index,
            remote_index,
        })
    }

    /// Usable for sending: not invalidated, younger than REJECT_AFTER_TIME, counter left.
    pub fn can_send(&self, now: Instant) -> bool {
        self.valid.load(Ordering::Relaxed)
            && now.saturating_duration_since(self.created) < REJECT_AFTER_TIME
            && self.send_counter.load(Ordering::Relaxed) < REJECT_AFTER_MESSAGES
    }

    pub fn can_receive(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.created) < REJECT_AFTER_TIME
    }

    /// The next send counter value (for the keep-key-fresh checks).
    pub fn sent(&self) -> u64 {
        self.send_counter.load(Ordering::Relaxed)
    }

    /// Encrypts in place. `buf[16..16+len]` holds the inner packet; `buf` must have room for
    /// padding and the tag. Returns the message length, or None if the keypair is exhausted
    /// (then invalidated) or `buf` is too short.
    pub fn seal(&self, buf: &mut [u8], len: usize, mtu: usize) -> Option<usize> {
        let padded = super::wire::padded_len(len, mtu);
        let total = DATA_HEADER_LEN + padded + TAG_LEN;
        if buf.len() < total {
            return None;
        }
        let counter = self.send_counter.fetch_add(1, Ordering::Relaxed);
        if counter >= REJECT_AFTER_MESSAGES {
            self.valid.store(false, Ordering::Relaxed);
            return None;
        }
        buf[DATA_HEADER_LEN + len..DATA_HEADER_LEN + padded].fill(0);
        put_type(buf, MSG_DATA);
        buf[4..8].copy_from_slice(&self.remote_index.to_le_bytes());
        buf[8..16].copy_from_slice(&counter.to_le_bytes());
        let tag = self
            .send
            .seal_in_place_separate_tag(
                nonce(counter),
                Aad::empty(),
                &mut buf[DATA_HEADER_LEN..DATA_HEADER_LEN + padded],
            )
            .ok()?;
        buf[DATA_HEADER_LEN + padded..total].copy_from_slice(tag.as_ref());
        Some(total)
    }

    /// Decrypts a transport message in place (authenticate first, then the replay check,
    /// spec §6.4). On success returns the plaintext length at `buf[16..]`.
    pub fn open(&self, buf: &mut [u8]) -> Option<usize> {
        if buf.len() < DATA_MIN_LEN {
            return None;
        }
        let mut c = [0u8; 8];
        c.copy_from_slice(&buf[8..16]);
        let counter = u64::from_le_bytes(c);
        if counter >= REJECT_AFTER_MESSAGES {
            return None;
        }
        let tag_at = buf.len() - TAG_LEN;
        let tag = Tag::try_from(&buf[tag_at..]).ok()?;
        let pt_len = tag_at - DATA_HEADER_LEN;
        self.recv
            .open_in_place_separate_tag(
                nonce(counter),
                Aad::empty(),
                tag,
                &mut buf[DATA_HEADER_LEN..tag_at],
                0..,
            )
            .ok()?;
        let fresh = match self.replay.lock() {
            Ok(mut w) => w.check_and_update(counter),
            Err(_) => false,
        };
        fresh.then_some(pt_len)
    }

    pub fn invalidate(&self) {
        self.valid.store(false, Ordering::Relaxed);
    }
}

/// A peer's three keypair slots (spec §7.4).
#[derive(Default, Debug)]
pub struct Sessions {
    pub previous: Option<Arc<Keypair>>,
    pub current: Option<Arc<Keypair>>,
    pub next: Option<Arc<Keypair>>,
}

impl Sessions {
    /// Installs a freshly derived keypair. Returns the local indices of keypairs destroyed.
    pub fn install(&mut self, k: Arc<Keypair>) -> Vec<u32> {
        let mut dead = Vec::new();
        let mut kill = |o: Option<Arc<Keypair>>| {
            if let Some(k) = o {
                dead.push(k.local_index);
            }
        };
        if k.initiator {
            if let Some(n) = self.next.take() {
                kill(self.previous.take());
                kill(self.current.take());
                self.previous = Some(n);
            } else {
                kill(self.previous.take());
                self.previous = self.current.take();
            }
            self.current = Some(k);
        } else {
            kill(self.next.take());
            kill(self.previous.take());
            self.next = Some(k);
        }
        dead
    }

    /// Key confirmation: a packet arrived on `next`. Returns the destroyed index, if any.
    pub fn confirm(&mut self, local_index: u32) -> Option<Option<u32>> {
        match &self.next {
            Some(n) if n.local_index == local_index => {}
            _ => return None,
        }
        let dead = self.previous.take().map(|k| k.local_index);
        self.previous = self.current.take();
        self.current = self.next.take();
        Some(dead)
    }

    /// Drops all three; returns their local indices.
    pub fn clear(&mut self) -> Vec<u32> {
        [self.previous.take(), self.current.take(), self.next.take()]
            .into_iter()
            .flatten()
            .map(|k| k.local_index)
            .collect()
    }

    pub fn find(&self, local_index: u32) -> Option<&Arc<Keypair>> {
        [&self.current, &self.previous, &self.next]
            .into_iter()
            .flatten()
            .find(|k| k.local_index == local_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(now: Instant) -> (Keypair, Keypair) {
        let t1 = Secret32([1; 32]);
        let t2 = Secret32([2; 32]);
        (
            Keypair::new(&t1, &t2, true, now, 1, 2).unwrap(),
            Keypair::new(&t1, &t2, false, now, 2, 1).unwrap(),
        )
    }

    #[test]
    fn seal_open_from_several_threads() {
        let now = Instant::now();
        let (i, r) = pair(now);
        let (i, r) = (Arc::new(i), Arc::new(r));
        let sealed: Vec<Vec<u8>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|t| {
                    let i = i.clone();
                    s.spawn(move || {
                        (0..50)
                            .map(|n| {
                                let mut b = vec![0u8; 16 + 20 + 32];
                                b[16] = t;
                                b[17] = n;
                                let len = i.seal(&mut b, 20, 0).unwrap();
                                b.truncate(len);
                                b
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let mut counters: Vec<u64> = sealed
            .iter()
            .map(|b| u64::from_le_bytes(b[8..16].try_into().unwrap()))
            .collect();
        counters.sort();
        counters.dedup();
        assert_eq!(counters.len(), 200, "every counter used once");
        let opened: usize = std::thread::scope(|s| {
            let hs: Vec<_> = sealed
                .chunks(50)
                .map(|c| {
                    let r = r.clone();
                    s.spawn(move || {
                        c.iter()
                            .filter(|b| r.open(&mut b.to_vec()).is_some())
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(opened, 200);
        // Every one of them is now a replay.
        assert!(sealed.iter().all(|b| r.open(&mut b.clone()).is_none()));
    }

    #[test]
    fn limits_by_time_and_count() {
        let now = Instant::now();
        let (i, _) = pair(now);
        assert!(i.can_send(now));
        assert!(!i.can_send(now + REJECT_AFTER_TIME));
        assert!(!i.can_receive(now + REJECT_AFTER_TIME));
        i.send_counter
            .store(REJECT_AFTER_MESSAGES, Ordering::Relaxed);
        assert!(!i.can_send(now));
        let mut b = [0u8; 64];
        assert!(i.seal(&mut b, 0, 0).is_none());
        let mut short = [0u8; 31];
        assert!(i.open(&mut short).is_none());
    }

    #[test]
    fn slots_follow_spec_7_4() {
        let now = Instant::now();
        let mk = |init: bool, idx: u32| {
            Arc::new(
                Keypair::new(&Secret32([1; 32]), &Secret32([2; 32]), init, now, idx, 0).unwrap(),
            )
        };
        let mut s = Sessions::default();
        // Responder: new keypairs go to next; current untouched.
        assert!(s.install(mk(false, 1)).is_empty());
        assert!(s.current.is_none() && s.next.as_ref().unwrap().local_index == 1);
        // Confirmation rotates next to current.
        assert_eq!(s.confirm(9), None);
        assert_eq!(s.confirm(1), Some(None));
        assert_eq!(s.current.as_ref().unwrap().local_index, 1);
        // Initiator: new current, old current becomes previous.
        assert!(s.install(mk(true, 2)).is_empty());
        assert_eq!(s.previous.as_ref().unwrap().local_index, 1);
        assert_eq!(s.current.as_ref().unwrap().local_index, 2);
        assert_eq!(s.install(mk(true, 3)), vec![1]);
        // Responder with an existing next: old next and previous destroyed.
        assert_eq!(s.install(mk(false, 4)), vec![2]);
        assert_eq!(s.install(mk(false, 5)), vec![4]);
        // Initiator while a next exists: previous := next, current destroyed.
        let mut dead = s.install(mk(true, 6));
        dead.sort();
        assert_eq!(dead, vec![3]);
        assert_eq!(s.previous.as_ref().unwrap().local_index, 5);
        assert!(s.find(6).is_some() && s.find(5).is_some() && s.find(3).is_none());
        let mut all = s.clear();
        all.sort();
        assert_eq!(all, vec![5, 6]);
    }
}
