//! `wgifconfig -j`: the status as JSON. The same information the status text
//! ([`super::print::status`]) shows for the same [`View`], no more: peers only
//! with `ifaliases` (`wgifconfig wgN`, `-A`), the first inet address only without
//! it, one family with `af`, and never a private key or a PSK (a PSK shows as
//! `psk_present`, like `wgpsk (present)`). What a non-root caller may see is
//! decided by wgd (its SIOCGWG answer then has no key and no peer), so the JSON
//! is redacted exactly as the text is. The schema is in wgifconfig.8 and
//! man/wgifconfig-status.schema.json.

use super::key::format_key;
use super::parse::Af;
use super::print::{flag_names, ntop, ntop6, View};
use crate::ioctl::model::{InterfaceIo, PeerIo};
use crate::ioctl::request::{iff, IfInfo};
use serde::Serialize;

/// The whole answer: `{"interfaces": [...]}`, whatever was asked.
#[derive(Serialize, Debug)]
pub struct Status {
    pub interfaces: Vec<Interface>,
}

/// One interface.
#[derive(Serialize, Debug)]
pub struct Interface {
    pub name: String,
    /// The OpenBSD `IFF_*` word.
    pub flags: u32,
    /// Its names, as `flags=…<UP,…>` lists them.
    pub flag_names: Vec<&'static str>,
    pub rdomain: u32,
    pub mtu: u32,
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Groups without `all`.
    pub groups: Vec<String>,
    /// Absent for an interface that is not a wg interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wg: Option<Wg>,
    pub inet: Vec<Inet>,
    pub inet6: Vec<Inet6>,
}

/// The `wg_status()` part.
#[derive(Serialize, Debug)]
pub struct Wg {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtable: Option<i32>,
    /// Base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Absent when the view does not list peers (`-a`, bare `-j`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers: Option<Vec<Peer>>,
}

/// One peer.
#[derive(Serialize, Debug)]
pub struct Peer {
    /// Base64 (empty for a record without one, as the text prints it).
    pub public_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub psk_present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_keepalive: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    /// Unix seconds of the last handshake; absent when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_handshake: Option<i64>,
    /// `now - last_handshake`, as `last handshake: N seconds ago`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_handshake_seconds_ago: Option<i64>,
    /// `ADDRESS/CIDR`, in the order the text lists them.
    pub allowed_ips: Vec<String>,
}

