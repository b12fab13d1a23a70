//! The daemon's random numbers: a ChaCha20 stream in userspace, seeded from the
//! operating system and reseeded from it after every `RESEED_BYTES` of output, so
//! the data path (timer jitter on every packet) never makes a getrandom(2) call of
//! its own, while handshakes still get fresh, unpredictable keys.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, OsRng, RngCore, SeedableRng};

/// Output after which the stream is reseeded from the OS.
pub const RESEED_BYTES: u64 = 1 << 20;

pub struct DaemonRng {
    inner: ChaCha20Rng,
    since_seed: u64,
    reseeds: u64,
}

impl DaemonRng {
    /// Seeded from the OS; fails only if the OS has no randomness to give.
    pub fn new() -> Result<DaemonRng, rand_core::Error> {
        Ok(DaemonRng {
            inner: ChaCha20Rng::from_rng(OsRng)?,
            since_seed: 0,
            reseeds: 0,
        })
    }

    /// How often the stream was reseeded (for tests).
    pub fn reseeds(&self) -> u64 {
        self.reseeds
    }

    fn account(&mut self, n: usize) {
        self.since_seed += n as u64;
        if self.since_seed >= RESEED_BYTES {
            // A failed reseed keeps the current stream, which is still sound.
            if let Ok(r) = ChaCha20Rng::from_rng(OsRng) {
                self.inner = r;
                self.reseeds += 1;
            }
            self.since_seed = 0;
        }
    }
}

impl RngCore for DaemonRng {
    fn next_u32(&mut self) -> u32 {
        self.account(4);
        self.inner.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.account(8);
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.account(dest.len());
        self.inner.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.account(dest.len());
        self.inner.try_fill_bytes(dest)
    }
}

impl CryptoRng for DaemonRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reseeds_after_its_budget_and_differs_between_instances() {
        let mut a = DaemonRng::new().unwrap();
        let mut b = DaemonRng::new().unwrap();
        assert_ne!(a.next_u64(), b.next_u64(), "seeded independently");
        let mut buf = vec![0u8; 4096];
        for _ in 0..(RESEED_BYTES / 4096) {
            a.fill_bytes(&mut buf);
        }
        assert_eq!(a.reseeds(), 1);
        assert!(buf.iter().any(|&x| x != 0));
    }
}
