//! The MTU that caps a packet's padding (spec §6.3): the interface's, or the MTU
//! metric of the route its inner destination takes when that is smaller. Linux's wg
//! pads to `dst_mtu` of the packet's route and OpenBSD's `wg_output` to the route's
//! `rt_mtu`, so a route with a smaller MTU than the interface's is never overrun by
//! padding. wgd reads its packets from a tun and sees no route, so the driver
//! reports the routes through the interface (rtnetlink) and this table stands in for
//! the kernel's route lookup.
//!
//! Every reported route is kept, with or without an MTU, so that the longest prefix
//! decides as in the kernel: a more specific route without a smaller MTU leaves its
//! destinations uncapped. Only routes whose MTU is below the interface's cap
//! anything; while there is none (the usual case), a packet costs one check of their
//! count and no lookup.

use super::allowedips::{AllowedIps, BadCidr};
use std::net::IpAddr;

pub struct RouteMtus {
    /// The interface MTU; 0: none (pad to 16 without a cap).
    mtu: usize,
    /// Route prefix → its MTU metric (0: the route has none).
    routes: AllowedIps<u32>,
    /// Routes whose MTU is below the interface's.
    capping: usize,
}

impl Default for RouteMtus {
    fn default() -> Self {
        Self::new(0)
    }
}

impl RouteMtus {
    pub fn new(mtu: usize) -> Self {
        RouteMtus {
            mtu,
            routes: AllowedIps::new(),
            capping: 0,
        }
    }