/// A peer's endpoint; `host` is numeric (`fe80::1%2` keeps its scope).
#[derive(Serialize, Debug)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// One inet address.
#[derive(Serialize, Debug)]
pub struct Inet {
    pub address: String,
    pub prefixlen: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// One inet6 address.
#[derive(Serialize, Debug)]
pub struct Inet6 {
    pub address: String,
    pub prefixlen: u8,
    /// Non-zero for a link-local address (the text's `scopeid 0x…`).
    pub scope_id: u32,
}

fn peer(p: &PeerIo, now: i64) -> Peer {
    let hs = (p.last_handshake.sec != 0).then_some(p.last_handshake.sec);
    Peer {
        public_key: p.public.as_ref().map(format_key).unwrap_or_default(),
        description: p.description.clone().filter(|d| !d.is_empty()),
        psk_present: p.psk.is_some(),
        persistent_keepalive: p.pka.filter(|v| *v != 0),
        endpoint: p.endpoint.map(|ep| Endpoint {
            host: super::print::endpoint_host(&ep),
            port: ep.port(),
        }),
        tx_bytes: p.tx_bytes,
        rx_bytes: p.rx_bytes,
        last_handshake: hs,
        last_handshake_seconds_ago: hs.map(|s| now - s),
        allowed_ips: p
            .aips
            .iter()
            .map(|a| format!("{}/{}", ntop(a.addr), a.cidr))
            .collect(),
    }
}

fn wg(w: &InterfaceIo, ifaliases: bool, now: i64) -> Wg {
    Wg {
        port: w.port,
        rtable: w.rtable,
        public_key: w.public.as_ref().map(format_key),
        peers: ifaliases.then(|| w.peers.iter().map(|p| peer(p, now)).collect()),
    }
}

/// One interface, as [`super::print::status`] shows it for `view`.
pub fn interface(info: &IfInfo, w: Option<&InterfaceIo>, view: View, now: i64) -> Interface {
    let inet = if view.af == Some(Af::Inet6) {
        Vec::new()
    } else {
        let take = if view.ifaliases { usize::MAX } else { 1 };
        info.inet
            .iter()
            .take(take)
            .map(|a| {
                let p2p = info.flags & iff::POINTOPOINT != 0;
                let bcast = !p2p && info.flags & iff::BROADCAST != 0;
                Inet {
                    address: a.addr.to_string(),
                    prefixlen: a.prefixlen,
                    broadcast: a
                        .broadcast
                        .filter(|b| bcast && !b.is_unspecified())
                        .map(|b| b.to_string()),
                    destination: a.dest.filter(|_| p2p).map(|d| d.to_string()),
                }
            })
            .collect()
    };
    let inet6 = if view.af == Some(Af::Inet) {
        Vec::new()
    } else {
        info.inet6
            .iter()
            .map(|a| Inet6 {
                address: ntop6(&a.addr),
                prefixlen: a.prefixlen,
                scope_id: a.scope_id,
            })
            .collect()
    };
    Interface {
        name: info.name.clone(),
        flags: info.flags,
        flag_names: flag_names(info.flags),
        rdomain: info.rdomain,
        mtu: info.mtu,
        index: info.index,
        description: (!info.description.is_empty()).then(|| info.description.clone()),
        groups: info
            .groups
            .iter()
            .filter(|g| *g != "all")
            .cloned()
            .collect(),
        wg: w.map(|w| wg(w, view.ifaliases, now)),
        inet,
        inet6,
    }
}

/// The JSON text (one line, then a newline) for these interfaces.
pub fn render(list: &[(IfInfo, Option<InterfaceIo>)], view: View, now: i64) -> String {
    let status = Status {
        interfaces: list
            .iter()
            .map(|(info, w)| interface(info, w.as_ref(), view, now))
            .collect(),
    };
    // Serializing these structs (strings, numbers, no maps) cannot fail.
    let mut s = serde_json::to_string(&status).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioctl::model::{AipIo, Key, Timespec};
    use crate::ioctl::request::Inet4Addr;
    use serde_json::Value;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    fn info(name: &str) -> IfInfo {
        IfInfo {
            name: name.into(),
            flags: iff::UP | iff::RUNNING | iff::NOARP | iff::MULTICAST,
            mtu: 1420,
            rdomain: 1,
            index: 7,
            description: String::new(),
            groups: vec!["wg".into(), "all".into()],
            inet: vec![
                Inet4Addr {
                    addr: Ipv4Addr::new(192, 168, 5, 1),
                    prefixlen: 24,
                    broadcast: None,
                    dest: None,
                },
                Inet4Addr {
                    addr: Ipv4Addr::new(10, 0, 0, 1),
                    prefixlen: 8,
                    broadcast: None,
                    dest: None,
                },
            ],
            inet6: vec![],
            drops: Default::default(),
        }
    }

    fn root_wg() -> InterfaceIo {
        InterfaceIo {
            public: Some(Key([1; 32])),
            private: Some(Key([2; 32])),
            port: Some(7111),
            rtable: None,
            peers: vec![PeerIo {
                public: Some(Key([3; 32])),
                psk: Some(Key([4; 32])),
                pka: Some(25),
                endpoint: Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7222)),
                description: Some("a \"q\" \\ b\nc".into()),
                tx_bytes: 1000,
                rx_bytes: 2000,
                last_handshake: Timespec { sec: 900, nsec: 5 },
                aips: vec![AipIo {
                    addr: IpAddr::V4(Ipv4Addr::new(192, 168, 5, 2)),
                    cidr: 32,
                }],
                ..PeerIo::default()
            }],
            ..InterfaceIo::default()
        }
    }

    fn parse(s: &str) -> Value {
        assert!(s.ends_with('\n'));
        serde_json::from_str(s).unwrap()
    }

    const FULL: View = View {
        ifaliases: true,
        af: None,
    };

    #[test]
    fn root_view_has_peers_and_no_secret() {
        let mut i = info("wg1");
        i.drops.input = 12345;
        let list = vec![(i, Some(root_wg()))];
        let s = render(&list, FULL, 1000);
        // The drop counters are not in the text, so not in the JSON either.
        assert!(!s.contains("drops") && !s.contains("12345"), "{s}");
        let v = parse(&s);
        let i = &v["interfaces"][0];
        assert_eq!(i["name"], "wg1");
        assert_eq!(i["groups"], serde_json::json!(["wg"]));
        assert_eq!(i["inet"].as_array().unwrap().len(), 2);
        assert_eq!(i["inet"][0]["prefixlen"], 24);
        let w = &i["wg"];
        assert_eq!(w["port"], 7111);
        assert!(w.get("rtable").is_none());
        assert_eq!(w["public_key"], format_key(&Key([1; 32])));
        let p = &w["peers"][0];
        assert_eq!(p["public_key"], format_key(&Key([3; 32])));
        // The description round-trips through JSON escaping unchanged.
        assert_eq!(p["description"], "a \"q\" \\ b\nc");
        assert_eq!(p["psk_present"], true);
        assert_eq!(p["persistent_keepalive"], 25);
        assert_eq!(p["endpoint"]["host"], "127.0.0.1");
        assert_eq!(p["endpoint"]["port"], 7222);
        assert_eq!(p["tx_bytes"], 1000);
        assert_eq!(p["rx_bytes"], 2000);
        assert_eq!(p["last_handshake"], 900);
        assert_eq!(p["last_handshake_seconds_ago"], 100);
        assert_eq!(p["allowed_ips"], serde_json::json!(["192.168.5.2/32"]));
        // No secret, in any encoding.
        for secret in [Key([2; 32]), Key([4; 32])] {
            assert!(!s.contains(&format_key(&secret)), "{s}");
        }
        assert!(!s.contains("private") && !s.contains("\"psk\""), "{s}");
    }

    #[test]
    fn without_ifaliases_no_peers_and_first_inet_only() {
        let list = vec![(info("wg1"), Some(root_wg()))];
        let v = parse(&render(
            &list,
            View {
                ifaliases: false,
                af: None,
            },
            1000,
        ));
        let i = &v["interfaces"][0];
        assert!(i["wg"].get("peers").is_none());
        assert_eq!(i["inet"].as_array().unwrap().len(), 1);
        let v = parse(&render(
            &list,
            View {
                ifaliases: true,
                af: Some(Af::Inet6),
            },
            1000,
        ));
        assert_eq!(v["interfaces"][0]["inet"], serde_json::json!([]));
    }

    #[test]
    fn non_root_view_is_what_wgd_gave() {
        // wgd's answer to a non-root SIOCGWG: the port, nothing else.
        let w = InterfaceIo {
            port: Some(7111),
            ..InterfaceIo::default()
        };
        let s = render(&[(info("wg1"), Some(w))], FULL, 1000);
        let v = parse(&s);
        let wg = &v["interfaces"][0]["wg"];
        assert_eq!(wg["port"], 7111);
        assert!(wg.get("public_key").is_none());
        assert_eq!(wg["peers"], serde_json::json!([]));
        assert!(!s.contains("public_key"), "{s}");
    }

    #[test]
    fn no_peers_and_not_wg() {
        let w = InterfaceIo {
            public: Some(Key([1; 32])),
            ..InterfaceIo::default()
        };
        let mut other = info("lo0");
        other.description = "loop \"x\"".into();
        let v = parse(&render(
            &[(info("wg1"), Some(w)), (other, None)],
            FULL,
            1000,
        ));
        assert_eq!(v["interfaces"][0]["wg"]["peers"], serde_json::json!([]));
        assert!(v["interfaces"][1].get("wg").is_none());
        assert_eq!(v["interfaces"][1]["description"], "loop \"x\"");
        assert!(v["interfaces"][0].get("description").is_none());
        let empty = parse(&render(&[], FULL, 0));
        assert_eq!(empty, serde_json::json!({"interfaces": []}));
    }
}
