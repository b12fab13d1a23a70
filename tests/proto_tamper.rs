//! Tampering, replay, stale timestamps, cookies under load and rate limiting, driven through
//! two proto::Interfaces on a simulated clock.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wgif::proto::crypto::PrivateKey;
use wgif::proto::{DropReason, Interface, RecvOutcome, SendOutcome, HEADROOM, TAILROOM};

const A_IP: [u8; 4] = [10, 0, 0, 1];
const B_IP: [u8; 4] = [10, 0, 0, 2];

struct Net {
    a: Interface,
    b: Interface,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
    now: Instant,
    wall: SystemTime,
    rng: StdRng,
}

fn ipv4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20 + payload.len()];
    p[0] = 0x45;
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[20..].copy_from_slice(payload);
    p
}

impl Net {
    fn new(seed: u64) -> Net {
        let mut rng = StdRng::seed_from_u64(seed);
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (mut ka, mut kb) = ([0u8; 32], [0u8; 32]);
        rng.fill_bytes(&mut ka);
        rng.fill_bytes(&mut kb);
        let a_addr: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let b_addr: SocketAddr = "127.0.0.2:1002".parse().unwrap();
        let mut a = Interface::new(now, &mut rng);
        let mut b = Interface::new(now, &mut rng);
        a.set_private_key(Some(&ka), now);
        b.set_private_key(Some(&kb), now);
        a.add_peer(2, &PrivateKey::from_bytes(&kb).public_key(), now)
            .unwrap();
        b.add_peer(1, &PrivateKey::from_bytes(&ka).public_key(), now)
            .unwrap();
        a.add_aip(2, IpAddr::V4(Ipv4Addr::from(B_IP)), 32).unwrap();
        b.add_aip(1, IpAddr::V4(Ipv4Addr::from(A_IP)), 32).unwrap();
        a.set_endpoint(2, Some(b_addr));
        a.up(now);
        b.up(now);
        Net {
            a,
            b,
            a_addr,
            b_addr,
            now,
            wall,
            rng,
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.wall += d;
    }

    fn iface(&mut self, a: bool) -> &mut Interface {
        if a {
            &mut self.a
        } else {
            &mut self.b
        }
    }

    fn send(&mut self, from_a: bool, payload: &[u8]) -> (SendOutcome, Vec<u8>) {
        let (s, d) = if from_a { (A_IP, B_IP) } else { (B_IP, A_IP) };
        let pkt = ipv4(s, d, payload);
        let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
        let (now, wall) = (self.now, self.wall);
        let mut rng = self.rng.clone();
        let o = self
            .iface(from_a)
            .encapsulate(now, wall, &mut rng, &mut buf, pkt.len());
        self.rng = rng;
        if let SendOutcome::Send { range, .. } = &o {
            buf = buf[range.clone()].to_vec();
        }
        (o, buf)
    }

    fn drain(&mut self, a: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Some(t) = self.iface(a).poll_transmit(&mut buf) {
            out.push(buf[..t.len].to_vec());
        }
        out
    }

    fn events(&mut self, a: bool) -> Vec<String> {
        std::iter::from_fn(|| self.iface(a).poll_event())
            .map(|e| e.to_string())
            .collect()
    }

    fn deliver(&mut self, to_a: bool, mut d: Vec<u8>, under_load: bool) -> RecvOutcome {
        let from = if to_a { self.b_addr } else { self.a_addr };
        let local = Some(if to_a {
            self.a_addr.ip()
        } else {
            self.b_addr.ip()
        });
        let (now, wall) = (self.now, self.wall);
        let mut rng = self.rng.clone();
        let o = self
            .iface(to_a)
            .decapsulate(now, wall, &mut rng, from, local, &mut d, under_load);
        self.rng = rng;
        o
    }

    /// A's first initiation (A stages a packet).
    fn initiation(&mut self) -> Vec<u8> {
        let (o, _) = self.send(true, b"x");
        assert_eq!(o, SendOutcome::Staged);
        let mut d = self.drain(true);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].len(), 148);
        d.remove(0)
    }
}

