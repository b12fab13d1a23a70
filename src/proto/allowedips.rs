//! Cryptokey routing table: longest-prefix match from an address to the peer that
//! owns the enclosing allowed-IP prefix, one table per family (spec §9.1).
//!
//! Shape: per family, one hash map per prefix length, keyed by the masked address,
//! plus the list of lengths in use, longest first. A lookup probes at most one map
//! per length in use (at most 33 or 129, usually a handful), independent of the
//! number of entries; insert and remove are one hash operation. Prefixes are stored
//! masked; an exact prefix has one owner, and inserting it again moves it.

use super::fasthash::FastMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A prefix length beyond 32 (IPv4) or 128 (IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadCidr(pub u8);

impl std::fmt::Display for BadCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "prefix length {} out of range", self.0)
    }
}

/// `addr` with the bits past the first `cidr` cleared: the prefix `addr/cidr` names, as
/// the table stores it and as SIOCGWG and wg(8) report it. A length beyond the family's
/// width keeps the whole address.
pub fn masked(addr: IpAddr, cidr: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let keep = match cidr {
                0 => 0,
                c => u32::MAX << (32 - u32::from(c.min(32))),
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & keep))
        }
        IpAddr::V6(a) => {
            let keep = match cidr {
                0 => 0,
                c => u128::MAX << (128 - u32::from(c.min(128))),
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & keep))
        }
    }
}

struct Family<T> {
    bits: u8,
    /// `maps[len]`: masked address → owner.
    maps: Vec<FastMap<u128, T>>,
    /// Lengths with at least one entry, longest first.
    lengths: Vec<u8>,
}

impl<T: Copy + Eq> Family<T> {
    fn new(bits: u8) -> Self {
        Family {
            bits,
            maps: (0..=bits).map(|_| FastMap::default()).collect(),
            lengths: Vec::new(),
        }
    }

    fn mask(&self, addr: u128, len: u8) -> u128 {
        // Addresses are kept left-aligned in the family's width.
        if len == 0 {
            0
        } else {
            let keep = u128::MAX << (self.bits - len);
            addr & keep
        }
    }

    fn refresh_lengths(&mut self) {
        self.lengths = (0..=self.bits)
            .rev()
            .filter(|&l| !self.maps[l as usize].is_empty())
            .collect();
    }

    fn insert(&mut self, addr: u128, len: u8, v: T) -> Option<T> {
        let key = self.mask(addr, len);
        let was_empty = self.maps[len as usize].is_empty();
        let old = self.maps[len as usize].insert(key, v);
        if was_empty {
            self.refresh_lengths();
        }
        old
    }

    fn remove(&mut self, addr: u128, len: u8) -> Option<T> {
        let key = self.mask(addr, len);
        let r = self.maps[len as usize].remove(&key);
        if r.is_some() && self.maps[len as usize].is_empty() {
            self.refresh_lengths();
        }
        r
    }

    fn get(&self, addr: u128, len: u8) -> Option<T> {
        self.maps[len as usize].get(&self.mask(addr, len)).copied()
    }

    fn remove_by_value(&mut self, v: T) {
        for m in &mut self.maps {
            m.retain(|_, o| *o != v);
        }
        self.refresh_lengths();
    }

    fn lookup(&self, addr: u128) -> Option<T> {
        self.lengths
            .iter()
            .find_map(|&l| self.maps[l as usize].get(&self.mask(addr, l)).copied())
    }

    fn len(&self) -> usize {
        self.maps.iter().map(FastMap::len).sum()
    }
}

/// The allowed-IPs table of one interface, mapping prefixes to owners `T` (peer ids).
pub struct AllowedIps<T> {
    v4: Family<T>,
    v6: Family<T>,
}

impl<T: Copy + Eq> Default for AllowedIps<T> {
    fn default() -> Self {
        Self::new()
    }
}

fn v4_key(a: [u8; 4]) -> u128 {
    u32::from_be_bytes(a) as u128
}

/// An address as its family's table keys it: the address bits as an integer.
fn key(addr: &IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => v4_key(a.octets()),
        IpAddr::V6(a) => u128::from_be_bytes(a.octets()),
    }
}

impl<T: Copy + Eq> AllowedIps<T> {
    pub fn new() -> Self {
        AllowedIps {
            v4: Family::new(32),
            v6: Family::new(128),
        }
    }

    fn family(&self, addr: &IpAddr) -> (&Family<T>, u128) {
        let f = if addr.is_ipv4() { &self.v4 } else { &self.v6 };
        (f, key(addr))
    }

    fn family_mut(&mut self, addr: &IpAddr) -> (&mut Family<T>, u128) {
        let f = if addr.is_ipv4() {
            &mut self.v4
        } else {
            &mut self.v6
        };
        (f, key(addr))
    }

