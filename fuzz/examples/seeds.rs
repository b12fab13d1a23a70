//! Writes the starting corpus of every target into `fuzz/corpus/<target>/seed-*`:
//! valid inputs of each format (the handshake test vectors of tests/vectors, frames
//! and buffers built with the crate's own encoders, command lines and files from the
//! tests, well-formed super-packets), so the fuzzer starts from what is accepted.
//! Run from fuzz/: `cargo run --example seeds` (scripts/fuzz.sh does it when a
//! corpus directory is missing). Existing files are left alone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use wgif::driver::gso::{VnetHdr, F_NEEDS_CSUM, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4};
use wgif::ioctl::codec::{encode, DataIo, Dir};
use wgif::ioctl::frame::{self, RequestBody};
use wgif::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo, Timespec};
use wgif::ioctl::request::{Inet4Addr, Inet6Addr, Request};
use wgif_fuzz::{ipv4, ipv6, A_INNER4, A_INNER6, B_INNER4, B_INNER6};

const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
const K3: &str = "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";

fn write(target: &str, seeds: Vec<Vec<u8>>) {
    let dir = Path::new("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, s) in seeds.iter().enumerate() {
        let p = dir.join(format!("seed-{i:03}"));
        if !p.exists() {
            std::fs::write(p, s).unwrap();
        }
    }
    println!("{target}: {} seeds", seeds.len());
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The messages of tests/vectors/handshake.txt.
fn vector_messages() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string("../tests/vectors/handshake.txt").unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && (l.contains("bytes) =") || l.contains("ctr=")))
        .filter_map(|l| l.split(" = ").nth(1))
        .map(|h| hex(h.trim()))
        .collect()
}

/// A datagram in the engine_datagram format: `how`, a two-byte length, the bytes.
fn dgram(how: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![how];
    v.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    v.extend_from_slice(bytes);
    v
}

fn engine_datagram() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for m in vector_messages() {
        seeds.push([vec![0], dgram(0, &m)].concat());
        // The same with the exact shape and a valid mac1 for B.
        let shape = m[0] & 7;
        seeds.push([vec![1], dgram(shape | 8, &m), dgram(shape | 8 | 64, &m)].concat());
    }
    seeds.push([vec![0], dgram(1 | 8, &[]), dgram(1 | 8 | 64, &[])].concat());
    seeds.push(
        [
            vec![0],
            dgram(4, &[0u8; 64]),
            dgram(128, &[]),
            vec![0xff, 0xff],
        ]
        .concat(),
    );
    seeds
}

fn engine_handshake() -> Vec<Vec<u8>> {
    vec![
        // A valid initiation from A (then its session is checked).
        vec![0, 0, 0, 0, 1, 1, 2, 3, 4],
        // With B's PSK; then a replay; then time; then another initiation.
        vec![
            1, 0, 1, 0, 2, 9, 0, 0, 0, 2, 0, 3, 0x10, 0x27, 0, 2, 0, 3, 5, 6, 7, 8,
        ],
        // Under load: a cookie reply, then the initiation again with mac2.
        vec![4, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0],
        // B initiates, A answers; then data from A.
        vec![
            0, 4, 0x45, 0, 0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 1, 1, 1, 1, 1,
        ],
        // An unknown peer, B itself, an edited initiation, a wrong PSK.
        vec![
            2, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 2, 1, 0, 0, 0, 0, 8, 1, 0, 1, 1, 1, 1, 1, 60, 0, 0xff,
        ],
        // Handshake-shaped bytes of the fuzzer's own.
        vec![0, 1, 0, 0xaa, 1, 1, 0xbb, 1, 2, 0xcc],
    ]
}