fn flipped(m: &[u8], i: usize) -> Vec<u8> {
    let mut v = m.to_vec();
    v[i] ^= 0x5a;
    v
}

#[test]
fn any_flipped_initiation_byte_is_rejected() {
    let mut n = Net::new(10);
    let init = n.initiation();
    for i in 0..init.len() {
        // mac2 is only looked at under load (spec §5.4).
        let load = i >= 132;
        let o = n.deliver(false, flipped(&init, i), load);
        assert!(
            matches!(o, RecvOutcome::Dropped(_)) || (load && o == RecvOutcome::Handled),
            "byte {i}: {o:?}"
        );
        let out = n.drain(false);
        assert!(out.iter().all(|d| d.len() != 92), "byte {i} got a response");
        assert!(
            !n.events(false)
                .iter()
                .any(|e| e.starts_with("Receiving handshake")),
            "byte {i} accepted"
        );
    }
    assert_eq!(n.deliver(false, init, false), RecvOutcome::Handled);
    assert_eq!(
        n.drain(false).len(),
        1,
        "the untouched initiation is answered"
    );
}

#[test]
fn any_flipped_response_byte_is_rejected() {
    let mut n = Net::new(11);
    let init = n.initiation();
    assert_eq!(n.deliver(false, init, false), RecvOutcome::Handled);
    let resp = n.drain(false).remove(0);
    assert_eq!(resp.len(), 92);
    for i in 0..resp.len() {
        let load = i >= 76;
        let o = n.deliver(true, flipped(&resp, i), load);
        assert!(
            matches!(o, RecvOutcome::Dropped(_)) || (load && o == RecvOutcome::Handled),
            "byte {i}: {o:?}"
        );
        n.drain(true);
        assert!(
            !n.events(true)
                .iter()
                .any(|e| e.starts_with("Receiving handshake response")),
            "byte {i} accepted"
        );
    }
    assert_eq!(n.deliver(true, resp, false), RecvOutcome::Handled);
    assert!(n
        .events(true)
        .iter()
        .any(|e| e.starts_with("Receiving handshake response from peer 2")));
}

#[test]
fn any_flipped_cookie_reply_byte_is_rejected() {
    let mut n = Net::new(12);
    let init = n.initiation();
    assert_eq!(n.deliver(false, init, true), RecvOutcome::Handled);
    let reply = n.drain(false).remove(0);
    assert_eq!(reply.len(), 64);
    for i in 0..reply.len() {
        let o = n.deliver(true, flipped(&reply, i), false);
        assert!(matches!(o, RecvOutcome::Dropped(_)), "byte {i}: {o:?}");
    }
    assert_eq!(n.deliver(true, reply, false), RecvOutcome::Handled);
    assert!(n
        .events(true)
        .contains(&"Receiving cookie response from 127.0.0.2".to_string()));
}

#[test]
fn any_flipped_data_byte_is_rejected() {
    let mut n = Net::new(13);
    let init = n.initiation();
    n.deliver(false, init, false);
    let resp = n.drain(false).remove(0);
    n.deliver(true, resp, false);
    let data = n.drain(true).remove(0);
    for i in 0..data.len() {
        let o = n.deliver(false, flipped(&data, i), false);
        assert!(matches!(o, RecvOutcome::Dropped(_)), "byte {i}: {o:?}");
    }
    assert!(matches!(
        n.deliver(false, data.clone(), false),
        RecvOutcome::Tun(_)
    ));
    // And a replayed data packet is refused.
    assert!(matches!(
        n.deliver(false, data, false),
        RecvOutcome::Dropped(_)
    ));
}

#[test]
fn replayed_initiation_is_rejected() {
    let mut n = Net::new(14);
    let init = n.initiation();
    assert_eq!(n.deliver(false, init.clone(), false), RecvOutcome::Handled);
    n.drain(false);
    n.advance(Duration::from_secs(1));
    assert_eq!(
        n.deliver(false, init, false),
        RecvOutcome::Dropped(DropReason::Invalid)
    );
    assert!(n
        .events(false)
        .contains(&"Invalid handshake initiation from 127.0.0.1".to_string()));
    assert!(n.drain(false).is_empty());
}

