//! Argument lists → the exact requests (generic verbs in order, the one SIOCSWG,
//! the address requests) or the exact error text, from openbsd-wg-interface spec §2.

use std::net::SocketAddr;
use wgif::ifconfig::parse::{parse_collect, AddrOp, Af, GenericOp, Plan};
use wgif::ifconfig::resolve::Resolve;
use wgif::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo};
use wgif::ioctl::request::{Inet4Addr, Inet6Addr};

/// base64 of 32 bytes of 0x01 and of 0x02 (worked out by hand: 0x010101 →
/// "AQEB", 0x0101 + pad → "AQE=").
const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

fn k1() -> Key {
    Key([1; 32])
}
fn k2() -> Key {
    Key([2; 32])
}

/// Numeric hosts, plus one name and one service name, like a resolver with
/// /etc/hosts and /etc/services entries.
struct FakeDns;
impl Resolve for FakeDns {
    fn resolve(&self, host: &str, port: &str) -> Result<SocketAddr, String> {
        let host = if host == "gw.example" {
            "192.0.2.7"
        } else {
            host
        };
        let port = if port == "wireguard" { "51820" } else { port };
        let ip: std::net::IpAddr = host
            .parse()
            .map_err(|_| "no address associated with name".to_string())?;
        let port: u16 = port
            .parse()
            .map_err(|_| "service not supported for ai_socktype".to_string())?;
        Ok(SocketAddr::new(ip, port))
    }
}

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn ok(s: &str) -> (Vec<GenericOp>, Plan) {
    let (ops, r) = parse_collect(&args(s), Af::Inet, &FakeDns);
    (ops, r.unwrap_or_else(|e| panic!("{s}: {e}")))
}

fn wg_of(s: &str) -> InterfaceIo {
    let (ops, p) = ok(s);
    assert!(ops.is_empty(), "{s}");
    assert!(p.addr.is_empty(), "{s}");
    p.wg.expect(s)
}

fn peer(public: Key) -> PeerIo {
    PeerIo {
        public: Some(public),
        ..PeerIo::default()
    }
}

#[test]
fn interface_verbs() {
    assert_eq!(
        wg_of(&format!("wgkey {K1} wgport 51820 wgrtable 1")),
        InterfaceIo {
            private: Some(k1()),
            port: Some(51820),
            rtable: Some(1),
            ..InterfaceIo::default()
        }
    );
    assert_eq!(
        wg_of("wgport 0 wgrtable 255"),
        InterfaceIo {
            port: Some(0),
            rtable: Some(255),
            ..InterfaceIo::default()
        }
    );
    assert_eq!(
        wg_of("-wgpeerall"),
        InterfaceIo {
            replace_peers: true,
            ..InterfaceIo::default()
        }
    );
}

#[test]
fn peer_verbs_bind_to_the_latest_wgpeer() {
    let got = wg_of(&format!(
        "wgpeer {K1} wgendpoint 127.0.0.1 51820 wgaip 10.0.0.2/32 wgaip fd00::/64 \
         wgpka 25 wgpsk {K2} wgdescr office wgpeer {K2} wgendpoint ::1 7 wgaip 10.9.0.1/8"
    ));
    let want = InterfaceIo {
        peers: vec![
            PeerIo {
                endpoint: Some("127.0.0.1:51820".parse().unwrap()),
                aips: vec![
                    AipIo {
                        addr: "10.0.0.2".parse().unwrap(),
                        cidr: 32,
                    },
                    AipIo {
                        addr: "fd00::".parse().unwrap(),
                        cidr: 64,
                    },
                ],
                replace_aips: true,
                pka: Some(25),
                psk: Some(k2()),
                description: Some("office".into()),
                ..peer(k1())
            },
            PeerIo {
                endpoint: Some("[::1]:7".parse().unwrap()),
                // Host bits are kept.
                aips: vec![AipIo {
                    addr: "10.9.0.1".parse().unwrap(),
                    cidr: 8,
                }],
                replace_aips: true,
                ..peer(k2())
            },
        ],
        ..InterfaceIo::default()
    };
    assert_eq!(got, want);
}

#[test]
fn removal_and_clearing_verbs() {
    let got = wg_of(&format!(
        "-wgpeerall wgpeer {K1} -wgpsk -wgdescr -wgpeer {K2} wgpeer {K1} -wgdescription wgpka 0"
    ));
    let want = InterfaceIo {
        replace_peers: true,
        peers: vec![
            PeerIo {
                psk: Some(Key::ZERO),
                description: Some(String::new()),
                ..peer(k1())
            },
            PeerIo {
                remove: true,
                ..peer(k2())
            },
            PeerIo {
                description: Some(String::new()),
                pka: Some(0),
                ..peer(k1())
            },
        ],
        ..InterfaceIo::default()
    };
    assert_eq!(got, want);
}

