//! The routes through one interface, followed over rtnetlink in the namespace of its
//! rdomain, for the engine's padding cap (proto/routemtu.rs): Linux's wg pads to the
//! MTU of the packet's route, which a tun never shows wgd.
//!
//! A dump of the interface's routes, then the RTNLGRP_IPV4_ROUTE and
//! RTNLGRP_IPV6_ROUTE notifications. The interface's own link notifications
//! (RTNLGRP_LINK) and a socket that overflowed start a new dump: Linux removes a
//! link's IPv4 routes without a word when it goes down.
//!
//! A route counts when it is unicast, its output interface is this one (a multipath
//! route has none and is left out) and it is not a cached exception. Routes of one
//! prefix in several tables, or with several metrics, are merged into the smallest
//! MTU among them: padding too little costs only some of what padding hides, too
//! much a dropped packet.

use super::netlink::{messages, Rtnl};
use crate::proto::allowedips::masked;
use crate::proto::Interface;
use netlink_packet_core::{NetlinkPayload, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteMetric, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

/// rtnetlink multicast groups (linux/rtnetlink.h).
const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV4_ROUTE: u32 = 7;
const RTNLGRP_IPV6_ROUTE: u32 = 11;

/// What tells a route from the others in the kernel's tables: its prefix, table,
/// TOS and metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteKey {
    pub dst: IpAddr,
    pub len: u8,
    pub table: u32,
    pub tos: u8,
    pub priority: u32,
}

/// What one message says about the routes through the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// A route through it, with its MTU metric.
    Route(RouteKey, Option<u32>),
    /// That route is no longer through it (deleted, or replaced by one elsewhere).
    Gone(RouteKey),
    /// The interface's link changed: its routes are read again.
    Link,
}

/// The note a route message makes for link `index`, if any. `replace`: the message
/// carried NLM_F_REPLACE, so a route with its key through `index` is gone even if
/// this one goes elsewhere.
pub fn route_note(m: &RouteMessage, del: bool, replace: bool, index: u32) -> Option<Note> {
    let h = &m.header;
    let any = match h.address_family {
        AddressFamily::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    let bits = if any.is_ipv4() { 32 } else { 128 };
    if h.destination_prefix_length > bits || h.flags.contains(RouteFlags::Cloned) {
        return None;
    }
    let (mut dst, mut table, mut priority, mut oif, mut mtu) = (any, h.table as u32, 0, None, None);
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(a)) if any.is_ipv4() => {
                dst = IpAddr::V4(*a)
            }
            RouteAttribute::Destination(RouteAddress::Inet6(a)) if any.is_ipv6() => {
                dst = IpAddr::V6(*a)
            }
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Priority(p) => priority = *p,
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Metrics(ms) => {
                mtu = ms.iter().find_map(|x| match x {
                    RouteMetric::Mtu(v) if *v > 0 => Some(*v),
                    _ => None,
                })
            }
            _ => {}
        }
    }
    let len = h.destination_prefix_length;
    let key = RouteKey {
        dst: masked(dst, len),
        len,
        table,
        tos: h.tos,
        priority,
    };
    let here = oif == Some(index);
    match (del, here) {
        (false, true) if h.kind == RouteType::Unicast => Some(Note::Route(key, mtu)),
        (true, true) => Some(Note::Gone(key)),
        (false, _) if replace => Some(Note::Gone(key)),
        _ => None,
    }
}

/// The notes in one datagram of rtnetlink messages, for link `index`, appended to
/// `out`. A message that does not parse ends the datagram.
pub fn parse_notes(buf: &[u8], index: u32, out: &mut Vec<Note>) {
    for m in messages(buf) {
        let replace = m.header.flags & NLM_F_REPLACE != 0;
        let note = match m.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) => {
                route_note(&r, false, replace, index)
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(r)) => {
                route_note(&r, true, false, index)
            }
            NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::NewLink(l) | RouteNetlinkMessage::DelLink(l),
            ) if l.header.index == index => Some(Note::Link),
            _ => None,
        };
        out.extend(note);
    }
}

