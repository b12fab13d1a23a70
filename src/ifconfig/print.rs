//! Status text exactly as OpenBSD ifconfig(8) prints it for a wg interface:
//! `status()`'s header, description and index lines, `wg_status()`, the groups
//! line and the inet/inet6 lines. `now` (wall-clock seconds) is an argument so
//! `last handshake` is deterministic.

use super::addr::len_mask;
use super::key::format_key;
use super::parse::Af;
use crate::ioctl::model::InterfaceIo;
use crate::ioctl::request::IfInfo;
use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// IFFBITS names in bit order (bit n+1 = 1 << n); xflags are shifted left 16.
const FLAG_NAMES: &[(u32, &str)] = &[
    (0x1, "UP"),
    (0x2, "BROADCAST"),
    (0x4, "DEBUG"),
    (0x8, "LOOPBACK"),
    (0x10, "POINTOPOINT"),
    (0x20, "STATICARP"),
    (0x40, "RUNNING"),
    (0x80, "NOARP"),
    (0x100, "PROMISC"),
    (0x200, "ALLMULTI"),
    (0x400, "OACTIVE"),
    (0x800, "SIMPLEX"),
    (0x1000, "LINK0"),
    (0x2000, "LINK1"),
    (0x4000, "LINK2"),
    (0x8000, "MULTICAST"),
    (1 << 18, "AUTOCONF6TEMP"),
    (1 << 19, "MPLS"),
    (1 << 20, "WOL"),
    (1 << 21, "AUTOCONF6"),
    (1 << 22, "INET6_NOSOII"),
    (1 << 23, "AUTOCONF4"),
    (1 << 24, "MONITOR"),
    (1 << 25, "LRO"),
];

/// The names of the bits set in `v`, in printb(3) order.
pub fn flag_names(v: u32) -> Vec<&'static str> {
    FLAG_NAMES
        .iter()
        .filter(|(bit, _)| v & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// printb("flags", v, IFFBITS): `flags=8082<BROADCAST,NOARP,MULTICAST>`.
pub fn flags_text(v: u32) -> String {
    format!("flags={v:x}<{}>", flag_names(v).join(","))
}

/// How much to show: `ifconfig wgN` / `-A` list peers and every inet address
/// (`ifaliases`); `-a` and bare `ifconfig` do not. `af` restricts the address
/// lines to one family (`ifconfig wg0 inet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub ifaliases: bool,
    pub af: Option<Af>,
}

/// The `wg_status()` lines.
pub fn wg_section(out: &mut String, wg: &InterfaceIo, ifaliases: bool, now: i64) {
    if let Some(port) = wg.port {
        let _ = writeln!(out, "\twgport {port}");
    }
    if let Some(rt) = wg.rtable {
        let _ = writeln!(out, "\twgrtable {rt}");
    }
    if let Some(pubkey) = &wg.public {
        let _ = writeln!(out, "\twgpubkey {}", format_key(pubkey));
    }
    if !ifaliases {
        return;
    }
    for p in &wg.peers {
        let key = p.public.as_ref().map(format_key).unwrap_or_default();
        let _ = writeln!(out, "\twgpeer {key}");
        if let Some(d) = p.description.as_deref().filter(|d| !d.is_empty()) {
            let _ = writeln!(out, "\t\twgdescr: {d}");
        }
        if p.psk.is_some() {
            out.push_str("\t\twgpsk (present)\n");
        }
        if let Some(pka) = p.pka.filter(|v| *v != 0) {
            let _ = writeln!(out, "\t\twgpka {pka} (sec)");
        }
        if let Some(ep) = p.endpoint {
            let _ = writeln!(out, "\t\twgendpoint {} {}", endpoint_host(&ep), ep.port());
        }
        let _ = writeln!(out, "\t\ttx: {}, rx: {}", p.tx_bytes, p.rx_bytes);
        if p.last_handshake.sec != 0 {
            let _ = writeln!(
                out,
                "\t\tlast handshake: {} seconds ago",
                now - p.last_handshake.sec
            );
        }
        for a in &p.aips {
            let _ = writeln!(out, "\t\twgaip {}/{}", ntop(a.addr), a.cidr);
        }
    }
}