    /// Makes `value` the owner of `addr/cidr` (moving it from another owner if needed);
    /// returns the previous owner.
    pub fn insert(&mut self, addr: IpAddr, cidr: u8, value: T) -> Result<Option<T>, BadCidr> {
        let (f, key) = self.family_mut(&addr);
        if cidr > f.bits {
            return Err(BadCidr(cidr));
        }
        Ok(f.insert(key, cidr, value))
    }

    /// The owner of exactly `addr/cidr`, if that prefix is in the table.
    pub fn get(&self, addr: IpAddr, cidr: u8) -> Option<T> {
        let (f, key) = self.family(&addr);
        if cidr > f.bits {
            return None;
        }
        f.get(key, cidr)
    }

    /// Removes the exact prefix `addr/cidr`, returning its owner.
    pub fn remove(&mut self, addr: IpAddr, cidr: u8) -> Option<T> {
        let (f, key) = self.family_mut(&addr);
        if cidr > f.bits {
            return None;
        }
        f.remove(key, cidr)
    }

    /// Removes every prefix owned by `value`.
    pub fn remove_by_value(&mut self, value: T) {
        self.v4.remove_by_value(value);
        self.v6.remove_by_value(value);
    }

    pub fn lookup(&self, addr: IpAddr) -> Option<T> {
        match addr {
            IpAddr::V4(a) => self.lookup_v4(a.octets()),
            IpAddr::V6(a) => self.lookup_v6(a.octets()),
        }
    }

    pub fn lookup_v4(&self, a: [u8; 4]) -> Option<T> {
        self.v4.lookup(v4_key(a))
    }

    pub fn lookup_v6(&self, a: [u8; 16]) -> Option<T> {
        self.v6.lookup(u128::from_be_bytes(a))
    }

