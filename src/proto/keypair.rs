//! Transport keypairs (spec §4.5, §6, §7.4): ChaCha20-Poly1305 via `ring` in place, an atomic
//! send counter and a replay window behind its own Mutex so that one keypair can seal and
//! open from several threads; and the previous/current/next slots of a peer.

use super::consts::*;
use super::crypto::Secret32;
use super::replay::ReplayWindow;
use super::wire::put_type;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use ring::error::Unspecified;
use std::ops::RangeFrom;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Whether a counter may still be used with a key (spec §6.6: below REJECT_AFTER_MESSAGES).
pub fn counter_usable(counter: u64) -> bool {
    counter < REJECT_AFTER_MESSAGES
}

/// One session's keys and counters.
pub struct Keypair {
    send: SessionKey,
    recv: SessionKey,
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

fn key(k: &Secret32) -> Option<SessionKey> {
    let key = SessionKey(k.clone());
    key.ring().map(|_| key)
}

/// A transport key kept as its 32 bytes, zeroed when the keypair goes (rotated out,
/// expired, its peer removed: spec §7.2 zero_key_material). ring's `LessSafeKey` has
/// no zeroize, and overwriting one in place does not wipe it: it is an enum sized for
/// AES-GCM's key schedule (544 bytes) of which ChaCha20-Poly1305 uses 32, and every
/// move copies the other ~500 bytes from wherever the value was built, stack residue
/// that can hold earlier copies of keys (tests/key_hygiene.rs found them in freed
/// keypairs). So the ring key is built on the stack for each call: for ChaCha20-Poly1305
/// that is a copy of the 32 bytes into eight words (ring 0.17 algorithm.rs
/// `chacha20_poly1305_init`, chacha.rs `Key::new`): +2 instructions per seal and +9 per
/// open after inlining (HARDENING.md, "Key hygiene"). The methods mirror `LessSafeKey`'s.
struct SessionKey(Secret32);

impl SessionKey {
    fn ring(&self) -> Option<LessSafeKey> {
        UnboundKey::new(&CHACHA20_POLY1305, &self.0 .0)
            .ok()
            .map(LessSafeKey::new)
    }

    fn seal_in_place_separate_tag<A: AsRef<[u8]>>(
        &self,
        nonce: Nonce,
        aad: Aad<A>,
        in_out: &mut [u8],
    ) -> Result<Tag, Unspecified> {
        self.ring()
            .ok_or(Unspecified)?
            .seal_in_place_separate_tag(nonce, aad, in_out)
    }

    fn open_in_place_separate_tag<'a, A: AsRef<[u8]>>(
        &self,
        nonce: Nonce,
        aad: Aad<A>,
        tag: Tag,
        in_out: &'a mut [u8],
        ciphertext: RangeFrom<usize>,
    ) -> Result<&'a mut [u8], Unspecified> {
        self.ring()
            .ok_or(Unspecified)?
            .open_in_place_separate_tag(nonce, aad, tag, in_out, ciphertext)
    }
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
            && counter_usable(self.send_counter.load(Ordering::Relaxed))
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
        if len > buf.len()
            || buf.len() < DATA_HEADER_LEN + super::wire::padded_len(len, mtu) + TAG_LEN
        {
            return None;
        }
        self.seal_at(self.reserve(1), buf, len, mtu)
    }

    /// Reserves `n` consecutive send counters with one atomic add (a batch's share,
    /// sealed later with [`Keypair::seal_at`], possibly on another thread); returns
    /// the first.
    pub fn reserve(&self, n: u64) -> u64 {
        self.send_counter.fetch_add(n, Ordering::Relaxed)
    }

    /// `seal` with a counter taken by [`Keypair::reserve`]. A counter past the limit
    /// invalidates the keypair.
    pub fn seal_at(&self, counter: u64, buf: &mut [u8], len: usize, mtu: usize) -> Option<usize> {
        if len > buf.len() {
            return None;
        }
        let padded = super::wire::padded_len(len, mtu);
        let total = DATA_HEADER_LEN + padded + TAG_LEN;
        if buf.len() < total {
            return None;
        }
        if !counter_usable(counter) {
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
        let (counter, pt_len) = self.open_unreplayed(buf)?;
        self.replay_check(counter).then_some(pt_len)
    }

    /// Authenticates and decrypts in place, without the replay check, which the
    /// caller makes with [`Keypair::replay_check`] in the order the datagrams came
    /// (several threads may open at once). Returns the counter and the plaintext
    /// length at `buf[16..]`.
    pub fn open_unreplayed(&self, buf: &mut [u8]) -> Option<(u64, usize)> {
        if buf.len() < DATA_MIN_LEN {
            return None;
        }
        let mut c = [0u8; 8];
        c.copy_from_slice(&buf[8..16]);
        let counter = u64::from_le_bytes(c);
        if !counter_usable(counter) {
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
        Some((counter, pt_len))
    }

    /// Whether an authenticated counter is fresh (spec §6.4); records it.
    pub fn replay_check(&self, counter: u64) -> bool {
        match self.replay.lock() {
            Ok(mut w) => w.check_and_update(counter),
            Err(_) => false,
        }
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

    #[test]
    fn counter_limit_is_2_64_minus_2_13_minus_1() {
        assert!(counter_usable(0));
        assert!(counter_usable(u64::MAX - (1 << 13) - 1));
        assert!(!counter_usable(u64::MAX - (1 << 13)));
        assert!(!counter_usable(u64::MAX));
    }
}