#[test]
fn endpoint_names_and_services_and_aip_forms() {
    let got = wg_of(&format!(
        "wgpeer {K1} wgendpoint gw.example wireguard wgaip 10.1 wgaip 192.168.5 wgaip fd00::2 wgdescription x"
    ));
    assert_eq!(
        got.peers[0].endpoint,
        Some("192.0.2.7:51820".parse().unwrap())
    );
    let aips: Vec<(String, u8)> = got.peers[0]
        .aips
        .iter()
        .map(|a| (a.addr.to_string(), a.cidr))
        .collect();
    assert_eq!(
        aips,
        vec![
            ("10.1.0.0".to_string(), 16),
            ("192.168.5.0".to_string(), 24),
            ("fd00::2".to_string(), 128)
        ]
    );
    assert_eq!(got.peers[0].description.as_deref(), Some("x"));
    // The name travels too (wg.4 WG_PEER_HAS_HOSTNAME), so wgd can resolve it again.
    assert_eq!(got.peers[0].endpoint_host.as_deref(), Some("gw.example"));
    // An address literal is no name: the request is OpenBSD's.
    for lit in ["127.0.0.1", "::1"] {
        let got = wg_of(&format!("wgpeer {K1} wgendpoint {lit} 7"));
        assert!(got.peers[0].endpoint.is_some());
        assert_eq!(got.peers[0].endpoint_host, None, "{lit}");
    }
}

#[test]
fn peer_description_is_cut_at_63_bytes() {
    let long = "d".repeat(80);
    let got = wg_of(&format!("wgpeer {K1} wgdescr {long}"));
    assert_eq!(got.peers[0].description.as_deref(), Some(&long[..63]));
}

#[test]
fn generic_verbs_in_order() {
    let (ops, p) = ok("up mtu 1400 rdomain 1 -rdomain debug -debug down descr office -description description x -descr destroy -inet -inet6");
    assert_eq!(
        ops,
        vec![
            GenericOp::Up,
            GenericOp::Mtu(1400),
            GenericOp::Rdomain(1),
            GenericOp::Rdomain(0),
            GenericOp::Debug,
            GenericOp::NoDebug,
            GenericOp::Down,
            GenericOp::Description("office".into()),
            GenericOp::Description(String::new()),
            GenericOp::Description("x".into()),
            GenericOp::Description(String::new()),
            GenericOp::Destroy,
            GenericOp::RemoveAf(Af::Inet),
            GenericOp::RemoveAf(Af::Inet6),
        ]
    );
    assert!(p.acted);
    assert_eq!(p.wg, None);
    assert!(p.addr.is_empty());
}

fn a4(addr: &str, prefixlen: u8, broadcast: Option<&str>) -> AddrOp {
    AddrOp::Add4(Inet4Addr {
        addr: addr.parse().unwrap(),
        prefixlen,
        broadcast: broadcast.map(|b| b.parse().unwrap()),
        dest: None,
    })
}

fn a6(addr: &str, prefixlen: u8) -> AddrOp {
    AddrOp::Add6(Inet6Addr {
        addr: addr.parse().unwrap(),
        prefixlen,
        scope_id: 0,
    })
}

