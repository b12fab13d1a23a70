//! Writing a wg-quick(8) file: the `[Interface]` section, then one `[Peer]` section
//! per peer, descriptions as the comment line right above a section header (where
//! [`super::wgquick_read`] finds them again).

use super::model::{Config, Endpoint, IfAddr};
use crate::ifconfig::key::format_key;
use crate::ioctl::model::AipIo;
use std::fmt::Write;

fn prefix_text(addr: &std::net::IpAddr, len: u8) -> String {
    format!("{addr}/{len}")
}

/// `HOST:PORT`, an IPv6 address in brackets.
pub fn endpoint_text(e: &Endpoint) -> String {
    if e.host.contains(':') {
        format!("[{}]:{}", e.host, e.port)
    } else {
        format!("{}:{}", e.host, e.port)
    }
}

/// The wg-quick text of `cfg`.
pub fn write_wg_quick(cfg: &Config) -> String {
    let mut s = String::new();
    if let Some(d) = &cfg.description {
        let _ = writeln!(s, "# {d}");
    }
    s.push_str("[Interface]\n");
    if let Some(k) = &cfg.private {
        let _ = writeln!(s, "PrivateKey = {}", format_key(k));
    }
    if let Some(p) = cfg.port {
        let _ = writeln!(s, "ListenPort = {p}");
    }
    if !cfg.addresses.is_empty() {
        let a: Vec<String> = cfg
            .addresses
            .iter()
            .map(|IfAddr { addr, prefix }| prefix_text(addr, *prefix))
            .collect();
        let _ = writeln!(s, "Address = {}", a.join(", "));
    }
    if let Some(m) = cfg.mtu {
        let _ = writeln!(s, "MTU = {m}");
    }
    for c in &cfg.pre_up {
        let _ = writeln!(s, "PreUp = {c}");
    }
    for c in &cfg.post_up {
        let _ = writeln!(s, "PostUp = {c}");
    }
    for p in &cfg.peers {
        s.push('\n');
        if let Some(d) = &p.description {
            let _ = writeln!(s, "# {d}");
        }
        s.push_str("[Peer]\n");
        let _ = writeln!(s, "PublicKey = {}", format_key(&p.public));
        if let Some(k) = &p.psk {
            let _ = writeln!(s, "PresharedKey = {}", format_key(k));
        }
        if let Some(e) = &p.endpoint {
            let _ = writeln!(s, "Endpoint = {}", endpoint_text(e));
        }
        if !p.allowed_ips.is_empty() {
            let a: Vec<String> = p
                .allowed_ips
                .iter()
                .map(|AipIo { addr, cidr }| prefix_text(addr, *cidr))
                .collect();
            let _ = writeln!(s, "AllowedIPs = {}", a.join(", "));
        }
        if let Some(k) = p.keepalive {
            let _ = writeln!(s, "PersistentKeepalive = {k}");
        }
    }
    s
}
