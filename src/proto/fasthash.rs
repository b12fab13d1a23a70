//! A fast hash for the engine's configuration tables (allowed-IP prefixes, peer ids,
//! public keys). Only root inserts into these tables, so they need no defence against
//! chosen collisions (SipHash's reason to be); a data-path lookup of an attacker's
//! address or key is one probe either way. Measured on 100k peers x 10 allowed IPs,
//! SipHash made up about a third of adding and removing them.

use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate accumulation with murmur3's 64-bit finaliser, so that keys
/// differing only in their high bits (IPv6 prefixes) still spread over the buckets.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl FastHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }

    #[inline]
    fn write_u128(&mut self, v: u128) {
        self.add(v as u64);
        self.add((v >> 64) as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

pub type FastBuild = BuildHasherDefault<FastHasher>;
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastBuild>;
pub type FastSet<K> = std::collections::HashSet<K, FastBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn prefixes_differing_in_high_bits_spread() {
        let b = FastBuild::default();
        let mut low = std::collections::HashSet::new();
        for i in 0..4096u128 {
            // IPv6 /48s: only bits 80..92 differ.
            low.insert(b.hash_one(i << 80) & 4095);
        }
        assert!(low.len() > 2000, "{} of 4096 buckets", low.len());
    }
}