#[test]
fn address_forms() {
    let cases: Vec<(Af, &str, Vec<AddrOp>)> = vec![
        (
            Af::Inet,
            "10.0.0.1/24",
            vec![AddrOp::DelFirst4, a4("10.0.0.1", 24, None)],
        ),
        (
            Af::Inet,
            "10.1/16",
            vec![AddrOp::DelFirst4, a4("10.1.0.0", 16, None)],
        ),
        (
            Af::Inet,
            "10.0.0.1 netmask 255.255.255.0",
            vec![AddrOp::DelFirst4, a4("10.0.0.1", 24, None)],
        ),
        (
            Af::Inet,
            "10.0.0.1 netmask 0xffff0000 broadcast 10.0.255.254",
            vec![AddrOp::DelFirst4, a4("10.0.0.1", 16, Some("10.0.255.254"))],
        ),
        // Classful default mask when none is given.
        (
            Af::Inet,
            "192.168.5.1",
            vec![AddrOp::DelFirst4, a4("192.168.5.1", 24, None)],
        ),
        (
            Af::Inet,
            "10.0.0.1 prefixlen 30",
            vec![AddrOp::DelFirst4, a4("10.0.0.1", 30, None)],
        ),
        (
            Af::Inet,
            "alias 10.0.0.2/32",
            vec![a4("10.0.0.2", 32, None)],
        ),
        (
            Af::Inet,
            "10.0.0.2/32 alias",
            vec![a4("10.0.0.2", 32, None)],
        ),
        (
            Af::Inet,
            "10.0.0.2 delete",
            vec![AddrOp::Del4("10.0.0.2".parse().unwrap())],
        ),
        (
            Af::Inet,
            "delete 10.0.0.2",
            vec![AddrOp::Del4("10.0.0.2".parse().unwrap())],
        ),
        (
            Af::Inet,
            "-alias 10.0.0.2",
            vec![AddrOp::Del4("10.0.0.2".parse().unwrap())],
        ),
        // A second word is the destination, which fills the broadcast slot.
        (
            Af::Inet,
            "10.0.0.1/24 10.0.0.9",
            vec![AddrOp::DelFirst4, a4("10.0.0.1", 24, Some("10.0.0.9"))],
        ),
        (Af::Inet6, "fd00::1", vec![a6("fd00::1", 64)]),
        (Af::Inet6, "fd00::1/48", vec![a6("fd00::1", 48)]),
        (Af::Inet6, "fd00::1 prefixlen 56", vec![a6("fd00::1", 56)]),
        (Af::Inet6, "alias fd00::2/128", vec![a6("fd00::2", 128)]),
        (
            Af::Inet6,
            "fd00::2 delete",
            vec![AddrOp::Del6("fd00::2".parse().unwrap())],
        ),
    ];
    for (af, s, want) in cases {
        let (ops, r) = parse_collect(&args(s), af, &FakeDns);
        assert!(ops.is_empty(), "{s}");
        assert_eq!(r.unwrap().addr, want, "{s}");
    }
}

#[test]
fn every_error_text() {
    let bad_len = "AQEB";
    let overflow = "A".repeat(44);
    let short = format!("{}==", "A".repeat(42));
    let cases: Vec<(Af, String, &str)> = vec![
        (
            Af::Inet,
            format!("wgkey {bad_len}"),
            "wgkey (key): invalid length",
        ),
        (
            Af::Inet,
            format!("wgkey {overflow}"),
            "wgkey (key): invalid base64 -1/32",
        ),
        (
            Af::Inet,
            format!("wgpeer {short}"),
            "wgpeer (key): invalid base64 31/32",
        ),
        (
            Af::Inet,
            format!("-wgpeer {bad_len}"),
            "wgpeer (key): invalid length",
        ),
        (
            Af::Inet,
            format!("wgpeer {K1} wgpsk {bad_len}"),
            "wgpsk (key): invalid length",
        ),
        (Af::Inet, "wgport 70000".into(), "wgport: 70000, too large"),
        (Af::Inet, "wgport -1".into(), "wgport: -1, too small"),
        (Af::Inet, "wgport x".into(), "wgport: x, invalid"),
        (Af::Inet, "wgrtable 256".into(), "wgrtable 256: too large"),
        (Af::Inet, "wgrtable x".into(), "wgrtable x: invalid"),
        (
            Af::Inet,
            format!("wgpeer {K1} wgpka 43201"),
            "wgpka: 43201, too large",
        ),
        (
            Af::Inet,
            format!("wgpeer {K1} wgpka -5"),
            "wgpka: -5, too small",
        ),
        (Af::Inet, "wgaip 10.0.0.0/8".into(), "wgaip: wgpeer not set"),
        (
            Af::Inet,
            format!("wgpeer {K1} wgaip 10.0.0.0/33"),
            "wgaip: bad address",
        ),
        (
            Af::Inet,
            format!("wgpeer {K1} wgaip nonsense"),
            "wgaip: bad address",
        ),
        (
            Af::Inet,
            "wgendpoint 127.0.0.1 1".into(),
            "wgendpoint: wgpeer not set",
        ),
        (
            Af::Inet,
            format!("wgpeer {K1} wgendpoint no.such.host 1"),
            "no address associated with name",
        ),
        (Af::Inet, "wgpka 25".into(), "wgpka: wgpeer not set"),
        (Af::Inet, format!("wgpsk {K1}"), "wgpsk: wgpeer not set"),
        (Af::Inet, "-wgpsk".into(), "wgpsk: wgpeer not set"),
        (Af::Inet, "wgdescr x".into(), "wgdescr: wgpeer not set"),
        (
            Af::Inet,
            "wgdescription x".into(),
            "wgdescr: wgpeer not set",
        ),
        (Af::Inet, "-wgdescr".into(), "wgdescr: wgpeer not set"),
        (Af::Inet, "-wgdescription".into(), "wgdescr: wgpeer not set"),
        (Af::Inet, "wgkey".into(), "'wgkey' requires argument"),
        (Af::Inet, "wgport".into(), "'wgport' requires argument"),
        (Af::Inet, "wgpeer".into(), "'wgpeer' requires argument"),
        (
            Af::Inet,
            format!("wgpeer {K1} wgaip"),
            "'wgaip' requires argument",
        ),
        (
            Af::Inet,
            format!("wgpeer {K1} wgendpoint 127.0.0.1"),
            "'wgendpoint' requires 2 arguments",
        ),
        (Af::Inet, "mtu".into(), "'mtu' requires argument"),
        (Af::Inet, "mtu abc".into(), "mtu abc: invalid"),
        (
            Af::Inet,
            "mtu 2147483648".into(),
            "mtu 2147483648: too large",
        ),
        (Af::Inet, "rdomain 256".into(), "rdomain 256: too large"),
        (Af::Inet, "rdomain".into(), "'rdomain' requires argument"),
        (
            Af::Inet,
            "description".into(),
            "'description' requires argument",
        ),
        (Af::Inet, "10.0.0.1/33".into(), "10.0.0.1/33: bad value"),
        (Af::Inet, "10.0.0.x/24".into(), "10.0.0.x/24: bad value"),
        (Af::Inet, "10.0.0.300/24".into(), "10.0.0.300/24: bad value"),
        (Af::Inet, "10.0.0.1/+24".into(), "10.0.0.1/+24: bad value"),
        (Af::Inet, "bogus".into(), "bogus: bad value"),
        (Af::Inet, "create".into(), "create: bad value"),
        (
            Af::Inet,
            "10.0.0.1 10.0.0.2 10.0.0.3".into(),
            "10.0.0.3: bad value",
        ),
        (
            Af::Inet,
            "10.0.0.1 netmask 255.0.255.0".into(),
            "255.0.255.0: bad value",
        ),
        (
            Af::Inet,
            "10.0.0.1 prefixlen 33".into(),
            "prefix 33: too large",
        ),
        (
            Af::Inet6,
            "fd00::1 prefixlen 129".into(),
            "prefix 129: too large",
        ),
        (Af::Inet6, "fd00::1/200".into(), "prefix 200: too large"),
        (
            Af::Inet6,
            "fd00::zz".into(),
            "fd00::zz: no address associated with name",
        ),
    ];
    for (af, s, want) in cases {
        let (_, r) = parse_collect(&args(&s), af, &FakeDns);
        assert_eq!(r.unwrap_err(), want, "{s}");
    }
}

