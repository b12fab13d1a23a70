//! A synchronous rtnetlink handle (netlink-packet-route over a blocking netlink-sys
//! socket): link state, MTU, namespace moves, addresses and routes of the tun devices. A
//! handle works in the namespace it was created in; make one for another namespace
//! inside `netns::run_in`. Kernel errors come back as io::Error with the errno, so
//! the control server can forward them.

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, LinkAttribute, LinkFlags, LinkMessage,
};
use netlink_packet_route::route::{RouteAttribute, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};

use super::netns::Netns;

/// One IPv4 address of a link: address, prefix length, broadcast.
pub type Addr4 = (Ipv4Addr, u8, Option<Ipv4Addr>);
/// One IPv6 address of a link: address, prefix length, scope id (the link index for
/// link-local addresses, else 0).
pub type Addr6 = (Ipv6Addr, u8, u32);

/// fe80::/10.
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

pub struct Rtnl {
    sock: Socket,
    seq: u32,
}

impl Rtnl {
    /// A handle on the calling thread's namespace.
    pub fn new() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        // Strict checking makes the kernel honour a dump's filter (the link of an
        // address dump), so a status query costs that link's addresses, not every
        // address of the namespace (Linux 4.20 and later; older kernels dump all and
        // the filter below still applies).
        let _ = sock.set_netlink_get_strict_chk(true);
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Rtnl { sock, seq: 0 })
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut m = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        m.finalize();
        let mut buf = vec![0u8; m.buffer_len()];
        m.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        Ok(())
    }

    /// Reads replies to the last request until its ACK (or Done, for dumps),
    /// collecting the inner messages.
    fn collect(&mut self) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut out = Vec::new();
        loop {
            let (buf, _) = self.sock.recv_from_full()?;
            let mut off = 0;
            while off < buf.len() {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[off..])
                    .map_err(|e| io::Error::other(format!("rtnetlink: {e}")))?;
                let len = m.header.length as usize;
                if len == 0 {
                    return Err(io::Error::other("rtnetlink: zero-length message"));
                }
                off += len;
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(c) => Err(io::Error::from_raw_os_error(-c.get())),
                        }
                    }
                    NetlinkPayload::InnerMessage(i) => out.push(i),
                    _ => {}
                }
            }
        }
    }

    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.send(msg, NLM_F_ACK | flags)?;
        self.collect().map(drop)
    }

    /// The index of the link `name`, if it exists here.
    pub fn link_index(&mut self, name: &str) -> io::Result<Option<u32>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.send(RouteNetlinkMessage::GetLink(m), NLM_F_ACK)?;
        match self.collect() {
            Ok(v) => Ok(v.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_link(&mut self, index: u32, f: impl FnOnce(&mut LinkMessage)) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        f(&mut m);
        self.request(RouteNetlinkMessage::SetLink(m), 0)
    }

    pub fn set_up(&mut self, index: u32, up: bool) -> io::Result<()> {
        self.set_link(index, |m| {
            m.header.change_mask = LinkFlags::Up;
            m.header.flags = if up {
                LinkFlags::Up
            } else {
                LinkFlags::empty()
            };
        })
    }

    /// Whether link `index` is up (IFF_UP) and its MTU; None if there is no such link.
    pub fn link_state(&mut self, index: u32) -> io::Result<Option<(bool, u32)>> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.send(RouteNetlinkMessage::GetLink(m), NLM_F_ACK)?;
        match self.collect() {
            Ok(v) => Ok(v.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) if l.header.index == index => {
                    let mtu = l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::Mtu(m) => Some(*m),
                        _ => None,
                    });
                    Some((l.header.flags.contains(LinkFlags::Up), mtu.unwrap_or(0)))
                }
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> io::Result<()> {
        self.set_link(index, |m| m.attributes.push(LinkAttribute::Mtu(mtu)))
    }

    /// The length of the link's transmit queue, in packets.
    pub fn set_txqlen(&mut self, index: u32, packets: u32) -> io::Result<()> {
        self.set_link(index, |m| {
            m.attributes.push(LinkAttribute::TxQueueLen(packets))
        })
    }

    /// IN6_ADDR_GEN_MODE_NONE: the kernel adds no link-local address when the link
    /// comes up. Fails with EAFNOSUPPORT while the link has no IPv6 state (MTU < 1280).
    pub fn set_addr_gen_mode_none(&mut self, index: u32) -> io::Result<()> {
        const IN6_ADDR_GEN_MODE_NONE: u8 = 1;
        self.set_link(index, |m| {
            m.attributes
                .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                    vec![AfSpecInet6::AddrGenMode(IN6_ADDR_GEN_MODE_NONE)],
                )]))
        })
    }

    /// Moves the link into `ns` (Linux drops its addresses on the way).
    pub fn move_to_netns(&mut self, index: u32, ns: &Netns) -> io::Result<()> {
        let fd = ns.as_fd().as_raw_fd();
        self.set_link(index, |m| m.attributes.push(LinkAttribute::NetNsFd(fd)))
    }

    fn addr_msg(index: u32, addr: IpAddr, prefix_len: u8) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = if addr.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        m.header.prefix_len = prefix_len;
        m.header.index = index;
        m.header.scope = AddressScope::Universe;
        m.attributes.push(AddressAttribute::Local(addr));
        m.attributes.push(AddressAttribute::Address(addr));
        m
    }

    pub fn add_addr_v4(
        &mut self,
        index: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
        broadcast: Option<Ipv4Addr>,
    ) -> io::Result<()> {
        let mut m = Self::addr_msg(index, IpAddr::V4(addr), prefix_len);
        if let Some(b) = broadcast {
            m.attributes.push(AddressAttribute::Broadcast(b));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    pub fn add_addr_v6(&mut self, index: u32, addr: Ipv6Addr, prefix_len: u8) -> io::Result<()> {
        let m = Self::addr_msg(index, IpAddr::V6(addr), prefix_len);
        self.request(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Deletes `addr` from the link, whatever its prefix length.
    pub fn del_addr(&mut self, index: u32, addr: IpAddr) -> io::Result<()> {
        let (v4, v6) = self.addrs(index)?;
        let prefix = match addr {
            IpAddr::V4(a) => v4.iter().find(|x| x.0 == a).map(|x| x.1),
            IpAddr::V6(a) => v6.iter().find(|x| x.0 == a).map(|x| x.1),
        };
        let Some(prefix) = prefix else {
            return Err(io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        };
        let m = Self::addr_msg(index, addr, prefix);
        self.request(RouteNetlinkMessage::DelAddress(m), 0)
    }

    /// The addresses of the link, in the kernel's order.
    pub fn addrs(&mut self, index: u32) -> io::Result<(Vec<Addr4>, Vec<Addr6>)> {
        let mut filter = AddressMessage::default();
        filter.header.index = index;
        self.send(RouteNetlinkMessage::GetAddress(filter), NLM_F_DUMP)?;
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for r in self.collect()? {
            let RouteNetlinkMessage::NewAddress(a) = r else {
                continue;
            };
            if a.header.index != index {
                continue;
            }
            let mut local = None;
            let mut address = None;
            let mut brd = None;
            for at in &a.attributes {
                match at {
                    AddressAttribute::Local(ip) => local = Some(*ip),
                    AddressAttribute::Address(ip) => address = Some(*ip),
                    AddressAttribute::Broadcast(b) => brd = Some(*b),
                    _ => {}
                }
            }
            match local.or(address) {
                Some(IpAddr::V4(ip)) => v4.push((ip, a.header.prefix_len, brd)),
                Some(IpAddr::V6(ip)) => {
                    let scope = if is_link_local(&ip) { index } else { 0 };
                    v6.push((ip, a.header.prefix_len, scope))
                }
                None => {}
            }
        }
        Ok((v4, v6))
    }
    /// The IPv4 and IPv6 routes whose output interface is link `index`, in every
    /// table (the kernel filters by the link under strict checking; older kernels
    /// send every route, which the caller sorts out).
    pub fn routes(&mut self, index: u32) -> io::Result<Vec<RouteMessage>> {
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut filter = RouteMessage::default();
            filter.header.address_family = family;
            filter.attributes.push(RouteAttribute::Oif(index));
            self.send(RouteNetlinkMessage::GetRoute(filter), NLM_F_DUMP)?;
            out.extend(self.collect()?.into_iter().filter_map(|r| match r {
                RouteNetlinkMessage::NewRoute(m) => Some(m),
                _ => None,
            }));
        }
        Ok(out)
    }
}

/// The rtnetlink messages of one datagram, in order; one that does not parse ends
/// it.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = NetlinkMessage<RouteNetlinkMessage>> + '_ {
    let mut off = 0;
    std::iter::from_fn(move || {
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf.get(off..)?).ok()?;
        let len = m.header.length as usize;
        if len == 0 {
            return None;
        }
        off += len;
        Some(m)
    })
}

/// rtnetlink's link notifications (RTNLGRP_LINK) in the namespace it was made in:
/// how wgd learns that someone else (`ip link set up`, wg-quick) changed a link.
pub struct LinkMonitor {
    sock: Socket,
}

/// `RTMGRP_LINK`, the legacy group mask of RTNLGRP_LINK.
const RTMGRP_LINK: u32 = 1;

impl LinkMonitor {
    pub fn new() -> io::Result<LinkMonitor> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(0, RTMGRP_LINK))?;
        sock.set_non_blocking(true)?;
        Ok(LinkMonitor { sock })
    }

    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }

    /// The indexes of the links a notification was about, until none is queued.
    /// None when notifications were lost (the socket overflowed): every link must
    /// be looked at again.
    pub fn drain(&mut self) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        let mut lost = false;
        loop {
            let buf = match self.sock.recv_from_full() {
                Ok((b, _)) => b,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // The kernel dropped notifications.
                    lost = true;
                    continue;
                }
                Err(_) => {
                    lost = true;
                    break;
                }
            };
            if buf.is_empty() {
                break;
            }
            for m in messages(&buf) {
                if let NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::NewLink(l) | RouteNetlinkMessage::DelLink(l),
                ) = m.payload
                {
                    if !out.contains(&l.header.index) {
                        out.push(l.header.index);
                    }
                }
            }
        }
        (!lost).then_some(out)
    }
}
