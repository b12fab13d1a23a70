//! The requests a client can make of wgd, and the replies.
//!
//! These travel inside the versioned, postcard-encoded envelope of `frame.rs`.
//! SIOCSWG/SIOCGWG carry the `wg_data_io` buffer bytes untouched (see `codec.rs`);
//! the generic interface requests mirror the OpenBSD ioctls ifconfig(8) uses.

use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// OpenBSD interface flags (`IFF_*`, sys/net/if.h) as reported and set through wgd.
pub mod iff {
    pub const UP: u32 = 0x1;
    pub const BROADCAST: u32 = 0x2;
    pub const DEBUG: u32 = 0x4;
    pub const LOOPBACK: u32 = 0x8;
    pub const POINTOPOINT: u32 = 0x10;
    pub const STATICARP: u32 = 0x20;
    pub const RUNNING: u32 = 0x40;
    pub const NOARP: u32 = 0x80;
    pub const PROMISC: u32 = 0x100;
    pub const ALLMULTI: u32 = 0x200;
    pub const OACTIVE: u32 = 0x400;
    pub const SIMPLEX: u32 = 0x800;
    pub const LINK0: u32 = 0x1000;
    pub const LINK1: u32 = 0x2000;
    pub const LINK2: u32 = 0x4000;
    pub const MULTICAST: u32 = 0x8000;
}

/// An IPv4 address with its netmask as a prefix length, plus the broadcast address
/// (`SIOCAIFADDR`'s `in_aliasreq`). `dest` is for point-to-point use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inet4Addr {
    pub addr: Ipv4Addr,
    pub prefixlen: u8,
    pub broadcast: Option<Ipv4Addr>,
    pub dest: Option<Ipv4Addr>,
}

/// An IPv6 address with its prefix length (`SIOCAIFADDR_IN6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inet6Addr {
    pub addr: Ipv6Addr,
    pub prefixlen: u8,
    /// Scope id for link-local addresses (0 otherwise).
    pub scope_id: u32,
}

/// Packets the interface dropped, from wgd's data path counters (what Linux
/// would show as the link's rx/tx drops). Not part of the status text; reported
/// by `wgifconfig --prometheus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IfDrops {
    /// Datagrams received that were malformed, failed authentication or were
    /// refused under load.
    pub input: u64,
    /// Outbound packets that could not be sent: no peer's allowed IPs cover
    /// them, their peer has no endpoint, the interface is down, or sending failed.
    pub output: u64,
}

/// What `ifconfig` learns about one interface (SIOCGIFFLAGS, SIOCGIFMTU,
/// SIOCGIFRDOMAIN, SIOCGIFDESCR, SIOCGIFINDEX, SIOCGIFGROUP, getifaddrs).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IfInfo {
    pub name: String,
    /// OpenBSD `IFF_*` bits (see [`iff`]).
    pub flags: u32,
    pub mtu: u32,
    pub rdomain: u32,
    pub index: u32,
    pub description: String,
    /// Interface groups in OpenBSD order, without `all` (e.g. `["wg"]`).
    pub groups: Vec<String>,
    pub inet: Vec<Inet4Addr>,
    pub inet6: Vec<Inet6Addr>,
    /// wgd's drop counters for the interface.
    pub drops: IfDrops,
}

/// One request. Every variant but `ListInterfaces` names an interface (`ifname`
/// in the envelope).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// SIOCSWG: `data` is the packed `wg_interface_io` buffer (`wgd_size` = its length).
    SetWg { data: Vec<u8> },
    /// SIOCGWG: `size` is `wgd_size`, the capacity the caller offers.
    GetWg { size: u64 },
    /// SIOCIFCREATE.
    Create,
    /// SIOCIFDESTROY.
    Destroy,
    /// SIOCGIFFLAGS + SIOCGIFMTU + … : the whole [`IfInfo`].
    GetInfo,
    /// SIOCSIFFLAGS: the new OpenBSD `IFF_*` word (only UP and DEBUG are writable).
    SetFlags { flags: u32 },
    /// SIOCSIFMTU.
    SetMtu { mtu: u32 },
    /// SIOCSIFRDOMAIN (0 = back to the daemon's namespace).
    SetRdomain { rdomain: u32 },
    /// SIOCSIFDESCR (empty = remove).
    SetDescription { description: String },
    /// SIOCAIFADDR.
    AddInet(Inet4Addr),
    /// SIOCDIFADDR.
    DelInet(Ipv4Addr),
    /// SIOCAIFADDR_IN6.
    AddInet6(Inet6Addr),
    /// SIOCDIFADDR_IN6.
    DelInet6(Ipv6Addr),
    /// getifaddrs(3) + SIOCGIFGROUP over every interface, in index order.
    ListInterfaces,
}

impl Request {
    /// Whether the request only reads: the requests a caller other than root may
    /// make (OpenBSD's suser() check guards every other one).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Request::GetWg { .. } | Request::GetInfo | Request::ListInterfaces
        )
    }
}

/// A successful reply's body; failures carry only an errno (see `frame.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// No data (set requests, create, destroy).
    Done,
    /// SIOCGWG: `size` is the updated `wgd_size`; `data` is empty when the capacity
    /// was too small (the size query), else the packed buffer.
    Wg {
        size: u64,
        data: Vec<u8>,
    },
    Info(IfInfo),
    Interfaces(Vec<IfInfo>),
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One request of each kind (a new variant must be added here), with arguments
    /// in range.
    pub(crate) fn one_of_each() -> [Request; 14] {
        let a4 = Inet4Addr {
            addr: Ipv4Addr::new(192, 0, 2, 1),
            prefixlen: 24,
            broadcast: None,
            dest: None,
        };
        let a6 = Inet6Addr {
            addr: Ipv6Addr::LOCALHOST,
            prefixlen: 128,
            scope_id: 0,
        };
        [
            Request::SetWg { data: vec![] },
            Request::GetWg { size: 0 },
            Request::Create,
            Request::Destroy,
            Request::GetInfo,
            Request::SetFlags { flags: 0 },
            Request::SetMtu { mtu: 1420 },
            Request::SetRdomain { rdomain: 1 },
            Request::SetDescription {
                description: String::new(),
            },
            Request::AddInet(a4),
            Request::DelInet(Ipv4Addr::LOCALHOST),
            Request::AddInet6(a6),
            Request::DelInet6(Ipv6Addr::LOCALHOST),
            Request::ListInterfaces,
        ]
    }

    /// Every request, classified by hand.
    #[test]
    fn only_reads_are_reads() {
        for r in one_of_each() {
            let read = match r {
                Request::GetWg { .. } | Request::GetInfo | Request::ListInterfaces => true,
                Request::SetWg { .. }
                | Request::Create
                | Request::Destroy
                | Request::SetFlags { .. }
                | Request::SetMtu { .. }
                | Request::SetRdomain { .. }
                | Request::SetDescription { .. }
                | Request::AddInet(_)
                | Request::DelInet(_)
                | Request::AddInet6(_)
                | Request::DelInet6(_) => false,
            };
            assert_eq!(r.is_read(), read, "{r:?}");
        }
    }
}
