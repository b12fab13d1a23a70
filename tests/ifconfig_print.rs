//! Status text from hand-written model values, expected text written from
//! openbsd-wg-interface spec §3 (tabs and all).

use wgif::ifconfig::parse::Af;
use wgif::ifconfig::print::{status, View};
use wgif::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo, Timespec};
use wgif::ioctl::request::{IfDrops, IfInfo, Inet4Addr, Inet6Addr};

const ALIASES: View = View {
    ifaliases: true,
    af: None,
};
const NO_ALIASES: View = View {
    ifaliases: false,
    af: None,
};
const NOW: i64 = 1_700_000_000;

fn info() -> IfInfo {
    IfInfo {
        name: "wg0".into(),
        flags: 0x80c3,
        mtu: 1420,
        rdomain: 0,
        index: 5,
        description: "tunnel to office".into(),
        groups: vec!["wg".into()],
        inet: vec![Inet4Addr {
            addr: "10.0.0.1".parse().unwrap(),
            prefixlen: 24,
            broadcast: Some("10.0.0.255".parse().unwrap()),
            dest: None,
        }],
        inet6: vec![],
        // Not in the status text: the golden outputs below show none.
        drops: IfDrops {
            input: 7,
            output: 9,
        },
    }
}

fn key(b: u8) -> Key {
    Key([b; 32])
}

fn office_peer() -> PeerIo {
    PeerIo {
        protocol_version: 1,
        public: Some(key(2)),
        psk: Some(key(9)),
        pka: Some(25),
        endpoint: Some("203.0.113.5:51820".parse().unwrap()),
        description: Some("office gateway".into()),
        tx_bytes: 15640,
        rx_bytes: 22904,
        last_handshake: Timespec {
            sec: NOW - 42,
            nsec: 5,
        },
        aips: vec![
            AipIo {
                addr: "192.168.50.0".parse().unwrap(),
                cidr: 24,
            },
            AipIo {
                addr: "10.0.0.2".parse().unwrap(),
                cidr: 32,
            },
        ],
        ..PeerIo::default()
    }
}

fn root_wg() -> InterfaceIo {
    InterfaceIo {
        public: Some(key(1)),
        private: Some(key(3)),
        port: Some(51820),
        rtable: None,
        replace_peers: false,
        peers: vec![office_peer()],
    }
}

#[test]
fn root_view_one_peer_is_spec_example() {
    let want = "wg0: flags=80c3<UP,BROADCAST,RUNNING,NOARP,MULTICAST> mtu 1420
\tdescription: tunnel to office
\tindex 5 priority 0 llprio 3
\twgport 51820
\twgpubkey AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
\twgpeer AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
\t\twgdescr: office gateway
\t\twgpsk (present)
\t\twgpka 25 (sec)
\t\twgendpoint 203.0.113.5 51820
\t\ttx: 15640, rx: 22904
\t\tlast handshake: 42 seconds ago
\t\twgaip 192.168.50.0/24
\t\twgaip 10.0.0.2/32
\tgroups: wg
\tinet 10.0.0.1 netmask 0xffffff00 broadcast 10.0.0.255
";
    let got = status(&info(), Some(&root_wg()), ALIASES, NOW);
    assert_eq!(got, want);
    // Neither the private key (0x03…) nor the PSK (0x09…) appear.
    assert!(!got.contains("AwMD"));
    assert!(!got.contains("CQkJ"));
}

#[test]
fn non_root_view_has_port_only() {
    // What wgd returns to a non-root caller: the header with port/rtable only.
    let wg = InterfaceIo {
        port: Some(51820),
        ..InterfaceIo::default()
    };
    let want = "wg0: flags=80c3<UP,BROADCAST,RUNNING,NOARP,MULTICAST> mtu 1420
\tdescription: tunnel to office
\tindex 5 priority 0 llprio 3
\twgport 51820
\tgroups: wg
\tinet 10.0.0.1 netmask 0xffffff00 broadcast 10.0.0.255
";
    assert_eq!(status(&info(), Some(&wg), ALIASES, NOW), want);
}

#[test]
fn fresh_interface_prints_no_wg_lines() {
    let i = IfInfo {
        name: "wg3".into(),
        flags: 0x8082,
        mtu: 1420,
        index: 9,
        groups: vec!["wg".into()],
        ..IfInfo::default()
    };
    let want = "wg3: flags=8082<BROADCAST,NOARP,MULTICAST> mtu 1420
\tindex 9 priority 0 llprio 3
\tgroups: wg
";
    assert_eq!(
        status(&i, Some(&InterfaceIo::default()), ALIASES, NOW),
        want
    );
    // ENOTTY: the wg section is left out; same text here.
    assert_eq!(status(&i, None, ALIASES, NOW), want);
}

