//! The wg_data_io codec against golden buffers built field by field from the offset tables
//! of openbsd-wg-interface spec §1.3–1.6 (tests/golden/make_goldens.py), plus truncation,
//! lying counts, random mutation and round-trip properties.

use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use wgif::ioctl::codec::{self, DecodeError, Dir};
use wgif::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo, Timespec};

fn golden(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn k(f: impl Fn(u8) -> u8) -> Key {
    let mut b = [0u8; 32];
    for (i, x) in b.iter_mut().enumerate() {
        *x = f(i as u8);
    }
    Key(b)
}

fn v6() -> Ipv6Addr {
    "2001:db8::1".parse().unwrap()
}

fn two_peers_model() -> InterfaceIo {
    InterfaceIo {
        public: Some(k(|i| i + 1)),
        private: Some(k(|i| i + 101)),
        port: Some(7111),
        rtable: None,
        replace_peers: false,
        peers: vec![
            PeerIo {
                protocol_version: 1,
                public: Some(k(|i| 0xA0 + i % 16)),
                psk: Some(Key([0x55; 32])),
                pka: Some(25),
                endpoint: Some("127.0.0.1:7222".parse().unwrap()),
                tx_bytes: 15640,
                rx_bytes: 22904,
                last_handshake: Timespec {
                    sec: 1_700_000_000,
                    nsec: 5,
                },
                aips: vec![
                    AipIo {
                        addr: IpAddr::V4(Ipv4Addr::new(192, 168, 5, 2)),
                        cidr: 32,
                    },
                    AipIo {
                        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)),
                        cidr: 8,
                    },
                ],
                ..PeerIo::default()
            },
            PeerIo {
                protocol_version: 1,
                public: Some(k(|i| 0x10 * (i % 8) + 1)),
                endpoint: Some(SocketAddr::V6(SocketAddrV6::new(v6(), 51820, 0, 0))),
                aips: vec![AipIo {
                    addr: IpAddr::V6(v6()),
                    cidr: 128,
                }],
                ..PeerIo::default()
            },
        ],
    }
}

fn check_golden(name: &str, dir: Dir, expected: InterfaceIo) {
    let bytes = golden(name);
    let model = codec::decode(&bytes, dir).unwrap();
    assert_eq!(model, expected, "{name} decodes to the hand-written model");
    assert_eq!(codec::needed_size(&model), bytes.len());
    assert_eq!(
        &codec::encode(&model, dir)[..],
        &bytes[..],
        "{name} re-encodes byte for byte"
    );
}

#[test]
fn golden_no_peers() {
    check_golden(
        "no_peers.bin",
        Dir::Get,
        InterfaceIo {
            public: Some(k(|i| i + 1)),
            private: Some(k(|i| i + 101)),
            port: Some(7111),
            ..InterfaceIo::default()
        },
    );
}

#[test]
fn golden_unprivileged_view() {
    let expected = InterfaceIo {
        port: Some(51820),
        rtable: Some(3),
        ..InterfaceIo::default()
    };
    check_golden("unprivileged.bin", Dir::Get, expected.clone());
    // The server's unprivileged reply to a full model is exactly this header.
    let mut full = two_peers_model();
    full.port = Some(51820);
    full.rtable = Some(3);
    let (size, data) = codec::get_reply(&full, 1 << 20, true);
    assert_eq!(size, 80);
    assert_eq!(&data.unwrap()[..], &golden("unprivileged.bin")[..]);
}

#[test]
fn golden_two_peers_three_aips_is_568_bytes() {
    assert_eq!(golden("two_peers.bin").len(), 568);
    check_golden("two_peers.bin", Dir::Get, two_peers_model());
}

#[test]
fn golden_description_set_form() {
    check_golden(
        "description.bin",
        Dir::Set,
        InterfaceIo {
            replace_peers: true,
            peers: vec![PeerIo {
                protocol_version: 0,
                public: Some(k(|i| 0xA0 + i % 16)),
                replace_aips: true,
                description: Some("office gateway".into()),
                aips: vec![AipIo {
                    addr: IpAddr::V6(v6()),
                    cidr: 64,
                }],
                ..PeerIo::default()
            }],
            ..InterfaceIo::default()
        },
    );
}