fn engine_session() -> Vec<Vec<u8>> {
    let data = |op: u8, body: &[u8], proto: u8, pad: u8| {
        let mut v = vec![op, body.len() as u8, 0];
        v.extend_from_slice(body);
        v.push(proto);
        v.push(pad);
        v
    };
    vec![
        [vec![0], data(0, b"hello", 17, 0)].concat(),
        [
            vec![1],
            data(0, b"hello", 17, 3),
            data(0x20, b"six", 6, 0),
            vec![3],
        ]
        .concat(),
        // In order, a replay, a flipped copy, out of order, far ahead.
        [
            vec![0],
            data(0, b"one", 17, 0),
            data(0, b"two", 17, 0),
            vec![2, 0, 0, 0, 0],
            vec![2 | 0x10, 1, 20, 0, 1],
            data(0x08, b"back", 17, 0),
            data(0x10, b"ahead", 17, 0),
        ]
        .concat(),
        // B talks, time passes past the session's life, A talks again.
        [
            vec![0],
            data(0, b"x", 17, 0),
            vec![4, 4, 0, 1, 2, 3, 4],
            vec![5, 0xff, 0xff],
            vec![5, 0xff, 0xff],
            data(0, b"late", 17, 0),
        ]
        .concat(),
        // A source B does not allow, and bytes that are not IP.
        [
            vec![0],
            data(0x40, b"spoof", 17, 0),
            data(0x60, b"raw", 0, 0),
        ]
        .concat(),
    ]
}

/// Sample SIOCSWG/SIOCGWG models: every field used at least once.
fn models() -> Vec<InterfaceIo> {
    let peer = |k: u8| PeerIo {
        protocol_version: 1,
        public: Some(Key([k; 32])),
        psk: Some(Key([k + 1; 32])),
        pka: Some(25),
        endpoint: Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, k)),
            51820,
        )),
        description: Some(format!("peer {k}")),
        aips: vec![
            AipIo {
                addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, k)),
                cidr: 32,
            },
            AipIo {
                addr: "fd00::1".parse().unwrap(),
                cidr: 64,
            },
        ],
        tx_bytes: 1000,
        rx_bytes: 2000,
        last_handshake: Timespec {
            sec: 1_700_000_000,
            nsec: 5,
        },
        ..PeerIo::default()
    };
    let mut named = peer(7);
    named.endpoint = Some("[2001:db8::7]:4500".parse().unwrap());
    named.endpoint_host = Some("vpn.example.net".into());
    let mut removal = PeerIo {
        public: Some(Key([9; 32])),
        remove: true,
        ..PeerIo::default()
    };
    removal.update_only = true;
    vec![
        InterfaceIo::default(),
        InterfaceIo {
            private: Some(Key([0x22; 32])),
            port: Some(51820),
            rtable: Some(1),
            replace_peers: true,
            peers: vec![peer(1), peer(3)],
            ..InterfaceIo::default()
        },
        InterfaceIo {
            public: Some(Key([5; 32])),
            peers: vec![named, removal],
            ..InterfaceIo::default()
        },
    ]
}

fn wg_data_io() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (i, m) in models().iter().enumerate() {
        for dir in [Dir::Set, Dir::Get] {
            seeds.push([vec![i as u8], encode(m, dir).to_vec()].concat());
        }
    }
    let d = DataIo {
        name: "wg0".into(),
        size: 4096,
    };
    seeds.push([vec![1], d.encode().unwrap().to_vec()].concat());
    seeds
}

fn requests() -> Vec<RequestBody> {
    let body = |ifname: &str, request| RequestBody {
        ifname: ifname.into(),
        request,
    };
    let mut v: Vec<RequestBody> = models()
        .iter()
        .map(|m| {
            body(
                "wg0",
                Request::SetWg {
                    data: encode(m, Dir::Set).to_vec(),
                },
            )
        })
        .collect();
    v.extend([
        body("wg0", Request::GetWg { size: 0 }),
        body("wg0", Request::GetWg { size: 1 << 20 }),
        body("wg0", Request::Create),
        body("wg1", Request::Destroy),
        body("wg0", Request::GetInfo),
        body("wg0", Request::SetFlags { flags: 5 }),
        body("wg0", Request::SetMtu { mtu: 1420 }),
        body("wg0", Request::SetRdomain { rdomain: 3 }),
        body(
            "wg0",
            Request::SetDescription {
                description: "office".into(),
            },
        ),
        body(
            "wg0",
            Request::AddInet(Inet4Addr {
                addr: Ipv4Addr::new(10, 0, 0, 1),
                prefixlen: 24,
                broadcast: Some(Ipv4Addr::new(10, 0, 0, 255)),
                dest: None,
            }),
        ),
        body("wg0", Request::DelInet(Ipv4Addr::new(10, 0, 0, 1))),
        body(
            "wg0",
            Request::AddInet6(Inet6Addr {
                addr: "fd00::1".parse().unwrap(),
                prefixlen: 64,
                scope_id: 0,
            }),
        ),
        body("wg0", Request::DelInet6("fd00::1".parse().unwrap())),
        body("", Request::ListInterfaces),
    ]);
    v
}