#[test]
fn a_bad_argument_stops_the_parse_after_earlier_generic_verbs() {
    let (ops, r) = parse_collect(
        &args(&format!("up wgpeer {K1} wgport 70000 down mtu 1300")),
        Af::Inet,
        &FakeDns,
    );
    assert_eq!(ops, vec![GenericOp::Up]);
    assert_eq!(r.unwrap_err(), "wgport: 70000, too large");
}

#[test]
fn no_parameters_means_no_action() {
    let (ops, p) = ok("");
    assert!(ops.is_empty());
    assert_eq!(p, Plan::default());
}

#[test]
fn minus_wgaip_is_a_removal_record_after_the_peer() {
    let aip = |s: &str, cidr| AipIo {
        addr: s.parse().unwrap(),
        cidr,
    };
    let got = wg_of(&format!(
        "wgpeer {K1} -wgaip 10.0.0.0/24 wgpka 5 -wgaip fd00::1 wgpeer {K2} wgaip 10.1.0.0/16"
    ));
    let mut main1 = peer(k1());
    main1.pka = Some(5);
    let removal = PeerIo {
        update_only: true,
        remove_aips: true,
        aips: vec![aip("10.0.0.0", 24), aip("fd00::1", 128)],
        ..peer(k1())
    };
    let mut main2 = peer(k2());
    main2.replace_aips = true;
    main2.aips = vec![aip("10.1.0.0", 16)];
    assert_eq!(
        got,
        InterfaceIo {
            peers: vec![main1, removal, main2],
            ..InterfaceIo::default()
        }
    );
    // Without a peer, or without a prefix, it is an error.
    for bad in [
        "-wgaip 10.0.0.0/8",
        &format!("wgpeer {K1} -wgaip"),
        &format!("wgpeer {K1} -wgaip 10.0.0.0/33"),
    ] {
        let e = parse_collect(&args(bad), Af::Inet, &FakeDns).1;
        assert!(e.is_err(), "{bad}");
    }
}
