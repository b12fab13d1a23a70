//! Tampering, replay, stale timestamps, cookies under load and rate limiting, driven through
//! two proto::Interfaces on a simulated clock (tests/common/pair.rs).

mod common;
use common::pair::Pair;
use std::time::Duration;
use wgif::proto::{DropReason, RecvOutcome};

fn flipped(m: &[u8], i: usize) -> Vec<u8> {
    let mut v = m.to_vec();
    v[i] ^= 0x5a;
    v
}

#[test]
fn any_flipped_initiation_byte_is_rejected() {
    let mut p = Pair::new(10, true, false);
    let init = p.staged_initiation(b"x");
    for i in 0..init.len() {
        // mac2 is only looked at under load (spec §5.4).
        let load = i >= 132;
        let o = p.deliver_under_load(false, flipped(&init, i), load);
        assert!(
            matches!(o, RecvOutcome::Dropped(_)) || (load && o == RecvOutcome::Handled),
            "byte {i}: {o:?}"
        );
        let out = p.drain(false);
        assert!(out.iter().all(|d| d.len() != 92), "byte {i} got a response");
        assert!(
            !p.take_events(false)
                .iter()
                .any(|e| e.starts_with("Receiving handshake")),
            "byte {i} accepted"
        );
    }
    assert_eq!(p.deliver(false, init), RecvOutcome::Handled);
    assert_eq!(
        p.drain(false).len(),
        1,
        "the untouched initiation is answered"
    );
}

#[test]
fn any_flipped_response_byte_is_rejected() {
    let mut p = Pair::new(11, true, false);
    let init = p.staged_initiation(b"x");
    assert_eq!(p.deliver(false, init), RecvOutcome::Handled);
    let resp = p.drain(false).remove(0);
    assert_eq!(resp.len(), 92);
    for i in 0..resp.len() {
        let load = i >= 76;
        let o = p.deliver_under_load(true, flipped(&resp, i), load);
        assert!(
            matches!(o, RecvOutcome::Dropped(_)) || (load && o == RecvOutcome::Handled),
            "byte {i}: {o:?}"
        );
        p.drain(true);
        assert!(
            !p.take_events(true)
                .iter()
                .any(|e| e.starts_with("Receiving handshake response")),
            "byte {i} accepted"
        );
    }
    assert_eq!(p.deliver(true, resp), RecvOutcome::Handled);
    assert!(p
        .take_events(true)
        .iter()
        .any(|e| e.starts_with("Receiving handshake response from peer 2")));
}

#[test]
fn any_flipped_cookie_reply_byte_is_rejected() {
    let mut p = Pair::new(12, true, false);
    let init = p.staged_initiation(b"x");
    assert_eq!(
        p.deliver_under_load(false, init, true),
        RecvOutcome::Handled
    );
    let reply = p.drain(false).remove(0);
    assert_eq!(reply.len(), 64);
    for i in 0..reply.len() {
        let o = p.deliver(true, flipped(&reply, i));
        assert!(matches!(o, RecvOutcome::Dropped(_)), "byte {i}: {o:?}");
    }
    assert_eq!(p.deliver(true, reply), RecvOutcome::Handled);
    assert!(p
        .take_events(true)
        .contains(&"Receiving cookie response from 127.0.0.2".to_string()));
}

#[test]
fn any_flipped_data_byte_is_rejected() {
    let mut p = Pair::new(13, true, false);
    let init = p.staged_initiation(b"x");
    p.deliver(false, init);
    let resp = p.drain(false).remove(0);
    p.deliver(true, resp);
    let data = p.drain(true).remove(0);
    for i in 0..data.len() {
        let o = p.deliver(false, flipped(&data, i));
        assert!(matches!(o, RecvOutcome::Dropped(_)), "byte {i}: {o:?}");
    }
    assert!(matches!(
        p.deliver(false, data.clone()),
        RecvOutcome::Tun(_)
    ));
    // And a replayed data packet is refused.
    assert!(matches!(p.deliver(false, data), RecvOutcome::Dropped(_)));
}

#[test]
fn replayed_initiation_is_rejected() {
    let mut p = Pair::new(14, true, false);
    let init = p.staged_initiation(b"x");
    assert_eq!(p.deliver(false, init.clone()), RecvOutcome::Handled);
    p.drain(false);
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.deliver(false, init),
        RecvOutcome::Dropped(DropReason::Invalid)
    );
    assert!(p
        .take_events(false)
        .contains(&"Invalid handshake initiation from 127.0.0.1".to_string()));
    assert!(p.drain(false).is_empty());
}