fn control_stream() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let reqs = requests();
    for (i, r) in reqs.iter().enumerate() {
        let f = frame::encode(r);
        // Root and another user, a whole frame each.
        seeds.push([vec![1], f.clone()].concat());
        if i % 3 == 0 {
            seeds.push([vec![0], f.clone()].concat());
        }
        // Body mode: the postcard body alone, the harness frames it.
        let mut b = vec![3];
        b.extend_from_slice(&((f.len() - 10) as u16).to_le_bytes());
        b.extend_from_slice(&f[10..]);
        seeds.push(b);
    }
    // Several requests on one connection.
    let all: Vec<u8> = reqs.iter().flat_map(frame::encode).collect();
    seeds.push([vec![1], all].concat());
    seeds
}

fn uapi_request() -> Vec<Vec<u8>> {
    let k = |b: u8| format!("{b:02x}").repeat(32);
    let set = format!(
        "set=1\nprivate_key={}\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n\
         public_key={}\npreshared_key={}\nendpoint=192.0.2.1:51820\n\
         persistent_keepalive_interval=25\nreplace_allowed_ips=true\n\
         allowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\nprotocol_version=1\n\
         public_key={}\nupdate_only=true\nendpoint=[2001:db8::1]:7\n\
         public_key={}\nremove=true\n\n",
        k(0x22),
        k(1),
        k(2),
        k(3),
        k(4)
    );
    vec![
        [b"\x01".to_vec(), b"get=1\n\n".to_vec()].concat(),
        [
            b"\x01".to_vec(),
            set.clone().into_bytes(),
            b"get=1\n\n".to_vec(),
        ]
        .concat(),
        [b"\x00".to_vec(), set.into_bytes()].concat(),
        [b"\x00".to_vec(), b"get=1\n\nget=1\nx=y\n\n".to_vec()].concat(),
    ]
}

fn cli_lines() -> Vec<String> {
    vec![
        "wg0".into(),
        "-A".into(),
        "-a".into(),
        "-C".into(),
        "-j wg0".into(),
        "--prometheus".into(),
        "wg0 create".into(),
        "wg0 destroy".into(),
        format!("wg0 wgkey {K1} wgport 51820 wgrtable 1"),
        format!("wg0 wgpeer {K2} wgendpoint 192.0.2.1 51820 wgaip 10.0.0.0/8 wgaip fd00::/64 wgpsk {K3} wgpka 25 wgdescr office"),
        format!("wg0 -wgpeerall wgpeer {K1} -wgpsk -wgdescr -wgpeer {K2} wgpeer {K1} -wgdescription wgpka 0"),
        format!("wg0 wgpeer {K2} -wgaip 10.0.0.0/8 -wgendpoint"),
        "wg0 up mtu 1400 rdomain 1 -rdomain debug -debug down descr office -description description x -descr -inet -inet6".into(),
        "wg0 inet 10.0.0.1 netmask 255.255.255.0 broadcast 10.0.0.255".into(),
        "wg0 inet 10.0.0.1/24 alias".into(),
        "wg0 inet6 fd00::1 prefixlen 64".into(),
        "wg0 inet6 fd00::1/64 -alias".into(),
        "wg0 inet 10.0.0.1 10.0.0.2 delete".into(),
        "wg0 mtu 2147483648".into(),
        "wg0 wgkey AAAA".into(),
    ]
}