/// inet_ntop(3). It differs from Rust's Display in one case: an IPv4-compatible
/// address (96 zero bits, then a non-zero seventh 16-bit group) keeps its dotted
/// quad, `::1.2.3.4` where Rust writes `::102:304`.
pub fn ntop6(a: &Ipv6Addr) -> String {
    let s = a.segments();
    if s[..6] == [0; 6] && s[6] != 0 {
        let [.., w, x, y, z] = a.octets();
        return format!("::{w}.{x}.{y}.{z}");
    }
    a.to_string()
}

/// inet_ntop(3) for either family.
pub fn ntop(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => ntop6(&a),
    }
}

/// getnameinfo(NI_NUMERICHOST): link-local IPv6 keeps its `%scope`.
pub fn endpoint_host(ep: &SocketAddr) -> String {
    match ep {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => {
            if a.scope_id() != 0 && (a.ip().segments()[0] & 0xffc0) == 0xfe80 {
                format!("{}%{}", a.ip(), a.scope_id())
            } else {
                ntop6(a.ip())
            }
        }
    }
}

/// One interface's full status text. `wg` is the SIOCGWG answer (None when the
/// request answered ENOTTY, i.e. the section is omitted).
pub fn status(info: &IfInfo, wg: Option<&InterfaceIo>, view: View, now: i64) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}: {}", info.name, flags_text(info.flags));
    if info.rdomain != 0 {
        let _ = write!(out, " rdomain {}", info.rdomain);
    }
    if info.mtu != 0 {
        let _ = write!(out, " mtu {}", info.mtu);
    }
    out.push('\n');
    if !info.description.is_empty() {
        let _ = writeln!(out, "\tdescription: {}", info.description);
    }
    let _ = writeln!(out, "\tindex {} priority 0 llprio 3", info.index);
    if let Some(wg) = wg {
        wg_section(&mut out, wg, view.ifaliases, now);
    }
    let groups: Vec<&str> = info
        .groups
        .iter()
        .map(String::as_str)
        .filter(|g| *g != "all")
        .collect();
    if !groups.is_empty() {
        let _ = writeln!(out, "\tgroups: {}", groups.join(" "));
    }
    if view.af != Some(Af::Inet6) {
        for (i, a) in info.inet.iter().enumerate() {
            // Without ifaliases only the first inet address is listed.
            if i > 0 && !view.ifaliases {
                break;
            }
            let mask = len_mask(a.prefixlen);
            let _ = write!(out, "\tinet {} netmask 0x{mask:08x}", a.addr);
            if info.flags & crate::ioctl::request::iff::POINTOPOINT != 0 {
                if let Some(d) = a.dest {
                    let _ = write!(out, " --> {d}");
                }
            } else if info.flags & crate::ioctl::request::iff::BROADCAST != 0 {
                // The kernel keeps none for /31 and /32 (in_ifinit); ifconfig then
                // prints none.
                if let Some(b) = a.broadcast.filter(|b| !b.is_unspecified()) {
                    let _ = write!(out, " broadcast {b}");
                }
            }
            out.push('\n');
        }
    }
    if view.af != Some(Af::Inet) {
        for a in &info.inet6 {
            let _ = write!(out, "\tinet6 {}", ntop6(&a.addr));
            if a.scope_id != 0 {
                let _ = write!(out, "%{}", info.name);
            }
            let _ = write!(out, " prefixlen {}", a.prefixlen);
            if a.scope_id != 0 {
                let _ = write!(out, " scopeid 0x{:x}", a.scope_id);
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(flags_text(0x8082), "flags=8082<BROADCAST,NOARP,MULTICAST>");
        assert_eq!(
            flags_text(0x80c7),
            "flags=80c7<UP,BROADCAST,DEBUG,RUNNING,NOARP,MULTICAST>"
        );
        assert_eq!(flags_text(0), "flags=0<>");
    }
}
