//! The data plane under several worker threads, on the in-memory twins (no root):
//! 100,000 numbered packets through one peer, sealed by 4 workers on one side and
//! opened by 4 on the other, arrive in the order they were sent, none lost, and
//! the byte counters of both ends agree.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wgif::driver::dataplane::DataPlane;
use wgif::driver::link::{DataBufs, Env, Link};
use wgif::driver::twin::{MemTun, MemUdp, Recorder, SimClock};
use wgif::proto::Interface;

type Plane = DataPlane<MemTun, MemUdp>;

const A_INNER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B_INNER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PACKETS: u32 = 100_000;
const WORKERS: usize = 4;

/// An IPv4 packet from A to B whose payload starts with `n`.
fn numbered(n: u32) -> Vec<u8> {
    let len = 60 + (n % 7) as usize * 100;
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&A_INNER.octets());
    p[16..20].copy_from_slice(&B_INNER.octets());
    p[20..24].copy_from_slice(&n.to_be_bytes());
    p
}

fn plane(name: &str, addr: &str, key: &[u8; 32], clock: &SimClock, rng: &mut StdRng) -> Plane {
    let now = clock.now.get();
    let mut p = Interface::new(now, rng);
    p.set_private_key(Some(key), now);
    let dp = DataPlane::new(
        MemTun::default(),
        Link::new(name, p, now),
        1420,
        Box::new(|| {}),
    );
    dp.set_udp(Some(MemUdp::new(addr.parse().unwrap())));
    dp
}

/// Moves what `from` sent into `to`'s receive queue, in order (a lossless wire).
fn pump(from: &Plane, to: &Plane) -> usize {
    let (f, t) = (from.udp().unwrap(), to.udp().unwrap());
    let sent = std::mem::take(&mut *f.sent.borrow_mut());
    let n = sent.len();
    let mut q = t.inbound.borrow_mut();
    for d in sent {
        assert_eq!(d.to, t.addr);
        q.push_back((f.addr, d.data));
    }
    n
}

#[test]
fn numbered_packets_keep_their_order_through_four_workers_each_side() {
    let clock = SimClock::new(Instant::now());
    let mut rng = StdRng::seed_from_u64(11);
    let (mut ka, mut kb) = ([0u8; 32], [0u8; 32]);
    rng.fill_bytes(&mut ka);
    rng.fill_bytes(&mut kb);
    let a = Arc::new(plane("wg1", "127.0.0.1:1111", &ka, &clock, &mut rng));
    let b = Arc::new(plane("wg2", "127.0.0.2:2222", &kb, &clock, &mut rng));
    let (pa, pb) = (
        a.link().proto.public_key().unwrap(),
        b.link().proto.public_key().unwrap(),
    );
    let now = clock.now.get();
    for (dp, id, public, inner, ep) in [
        (&a, 2, pb, B_INNER, "127.0.0.2:2222"),
        (&b, 1, pa, A_INNER, "127.0.0.1:1111"),
    ] {
        let mut l = dp.link();
        l.proto.add_peer(id, &public, now).unwrap();
        l.proto.add_aip(id, IpAddr::V4(inner), 32).unwrap();
        l.proto
            .set_endpoint(id, Some(ep.parse::<SocketAddr>().unwrap()));
        l.proto.up(now);
        while l.proto.poll_event().is_some() {}
    }
    // The handshake, on this thread: packet 0 is staged until it completes.
    let log = Recorder::default();
    let mut bufs = DataBufs::new();
    let mut env = Env {
        clock: &clock,
        rng: &mut rng,
        log: &log,
    };
    a.tun.inbound.borrow_mut().push_back(numbered(0));
    assert!(a.tun_readable(&mut bufs, &mut env));
    for (from, to) in [(&a, &b), (&b, &a), (&a, &b)] {
        assert!(pump(from, to) > 0);
        assert!(to.udp_readable(false, &mut bufs, &mut env));
        while !to.serve_handshakes(&mut bufs.scratch, &mut env) {}
    }
    assert_eq!(
        b.tun.written.borrow().len(),
        1,
        "packet 0 after the handshake"
    );
    // B answers the confirmation with a keepalive (no data).
    assert_eq!(pump(&b, &a), 1);
    assert!(a.udp_readable(false, &mut bufs, &mut env));
    assert!(a.tun.written.borrow().is_empty());

    for n in 1..PACKETS {
        a.tun.inbound.borrow_mut().push_back(numbered(n));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for i in 0..2 * WORKERS {
        let (a, b, stop) = (a.clone(), b.clone(), stop.clone());
        let clock = SimClock::new(clock.now.get());
        threads.push(std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(100 + i as u64);
            let log = Recorder::default();
            let mut bufs = DataBufs::new();
            let mut env = Env {
                clock: &clock,
                rng: &mut rng,
                log: &log,
            };
            while !stop.load(Ordering::Relaxed) {
                let drained = if i < WORKERS {
                    a.tun_readable(&mut bufs, &mut env)
                } else {
                    b.udp_readable(false, &mut bufs, &mut env)
                };
                if drained {
                    std::thread::yield_now();
                }
            }
        }));
    }
    // The wire: A's datagrams reach B in the order A sent them.
    let deadline = Instant::now() + Duration::from_secs(120);
    while b.tun.written.borrow().len() < PACKETS as usize && Instant::now() < deadline {
        if pump(&a, &b) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let written = b.tun.written.borrow();
    assert_eq!(written.len(), PACKETS as usize, "every packet arrived");
    for (i, p) in written.iter().enumerate() {
        assert_eq!(*p, numbered(i as u32), "packet {i} in its place");
    }
    let (la, lb) = (a.link(), b.link());
    assert_eq!(la.drops, Default::default());
    assert_eq!(lb.drops, Default::default());
    let (ia, ib) = (
        la.proto.peer_info(2).unwrap(),
        lb.proto.peer_info(1).unwrap(),
    );
    assert_eq!(ia.tx_bytes, ib.rx_bytes, "A's tx bytes are B's rx bytes");
    assert_eq!(ib.tx_bytes, ia.rx_bytes, "and back");
}
