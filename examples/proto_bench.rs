//! Benchmark (not a test) of the protocol engine on one core: handshakes per second as
//! responder, and seal/open of 1420- and 64-byte packets through the Interface data
//! path (allowed-IPs lookup, padding, AEAD, replay window included).
//! Run with `cargo run --release --example proto_bench`.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};
use wgif::proto::crypto::PrivateKey;
use wgif::proto::{Interface, RecvOutcome, SendOutcome, HEADROOM, TAILROOM};

fn key(rng: &mut StdRng) -> [u8; 32] {
    let mut k = [0u8; 32];
    rng.fill_bytes(&mut k);
    k
}

fn ipv4(src: [u8; 4], dst: [u8; 4], len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p
}

fn handshakes(rng: &mut StdRng) {
    let n = 3000u64;
    let now = Instant::now();
    let wall = SystemTime::now();
    let kb = key(rng);
    let pb = PrivateKey::from_bytes(&kb).public_key();
    let mut b = Interface::new(now, rng);
    b.set_private_key(Some(&kb), now);
    b.up(now);
    let b_addr: SocketAddr = "127.0.0.2:2".parse().unwrap();
    let mut inits = Vec::new();
    let mut out = vec![0u8; 2048];
    for i in 0..n {
        let ka = key(rng);
        let pa = PrivateKey::from_bytes(&ka).public_key();
        b.add_peer(i + 10, &pa, now).unwrap();
        let mut a = Interface::new(now, rng);
        a.set_private_key(Some(&ka), now);
        a.add_peer(1, &pb, now).unwrap();
        a.add_aip(1, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 32)
            .unwrap();
        a.set_endpoint(1, Some(b_addr));
        a.up(now);
        let pkt = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64);
        let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + 64].copy_from_slice(&pkt);
        let _ = a.encapsulate(now, wall, rng, &mut buf, 64);
        let t = a.poll_transmit(&mut out).expect("an initiation");
        inits.push(out[..t.len].to_vec());
    }
    let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let start = Instant::now();
    for m in &mut inits {
        let r = b.decapsulate(now, wall, rng, from, None, m, false);
        assert_eq!(r, RecvOutcome::Handled);
        b.poll_transmit(&mut out).expect("a response");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "handshakes as responder: {:.0}/s (one core, {n} initiations)",
        n as f64 / secs
    );
}

fn data(rng: &mut StdRng, size: usize) {
    let now = Instant::now();
    let wall = SystemTime::now();
    let (ka, kb) = (key(rng), key(rng));
    let (pa, pb) = (
        PrivateKey::from_bytes(&ka).public_key(),
        PrivateKey::from_bytes(&kb).public_key(),
    );
    let mut a = Interface::new(now, rng);
    let mut b = Interface::new(now, rng);
    a.set_private_key(Some(&ka), now);
    b.set_private_key(Some(&kb), now);
    a.add_peer(2, &pb, now).unwrap();
    b.add_peer(1, &pa, now).unwrap();
    a.add_aip(2, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 32)
        .unwrap();
    b.add_aip(1, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 32)
        .unwrap();
    let (a_addr, b_addr): (SocketAddr, SocketAddr) = (
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.2:2".parse().unwrap(),
    );
    a.set_endpoint(2, Some(b_addr));
    b.set_endpoint(1, Some(a_addr));
    a.up(now);
    b.up(now);
    let pkt = ipv4([10, 0, 0, 1], [10, 0, 0, 2], size);
    let mut buf = vec![0u8; HEADROOM + size + TAILROOM];
    buf[HEADROOM..HEADROOM + size].copy_from_slice(&pkt);
    let _ = a.encapsulate(now, wall, rng, &mut buf, size);
    // Handshake, then the staged packet and B's confirmation.
    let mut out = vec![0u8; 65536];
    for _ in 0..4 {
        while let Some(t) = a.poll_transmit(&mut out) {
            let _ = b.decapsulate(now, wall, rng, a_addr, None, &mut out[..t.len], false);
        }
        while let Some(t) = b.poll_transmit(&mut out) {
            let _ = a.decapsulate(now, wall, rng, b_addr, None, &mut out[..t.len], false);
        }
    }
    let n = 200_000;
    let mut sealed = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        buf[HEADROOM..HEADROOM + size].copy_from_slice(&pkt);
        match a.encapsulate(now, wall, rng, &mut buf, size) {
            SendOutcome::Send { range, .. } => {
                if sealed.len() < n {
                    sealed.push(range.len());
                }
            }
            other => panic!("not sent: {other:?}"),
        }
    }
    let seal = start.elapsed();
    // Open: fresh messages, each decrypted once (copying one back in is part of the
    // measured cost, as a receive into a buffer would be).
    let mut msgs = Vec::with_capacity(n);
    for _ in 0..n {
        buf[HEADROOM..HEADROOM + size].copy_from_slice(&pkt);
        if let SendOutcome::Send { range, .. } = a.encapsulate(now, wall, rng, &mut buf, size) {
            msgs.push(buf[range].to_vec());
        }
    }
    let start = Instant::now();
    for m in &mut msgs {
        match b.decapsulate(now, wall, rng, a_addr, None, m, false) {
            RecvOutcome::Tun(_) => {}
            other => panic!("not opened: {other:?}"),
        }
    }
    report(
        &format!("{size:>5}-byte packets"),
        n as u64,
        seal,
        start.elapsed(),
    );
}

fn report(what: &str, n: u64, seal: Duration, open: Duration) {
    let mpps = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{what}: seal {:.2} Mpps, open {:.2} Mpps (one core)",
        mpps(seal),
        mpps(open)
    );
}

/// ring's ChaCha20-Poly1305 alone, sealing and opening in place: the ceiling for `data`,
/// so the cost of the path around the AEAD can be read off the difference.
fn bare_aead(size: usize) {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7u8; 32]).unwrap());
    let nonce = |n: u64| {
        let mut b = [0u8; 12];
        b[4..].copy_from_slice(&n.to_le_bytes());
        Nonce::assume_unique_for_key(b)
    };
    let n = 200_000u64;
    let mut buf = vec![0u8; size];
    let start = Instant::now();
    let mut tag = None;
    for i in 0..n {
        tag = Some(
            key.seal_in_place_separate_tag(nonce(i), Aad::empty(), &mut buf)
                .unwrap(),
        );
    }
    let seal = start.elapsed();
    let mut sealed = buf.clone();
    sealed.extend_from_slice(tag.unwrap().as_ref());
    let mut scratch = sealed.clone();
    let start = Instant::now();
    for _ in 0..n {
        scratch.copy_from_slice(&sealed);
        key.open_in_place(nonce(n - 1), Aad::empty(), &mut scratch)
            .unwrap();
    }
    report(
        &format!("{size:>5}-byte ring AEAD alone"),
        n,
        seal,
        start.elapsed(),
    );
}

fn main() {
    let mut rng = StdRng::seed_from_u64(1);
    handshakes(&mut rng);
    // The tunnel pads a 1420-byte packet to 1420 (a multiple of 16 already): same size.
    data(&mut rng, 1420);
    bare_aead(1420);
    data(&mut rng, 64);
    bare_aead(64);
}