fn wgifconfig_cli() -> Vec<Vec<u8>> {
    cli_lines()
        .into_iter()
        .map(|l| l.split(' ').collect::<Vec<_>>().join("\0").into_bytes())
        .collect()
}

fn hostname_if() -> Vec<Vec<u8>> {
    let hand = format!(
        "# wg0 at the office\n!echo starting $if\ndescription \"office  'main' link\"\n\
         wgkey {K1} wgport 51820\nmtu 1400\ninet 10.8.0.1 255.255.255.0\n\
         inet alias 10.9.0.1 0xffff0000\ninet6 fd08::1 64\ninet6 alias fd09::1/48\n\
         wgpeer {K2} wgendpoint gw.example.net 51820 wgaip 10.8.0.2/32\n\
         wgpeer {K2} wgaip 10.8.0.3/32 wgpsk {K3} wgpka 30 wgdescr 'branch router'\n\
         wgpeer {K3} wgaip fd08::3/128 # a comment word\n\
         wgpeer {K3} -wgpsk wgendpoint 192.0.2.1 7000\nup\n!echo up $if\n"
    );
    vec![
        hand.clone().into_bytes(),
        hand.replace('\n', "\r\n").into_bytes(),
        "dhcp\ninet autoconf\ninet6 autoconf\ninet 10.0.0.1 255.0.0.0 NONE\ndest 10.0.0.2\nup\n"
            .into(),
        format!(
            "wgkey {K1}\nwgpeer {K2} wgaip 0.0.0.0/0 wgaip ::/0 wgendpoint \"192.0.2.9\" '51820'\n"
        )
        .into_bytes(),
    ]
}

fn wg_quick_files() -> Vec<String> {
    vec![
        format!(
            "# office gateway\n[Interface]\nPrivateKey = {K1}\nlistenport=51820\n\
             Address = 10.8.0.1/24, fd08::1/64 # both families\nAddress = 10.9.0.1\n\
             MTU = 1380\nDNS = 10.8.0.53, example.internal\nTable = off\nFwMark = 0x51\n\
             SaveConfig = false\nPreUp = ip link show %i\nPostUp = echo up %i\n\
             PreDown = echo predown\nPostDown = echo down %i\n\n# laptop of alice\n[Peer]\n\
             PublicKey = {K2}\nPresharedKey = {K3}\nEndpoint = vpn.example.com:51821\n\
             AllowedIPs = 10.8.0.2/32, fd08::2/128\nAllowedIPs = 192.168.10.0/24\n\
             PersistentKeepalive = 25\n\n[peer]\n# phone\nPUBLICKEY = {K3}\n\
             Endpoint = [2001:db8::7]:4500\nAllowedIPs = 0.0.0.0/0, ::/0\n\
             PersistentKeepalive = off\n"
        ),
        format!("[Interface]\nPrivateKey = {K1}\n[Peer]\nPublicKey = {K2}\nEndpoint = 192.0.2.1:51820\nAllowedIPs = 10.0.0.0/8\n"),
        "[Interface]\nAddress = 10.0.0.1/32\n".into(),
    ]
}

fn wgquick() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = wg_quick_files()
        .into_iter()
        .map(String::into_bytes)
        .collect();
    v.push(wg_quick_files()[0].replace('\n', "\r\n").into_bytes());
    v
}

fn tcp(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&1234u16.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&512u16.to_be_bytes());
    t.extend_from_slice(payload);
    t
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&53u16.to_be_bytes());
    u[2..4].copy_from_slice(&5353u16.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u[6..8].copy_from_slice(&0x1234u16.to_be_bytes());
    u.extend_from_slice(payload);
    u
}

