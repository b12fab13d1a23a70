//! Benchmark (not a test): encode + decode of 10k peers × 10 allowed IPs, and of one
//! peer with 1M allowed IPs. Run with `cargo run --release --example ioctl_bench`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;
use wgif::ioctl::codec::{self, Dir};
use wgif::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo};

fn time(label: &str, m: &InterfaceIo) {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let b = codec::encode(m, Dir::Set);
        let back = codec::decode(&b, Dir::Set).expect("decodes");
        assert_eq!(back.peers.len(), m.peers.len());
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("{label}: {best:.1} ms (best of 5, encode + decode)");
}

fn main() {
    let aip = |i: u32| AipIo {
        addr: IpAddr::V4(Ipv4Addr::from(i)),
        cidr: 32,
    };
    let many = InterfaceIo {
        peers: (0..10_000u32)
            .map(|p| PeerIo {
                public: Some(Key([p as u8; 32])),
                aips: (0..10).map(|a| aip(p * 10 + a)).collect(),
                ..PeerIo::default()
            })
            .collect(),
        ..InterfaceIo::default()
    };
    time("10k peers x 10 aips", &many);
    let big = InterfaceIo {
        peers: vec![PeerIo {
            public: Some(Key([1; 32])),
            aips: (0..1_000_000).map(aip).collect(),
            ..PeerIo::default()
        }],
        ..InterfaceIo::default()
    };
    time("1 peer x 1M aips", &big);
}
