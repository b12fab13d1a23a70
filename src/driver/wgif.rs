//! One wgN interface as the daemon holds it: its tun device, the protocol engine,
//! the UDP sockets while it is up, and the ifnet-like state ifconfig asks about
//! (flags, MTU, rdomain, description, index).

use super::apply::SocketConf;
use super::netlink::{is_link_local, Rtnl};
use super::netns::{run_in, Netns, NetnsManager};
use super::offload::Offloads;
use super::reresolve::EndpointNames;
use super::routes::RouteWatch;
use super::udp::UdpSockets;
use super::worker::Plane;
use crate::ioctl::request::{iff, IfDrops, IfInfo, Inet4Addr, Inet6Addr};
use std::io;
use std::net::Ipv6Addr;
use std::sync::Arc;

/// OpenBSD's default wg MTU.
pub const DEFAULT_MTU: u32 = 1420;
/// SIOCSIFMTU bounds of if_wg.c.
pub const MTU_RANGE: std::ops::RangeInclusive<u32> = 1..=9000;
/// Packets the tun's transmit queue holds (the kernel's default for a tun is 500):
/// room for bursts while wgd is between reads, as a UDP sender is not slowed down
/// by a full queue but loses what does not fit.
pub const TXQUEUELEN: u32 = 1000;
/// Below this MTU Linux keeps no IPv6 state on a link.
pub const IPV6_MIN_MTU: u32 = 1280;

pub struct WgIf {
    pub name: String,
    pub unit: u32,
    /// The tun device, the UDP sockets while it is up, the protocol engine and the
    /// data-path state, as the worker threads share them.
    pub dp: Arc<Plane>,
    pub mtu: u32,
    pub description: String,
    pub rdomain: u32,
    /// The interface index in its current namespace.
    pub index: u32,
    /// rtnetlink in the namespace the tun is in.
    pub rtnl: Rtnl,
    /// The routes through the tun there, for the padding cap (None: they could not
    /// be followed, and padding ignores route MTUs).
    pub routes: Option<RouteWatch>,
    pub sock: SocketConf,
    /// The peers' endpoint host names (wg.4, WG_PEER_HAS_HOSTNAME).
    pub names: EndpointNames,
    /// IPv6 addresses in OpenBSD's list order (the link-local one first, then the
    /// others as added); Linux dumps them grouped by scope, newest first.
    pub v6_order: Vec<Ipv6Addr>,
}

/// `wg` + a decimal unit without leading zeros, at most 15 bytes.
pub fn parse_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("wg")?;
    if name.len() >= 16 || digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl WgIf {
    /// Flags as OpenBSD reports them.
    pub fn flags(&self) -> u32 {
        let mut f = iff::BROADCAST | iff::MULTICAST | iff::NOARP;
        let l = self.dp.link();
        if l.up() {
            f |= iff::UP | iff::RUNNING;
        }
        if l.debug {
            f |= iff::DEBUG;
        }
        f
    }

    pub fn info(&mut self) -> io::Result<IfInfo> {
        let (v4, mut v6) = self.rtnl.addrs(self.index)?;
        self.v6_order.retain(|a| v6.iter().any(|x| x.0 == *a));
        // Stable: an address not in the list (added behind wgd's back) goes last.
        v6.sort_by_key(|x| {
            self.v6_order
                .iter()
                .position(|a| *a == x.0)
                .unwrap_or(usize::MAX)
        });
        let d = self.dp.link().drops;
        Ok(IfInfo {
            drops: IfDrops {
                input: d.input,
                output: d.no_route + d.no_endpoint + d.output_other + d.send,
            },
            name: self.name.clone(),
            flags: self.flags(),
            mtu: self.mtu,
            rdomain: self.rdomain,
            index: self.index,
            description: self.description.clone(),
            groups: vec!["wg".into()],
            inet: v4
                .into_iter()
                .map(|(addr, prefixlen, broadcast)| Inet4Addr {
                    addr,
                    prefixlen,
                    broadcast,
                    dest: None,
                })
                .collect(),
            inet6: v6
                .into_iter()
                .map(|(addr, prefixlen, scope_id)| Inet6Addr {
                    addr,
                    prefixlen,
                    scope_id,
                })
                .collect(),
        })
    }

    /// OpenBSD configures no IPv6 link-local address until an inet6 address is added;
    /// Linux would add one whenever the link comes up. Stops that; to be repeated
    /// whenever the kernel resets the link's IPv6 state (a namespace move, an MTU
    /// raised back to 1280 or more). Best effort: without IPv6 state there is
    /// nothing to stop.
    pub fn no_auto_link_local(&mut self) {
        let _ = self.rtnl.set_addr_gen_mode_none(self.index);
    }

    /// Removes the link-local addresses the kernel made on its own (best effort).
    pub fn drop_link_local(&mut self) {
        if let Ok((_, v6)) = self.rtnl.addrs(self.index) {
            for (a, _, _) in v6.into_iter().filter(|x| is_link_local(&x.0)) {
                let _ = self.rtnl.del_addr(self.index, a.into());
            }
        }
    }

    /// in6_ifattach: the first IPv6 address brings a link-local one with it (fe80::
    /// and 64 random interface-identifier bits, as for an interface without a
    /// link-layer address), unless the link has one already.
    pub fn ensure_link_local(&mut self, rng: &mut impl rand_core::RngCore) -> io::Result<()> {
        let (_, v6) = self.rtnl.addrs(self.index)?;
        if v6.iter().any(|(a, _, _)| is_link_local(a)) {
            return Ok(());
        }
        let mut iid = [0u8; 8];
        rng.fill_bytes(&mut iid);
        // Universal/local bit clear: a locally made identifier (RFC 4291 appendix A).
        iid[0] &= !0x02;
        let mut b = [0u8; 16];
        b[..2].copy_from_slice(&[0xfe, 0x80]);
        b[8..].copy_from_slice(&iid);
        let ll = Ipv6Addr::from(b);
        self.rtnl.add_addr_v6(self.index, ll, 64)?;
        // in6_ifattach runs before the address is added: the link-local one is first.
        self.v6_order.insert(0, ll);
        Ok(())
    }

    /// Binds the UDP sockets in the wgrtable namespace.
    pub fn bind(&self, namespaces: &NetnsManager, offloads: &Offloads) -> io::Result<UdpSockets> {
        bind_in(namespaces, self.sock.rtable, self.sock.port, offloads)
    }
}

/// Binds a socket pair on `port` inside rdomain `rtable` (0: the daemon's own).
pub fn bind_in(
    namespaces: &NetnsManager,
    rtable: u32,
    port: u16,
    offloads: &Offloads,
) -> io::Result<UdpSockets> {
    if rtable == 0 {
        return UdpSockets::bind(port, offloads);
    }
    // OpenBSD answers EINVAL for a routing table that does not exist.
    let ns = namespaces
        .open(rtable)?
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let socks = run_in(&ns, || UdpSockets::bind(port, offloads))??;
    namespaces.hold(rtable, &ns)?;
    Ok(socks)
}

/// An rtnetlink handle inside `ns`.
pub fn rtnl_in(ns: &Netns) -> io::Result<Rtnl> {
    run_in(ns, Rtnl::new)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert_eq!(parse_name("wg0"), Some(0));
        assert_eq!(parse_name("wg12"), Some(12));
        for bad in [
            "wg",
            "wg01",
            "wgx",
            "eth0",
            "wg-1",
            "wg1 ",
            "wg12345678901234",
            "wg99999999999",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