fn gso_split() -> Vec<Vec<u8>> {
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let hdr = |gso_type, gso_size: u16, start: u16, off: u16| {
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type,
            hdr_len: start + if off == 16 { 20 } else { 8 },
            gso_size,
            csum_start: start,
            csum_offset: off,
        }
        .encode()
        .to_vec()
    };
    // header, fix, stride (2), headroom, slots, packet
    let seed = |h: Vec<u8>, fix: u8, pkt: Vec<u8>| [h, vec![fix, 0xdc, 0x05, 16, 8], pkt].concat();
    vec![
        seed(
            hdr(GSO_TCPV4, 1000, 20, 16),
            0,
            ipv4(A_INNER4, B_INNER4, 6, &tcp(1, 0x18, &payload)),
        ),
        seed(
            hdr(GSO_TCPV6, 1200, 40, 16),
            0,
            ipv6(A_INNER6, B_INNER6, 6, &tcp(7, 0x99, &payload)),
        ),
        seed(
            hdr(GSO_UDP_L4, 1100, 20, 6),
            0,
            ipv4(A_INNER4, B_INNER4, 17, &udp(&payload)),
        ),
        seed(
            hdr(GSO_UDP_L4, 900, 40, 6),
            0,
            ipv6(A_INNER6, B_INNER6, 17, &udp(&payload)),
        ),
        seed(
            hdr(GSO_NONE, 0, 20, 6),
            0,
            ipv4(A_INNER4, B_INNER4, 17, &udp(b"small")),
        ),
        seed(
            vec![0; 10],
            1 | 8,
            ipv4(A_INNER4, B_INNER4, 6, &tcp(1, 0x10, &payload[..2000])),
        ),
        seed(
            vec![0; 10],
            3,
            ipv6(A_INNER6, B_INNER6, 17, &udp(&payload[..1500])),
        ),
    ]
}

fn gro_coalesce() -> Vec<Vec<u8>> {
    let raw = |p: &[u8]| {
        let mut v = vec![0u8];
        v.extend_from_slice(&(p.len() as u16).to_le_bytes());
        v.extend_from_slice(p);
        v
    };
    let follow = |n: u16| {
        let mut v = vec![2u8];
        v.extend_from_slice(&n.to_le_bytes());
        v.extend(std::iter::repeat_n(0x5a, n as usize));
        v
    };
    let seg: Vec<u8> = vec![7; 1000];
    let t4 = ipv4(A_INNER4, B_INNER4, 6, &tcp(100, 0x10, &seg));
    let t6 = ipv6(A_INNER6, B_INNER6, 6, &tcp(100, 0x10, &seg));
    let u4 = ipv4(A_INNER4, B_INNER4, 17, &udp(&seg));
    vec![
        [
            vec![1, 16],
            raw(&t4),
            follow(1000),
            follow(1000),
            follow(500),
        ]
        .concat(),
        [
            vec![1, 16],
            raw(&t6),
            follow(1000),
            follow(1000),
            raw(&u4),
            follow(1000),
        ]
        .concat(),
        [
            vec![3, 16],
            raw(&u4),
            follow(1000),
            follow(1000),
            follow(10),
        ]
        .concat(),
        [
            vec![3, 2],
            raw(&t4),
            follow(1000),
            follow(1000),
            raw(&t6),
            follow(1000),
        ]
        .concat(),
    ]
}

fn checksum() -> Vec<Vec<u8>> {
    vec![
        [vec![0; 8], ipv4(A_INNER4, B_INNER4, 6, b"payload")].concat(),
        [
            vec![0xff; 8],
            vec![0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6],
        ]
        .concat(),
        (0..200u8).collect(),
    ]
}

fn main() {
    write("engine_datagram", engine_datagram());
    write("engine_handshake", engine_handshake());
    write("engine_session", engine_session());
    write("control_stream", control_stream());
    write("wg_data_io", wg_data_io());
    write("uapi_request", uapi_request());
    write("wgifconfig_cli", wgifconfig_cli());
    write("hostname_if", hostname_if());
    write("wgquick", wgquick());
    write("gso_split", gso_split());
    write("gro_coalesce", gro_coalesce());
    write("checksum", checksum());
}