#[test]
fn stale_timestamp_initiation_is_rejected() {
    let mut n = Net::new(15);
    let old = n.initiation();
    // Retransmission 5 s + jitter later carries a newer timestamp.
    n.advance(Duration::from_secs(6));
    let (now, wall) = (n.now, n.wall);
    let mut rng = n.rng.clone();
    n.a.handle_timeout(now, wall, &mut rng);
    let newer = n.drain(true).remove(0);
    assert_eq!(newer.len(), 148);
    assert_eq!(n.deliver(false, newer, false), RecvOutcome::Handled);
    n.advance(Duration::from_secs(1));
    assert_eq!(
        n.deliver(false, old, false),
        RecvOutcome::Dropped(DropReason::Invalid)
    );
}

#[test]
fn initiations_closer_than_20ms_are_a_flood() {
    let mut n = Net::new(16);
    let first = n.initiation();
    n.advance(Duration::from_secs(6));
    let (now, wall) = (n.now, n.wall);
    let mut rng = n.rng.clone();
    n.a.handle_timeout(now, wall, &mut rng);
    let second = n.drain(true).remove(0);
    assert_eq!(n.deliver(false, first, false), RecvOutcome::Handled);
    // Newer timestamp but the same instant at B.
    assert_eq!(
        n.deliver(false, second, false),
        RecvOutcome::Dropped(DropReason::Invalid)
    );
}

#[test]
fn under_load_cookie_then_mac2_is_accepted() {
    let mut n = Net::new(17);
    let init = n.initiation();
    assert_eq!(n.deliver(false, init, true), RecvOutcome::Handled);
    let out = n.drain(false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 64, "a cookie reply, not a response");
    assert!(n
        .events(false)
        .contains(&"Sending cookie response for denied handshake message".to_string()));
    assert_eq!(n.deliver(true, out[0].clone(), false), RecvOutcome::Handled);
    // The retry (retransmit timer) carries mac2 and is accepted while still under load.
    n.advance(Duration::from_secs(6));
    let (now, wall) = (n.now, n.wall);
    let mut rng = n.rng.clone();
    n.a.handle_timeout(now, wall, &mut rng);
    let retry = n.drain(true).remove(0);
    assert_ne!(&retry[132..], &[0u8; 16]);
    assert_eq!(n.deliver(false, retry, true), RecvOutcome::Handled);
    let out = n.drain(false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 92, "a handshake response");
}

#[test]
fn rate_limit_engages_past_the_burst() {
    let mut n = Net::new(18);
    let init = n.initiation();
    n.deliver(false, init, true);
    let cookie = n.drain(false).remove(0);
    n.deliver(true, cookie, false);
    n.advance(Duration::from_secs(6));
    let (now, wall) = (n.now, n.wall);
    let mut rng = n.rng.clone();
    n.a.handle_timeout(now, wall, &mut rng);
    let retry = n.drain(true).remove(0);
    let mut limited = 0;
    let mut outcomes = Vec::new();
    for _ in 0..12 {
        let o = n.deliver(false, retry.clone(), true);
        if o == RecvOutcome::Dropped(DropReason::RateLimited) {
            limited += 1;
        }
        outcomes.push(o);
    }
    assert_eq!(outcomes[0], RecvOutcome::Handled, "{outcomes:?}");
    // Burst of 5 (spec §5.4): at one instant the bucket lets 5 through (the first
    // is answered, the next 4 are replays), and refuses the 7 after them.
    assert_eq!(limited, 12 - 5, "{outcomes:?}");
    assert!(outcomes[5..]
        .iter()
        .all(|o| *o == RecvOutcome::Dropped(DropReason::RateLimited)));
    assert!(n
        .events(false)
        .contains(&"Handshake ratelimited from 127.0.0.1".to_string()));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::default())]
        #[test]
        fn decapsulate_never_panics(kind in 0u8..6, body in proptest::collection::vec(any::<u8>(), 0..200), load: bool) {
            let mut n = Net::new(99);
            let mut d = body;
            if d.len() >= 4 {
                d[0] = kind;
                d[1] = 0;
                d[2] = 0;
                d[3] = 0;
            }
            let o = n.deliver(false, d, load);
            prop_assert!(!matches!(o, RecvOutcome::Tun(_)));
        }

        #[test]
        fn encapsulate_never_panics(body in proptest::collection::vec(any::<u8>(), 0..120), len in 0usize..120) {
            let mut n = Net::new(98);
            let mut buf = body;
            let (now, wall) = (n.now, n.wall);
            let mut rng = n.rng.clone();
            let _ = n.a.encapsulate(now, wall, &mut rng, &mut buf, len);
        }
    }
}