#[test]
fn many_peers_v6_endpoint_rtable_rdomain_debug_and_addresses() {
    let i = IfInfo {
        name: "wg1".into(),
        flags: 0x80c7,
        mtu: 1420,
        rdomain: 1,
        index: 7,
        description: String::new(),
        groups: vec!["wg".into(), "egress".into()],
        inet: vec![
            Inet4Addr {
                addr: "192.168.5.1".parse().unwrap(),
                prefixlen: 24,
                broadcast: Some("192.168.5.255".parse().unwrap()),
                dest: None,
            },
            Inet4Addr {
                addr: "10.1.2.3".parse().unwrap(),
                prefixlen: 16,
                broadcast: Some("10.1.255.255".parse().unwrap()),
                dest: None,
            },
            // A /32 has no broadcast address (in_ifinit, RFC 3021 for /31).
            Inet4Addr {
                addr: "10.9.9.9".parse().unwrap(),
                prefixlen: 32,
                broadcast: None,
                dest: None,
            },
        ],
        inet6: vec![
            Inet6Addr {
                addr: "fd00::1".parse().unwrap(),
                prefixlen: 64,
                scope_id: 0,
            },
            Inet6Addr {
                addr: "fe80::1".parse().unwrap(),
                prefixlen: 64,
                scope_id: 7,
            },
        ],
        drops: IfDrops::default(),
    };
    let wg = InterfaceIo {
        public: Some(key(1)),
        private: Some(key(3)),
        port: Some(111),
        rtable: Some(2),
        replace_peers: false,
        peers: vec![
            PeerIo {
                public: Some(key(2)),
                endpoint: Some("[fd00::7]:222".parse().unwrap()),
                pka: Some(0),
                tx_bytes: 0,
                rx_bytes: 0,
                aips: vec![AipIo {
                    addr: "fd00::/64".split('/').next().unwrap().parse().unwrap(),
                    cidr: 64,
                }],
                ..PeerIo::default()
            },
            PeerIo {
                public: Some(key(4)),
                tx_bytes: 148,
                rx_bytes: 92,
                last_handshake: Timespec { sec: NOW, nsec: 0 },
                ..PeerIo::default()
            },
        ],
    };
    let want = "wg1: flags=80c7<UP,BROADCAST,DEBUG,RUNNING,NOARP,MULTICAST> rdomain 1 mtu 1420
\tindex 7 priority 0 llprio 3
\twgport 111
\twgrtable 2
\twgpubkey AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
\twgpeer AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
\t\twgendpoint fd00::7 222
\t\ttx: 0, rx: 0
\t\twgaip fd00::/64
\twgpeer BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=
\t\ttx: 148, rx: 92
\t\tlast handshake: 0 seconds ago
\tgroups: wg egress
\tinet 192.168.5.1 netmask 0xffffff00 broadcast 192.168.5.255
\tinet 10.1.2.3 netmask 0xffff0000 broadcast 10.1.255.255
\tinet 10.9.9.9 netmask 0xffffffff
\tinet6 fd00::1 prefixlen 64
\tinet6 fe80::1%wg1 prefixlen 64 scopeid 0x7
";
    assert_eq!(status(&i, Some(&wg), ALIASES, NOW), want);

    // -a: no peers, only the first inet address.
    let want_a = "wg1: flags=80c7<UP,BROADCAST,DEBUG,RUNNING,NOARP,MULTICAST> rdomain 1 mtu 1420
\tindex 7 priority 0 llprio 3
\twgport 111
\twgrtable 2
\twgpubkey AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
\tgroups: wg egress
\tinet 192.168.5.1 netmask 0xffffff00 broadcast 192.168.5.255
\tinet6 fd00::1 prefixlen 64
\tinet6 fe80::1%wg1 prefixlen 64 scopeid 0x7
";
    assert_eq!(status(&i, Some(&wg), NO_ALIASES, NOW), want_a);

    // `wgifconfig wg1 inet6`: only inet6 address lines.
    let v6 = status(
        &i,
        Some(&wg),
        View {
            ifaliases: true,
            af: Some(Af::Inet6),
        },
        NOW,
    );
    assert!(!v6.contains("\tinet "));
    assert!(v6.ends_with("\tinet6 fe80::1%wg1 prefixlen 64 scopeid 0x7\n"));
}

#[test]
fn peer_without_key_material_set() {
    // A peer that only has its public key: no psk/pka/endpoint/handshake lines.
    let wg = InterfaceIo {
        peers: vec![PeerIo {
            public: Some(key(2)),
            ..PeerIo::default()
        }],
        ..InterfaceIo::default()
    };
    let i = IfInfo {
        name: "wg2".into(),
        flags: 0x8082,
        mtu: 1420,
        index: 3,
        groups: vec!["wg".into()],
        ..IfInfo::default()
    };
    let want = "wg2: flags=8082<BROADCAST,NOARP,MULTICAST> mtu 1420
\tindex 3 priority 0 llprio 3
\twgpeer AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
\t\ttx: 0, rx: 0
\tgroups: wg
";
    assert_eq!(status(&i, Some(&wg), ALIASES, NOW), want);
}

/// Addresses print as inet_ntop(3) writes them: an IPv4-compatible IPv6 address
/// keeps its dotted quad; ::1, :: and IPv4-mapped ones print as usual.
#[test]
fn inet_ntop_forms() {
    let aip = |s: &str, cidr| AipIo {
        addr: s.parse().unwrap(),
        cidr,
    };
    let wg = InterfaceIo {
        peers: vec![PeerIo {
            protocol_version: 1,
            public: Some(key(2)),
            endpoint: Some("[::102:304]:7777".parse().unwrap()),
            aips: vec![
                aip("::1.2.3.4", 128),
                aip("::1", 128),
                aip("::", 0),
                aip("::ffff:10.0.0.1", 128),
                aip("::2:0:0:1", 128),
            ],
            ..PeerIo::default()
        }],
        ..InterfaceIo::default()
    };
    let mut i = info();
    i.inet6 = vec![Inet6Addr {
        addr: "::a00:1".parse().unwrap(),
        prefixlen: 96,
        scope_id: 0,
    }];
    let s = status(&i, Some(&wg), ALIASES, NOW);
    let want = "\twgpeer AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
\t\twgendpoint ::1.2.3.4 7777
\t\ttx: 0, rx: 0
\t\twgaip ::1.2.3.4/128
\t\twgaip ::1/128
\t\twgaip ::/0
\t\twgaip ::ffff:10.0.0.1/128
\t\twgaip ::2:0:0:1/128
";
    assert!(s.contains(want), "{s}");
    assert!(s.contains("\tinet6 ::10.0.0.1 prefixlen 96\n"), "{s}");
}