    /// The interface MTU.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    pub fn set_mtu(&mut self, mtu: usize) {
        self.mtu = mtu;
        self.capping = self.routes.iter().filter(|r| self.caps(r.2)).count();
    }

    fn caps(&self, route_mtu: u32) -> bool {
        route_mtu != 0 && (self.mtu == 0 || (route_mtu as usize) < self.mtu)
    }

    /// A route through the interface to `addr/cidr` (host bits ignored), with its
    /// MTU metric (None: it has none); it replaces what that prefix had.
    pub fn set(&mut self, addr: IpAddr, cidr: u8, mtu: Option<u32>) -> Result<(), BadCidr> {
        let mtu = mtu.unwrap_or(0);
        let old = self.routes.insert(addr, cidr, mtu)?;
        if old.is_some_and(|m| self.caps(m)) {
            self.capping -= 1;
        }
        if self.caps(mtu) {
            self.capping += 1;
        }
        Ok(())
    }

    /// No route through the interface to `addr/cidr` any more.
    pub fn remove(&mut self, addr: IpAddr, cidr: u8) {
        if self.routes.remove(addr, cidr).is_some_and(|m| self.caps(m)) {
            self.capping -= 1;
        }
    }

    pub fn clear(&mut self) {
        self.routes.clear();
        self.capping = 0;
    }

    /// Every route: prefix, length, MTU metric.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, u8, Option<u32>)> + '_ {
        self.routes
            .iter()
            .map(|(a, l, m)| (a, l, (m != 0).then_some(m)))
    }

    /// The MTU to pad an inner packet of `len` bytes to `dst` under. A packet longer
    /// than its route's MTU (sent before the route came, or by a raw socket, which
    /// Linux checks against the device MTU only) is padded under the interface's:
    /// the padding never grows past what the interface MTU gives, which the data
    /// path's arena strides (`Interface::sealed_len`) rely on.
    #[inline]
    pub fn mtu_for(&self, dst: IpAddr, len: usize) -> usize {
        if self.capping == 0 {
            return self.mtu;
        }
        match self.routes.lookup(dst) {
            Some(m) if self.caps(m) && len <= m as usize => m as usize,
            _ => self.mtu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::wire::padded_len;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn no_route_below_the_interface_mtu_means_no_cap() {
        let mut t = RouteMtus::new(1420);
        assert_eq!(t.mtu_for(ip("10.0.0.1"), 1000), 1420);
        t.set(ip("10.0.0.0"), 8, None).unwrap();
        t.set(ip("10.1.0.0"), 16, Some(1420)).unwrap();
        t.set(ip("10.2.0.0"), 16, Some(9000)).unwrap();
        assert_eq!(
            t.capping, 0,
            "neither a route without MTU nor a larger one caps"
        );
        for d in ["10.0.0.1", "10.1.0.1", "10.2.0.1", "192.0.2.1"] {
            assert_eq!(t.mtu_for(ip(d), 1000), 1420, "{d}");
        }
        assert_eq!(t.iter().count(), 3, "all are kept for the longest match");
    }

    #[test]
    fn add_replace_delete() {
        let mut t = RouteMtus::new(1300);
        t.set(ip("192.168.241.2"), 32, Some(1299)).unwrap();
        assert_eq!(t.mtu_for(ip("192.168.241.2"), 1297), 1299);
        assert_eq!(t.mtu_for(ip("192.168.241.3"), 1297), 1300);
        // Host bits are ignored: the same prefix is replaced, not added.
        t.set(ip("192.168.241.2"), 32, Some(1290)).unwrap();
        assert_eq!(t.mtu_for(ip("192.168.241.2"), 1280), 1290);
        assert_eq!(t.capping, 1);
        t.set(ip("10.9.9.9"), 8, Some(1280)).unwrap();
        assert_eq!(t.mtu_for(ip("10.200.0.1"), 1000), 1280);
        assert_eq!(t.capping, 2);
        // Replaced by one without an MTU: it no longer caps.
        t.set(ip("192.168.241.2"), 32, None).unwrap();
        assert_eq!(t.mtu_for(ip("192.168.241.2"), 1280), 1300);
        assert_eq!(t.capping, 1);
        t.remove(ip("10.0.0.0"), 8);
        assert_eq!(t.capping, 0);
        assert_eq!(t.mtu_for(ip("10.200.0.1"), 1000), 1300);
        // Removing what is not there changes nothing.
        t.remove(ip("10.0.0.0"), 8);
        t.remove(ip("10.0.0.0"), 99);
        assert_eq!(t.capping, 0);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            vec![(ip("192.168.241.2"), 32, None)]
        );
        assert_eq!(t.set(ip("10.0.0.0"), 33, Some(1)), Err(BadCidr(33)));
        assert_eq!(t.set(ip("::"), 129, Some(1)), Err(BadCidr(129)));
        t.set(ip("10.0.0.0"), 8, Some(1200)).unwrap();
        t.clear();
        assert_eq!((t.capping, t.iter().count()), (0, 0));
        assert_eq!(t.mtu_for(ip("10.0.0.1"), 100), 1300);
    }

    #[test]
    fn longest_prefix_decides_v4_and_v6() {
        let mut t = RouteMtus::new(1420);
        t.set(ip("10.0.0.0"), 8, Some(1300)).unwrap();
        t.set(ip("10.1.0.0"), 16, None).unwrap();
        t.set(ip("10.1.2.0"), 24, Some(1350)).unwrap();
        t.set(ip("0.0.0.0"), 0, Some(1400)).unwrap();
        t.set(ip("fd00::"), 64, Some(1280)).unwrap();
        t.set(ip("fd00::5"), 128, Some(9000)).unwrap();
        t.set(ip("::"), 0, None).unwrap();
        let cases = [
            ("10.0.0.1", 1300),
            // A more specific route without an MTU: the interface's.
            ("10.1.9.9", 1420),
            ("10.1.2.3", 1350),
            ("192.0.2.1", 1400),
            ("fd00::1", 1280),
            // More specific, its MTU above the interface's: the interface's.
            ("fd00::5", 1420),
            ("2001:db8::1", 1420),
        ];
        for (d, want) in cases {
            assert_eq!(t.mtu_for(ip(d), 1200), want, "{d}");
        }
        // A family's routes never answer for the other.
        let mut v6 = RouteMtus::new(1420);
        v6.set(ip("::"), 0, Some(1280)).unwrap();
        assert_eq!(v6.mtu_for(ip("10.0.0.1"), 100), 1420);
        assert_eq!(v6.mtu_for(ip("::1"), 100), 1280);
    }

    #[test]
    fn the_interface_mtu_decides_what_caps() {
        let mut t = RouteMtus::new(1420);
        t.set(ip("10.0.0.0"), 8, Some(1400)).unwrap();
        assert_eq!(t.mtu_for(ip("10.0.0.1"), 1000), 1400);
        t.set_mtu(1300);
        assert_eq!(t.capping, 0);
        assert_eq!(t.mtu_for(ip("10.0.0.1"), 1000), 1300);
        t.set_mtu(1401);
        assert_eq!(t.mtu_for(ip("10.0.0.1"), 1000), 1400);
        // No interface MTU: padding is uncapped, so any route MTU caps it.
        t.set_mtu(0);
        assert_eq!(t.mtu_for(ip("10.0.0.1"), 1000), 1400);
        assert_eq!(t.mtu_for(ip("11.0.0.1"), 1000), 0);
    }

    /// Under a route's cap a packet's padding is the kernel's (to dst_mtu), and
    /// never more than under the interface MTU alone, whatever the length.
    #[test]
    fn padding_under_a_route_cap() {
        let mut t = RouteMtus::new(1300);
        t.set(ip("192.168.241.2"), 32, Some(1299)).unwrap();
        let d = ip("192.168.241.2");
        // netns.sh's case: 1297 bytes pad to 1299 (1300 under the interface MTU).
        assert_eq!(padded_len(1297, t.mtu_for(d, 1297)), 1299);
        assert_eq!(padded_len(1297, 1300), 1300);
        assert_eq!(padded_len(1299, t.mtu_for(d, 1299)), 1299);
        // Longer than the route allows: the interface's padding, not len % 1299's.
        assert_eq!(t.mtu_for(d, 1300), 1300);
        assert_eq!(padded_len(1300, t.mtu_for(d, 1300)), 1300);
        for mtu in [0usize, 1280, 1300, 1420] {
            t.set_mtu(mtu);
            for route in [1, 16, 17, 1279, 1290, 1299] {
                t.set(d, 32, Some(route)).unwrap();
                for len in 0..3000 {
                    let p = padded_len(len, t.mtu_for(d, len));
                    assert!(p >= len && p <= padded_len(len, mtu), "{mtu} {route} {len}");
                    if len <= route as usize && (mtu == 0 || (route as usize) < mtu) {
                        let kernel = (len.div_ceil(16) * 16).min(route as usize);
                        assert_eq!(p, kernel, "{mtu} {route} {len}");
                    }
                }
            }
        }
    }
}