#[test]
fn size_query_writes_nothing() {
    let m = two_peers_model();
    for cap in [0u64, 80, 567] {
        let (size, data) = codec::get_reply(&m, cap, false);
        assert_eq!(size, 568);
        assert!(data.is_none());
    }
    let (size, data) = codec::get_reply(&m, 568, false);
    assert_eq!((size, data.unwrap().len()), (568, 568));
    let (size, data) = codec::get_reply(&m, 79, true);
    assert_eq!((size, data.is_none()), (80, true));
}

#[test]
fn every_truncation_is_rejected() {
    for name in ["no_peers.bin", "two_peers.bin", "description.bin"] {
        let b = golden(name);
        for cut in 0..b.len() {
            assert!(
                codec::decode(&b[..cut], Dir::Get).is_err(),
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn lying_counts_and_trailing_bytes() {
    let mut b = golden("two_peers.bin");
    b[72] = 3; // i_peers_count 3, room for 2
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::LyingCount {
            what: "i_peers_count",
            ..
        })
    ));
    let mut b = golden("two_peers.bin");
    b[72..80].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::LyingCount { .. })
    ));
    let mut b = golden("two_peers.bin");
    b[80 + 200..80 + 208].copy_from_slice(&(1u64 << 40).to_le_bytes()); // p_aips_count
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::LyingCount {
            what: "p_aips_count",
            ..
        })
    ));
    let mut b = golden("two_peers.bin");
    b[72] = 1; // one peer: the second peer's bytes are left over
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::TrailingBytes { .. })
    ));
    let mut b = golden("no_peers.bin");
    b.push(0);
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::TrailingBytes { at: 80, len: 81 })
    ));
}

#[test]
fn bad_family_cidr_and_flags() {
    let aip0 = 80 + 208;
    let mut b = golden("two_peers.bin");
    b[aip0] = 10; // Linux's AF_INET6 is not OpenBSD's
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::UnknownFamily { family: 10, .. })
    ));
    let mut b = golden("two_peers.bin");
    b[aip0 + 4] = 33;
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::BadCidr { cidr: 33, .. })
    ));
    let mut b = golden("two_peers.bin");
    b[aip0 + 4..aip0 + 8].copy_from_slice(&(-1i32).to_le_bytes());
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::BadCidr { cidr: -1, .. })
    ));
    let mut b = golden("two_peers.bin");
    b[80 + 77] = 99; // endpoint family
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::UnknownFamily {
            what: "endpoint",
            ..
        })
    ));
    let mut b = golden("two_peers.bin");
    b[80 + 1] = 4; // p_flags bit 10 (bits 8 and 9 are wgif's extensions)
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::UnknownFlags { .. })
    ));
    let mut b = golden("no_peers.bin");
    b[0] = 0x20;
    assert!(matches!(
        codec::decode(&b, Dir::Get),
        Err(DecodeError::UnknownFlags { .. })
    ));
}

#[test]
fn one_million_aips_are_accepted() {
    let n = 1_000_000usize;
    let aips = (0..n)
        .map(|i| AipIo {
            addr: IpAddr::V4(Ipv4Addr::from(i as u32)),
            cidr: 32,
        })
        .collect();
    let m = InterfaceIo {
        peers: vec![PeerIo {
            public: Some(Key([7; 32])),
            aips,
            ..PeerIo::default()
        }],
        ..InterfaceIo::default()
    };
    let b = codec::encode(&m, Dir::Set);
    assert_eq!(b.len(), 80 + 208 + 24 * n);
    assert_eq!(codec::decode(&b, Dir::Set).unwrap(), m);
}

fn arb_key() -> impl Strategy<Value = Key> {
    any::<[u8; 32]>().prop_map(Key)
}

