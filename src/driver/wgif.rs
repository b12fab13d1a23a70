//! One wgN interface as the daemon holds it: its tun device, the protocol engine,
//! the UDP sockets while it is up, and the ifnet-like state ifconfig asks about
//! (flags, MTU, rdomain, description, index).

use super::apply::SocketConf;
use super::link::Link;
use super::netlink::Rtnl;
use super::netns::{run_in, Netns, NetnsManager};
use super::tun::Tun;
use super::udp::UdpSockets;
use crate::ioctl::request::{iff, IfInfo, Inet4Addr, Inet6Addr};
use std::io;

/// OpenBSD's default wg MTU.
pub const DEFAULT_MTU: u32 = 1420;
/// SIOCSIFMTU bounds of if_wg.c.
pub const MTU_RANGE: std::ops::RangeInclusive<u32> = 1..=9000;

pub struct WgIf {
    pub name: String,
    pub unit: u32,
    pub tun: Tun,
    /// The protocol engine and the data-path state.
    pub link: Link,
    pub mtu: u32,
    pub description: String,
    pub rdomain: u32,
    /// The interface index in its current namespace.
    pub index: u32,
    /// rtnetlink in the namespace the tun is in.
    pub rtnl: Rtnl,
    pub sock: SocketConf,
    pub udp: Option<UdpSockets>,
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

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

impl WgIf {
    /// Flags as OpenBSD reports them.
    pub fn flags(&self) -> u32 {
        let mut f = iff::BROADCAST | iff::MULTICAST | iff::NOARP;
        if self.link.up {
            f |= iff::UP | iff::RUNNING;
        }
        if self.link.debug {
            f |= iff::DEBUG;
        }
        f
    }

    pub fn info(&mut self) -> io::Result<IfInfo> {
        let (v4, v6) = self.rtnl.addrs(self.index)?;
        Ok(IfInfo {
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

    /// Binds the UDP sockets in the wgrtable namespace.
    pub fn bind(&self, namespaces: &NetnsManager) -> io::Result<UdpSockets> {
        bind_in(namespaces, self.sock.rtable, self.sock.port)
    }
}

/// Binds a socket pair on `port` inside rdomain `rtable` (0: the daemon's own).
pub fn bind_in(namespaces: &NetnsManager, rtable: u32, port: u16) -> io::Result<UdpSockets> {
    if rtable == 0 {
        return UdpSockets::bind(port);
    }
    // OpenBSD answers EINVAL for a routing table that does not exist.
    let ns = namespaces
        .open(rtable)?
        .ok_or_else(|| errno(libc::EINVAL))?;
    run_in(&ns, || UdpSockets::bind(port))?
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