    /// Every stored (masked) prefix and its owner, IPv4 first, longest prefixes first.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, u8, T)> + '_ {
        let v4 = self.v4.lengths.iter().flat_map(move |&l| {
            self.v4.maps[l as usize]
                .iter()
                .map(move |(&k, &v)| (IpAddr::V4(Ipv4Addr::from(k as u32)), l, v))
        });
        let v6 = self.v6.lengths.iter().flat_map(move |&l| {
            self.v6.maps[l as usize]
                .iter()
                .map(move |(&k, &v)| (IpAddr::V6(Ipv6Addr::from(k)), l, v))
        });
        v4.chain(v6)
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = AllowedIps::new();
        t.insert(ip("10.0.0.0"), 8, 1).unwrap();
        t.insert(ip("10.1.0.0"), 16, 2).unwrap();
        t.insert(ip("10.1.2.3"), 32, 3).unwrap();
        t.insert(ip("0.0.0.0"), 0, 4).unwrap();
        assert_eq!(t.lookup(ip("10.1.2.3")), Some(3));
        assert_eq!(t.lookup(ip("10.1.2.4")), Some(2));
        assert_eq!(t.lookup(ip("10.2.0.0")), Some(1));
        assert_eq!(t.lookup(ip("192.0.2.1")), Some(4));
        assert_eq!(t.lookup(ip("::1")), None);
        t.insert(ip("2001:db8::"), 32, 5).unwrap();
        t.insert(ip("::"), 0, 6).unwrap();
        t.insert(ip("2001:db8::1"), 128, 7).unwrap();
        assert_eq!(t.lookup(ip("2001:db8::1")), Some(7));
        assert_eq!(t.lookup(ip("2001:db8::2")), Some(5));
        assert_eq!(t.lookup(ip("fe80::1")), Some(6));
    }

    #[test]
    fn host_bits_are_masked_and_owner_moves() {
        let mut t = AllowedIps::new();
        t.insert(ip("192.168.5.77"), 24, 1).unwrap();
        t.insert(ip("192.168.5.0"), 24, 2).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup(ip("192.168.5.1")), Some(2));
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            vec![(ip("192.168.5.0"), 24, 2)]
        );
        assert_eq!(t.remove(ip("192.168.5.9"), 24), Some(2));
        assert!(t.is_empty());
    }

    #[test]
    fn bad_cidr() {
        let mut t = AllowedIps::new();
        assert_eq!(t.insert(ip("1.2.3.4"), 33, 1), Err(BadCidr(33)));
        assert_eq!(t.insert(ip("::"), 129, 1), Err(BadCidr(129)));
        assert!(t.insert(ip("::"), 128, 1).is_ok());
        assert_eq!(t.remove(ip("1.2.3.4"), 200), None);
    }

    #[test]
    fn remove_by_value_and_clear() {
        let mut t = AllowedIps::new();
        t.insert(ip("10.0.0.0"), 8, 1).unwrap();
        t.insert(ip("10.0.0.0"), 16, 2).unwrap();
        t.insert(ip("fd00::"), 8, 1).unwrap();
        t.remove_by_value(1);
        assert_eq!(t.lookup(ip("10.0.0.1")), Some(2));
        assert_eq!(t.lookup(ip("10.1.0.1")), None);
        assert_eq!(t.lookup(ip("fd00::1")), None);
        t.clear();
        assert!(t.is_empty());
    }

    #[test]
    fn masked_clears_the_host_bits() {
        assert_eq!(masked(ip("10.1.2.3"), 8), ip("10.0.0.0"));
        assert_eq!(masked(ip("10.1.2.3"), 0), ip("0.0.0.0"));
        assert_eq!(masked(ip("10.1.2.3"), 31), ip("10.1.2.2"));
        assert_eq!(masked(ip("10.1.2.3"), 32), ip("10.1.2.3"));
        assert_eq!(masked(ip("10.1.2.3"), 40), ip("10.1.2.3"));
        assert_eq!(masked(ip("2001:db8::1"), 32), ip("2001:db8::"));
        assert_eq!(masked(ip("2001:db8:ffff::1"), 33), ip("2001:db8:8000::"));
        assert_eq!(masked(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        assert_eq!(masked(ip("2001:db8::1"), 0), ip("::"));
    }

    /// Reference: a list of (masked prefix, len, owner) scanned linearly.
    struct Linear(Vec<(IpAddr, u8, u32)>);

    impl Linear {
        fn insert(&mut self, a: IpAddr, l: u8, v: u32) {
            let a = masked(a, l);
            self.0.retain(|&(x, y, _)| !(x == a && y == l));
            self.0.push((a, l, v));
        }
        fn remove(&mut self, a: IpAddr, l: u8) -> Option<u32> {
            let a = masked(a, l);
            let i = self.0.iter().position(|&(x, y, _)| x == a && y == l)?;
            Some(self.0.remove(i).2)
        }
        fn get(&self, a: IpAddr, l: u8) -> Option<u32> {
            let a = masked(a, l);
            self.0
                .iter()
                .find(|&&(x, y, _)| x == a && y == l)
                .map(|&(_, _, v)| v)
        }
        fn lookup(&self, a: IpAddr) -> Option<u32> {
            self.0
                .iter()
                .filter(|&&(x, l, _)| x.is_ipv4() == a.is_ipv4() && masked(a, l) == x)
                .max_by_key(|&&(_, l, _)| l)
                .map(|&(_, _, v)| v)
        }
    }

    fn random_addr(rng: &mut StdRng, v6: bool) -> IpAddr {
        // A small address space so that prefixes overlap often.
        if v6 {
            let hi: u128 = (0x2001_0db8u128 << 96) | ((rng.gen_range(0..4u128)) << 88);
            IpAddr::V6(Ipv6Addr::from(hi | rng.gen::<u128>() >> 48))
        } else {
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (rng.gen::<u32>() >> 12)))
        }
    }

    #[test]
    fn randomized_against_linear_scan() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let mut t = AllowedIps::new();
        let mut r = Linear(Vec::new());
        let mut ops = 0;
        while ops < 120_000 {
            let v6 = rng.gen_bool(0.5);
            let a = random_addr(&mut rng, v6);
            let max = if v6 { 128 } else { 32 };
            let l = if v6 {
                rng.gen_range(80..=max)
            } else {
                rng.gen_range(8..=max)
            };
            match rng.gen_range(0..10) {
                0..=3 => {
                    let v = rng.gen_range(0..16);
                    t.insert(a, l, v).unwrap();
                    r.insert(a, l, v);
                }
                4 => assert_eq!(t.remove(a, l), r.remove(a, l)),
                5 | 6 if rng.gen_bool(0.5) => {
                    // An exact prefix: a stored one half the time, else any.
                    let (a, l) = match r.0.get(rng.gen_range(0..r.0.len().max(1))) {
                        Some(&(x, y, _)) if rng.gen_bool(0.5) => (x, y),
                        _ => (a, l),
                    };
                    assert_eq!(t.get(a, l), r.get(a, l), "get {a}/{l}");
                }
                5 if rng.gen_range(0..50) == 0 => {
                    let v = rng.gen_range(0..16);
                    t.remove_by_value(v);
                    r.0.retain(|&(_, _, o)| o != v);
                }
                _ => assert_eq!(t.lookup(a), r.lookup(a), "lookup {a}"),
            }
            // Keep the reference small enough to stay quick.
            if r.0.len() > 600 {
                for (a, l, _) in r.0.drain(..300).collect::<Vec<_>>() {
                    t.remove(a, l);
                }
            }
            assert_eq!(t.len(), r.0.len());
            ops += 1;
        }
    }
}