fn arb_aip() -> impl Strategy<Value = AipIo> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, c)| AipIo {
            addr: IpAddr::V4(Ipv4Addr::from(a)),
            cidr: c
        }),
        (any::<u128>(), 0u8..=128).prop_map(|(a, c)| AipIo {
            addr: IpAddr::V6(Ipv6Addr::from(a)),
            cidr: c
        }),
    ]
}

fn arb_endpoint() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>()).prop_map(|(a, p)| SocketAddr::from((Ipv4Addr::from(a), p))),
        (any::<u128>(), any::<u16>(), any::<u32>(), any::<u32>())
            .prop_map(|(a, p, f, s)| SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(a), p, f, s))),
    ]
}

fn arb_peer() -> impl Strategy<Value = PeerIo> {
    (
        (
            0i32..3,
            proptest::option::of(arb_key()),
            proptest::option::of(arb_key()),
            proptest::option::of(any::<u16>()),
        ),
        (
            proptest::option::of(arb_endpoint()),
            any::<(bool, bool, bool, bool, bool)>(),
            proptest::option::of("[a-z ]{0,63}"),
            proptest::option::of("[A-Za-z0-9._-]{1,253}"),
        ),
        (
            any::<u64>(),
            any::<u64>(),
            any::<(i64, i64)>(),
            proptest::collection::vec(arb_aip(), 0..5),
        ),
    )
        .prop_map(
            |(
                (v, public, psk, pka),
                (endpoint, (r, rm, up, clear, rm_aips), description, host),
                (tx, rx, (s, ns), aips),
            )| PeerIo {
                protocol_version: v,
                public,
                psk,
                pka,
                endpoint,
                clear_endpoint: clear && endpoint.is_none(),
                replace_aips: r,
                remove: rm,
                update_only: up,
                remove_aips: rm_aips,
                // The host name record travels only with an endpoint address.
                endpoint_host: host.filter(|_| endpoint.is_some()),
                description,
                tx_bytes: tx,
                rx_bytes: rx,
                last_handshake: Timespec { sec: s, nsec: ns },
                aips,
            },
        )
}