#[test]
fn stale_timestamp_initiation_is_rejected() {
    let mut p = Pair::new(15, true, false);
    let old = p.staged_initiation(b"x");
    // Retransmission 5 s + jitter later carries a newer timestamp.
    p.advance(Duration::from_secs(6));
    p.timers(true);
    let newer = p.drain(true).remove(0);
    assert_eq!(newer.len(), 148);
    assert_eq!(p.deliver(false, newer), RecvOutcome::Handled);
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.deliver(false, old),
        RecvOutcome::Dropped(DropReason::Invalid)
    );
}

#[test]
fn initiations_closer_than_20ms_are_a_flood() {
    let mut p = Pair::new(16, true, false);
    let first = p.staged_initiation(b"x");
    p.advance(Duration::from_secs(6));
    p.timers(true);
    let second = p.drain(true).remove(0);
    assert_eq!(p.deliver(false, first), RecvOutcome::Handled);
    // Newer timestamp but the same instant at B.
    assert_eq!(
        p.deliver(false, second),
        RecvOutcome::Dropped(DropReason::Invalid)
    );
}

/// A's retry REKEY_TIMEOUT (plus jitter) later, after it was sent a cookie: it
/// carries mac2.
fn mac2_retry(p: &mut Pair) -> Vec<u8> {
    p.advance(Duration::from_secs(6));
    p.timers(true);
    let retry = p.drain(true).remove(0);
    assert_ne!(&retry[132..], &[0u8; 16], "the retry carries no mac2");
    retry
}

/// B, under load, takes `initiation` and answers it with a handshake response.
fn answered_under_load(p: &mut Pair, initiation: Vec<u8>) {
    assert_eq!(
        p.deliver_under_load(false, initiation, true),
        RecvOutcome::Handled
    );
    let out = p.drain(false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 92, "a handshake response");
}

#[test]
fn under_load_cookie_then_mac2_is_accepted() {
    let mut p = Pair::new(17, true, false);
    let init = p.staged_initiation(b"x");
    assert_eq!(
        p.deliver_under_load(false, init, true),
        RecvOutcome::Handled
    );
    let out = p.drain(false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 64, "a cookie reply, not a response");
    assert!(p
        .take_events(false)
        .contains(&"Sending cookie response for denied handshake message".to_string()));
    assert_eq!(p.deliver(true, out[0].clone()), RecvOutcome::Handled);
    // The retry (retransmit timer) carries mac2 and is accepted while still under load.
    let retry = mac2_retry(&mut p);
    answered_under_load(&mut p, retry);
}

