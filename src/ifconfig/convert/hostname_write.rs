//! Writing a hostname.wgN file (hostname.if(5), as wgnetstart and OpenBSD's netstart
//! read it): `!` lines of the PreUp commands first, then the interface's
//! description, key and port, MTU, addresses, one `wgpeer` line per peer, `up`,
//! and the PostUp commands. The interface name in commands is netstart's `$if`.

use super::model::{Config, IfAddr};
use crate::ifconfig::addr::len_mask;
use crate::ifconfig::key::format_key;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

/// A word as sh(1) reads it back: as it is when it holds only safe characters,
/// otherwise in single quotes.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.,:/@+=%".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A wg-quick command as a `!` line: `%i` becomes `$if`.
pub fn command_line(c: &str) -> String {
    format!("!{}", c.replace("%i", "$if"))
}

/// The hostname.wgN text of `cfg`.
pub fn write_hostname_if(cfg: &Config) -> String {
    let mut s = String::new();
    for c in &cfg.pre_up {
        let _ = writeln!(s, "{}", command_line(c));
    }
    if let Some(d) = &cfg.description {
        let _ = writeln!(s, "description {}", shell_quote(d));
    }
    let mut first = Vec::new();
    if let Some(k) = &cfg.private {
        first.push(format!("wgkey {}", format_key(k)));
    }
    if let Some(p) = cfg.port {
        first.push(format!("wgport {p}"));
    }
    if !first.is_empty() {
        let _ = writeln!(s, "{}", first.join(" "));
    }
    if let Some(m) = cfg.mtu {
        let _ = writeln!(s, "mtu {m}");
    }
    let mut have4 = false;
    for IfAddr { addr, prefix } in &cfg.addresses {
        match addr {
            // A second inet line without alias would replace the first address.
            IpAddr::V4(a) => {
                let alias = if have4 { "alias " } else { "" };
                have4 = true;
                let mask = Ipv4Addr::from(len_mask(*prefix));
                let _ = writeln!(s, "inet {alias}{a} {mask}");
            }
            IpAddr::V6(a) => {
                let _ = writeln!(s, "inet6 {a} {prefix}");
            }
        }
    }
    for p in &cfg.peers {
        let mut l = format!("wgpeer {}", format_key(&p.public));
        if let Some(k) = &p.psk {
            let _ = write!(l, " wgpsk {}", format_key(k));
        }
        if let Some(e) = &p.endpoint {
            let _ = write!(l, " wgendpoint {} {}", e.host, e.port);
        }
        if let Some(k) = p.keepalive {
            let _ = write!(l, " wgpka {k}");
        }
        for a in &p.allowed_ips {
            let _ = write!(l, " wgaip {}/{}", a.addr, a.cidr);
        }
        if let Some(d) = &p.description {
            let _ = write!(l, " wgdescr {}", shell_quote(d));
        }
        let _ = writeln!(s, "{l}");
    }
    s.push_str("up\n");
    for c in &cfg.post_up {
        let _ = writeln!(s, "{}", command_line(c));
    }
    s
}
