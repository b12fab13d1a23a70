//! The receiver-index table: the random 32-bit indices a peer puts in the
//! `receiver` field of handshake responses and transport messages, mapped back to
//! whatever the interface keeps for them (spec §4.6). Randomness comes from the caller.

use rand_core::RngCore;
use std::collections::HashMap;

pub struct IndexTable<T> {
    map: HashMap<u32, T>,
}

impl<T> Default for IndexTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> IndexTable<T> {
    pub fn new() -> Self {
        IndexTable {
            map: HashMap::new(),
        }
    }

    /// Stores `value` under a fresh random index and returns the index.
    pub fn insert(&mut self, rng: &mut impl RngCore, value: T) -> u32 {
        loop {
            let idx = rng.next_u32();
            if let std::collections::hash_map::Entry::Vacant(e) = self.map.entry(idx) {
                e.insert(value);
                return idx;
            }
        }
    }

    pub fn get(&self, idx: u32) -> Option<&T> {
        self.map.get(&idx)
    }

    pub fn get_mut(&mut self, idx: u32) -> Option<&mut T> {
        self.map.get_mut(&idx)
    }

    pub fn remove(&mut self, idx: u32) -> Option<T> {
        self.map.remove(&idx)
    }

    /// Drops every index whose value fails `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(u32, &T) -> bool) {
        self.map.retain(|k, v| keep(*k, v));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    /// An RNG that repeats itself, to force collisions.
    struct Repeating(Vec<u32>, usize);
    impl RngCore for Repeating {
        fn next_u32(&mut self) -> u32 {
            self.1 += 1;
            self.0[(self.1 - 1) % self.0.len()]
        }
        fn next_u64(&mut self) -> u64 {
            self.next_u32() as u64
        }
        fn fill_bytes(&mut self, d: &mut [u8]) {
            d.fill(0)
        }
        fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
            d.fill(0);
            Ok(())
        }
    }

    #[test]
    fn insert_get_remove() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut t = IndexTable::new();
        let a = t.insert(&mut rng, "a");
        let b = t.insert(&mut rng, "b");
        assert_ne!(a, b);
        assert_eq!(t.get(a), Some(&"a"));
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.get(a), None);
        assert_eq!(t.len(), 1);
        t.retain(|_, v| *v != "b");
        assert!(t.is_empty());
    }

    #[test]
    fn collisions_are_retried() {
        let mut rng = Repeating(vec![7, 7, 7, 9], 0);
        let mut t = IndexTable::new();
        assert_eq!(t.insert(&mut rng, 1), 7);
        assert_eq!(t.insert(&mut rng, 2), 9);
        assert_eq!(t.get(9), Some(&2));
    }
}