#[test]
fn rate_limit_engages_past_the_burst() {
    let mut p = Pair::new(18, true, false);
    let init = p.staged_initiation(b"x");
    p.deliver_under_load(false, init, true);
    let cookie = p.drain(false).remove(0);
    p.deliver(true, cookie);
    let retry = mac2_retry(&mut p);
    let mut limited = 0;
    let mut outcomes = Vec::new();
    for _ in 0..12 {
        let o = p.deliver_under_load(false, retry.clone(), true);
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
    assert!(p
        .take_events(false)
        .contains(&"Handshake ratelimited from 127.0.0.1".to_string()));
}

/// Under load, cookie replies to one source stop after the burst of 5 (at 20/s after
/// that), while another source still gets its own: a flood from many addresses is
/// answered at 20/s per address, not at its whole rate.
#[test]
fn cookie_replies_are_limited_per_source() {
    let mut p = Pair::new(21, true, false);
    let init = p.staged_initiation(b"x");
    let from = p.a.addr;
    let screen = |p: &mut Pair, from, m: &[u8]| {
        let now = p.now;
        p.b.iface.screen_handshake(now, &mut p.rng, from, None, m)
    };
    let outcomes: Vec<_> = (0..12).map(|_| screen(&mut p, from, &init)).collect();
    let replies = p.drain(false);
    assert_eq!(replies.len(), 5, "{outcomes:?}");
    assert!(replies.iter().all(|r| r.len() == 64 && r[0] == 3));
    assert!(outcomes[..5]
        .iter()
        .all(|o| *o == Some(RecvOutcome::Handled)));
    assert!(
        outcomes[5..]
            .iter()
            .all(|o| *o == Some(RecvOutcome::Dropped(DropReason::RateLimited))),
        "{outcomes:?}"
    );
    // One line for the refusals (of every source, once a second).
    let events = p.take_events(false);
    let limited = |e: &Vec<String>| {
        e.iter()
            .filter(|e| e.starts_with("Handshake ratelimited from"))
            .count()
    };
    assert_eq!(limited(&events), 1, "{events:?}");
    // Another address has its own bucket.
    let other = "127.0.0.9:9".parse().unwrap();
    assert_eq!(screen(&mut p, other, &init), Some(RecvOutcome::Handled));
    assert_eq!(p.drain(false).len(), 1);
    for _ in 0..10 {
        screen(&mut p, other, &init);
    }
    assert_eq!(p.drain(false).len(), 4, "the rest of its burst");
    assert_eq!(limited(&p.take_events(false)), 0, "within the second");
    // 50 ms buys the first source one more reply.
    p.advance(Duration::from_millis(50));
    assert_eq!(screen(&mut p, from, &init), Some(RecvOutcome::Handled));
    assert_eq!(
        screen(&mut p, from, &init),
        Some(RecvOutcome::Dropped(DropReason::RateLimited))
    );
    assert_eq!(p.drain(false).len(), 1);
}

/// A flood of mac1-only messages spoofed from the peer's address uses up the cookie
/// replies of that address, not what the peer's own mac2-valid handshakes may pass:
/// the two are counted apart.
#[test]
fn spoofed_cookie_requests_leave_the_peers_mac2_handshakes_alone() {
    let mut p = Pair::new(22, true, false);
    let init = p.staged_initiation(b"x");
    assert_eq!(
        p.deliver_under_load(false, init.clone(), true),
        RecvOutcome::Handled
    );
    let cookie = p.drain(false).remove(0);
    assert_eq!(p.deliver(true, cookie), RecvOutcome::Handled);
    // The spoofer: A's address, mac1 right (the responder's public key is no
    // secret), no cookie.
    for _ in 0..20 {
        p.deliver_under_load(false, init.clone(), true);
    }
    assert_eq!(
        p.deliver_under_load(false, init, true),
        RecvOutcome::Dropped(DropReason::RateLimited)
    );
    p.drain(false);
    // A's retry carries mac2 and gets its response.
    let retry = mac2_retry(&mut p);
    answered_under_load(&mut p, retry);
}

/// The gate alone, as the data workers run it under load: the same outcomes as the
/// whole path, and what passes is then processed with `under_load` false, without
/// paying the rate limit twice.
#[test]
fn the_gate_alone_screens_as_the_whole_path_does() {
    let mut p = Pair::new(19, true, false);
    let init = p.staged_initiation(b"x");
    let from = p.a.addr;
    let screen = |p: &mut Pair, m: &[u8]| {
        let now = p.now;
        p.b.iface.screen_handshake(now, &mut p.rng, from, None, m)
    };
    let mut bad = init.clone();
    bad[116] ^= 1;
    assert_eq!(
        screen(&mut p, &bad),
        Some(RecvOutcome::Dropped(DropReason::Invalid)),
        "a wrong mac1"
    );
    assert_eq!(screen(&mut p, &init), Some(RecvOutcome::Handled));
    let out = p.drain(false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 64, "a cookie reply, not a response");
    // Data and cookie replies are not the gate's.
    let mut data = vec![0u8; 32];
    data[0] = 4;
    assert_eq!(screen(&mut p, &data), None);
    assert_eq!(screen(&mut p, &out[0]), None);
    assert_eq!(
        screen(&mut p, &[1, 0, 0]),
        Some(RecvOutcome::Dropped(DropReason::Malformed))
    );
    p.deliver(true, out[0].clone());
    let retry = mac2_retry(&mut p);
    let outcomes: Vec<_> = (0..12).map(|_| screen(&mut p, &retry)).collect();
    // The burst of 5 passes, the rest is refused (as in rate_limit_engages_past_the_burst).
    assert!(outcomes[..5].iter().all(|o| o.is_none()), "{outcomes:?}");
    assert!(
        outcomes[5..]
            .iter()
            .all(|o| *o == Some(RecvOutcome::Dropped(DropReason::RateLimited))),
        "{outcomes:?}"
    );
    assert!(p.drain(false).is_empty(), "nothing answered by the gate");
    // What passed is answered, without the gate's limiter in the way.
    assert_eq!(
        p.deliver_under_load(false, retry, false),
        RecvOutcome::Handled
    );
    let out = p.drain(false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 92, "a handshake response");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::default())]
        #[test]
        fn decapsulate_never_panics(kind in 0u8..6, body in proptest::collection::vec(any::<u8>(), 0..200), load: bool) {
            let mut p = Pair::new(99, true, false);
            let mut d = body;
            if d.len() >= 4 {
                d[0] = kind;
                d[1] = 0;
                d[2] = 0;
                d[3] = 0;
            }
            let o = p.deliver_under_load(false, d, load);
            prop_assert!(!matches!(o, RecvOutcome::Tun(_)));
        }

        #[test]
        fn encapsulate_never_panics(body in proptest::collection::vec(any::<u8>(), 0..120), len in 0usize..120) {
            let mut p = Pair::new(98, true, false);
            let mut buf = body;
            let (now, wall) = (p.now, p.wall);
            let mut rng = p.rng.clone();
            let _ = p.a.iface.encapsulate(now, wall, &mut rng, &mut buf, len);
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