/// A change to the engine's route MTUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The prefix is routed through the interface, with this MTU (None: none).
    Set(IpAddr, u8, Option<u32>),
    /// No route of the prefix is through it any more.
    Remove(IpAddr, u8),
}

impl Change {
    pub fn apply(self, engine: &mut Interface) {
        match self {
            // The prefix length came from the kernel, within its family's width.
            Change::Set(a, l, m) => {
                let _ = engine.set_route_mtu(a, l, m);
            }
            Change::Remove(a, l) => engine.remove_route_mtu(a, l),
        }
    }
}

/// The change that takes the engine's entry for `a/l` from `old` to `new` (each
/// what [`RouteTable::merged`] says), if any.
fn change(a: IpAddr, l: u8, old: Option<Option<u32>>, new: Option<Option<u32>>) -> Option<Change> {
    match new {
        _ if old == new => None,
        Some(m) => Some(Change::Set(a, l, m)),
        None => Some(Change::Remove(a, l)),
    }
}

/// The routes through the interface, by key, with their MTU metric.
#[derive(Default, Debug)]
pub struct RouteTable {
    routes: BTreeMap<RouteKey, Option<u32>>,
}

impl RouteTable {
    pub fn apply(&mut self, n: Note) {
        match n {
            Note::Route(k, mtu) => {
                self.routes.insert(k, mtu);
            }
            Note::Gone(k) => {
                self.routes.remove(&k);
            }
            Note::Link => {}
        }
    }

    /// What the engine holds for a prefix: None if no route of it is through the
    /// interface, else the smallest MTU among them (None if none has one).
    pub fn merged(&self, dst: IpAddr, len: u8) -> Option<Option<u32>> {
        let key = |table, tos, priority| RouteKey {
            dst,
            len,
            table,
            tos,
            priority,
        };
        self.routes
            .range(key(0, 0, 0)..=key(u32::MAX, u8::MAX, u32::MAX))
            .map(|(_, m)| *m)
            .reduce(|a, b| match (a, b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            })
    }

    /// Applies `notes`; returns the changes the engine must make to follow.
    pub fn apply_all(&mut self, notes: &[Note]) -> Vec<Change> {
        let mut before = BTreeMap::new();
        for &n in notes {
            if let Note::Route(k, _) | Note::Gone(k) = n {
                before
                    .entry((k.dst, k.len))
                    .or_insert_with(|| self.merged(k.dst, k.len));
                self.apply(n);
            }
        }
        before
            .into_iter()
            .filter_map(|((a, l), old)| change(a, l, old, self.merged(a, l)))
            .collect()
    }

    /// Becomes `fresh` (a new dump); returns the changes the engine must make to
    /// follow.
    pub fn replace(&mut self, fresh: RouteTable) -> Vec<Change> {
        let prefixes: BTreeSet<(IpAddr, u8)> = self
            .routes
            .keys()
            .chain(fresh.routes.keys())
            .map(|k| (k.dst, k.len))
            .collect();
        let changes = prefixes
            .into_iter()
            .filter_map(|(a, l)| change(a, l, self.merged(a, l), fresh.merged(a, l)))
            .collect();
        *self = fresh;
        changes
    }
}

/// The route and link notifications of the namespace it was made in, for the
/// interface of index `index` there, and what wgd knows of its routes.
pub struct RouteWatch {
    sock: Socket,
    index: u32,
    table: RouteTable,
    /// The routes are to be dumped again before notes are trusted.
    stale: bool,
}