fn arb_model() -> impl Strategy<Value = InterfaceIo> {
    (
        proptest::option::of(arb_key()),
        proptest::option::of(arb_key()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(0i32..=255),
        any::<bool>(),
        proptest::collection::vec(arb_peer(), 0..4),
    )
        .prop_map(
            |(public, private, port, rtable, replace_peers, peers)| InterfaceIo {
                public,
                private,
                port,
                rtable,
                replace_peers,
                peers,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn round_trip_set(m in arb_model()) {
        let b = codec::encode(&m, Dir::Set);
        prop_assert_eq!(b.len(), codec::needed_size(&m));
        prop_assert_eq!(codec::decode(&b, Dir::Set).unwrap(), m);
    }

    #[test]
    fn mutations_never_panic(m in arb_model(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut b = codec::encode(&m, Dir::Get).to_vec();
        for (at, v) in edits {
            let n = b.len();
            b[at % n] = v;
        }
        let n = b.len();
        b.truncate(n - cut % 8.min(n));
        let _ = codec::decode(&b, Dir::Get);
        let _ = codec::decode(&b, Dir::Set);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = codec::decode(&b, Dir::Set);
    }
}

/// One peer with an endpoint and the host name it came from, and no aips.
fn named_peer(host: &str) -> InterfaceIo {
    InterfaceIo {
        peers: vec![PeerIo {
            public: Some(Key([7u8; 32])),
            endpoint: Some("192.0.2.1:51820".parse().unwrap()),
            endpoint_host: Some(host.to_string()),
            ..PeerIo::default()
        }],
        ..InterfaceIo::default()
    }
}

#[test]
fn hostname_record_layout_and_bad_records() {
    let m = named_peer("peer.example");
    let b = codec::encode(&m, Dir::Set);
    // Header, the peer record, then the 256-byte host name record.
    assert_eq!(b.len(), 80 + 208 + 256);
    assert_eq!(b[80 + 1] & 2, 2, "p_flags bit 9 (WG_PEER_HAS_HOSTNAME)");
    assert_eq!(&b[288..288 + 12], b"peer.example");
    assert!(b[288 + 12..].iter().all(|&c| c == 0));

    // A request without the bit is exactly an OpenBSD one: the name adds nothing.
    let mut plain = m.clone();
    plain.peers[0].endpoint_host = None;
    assert_eq!(codec::encode(&plain, Dir::Set).len(), 80 + 208);

    // The bit without the record.
    let cut = &b[..80 + 208];
    assert!(matches!(
        codec::decode(cut, Dir::Set),
        Err(DecodeError::Truncated {
            what: "wg_hostname_io",
            ..
        })
    ));
    // No NUL in the record.
    let mut full = b.to_vec();
    full[288..].fill(b'a');
    assert!(matches!(
        codec::decode(&full, Dir::Set),
        Err(DecodeError::BadHostname { why: "no NUL", .. })
    ));
    // Empty name.
    let mut empty = b.to_vec();
    empty[288..].fill(0);
    assert!(matches!(
        codec::decode(&empty, Dir::Set),
        Err(DecodeError::BadHostname { why: "empty", .. })
    ));
    // A character a host name does not have.
    let mut space = b.to_vec();
    space[288 + 4] = b' ';
    assert!(matches!(
        codec::decode(&space, Dir::Set),
        Err(DecodeError::BadHostname { .. })
    ));
    // Garbage after the NUL.
    let mut tail = b.to_vec();
    tail[288 + 100] = 1;
    assert!(matches!(
        codec::decode(&tail, Dir::Set),
        Err(DecodeError::BadHostname {
            why: "bytes after the NUL",
            ..
        })
    ));
    // The bit with an endpoint of AF_UNSPEC (no address to start from).
    let mut noaddr = b.to_vec();
    noaddr[80 + 76..80 + 76 + 28].fill(0);
    let err = codec::decode(&noaddr, Dir::Set).unwrap_err();
    assert!(matches!(err, DecodeError::BadHostname { .. }), "{err:?}");
    assert!(err.to_string().contains("without an endpoint"), "{err}");
    // The longest name passes, one more byte is refused by the check the encoder's
    // callers use.
    let long = "a".repeat(253);
    assert_eq!(
        codec::decode(&codec::encode(&named_peer(&long), Dir::Set), Dir::Set).unwrap(),
        named_peer(&long)
    );
    assert!(codec::hostname_error(&"a".repeat(254)).is_some());
    assert!(codec::hostname_error("a b").is_some());
    assert!(codec::hostname_error("").is_some());
    assert_eq!(codec::hostname_error("vpn-1.example.org"), None);
}

/// The endpoint union byte by byte, written from the ABI (spec: BSD sockaddr_in6 on
/// amd64): sin6_len, sin6_family (AF_INET6 = 24), the port and sin6_flowinfo in
/// network order, the address, sin6_scope_id in host (little-endian) order. A
/// symmetric byte-order swap in encode and decode would round-trip; this would not.
#[test]
fn sockaddr_in6_layout_is_openbsd_s() {
    let sa = SocketAddr::V6(SocketAddrV6::new(
        "fe80::1".parse().unwrap(),
        7111,
        0x0102_0304,
        0x0a0b_0c0d,
    ));
    let mut out = [0xffu8; 28];
    codec::encode_sockaddr(&mut out, &sa);
    let mut want = vec![28u8, 24, 0x1b, 0xc7, 1, 2, 3, 4];
    want.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    want.extend_from_slice(&[0x0d, 0x0c, 0x0b, 0x0a]);
    assert_eq!(out.to_vec(), want);
    assert_eq!(codec::decode_sockaddr(&want, 0).unwrap(), Some(sa));
    let v4 = SocketAddr::from(([192, 0, 2, 1], 7111));
    codec::encode_sockaddr(&mut out, &v4);
    assert_eq!(out[..8].to_vec(), vec![16u8, 2, 0x1b, 0xc7, 192, 0, 2, 1]);
    assert!(out[8..].iter().all(|&b| b == 0));
}

/// The codec's limits, at the edge: the ABI's most peers (2^20) and allowed IPs
/// (2^21) are decoded, one more of either is refused as too large.
#[test]
fn the_limits_hold_exactly() {
    use wgif::ioctl::abi::{interface_io, INTERFACE_IO_SIZE, MAX_AIPS, MAX_PEERS, PEER_IO_SIZE};
    // Peers: records without flags (a SIOCSWG would skip them), count in the header.
    for (n, ok) in [(MAX_PEERS, true), (MAX_PEERS + 1, false)] {
        let mut b = vec![0u8; INTERFACE_IO_SIZE + n * PEER_IO_SIZE];
        b[interface_io::PEERS_COUNT..interface_io::PEERS_COUNT + 8]
            .copy_from_slice(&(n as u64).to_le_bytes());
        match codec::decode(&b, Dir::Set) {
            Ok(m) => assert!(ok && m.peers.len() == n, "{n} peers"),
            Err(e) => assert!(
                !ok && matches!(e, DecodeError::TooLarge { .. }),
                "{n} peers: {e:?}"
            ),
        }
    }
    // Allowed IPs, over two peers so the sum is what is limited.
    for (n, ok) in [(MAX_AIPS, true), (MAX_AIPS + 1, false)] {
        let aip = |i: usize| AipIo {
            addr: IpAddr::V4(Ipv4Addr::from(i as u32)),
            cidr: 32,
        };
        let half = n / 2;
        let m = InterfaceIo {
            peers: vec![
                PeerIo {
                    public: Some(Key([7; 32])),
                    aips: (0..half).map(aip).collect(),
                    ..PeerIo::default()
                },
                PeerIo {
                    public: Some(Key([8; 32])),
                    aips: (half..n).map(aip).collect(),
                    ..PeerIo::default()
                },
            ],
            ..InterfaceIo::default()
        };
        let b = codec::encode(&m, Dir::Set);
        match codec::decode(&b, Dir::Set) {
            Ok(d) => assert!(ok && d.peers[0].aips.len() + d.peers[1].aips.len() == n),
            Err(e) => assert!(
                !ok && matches!(e, DecodeError::TooLarge { .. }),
                "{n} aips: {e:?}"
            ),
        }
    }
}

/// WG_PEER_SET_DESCRIPTION (1 << 7) by direction: SIOCSWG carries it with the
/// description and ignores description bytes without it; SIOCGWG never sets it and
/// always carries the description (empty = none).
#[test]
fn the_description_flag_by_direction() {
    use wgif::ioctl::abi::{peer_io, INTERFACE_IO_SIZE};
    let set_description = 1u32 << 7;
    let m = InterfaceIo {
        peers: vec![PeerIo {
            public: Some(Key([7; 32])),
            description: Some("office".into()),
            ..PeerIo::default()
        }],
        ..InterfaceIo::default()
    };
    let flags = |b: &[u8]| {
        let at = INTERFACE_IO_SIZE + peer_io::FLAGS;
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    };
    let set = codec::encode(&m, Dir::Set);
    assert_ne!(flags(&set) & set_description, 0);
    let get = codec::encode(&m, Dir::Get);
    assert_eq!(flags(&get) & set_description, 0);
    let at = INTERFACE_IO_SIZE + peer_io::DESCRIPTION;
    assert_eq!(&get[at..at + 6], b"office");
    assert_eq!(
        codec::decode(&get, Dir::Get).unwrap().peers[0].description,
        Some("office".into())
    );
    // The get form read as a set: the bytes are there, the flag is not.
    assert_eq!(
        codec::decode(&get, Dir::Set).unwrap().peers[0].description,
        None
    );
    assert_eq!(
        codec::decode(&set, Dir::Set).unwrap().peers[0].description,
        Some("office".into())
    );
}