mod cookies {
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::net::SocketAddr;
    use std::time::Duration;
    use std::time::Instant;
    use wgif::proto::consts::INITIATION_LEN;
    use wgif::proto::cookie::{CookieChecker, CookieMaker, MacCheck};
    use wgif::proto::wire::CookieReply;

    fn msg_for(maker: &mut CookieMaker, now: Instant) -> [u8; INITIATION_LEN] {
        let mut m = [0u8; INITIATION_LEN];
        m[0] = 1;
        m[4..8].copy_from_slice(&7u32.to_le_bytes());
        maker.add_macs(now, &mut m);
        m
    }

    #[test]
    fn cookie_round_trip_and_expiry() {
        let mut rng = StdRng::seed_from_u64(1);
        let now = Instant::now();
        let me = [5u8; 32];
        let src: SocketAddr = "192.0.2.7:999".parse().unwrap();
        let mut checker = CookieChecker::new();
        checker.set_identity(Some(&me));
        let mut maker = CookieMaker::new(&me);
        let m = msg_for(&mut maker, now);
        assert_eq!(checker.check(now, &m, src), MacCheck::Mac1Only);
        let reply = checker.create_reply(now, &mut rng, &m, src).unwrap();
        assert_eq!(u32::from_le_bytes(reply[4..8].try_into().unwrap()), 7);
        assert!(maker.consume_reply(now, &CookieReply::new_checked(&reply).unwrap()));
        let m = msg_for(&mut maker, now);
        assert_eq!(checker.check(now, &m, src), MacCheck::Both);
        // The cookie is tied to the source address and port.
        let other: SocketAddr = "192.0.2.7:998".parse().unwrap();
        assert_eq!(checker.check(now, &m, other), MacCheck::Mac1Only);
        // The secret lives 120 s.
        assert_eq!(
            checker.check(now + Duration::from_secs(121), &m, src),
            MacCheck::Mac1Only
        );
        // The holder uses a cookie for 115 s at most.
        let late = msg_for(&mut maker, now + Duration::from_secs(116));
        assert_eq!(&late[132..], &[0u8; 16]);
        // A flipped mac1 fails; no identity validates nothing.
        let mut bad = m;
        bad[120] ^= 1;
        assert_eq!(checker.check(now, &bad, src), MacCheck::BadMac1);
        checker.set_identity(None);
        assert_eq!(checker.check(now, &m, src), MacCheck::BadMac1);
    }

    #[test]
    fn reply_without_sent_mac1_is_refused() {
        let mut rng = StdRng::seed_from_u64(2);
        let now = Instant::now();
        let me = [6u8; 32];
        let src: SocketAddr = "[2001:db8::1]:51820".parse().unwrap();
        let mut checker = CookieChecker::new();
        checker.set_identity(Some(&me));
        let mut sender = CookieMaker::new(&me);
        let m = msg_for(&mut sender, now);
        let reply = checker.create_reply(now, &mut rng, &m, src).unwrap();
        let mut fresh = CookieMaker::new(&me);
        assert!(!fresh.consume_reply(now, &CookieReply::new_checked(&reply).unwrap()));
    }
}