impl RouteWatch {
    /// Subscribes in the calling thread's namespace. The first [`RouteWatch::update`]
    /// dumps the routes.
    pub fn new(index: u32) -> io::Result<RouteWatch> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(0, 0))?;
        for g in [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK] {
            sock.add_membership(g)?;
        }
        sock.set_non_blocking(true)?;
        Ok(RouteWatch {
            sock,
            index,
            table: RouteTable::default(),
            stale: true,
        })
    }

    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }

    /// Reads every queued notification, dumps the routes through `rtnl` (a handle on
    /// the same namespace) when they may have changed unseen, and returns what the
    /// engine must change to follow. A dump that fails is tried again next time.
    pub fn update(&mut self, rtnl: &mut Rtnl) -> io::Result<Vec<Change>> {
        let mut notes = Vec::new();
        loop {
            match self.sock.recv_from_full() {
                Ok((b, _)) if b.is_empty() => break,
                Ok((b, _)) => parse_notes(&b, self.index, &mut notes),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ENOBUFS: the kernel dropped notifications; read on.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => self.stale = true,
                Err(e) => {
                    self.stale = true;
                    return Err(e);
                }
            }
        }
        if !self.stale && !notes.contains(&Note::Link) {
            return Ok(self.table.apply_all(&notes));
        }
        // The notes read so far are older than the dump, which replaces them.
        self.stale = true;
        let mut fresh = RouteTable::default();
        for m in rtnl.routes(self.index)? {
            if let Some(n) = route_note(&m, false, false, self.index) {
                fresh.apply(n);
            }
        }
        self.stale = false;
        Ok(self.table.replace(fresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NLM_F_REQUEST};
    use netlink_packet_route::link::LinkMessage;

    fn hex(s: &str) -> Vec<u8> {
        ::hex::decode(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn key(dst: &str, len: u8, table: u32, priority: u32) -> RouteKey {
        RouteKey {
            dst: ip(dst),
            len,
            table,
            tos: 0,
            priority,
        }
    }

    // What Linux 6.x sent to RTNLGRP_IPV4_ROUTE / RTNLGRP_IPV6_ROUTE for these `ip`
    // commands in a namespace where the link of index 3 has MTU 1300 (and 2 is
    // another link), captured from a netlink socket.
    /// `ip route add 192.168.241.2/32 dev X mtu 1299`
    const ADD_V4: &str = "4000000018000006c8bd0f6bae69000002200000fe03fd010000000008000f00fe00000008000100c0a8f1020c00080008000200130500000800040003000000";
    /// `ip -6 route add fd00::1/128 dev X mtu 1290`
    const ADD_V6: &str = "8000000018000006c8bd0f6baf6900000a800000fe0300010000000008000f00fe00000014000100fd0000000000000000000000000000010c000800080002000a0500000800060000040000080004000300000024000c0000000000000000000000000000000000000000000000000000000000000000000500140000000000";
    /// `ip route del 192.168.241.2/32 dev X`
    const DEL_V4: &str = "4000000019000000c8bd0f6bb069000002200000fe03fd010000000008000f00fe00000008000100c0a8f1020c00080008000200130500000800040003000000";
    /// `ip route add 10.0.0.0/8 dev X table 1000 metric 5` (no MTU)
    const ADD_TABLE: &str = "3c00000018000006c8bd0f6bb169000002080000fc03fd010000000008000f00e8030000080001000a00000008000600050000000800040003000000";
    /// `ip route add 10.1.0.0/16 dev X mtu 1200`, then `ip route replace 10.1.0.0/16
    /// dev Y`
    const ADD_REPLACED: &str = "4000000018000006c8bd0f6bb269000002100000fe03fd010000000008000f00fe000000080001000a0100000c00080008000200b00400000800040003000000";
    const REPLACE_ELSEWHERE: &str = "3400000018000001c8bd0f6bb369000002100000fe03fd010000000008000f00fe000000080001000a0100000800040002000000";

    fn parse(h: &str, index: u32) -> Vec<Note> {
        let mut out = Vec::new();
        parse_notes(&hex(h), index, &mut out);
        out
    }

    #[test]
    fn kernel_notifications_parse() {
        assert_eq!(
            parse(ADD_V4, 3),
            vec![Note::Route(key("192.168.241.2", 32, 254, 0), Some(1299))]
        );
        assert_eq!(
            parse(ADD_V6, 3),
            vec![Note::Route(key("fd00::1", 128, 254, 1024), Some(1290))]
        );
        assert_eq!(
            parse(DEL_V4, 3),
            vec![Note::Gone(key("192.168.241.2", 32, 254, 0))]
        );
        assert_eq!(
            parse(ADD_TABLE, 3),
            vec![Note::Route(key("10.0.0.0", 8, 1000, 5), None)]
        );
        assert_eq!(
            parse(ADD_REPLACED, 3),
            vec![Note::Route(key("10.1.0.0", 16, 254, 0), Some(1200))]
        );
        // Replaced by a route through link 2: gone from link 3.
        assert_eq!(
            parse(REPLACE_ELSEWHERE, 3),
            vec![Note::Gone(key("10.1.0.0", 16, 254, 0))]
        );
        // Seen from link 2: the route is through it now.
        assert_eq!(
            parse(REPLACE_ELSEWHERE, 2),
            vec![Note::Route(key("10.1.0.0", 16, 254, 0), None)]
        );
        // Another link's routes, added or deleted, say nothing about link 9.
        for h in [ADD_V4, ADD_V6, DEL_V4, ADD_TABLE, ADD_REPLACED] {
            assert_eq!(parse(h, 9), vec![], "{h}");
        }
        // Several messages in one datagram; a truncated one ends it.
        let mut two = hex(ADD_V4);
        two.extend(hex(DEL_V4));
        two.extend(&hex(ADD_V6)[..40]);
        let mut out = Vec::new();
        parse_notes(&two, 3, &mut out);
        assert_eq!(out.len(), 2);
        assert!(matches!(out[1], Note::Gone(_)));
    }

    fn route_msg(h: &str) -> RouteMessage {
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&hex(h))
            .unwrap()
            .payload
        {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_unicast_routes_that_are_not_cached_exceptions() {
        let m = route_msg(ADD_V4);
        assert!(route_note(&m, false, false, 3).is_some());
        for kind in [RouteType::Local, RouteType::Broadcast, RouteType::Multicast] {
            let mut x = m.clone();
            x.header.kind = kind;
            assert_eq!(route_note(&x, false, false, 3), None, "{kind:?}");
            // Deleting one is harmless: it was never kept.
            assert!(matches!(
                route_note(&x, true, false, 3),
                Some(Note::Gone(_))
            ));
        }
        let mut x = m.clone();
        x.header.flags = RouteFlags::Cloned;
        assert_eq!(route_note(&x, false, false, 3), None);
        // No destination: the default route of the family.
        let mut x = m.clone();
        x.header.destination_prefix_length = 0;
        x.attributes
            .retain(|a| !matches!(a, RouteAttribute::Destination(_)));
        assert_eq!(
            route_note(&x, false, false, 3),
            Some(Note::Route(key("0.0.0.0", 0, 254, 0), Some(1299)))
        );
        // A prefix longer than the family allows, or another family: nothing.
        let mut x = m.clone();
        x.header.destination_prefix_length = 33;
        assert_eq!(route_note(&x, false, false, 3), None);
        let mut x = m.clone();
        x.header.address_family = AddressFamily::Mpls;
        assert_eq!(route_note(&x, false, false, 3), None);
        // Host bits are masked: the kernel refuses them, the table must not care.
        let mut x = m;
        x.header.destination_prefix_length = 24;
        assert_eq!(
            route_note(&x, false, false, 3),
            Some(Note::Route(key("192.168.241.0", 24, 254, 0), Some(1299)))
        );
    }

    #[test]
    fn link_messages_of_the_interface_only() {
        let msg = |index| {
            let mut l = LinkMessage::default();
            l.header.index = index;
            let mut h = NetlinkHeader::default();
            h.flags = NLM_F_REQUEST;
            let mut m =
                NetlinkMessage::new(h, NetlinkPayload::from(RouteNetlinkMessage::NewLink(l)));
            m.finalize();
            let mut b = vec![0u8; m.buffer_len()];
            m.serialize(&mut b);
            b
        };
        let mut out = Vec::new();
        parse_notes(&msg(3), 3, &mut out);
        parse_notes(&msg(4), 3, &mut out);
        assert_eq!(out, vec![Note::Link]);
    }

    #[test]
    fn table_merges_a_prefixs_routes_and_reports_changes() {
        let mut t = RouteTable::default();
        let p = ip("10.1.0.0");
        let changes = t.apply_all(&[
            Note::Route(key("10.1.0.0", 16, 254, 0), Some(1300)),
            Note::Route(key("10.2.0.0", 16, 254, 0), None),
            Note::Link,
        ]);
        assert_eq!(
            changes,
            vec![
                Change::Set(p, 16, Some(1300)),
                Change::Set(ip("10.2.0.0"), 16, None)
            ]
        );
        // The same prefix in another table with a smaller MTU: the smaller.
        let c = t.apply_all(&[Note::Route(key("10.1.0.0", 16, 1000, 5), Some(1280))]);
        assert_eq!(c, vec![Change::Set(p, 16, Some(1280))]);
        // A third without an MTU changes nothing the engine sees.
        let c = t.apply_all(&[Note::Route(key("10.1.0.0", 16, 254, 100), None)]);
        assert_eq!(c, vec![]);
        // Replacing a route with itself, or deleting one unknown, neither.
        let c = t.apply_all(&[
            Note::Route(key("10.1.0.0", 16, 1000, 5), Some(1280)),
            Note::Gone(key("10.9.0.0", 16, 254, 0)),
        ]);
        assert_eq!(c, vec![]);
        let c = t.apply_all(&[Note::Gone(key("10.1.0.0", 16, 1000, 5))]);
        assert_eq!(c, vec![Change::Set(p, 16, Some(1300))]);
        // Gone and back in one batch: no change.
        let c = t.apply_all(&[
            Note::Gone(key("10.1.0.0", 16, 254, 0)),
            Note::Route(key("10.1.0.0", 16, 254, 0), Some(1300)),
        ]);
        assert_eq!(c, vec![]);
        let c = t.apply_all(&[
            Note::Gone(key("10.1.0.0", 16, 254, 0)),
            Note::Gone(key("10.1.0.0", 16, 254, 100)),
        ]);
        assert_eq!(c, vec![Change::Remove(p, 16)]);
        assert_eq!(t.merged(p, 16), None);
        assert_eq!(t.merged(ip("10.2.0.0"), 16), Some(None));
        // Prefixes differing only in length are apart.
        t.apply_all(&[Note::Route(key("10.2.0.0", 15, 254, 0), Some(1000))]);
        assert_eq!(t.merged(ip("10.2.0.0"), 16), Some(None));
        assert_eq!(t.merged(ip("10.2.0.0"), 15), Some(Some(1000)));
    }

    #[test]
    fn a_new_dump_replaces_the_table_with_the_difference() {
        let mut t = RouteTable::default();
        t.apply_all(&[
            Note::Route(key("10.1.0.0", 16, 254, 0), Some(1300)),
            Note::Route(key("10.2.0.0", 16, 254, 0), None),
            Note::Route(key("fd00::", 64, 254, 1024), Some(1280)),
        ]);
        let mut fresh = RouteTable::default();
        fresh.apply_all(&[
            Note::Route(key("10.1.0.0", 16, 254, 0), Some(1300)),
            Note::Route(key("fd00::", 64, 254, 1024), Some(1290)),
            Note::Route(key("10.3.0.0", 16, 254, 0), Some(1200)),
        ]);
        let c = t.replace(fresh);
        assert_eq!(
            c,
            vec![
                Change::Remove(ip("10.2.0.0"), 16),
                Change::Set(ip("10.3.0.0"), 16, Some(1200)),
                Change::Set(ip("fd00::"), 64, Some(1290)),
            ]
        );
        assert_eq!(t.merged(ip("10.3.0.0"), 16), Some(Some(1200)));
        assert_eq!(t.replace(RouteTable::default()).len(), 3);
    }

    #[test]
    fn changes_reach_the_engine() {
        let mut e = Interface::new(
            crate::test_origin(),
            &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1),
        );
        Change::Set(ip("10.1.0.0"), 16, Some(1300)).apply(&mut e);
        Change::Set(ip("fd00::"), 64, None).apply(&mut e);
        Change::Set(ip("10.0.0.0"), 99, None).apply(&mut e);
        Change::Remove(ip("fd00::"), 64).apply(&mut e);
        assert_eq!(e.route_mtus(), vec![(ip("10.1.0.0"), 16, Some(1300))]);
    }
}
