//! Benchmark (not a test): the daemon-side cost of a large configuration, 100k peers x
//! 10 allowed IPs, step by step through the protocol engine and the codec (what one
//! SIOCSWG, SIOCGWG, -wgpeerall and destroy do inside wgd, without the socket).
//! Run with `cargo run --release --example config_bench [PEERS]`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;
use wgif::ioctl::codec::{self, Dir};
use wgif::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo};
use wgif::proto::Interface;

fn ms(t: Instant) -> String {
    format!("{:.0} ms", t.elapsed().as_secs_f64() * 1e3)
}

fn main() {
    let peers: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let aips = 10u32;
    let model = InterfaceIo {
        private: Some(Key([7u8; 32])),
        peers: (0..peers)
            .map(|i| {
                let mut k = [0u8; 32];
                k[..4].copy_from_slice(&i.to_le_bytes());
                k[31] = 0x40;
                PeerIo {
                    public: Some(Key(k)),
                    endpoint: Some(SocketAddr::from((
                        [192, 0, 2, 1],
                        1024 + (i % 60000) as u16,
                    ))),
                    aips: (0..aips)
                        .map(|a| AipIo {
                            addr: IpAddr::V4(Ipv4Addr::from((10u32 << 24) + i * aips + a)),
                            cidr: 32,
                        })
                        .collect(),
                    ..PeerIo::default()
                }
            })
            .collect(),
        ..InterfaceIo::default()
    };
    let buf = codec::encode(&model, Dir::Set);
    println!(
        "{peers} peers x {aips} allowed IPs, SIOCSWG buffer {} MB",
        buf.len() >> 20
    );

    let t = Instant::now();
    let decoded = codec::decode(&buf, Dir::Set).unwrap();
    println!("decode SIOCSWG buffer: {}", ms(t));

    let now = Instant::now();
    let mut i = Interface::new(now, &mut rand_core::OsRng);
    let t = Instant::now();
    i.set_private_key(Some(&[7u8; 32]), now);
    for (id, p) in decoded.peers.iter().enumerate() {
        let id = id as u64;
        i.add_peer(id, &p.public.as_ref().unwrap().0, now).unwrap();
        i.set_endpoint(id, p.endpoint);
        for a in &p.aips {
            i.add_aip(id, a.addr, a.cidr).unwrap();
        }
    }
    println!("apply (add peers and allowed IPs): {}", ms(t));
    while i.poll_event().is_some() {}

    let t = Instant::now();
    let _ = i.config_counts();
    println!("SIOCGWG size query: {}", ms(t));
    let t = Instant::now();
    let ids = i.peer_ids();
    let infos: Vec<_> = ids.iter().filter_map(|id| i.peer_info(*id)).collect();
    println!("SIOCGWG model ({} peers): {}", infos.len(), ms(t));

    let t = Instant::now();
    i.remove_all_peers();
    println!("remove all peers: {}", ms(t));
    let t = Instant::now();
    while i.poll_event().is_some() {}
    drop(i);
    println!("drop the emptied interface: {}", ms(t));
}
