//! Two proto::Interfaces on a simulated clock, wired by an in-memory network
//! (tests/common/pair.rs).

mod common;
use common::pair::{ipv4, Pair, A_IP, B_IP};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, UNIX_EPOCH};
use wgif::proto::crypto::PrivateKey;
use wgif::proto::{Event, Interface, Planned, RecvOutcome, SendOutcome, HEADROOM, TAILROOM};

#[test]
fn handshake_then_data_both_ways() {
    let mut p = Pair::new(1, true, false);
    let (o, _) = p.send(true, b"ping");
    assert_eq!(o, SendOutcome::Staged);
    p.pump();
    assert_eq!(p.b.tun, vec![ipv4(A_IP, B_IP, b"ping")]);
    // B learned A's endpoint from the handshake (roaming) and is confirmed by A's data.
    let (o, dgram) = p.send(false, b"pong");
    match o {
        SendOutcome::Send { to, .. } => assert_eq!(to, p.a.addr),
        other => panic!("expected Send, got {other:?}"),
    }
    assert!(matches!(p.deliver(true, dgram), RecvOutcome::Tun(_)));
    assert_eq!(p.a.tun, vec![ipv4(B_IP, A_IP, b"pong")]);
    assert!(p.a.events.contains(&format!(
        "Sending handshake initiation to peer {} (127.0.0.2)",
        p.b_id
    )));
    assert!(p.b.events.contains(&format!(
        "Receiving handshake initiation from peer {} (127.0.0.1)",
        p.a_id
    )));
    let ia = p.a.iface.peer_info(2).unwrap();
    let ib = p.b.iface.peer_info(1).unwrap();
    assert!(ia.last_handshake.is_some() && ib.last_handshake.is_some());
    assert_eq!(ib.endpoint, Some(p.a.addr));
    assert!(ia.tx_bytes >= 148 + 32 && ia.rx_bytes >= 92 + 32);
}

#[test]
fn handshake_in_the_other_direction() {
    let mut p = Pair::new(2, false, true);
    let (o, _) = p.send(false, b"from b");
    assert_eq!(o, SendOutcome::Staged);
    p.pump();
    assert_eq!(p.a.tun, vec![ipv4(B_IP, A_IP, b"from b")]);
    let (o, d) = p.send(true, b"back");
    assert!(matches!(o, SendOutcome::Send { .. }));
    assert!(matches!(p.deliver(false, d), RecvOutcome::Tun(_)));
    assert_eq!(p.b.tun, vec![ipv4(A_IP, B_IP, b"back")]);
}

#[test]
fn responder_cannot_send_before_key_confirmation() {
    let mut p = Pair::new(3, true, true);
    // A initiates; we do not let A's first data through yet.
    let (o, _) = p.send(true, b"one");
    assert_eq!(o, SendOutcome::Staged);
    let init = p.drain(true);
    assert_eq!(init.len(), 1);
    assert_eq!(p.deliver(false, init[0].clone()), RecvOutcome::Handled);
    let resp = p.drain(false);
    assert_eq!(resp.len(), 1);
    // B holds only a `next` keypair: its data must be staged, not sent.
    let (o, _) = p.send(false, b"early");
    assert_eq!(o, SendOutcome::Staged);
    assert!(
        p.drain(false).is_empty(),
        "responder sent before confirmation"
    );
    // A consumes the response and sends its staged data: that confirms B's keypair.
    assert_eq!(p.deliver(true, resp[0].clone()), RecvOutcome::Handled);
    let data = p.drain(true);
    assert_eq!(data.len(), 1);
    assert!(matches!(
        p.deliver(false, data[0].clone()),
        RecvOutcome::Tun(_)
    ));
    // Now B flushed its staged packet.
    let flushed = p.drain(false);
    assert_eq!(flushed.len(), 1);
    assert!(matches!(
        p.deliver(true, flushed[0].clone()),
        RecvOutcome::Tun(_)
    ));
    assert_eq!(p.a.tun, vec![ipv4(B_IP, A_IP, b"early")]);
}

#[test]
fn initiator_sends_keepalive_when_nothing_is_staged() {
    let mut p = Pair::new(4, true, true);
    p.send(true, b"x");
    p.pump();
    let before = p.b.tun.len();
    assert_eq!(before, 1);
    // A later handshake started from timers: after 121 s the initiator rekeys on send.
    p.advance(Duration::from_secs(121));
    let (o, _) = p.send(true, b"y");
    assert!(matches!(o, SendOutcome::Send { .. }) || o == SendOutcome::Staged);
    p.pump();
    assert!(p
        .b
        .events
        .iter()
        .any(|e| e.starts_with("Receiving keepalive packet from peer")));
}

#[test]
fn keypair_rotation_keeps_previous_for_stragglers() {
    let mut p = Pair::new(5, true, true);
    p.send(true, b"hello");
    p.pump();
    // B -> A works with the first session.
    let (o, straggler) = p.send(false, b"old session");
    assert!(matches!(o, SendOutcome::Send { .. }));
    // Rekey: A is the initiator and the session is older than REKEY_AFTER_TIME.
    p.advance(Duration::from_secs(121));
    let (o, d) = p.send(true, b"trigger");
    assert!(matches!(o, SendOutcome::Send { .. }));
    assert!(matches!(p.deliver(false, d), RecvOutcome::Tun(_)));
    p.pump();
    assert!(
        p.a.events
            .iter()
            .filter(|e| e.starts_with("Receiving handshake response"))
            .count()
            == 2,
        "{:?}",
        p.a.events
    );
    // The packet B sealed under the old session still opens at A (previous keypair).
    assert!(matches!(p.deliver(true, straggler), RecvOutcome::Tun(_)));
    // The new session carries data both ways.
    let (o, d) = p.send(true, b"new a");
    assert!(matches!(o, SendOutcome::Send { .. }));
    assert!(matches!(p.deliver(false, d), RecvOutcome::Tun(_)));
    let (o, d) = p.send(false, b"new b");
    assert!(matches!(o, SendOutcome::Send { .. }));
    assert!(matches!(p.deliver(true, d), RecvOutcome::Tun(_)));
    assert_eq!(p.a.tun.last().unwrap(), &ipv4(B_IP, A_IP, b"new b"));
}

#[test]
fn no_route_and_no_endpoint() {
    let mut p = Pair::new(6, false, false);
    let (o, _) = p.send(true, b"x");
    assert_eq!(o, SendOutcome::Dropped(wgif::proto::DropReason::NoEndpoint));
    let ev: Vec<Event> = std::iter::from_fn(|| p.a.iface.poll_event()).collect();
    assert!(
        ev.iter()
            .any(|e| e.to_string()
                == "No valid endpoint has been configured or discovered for peer 2")
    );
    let pkt = ipv4(A_IP, [10, 9, 9, 9], b"x");
    let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
    buf[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
    let o =
        p.a.iface
            .encapsulate(p.now, p.wall, &mut p.rng, &mut buf, pkt.len());
    assert_eq!(o, SendOutcome::Dropped(wgif::proto::DropReason::NoRoute));
}

#[test]
fn unallowed_source_is_dropped() {
    let mut p = Pair::new(7, true, true);
    p.send(true, b"x");
    p.pump();
    // B sends a packet whose inner source is not in A's allowed IPs for B.
    let pkt = ipv4([10, 7, 7, 7], A_IP, b"spoof");
    let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
    buf[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
    let o =
        p.b.iface
            .encapsulate(p.now, p.wall, &mut p.rng, &mut buf, pkt.len());
    let SendOutcome::Send { range, .. } = o else {
        panic!("{o:?}")
    };
    let d = buf[range].to_vec();
    assert_eq!(
        p.deliver(true, d),
        RecvOutcome::Dropped(wgif::proto::DropReason::UnallowedSource)
    );
    assert!(p
        .a
        .events
        .contains(&"Packet has unallowed source IP from peer 2 (127.0.0.2)".to_string()));
}

#[test]
fn persistent_keepalive_on_sends_at_once() {
    let mut p = Pair::new(8, true, true);
    p.send(true, b"x");
    p.pump();
    p.a.iface.set_persistent_keepalive(2, 25, p.now);
    assert_eq!(p.a.iface.poll_timeout(), Some(p.now));
    p.timers(true);
    let out = p.drain(true);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 32, "a keepalive");
    assert!(p
        .a
        .events
        .contains(&"Sending keepalive packet to peer 2 (127.0.0.2)".to_string()));
    assert_eq!(p.deliver(false, out[0].clone()), RecvOutcome::Handled);
    assert!(p
        .b
        .events
        .contains(&"Receiving keepalive packet from peer 1 (127.0.0.1)".to_string()));
    // The next one is due pka seconds later.
    let next = p.a.iface.poll_timeout().unwrap();
    assert!(next > p.now && next <= p.now + Duration::from_secs(25));
}

#[test]
fn staged_packets_before_up_are_flushed_after_up() {
    let mut p = Pair::new(9, true, true);
    p.a.iface.down(p.now);
    for i in 0..130u8 {
        let (o, _) = p.send(true, &[i]);
        assert_eq!(o, SendOutcome::Staged);
    }
    assert!(p.drain(true).is_empty());
    p.a.iface.up(p.now);
    p.timers(true);
    p.pump();
    // 128 kept, the two oldest dropped.
    assert_eq!(p.b.tun.len(), 128);
    assert_eq!(p.b.tun[0], ipv4(A_IP, B_IP, &[2]));
}

#[test]
fn down_clears_sessions_but_keeps_config() {
    let mut p = Pair::new(10, true, true);
    p.send(true, b"x");
    p.pump();
    let before = p.a.iface.peer_info(2).unwrap();
    p.a.iface.down(p.now);
    let after = p.a.iface.peer_info(2).unwrap();
    assert_eq!(before, after);
    p.a.iface.up(p.now);
    let (o, _) = p.send(true, b"y");
    assert_eq!(o, SendOutcome::Staged, "no session after down");
}

#[test]
fn config_rules() {
    let mut p = Pair::new(11, true, true);
    let now = p.now;
    let a = &mut p.a.iface;
    // Duplicate key / id.
    let pb = a.peer_info(2).unwrap().public;
    assert_eq!(
        a.add_peer(3, &pb, now),
        Err(wgif::proto::ConfigError::Exists)
    );
    // A prefix moves to the peer that adds it last; a duplicate is a no-op.
    a.add_peer(3, &[9u8; 32], now).unwrap();
    let net: IpAddr = "10.0.0.2".parse().unwrap();
    a.add_aip(3, net, 32).unwrap();
    assert!(a.peer_info(2).unwrap().aips.is_empty());
    assert_eq!(a.peer_info(3).unwrap().aips, vec![(net, 32)]);
    a.add_aip(3, net, 32).unwrap();
    assert_eq!(a.peer_info(3).unwrap().aips.len(), 1);
    assert_eq!(
        a.add_aip(3, net, 33),
        Err(wgif::proto::ConfigError::BadCidr)
    );
    // Kept unmasked for SIOCGWG, newest first.
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    a.add_aip(3, v6, 64).unwrap();
    assert_eq!(a.peer_info(3).unwrap().aips, vec![(v6, 64), (net, 32)]);
    a.replace_aips(3);
    assert!(a.peer_info(3).unwrap().aips.is_empty());
    a.set_description(3, &"é".repeat(40));
    assert!(a.peer_info(3).unwrap().description.len() <= 63);
    a.set_psk(3, Some(&[1; 32]));
    assert!(a.peer_info(3).unwrap().has_psk);
    a.set_psk(3, Some(&[0; 32]));
    assert!(!a.peer_info(3).unwrap().has_psk);
    assert_eq!(a.peer_ids(), vec![2, 3]);
    // Setting a private key whose public key is a peer's removes that peer.
    let mut k = [0u8; 32];
    p.rng.fill_bytes(&mut k);
    let pubk = PrivateKey::from_bytes(&k).public_key();
    let a = &mut p.a.iface;
    a.add_peer(4, &pubk, now).unwrap();
    assert_eq!(a.set_private_key(Some(&k), now), Some(4));
    assert_eq!(a.public_key(), Some(pubk));
    assert_eq!(a.peer_by_public(&pubk), None);
    assert_eq!(a.set_private_key(Some(&k), now), None, "same key: no-op");
    assert_eq!(
        a.private_key(),
        Some(*PrivateKey::from_bytes(&k).as_bytes())
    );
    a.set_private_key(None, now);
    assert_eq!(a.public_key(), None);
    a.remove_all_peers();
    assert!(a.peer_ids().is_empty());
    let ev: Vec<String> = std::iter::from_fn(|| a.poll_event())
        .map(|e| e.to_string())
        .collect();
    assert!(ev.contains(&"Peer 4 destroyed".to_string()));
    assert!(ev.contains(&"Peer 3 created".to_string()));
}

#[test]
fn new_private_key_forces_a_new_handshake() {
    let mut p = Pair::new(12, true, true);
    p.send(true, b"x");
    p.pump();
    let (o, _) = p.send(true, b"y");
    assert!(matches!(o, SendOutcome::Send { .. }));
    // A new identity invalidates current/next sessions (SIOCSWG semantics).
    let mut k = [0u8; 32];
    p.rng.fill_bytes(&mut k);
    p.a.iface.set_private_key(Some(&k), p.now);
    let (o, _) = p.send(true, b"z");
    assert_eq!(o, SendOutcome::Staged);
}

#[test]
fn unanswered_handshake_sends_20_initiations_then_gives_up() {
    let mut p = Pair::new(13, true, false);
    let (o, _) = p.send(true, b"lost");
    assert_eq!(o, SendOutcome::Staged);
    let mut inits = p.drain(true).len();
    for _ in 0..100 {
        let Some(t) = p.a.iface.poll_timeout() else {
            break;
        };
        if t > p.now {
            p.advance(t - p.now);
        }
        p.timers(true);
        inits += p.drain(true).iter().filter(|d| d.len() == 148).count();
        if p.a.events.iter().any(|e| e.contains("giving up")) {
            break;
        }
    }
    assert_eq!(inits, 20);
    assert!(p.a.events.contains(
        &"Handshake for peer 2 (127.0.0.2) did not complete after 20 retries, giving up"
            .to_string()
    ));
    assert!(p.a.events.contains(
        &"Handshake for peer 2 (127.0.0.2) did not complete after 5 seconds, retrying (try 20)"
            .to_string()
    ));
    // Key material is zeroed 540 s later.
    let t = p.a.iface.poll_timeout().unwrap();
    p.advance(t - p.now);
    p.timers(true);
    p.drain(true);
    assert!(p
        .a
        .events
        .contains(&"Zeroing out keys for peer 2 (127.0.0.2)".to_string()));
}

#[test]
fn endpoint_roams_and_source_address_sticks() {
    let mut p = Pair::new(14, true, true);
    p.send(true, b"x");
    p.pump();
    // A moves: its next data comes from a new address, received on B's 127.0.0.2.
    let (o, mut d) = p.send(true, b"moved");
    assert!(matches!(o, SendOutcome::Send { .. }));
    let roamed: SocketAddr = "127.0.0.9:4000".parse().unwrap();
    let local: IpAddr = "127.0.0.2".parse().unwrap();
    let o = p.b.iface.decapsulate(
        p.now,
        p.wall,
        &mut p.rng,
        roamed,
        Some(local),
        &mut d,
        false,
    );
    assert!(matches!(o, RecvOutcome::Tun(_)));
    assert_eq!(p.b.iface.peer_info(1).unwrap().endpoint, Some(roamed));
    let (o, _) = p.send(false, b"reply");
    assert_eq!(
        o,
        SendOutcome::Send {
            to: roamed,
            src: Some(local),
            range: o_range(&o),
            peer: 1
        }
    );
    // A forged packet from elsewhere does not move the endpoint.
    let mut junk = vec![4u8, 0, 0, 0];
    junk.extend_from_slice(&[0u8; 60]);
    let elsewhere: SocketAddr = "127.0.0.66:1".parse().unwrap();
    let o =
        p.b.iface
            .decapsulate(p.now, p.wall, &mut p.rng, elsewhere, None, &mut junk, false);
    assert!(matches!(o, RecvOutcome::Dropped(_)));
    assert_eq!(p.b.iface.peer_info(1).unwrap().endpoint, Some(roamed));
    // Forgetting cached source addresses.
    p.b.iface.clear_src_cache();
    let (o, _) = p.send(false, b"again");
    assert!(matches!(o, SendOutcome::Send { src: None, .. }));
}

fn o_range(o: &SendOutcome) -> std::ops::Range<usize> {
    match o {
        SendOutcome::Send { range, .. } => range.clone(),
        _ => 0..0,
    }
}

#[test]
fn pka_without_endpoint_logs_bad_sa_like_openbsd() {
    let mut p = Pair::new(15, false, false);
    p.a.iface.set_persistent_keepalive(2, 10, p.now);
    p.timers(true);
    assert!(p.drain(true).is_empty());
    assert!(p
        .a
        .events
        .contains(&"Sending handshake initiation to peer 2 (bad sa)".to_string()));
    // wg_peer_send_buf counts before sending; the send then fails without a word.
    assert!(!p.a.events.contains(&"Unable to send packet".to_string()));
    assert_eq!(p.a.iface.peer_info(2).unwrap().tx_bytes, 148);
}

#[test]
fn up_and_flush_and_pka_send_act_at_once() {
    let mut p = Pair::new(16, true, true);
    p.a.iface.down(p.now);
    let (o, _) = p.send(true, b"queued");
    assert_eq!(o, SendOutcome::Staged);
    let (now, wall) = (p.now, p.wall);
    p.a.iface.up_and_flush(now, wall, &mut p.rng);
    let out = p.drain(true);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 148, "an initiation for the staged packet");
    for d in out {
        p.deliver(false, d);
    }
    p.pump();
    assert_eq!(p.b.tun, vec![ipv4(A_IP, B_IP, b"queued")]);
    p.b.iface
        .set_persistent_keepalive_and_send(1, 5, now, wall, &mut p.rng);
    let out = p.drain(false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 32, "a keepalive");
}

mod keypairs {
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use wgif::proto::consts::REJECT_AFTER_TIME;
    use wgif::proto::crypto::Secret32;
    use wgif::proto::keypair::{Keypair, Sessions};

    fn pair(now: Instant) -> (Keypair, Keypair) {
        let t1 = Secret32([1; 32]);
        let t2 = Secret32([2; 32]);
        (
            Keypair::new(&t1, &t2, true, now, 1, 2).unwrap(),
            Keypair::new(&t1, &t2, false, now, 2, 1).unwrap(),
        )
    }

    #[test]
    fn seal_open_from_several_threads() {
        let now = Instant::now();
        let (i, r) = pair(now);
        let (i, r) = (Arc::new(i), Arc::new(r));
        let sealed: Vec<Vec<u8>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4u8)
                .map(|t| {
                    let i = i.clone();
                    s.spawn(move || {
                        (0..50u8)
                            .map(|n| {
                                let mut b = vec![0u8; 16 + 20 + 32];
                                b[16] = t;
                                b[17] = n;
                                let len = i.seal(&mut b, 20, 0).unwrap();
                                b.truncate(len);
                                b
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let mut counters: Vec<u64> = sealed
            .iter()
            .map(|b| u64::from_le_bytes(b[8..16].try_into().unwrap()))
            .collect();
        counters.sort();
        counters.dedup();
        assert_eq!(counters.len(), 200, "every counter used once");
        let opened: usize = std::thread::scope(|s| {
            let hs: Vec<_> = sealed
                .chunks(50)
                .map(|c| {
                    let r = r.clone();
                    s.spawn(move || {
                        c.iter()
                            .filter(|b| r.open(&mut b.to_vec()).is_some())
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(opened, 200);
        assert!(
            sealed.iter().all(|b| r.open(&mut b.clone()).is_none()),
            "replays"
        );
    }

    #[test]
    fn limits_by_time() {
        let now = Instant::now();
        let (i, _) = pair(now);
        assert!(i.can_send(now));
        assert!(i.can_send(now + REJECT_AFTER_TIME - Duration::from_millis(1)));
        assert!(!i.can_send(now + REJECT_AFTER_TIME));
        assert!(!i.can_receive(now + REJECT_AFTER_TIME));
        i.invalidate();
        assert!(!i.can_send(now));
        let mut short = [0u8; 31];
        assert!(i.open(&mut short).is_none());
        let mut small = [0u8; 40];
        assert!(i.seal(&mut small, 20, 0).is_none(), "no room for the tag");
    }

    #[test]
    fn slots_follow_spec_7_4() {
        let now = Instant::now();
        let mk = |init: bool, idx: u32| {
            Arc::new(
                Keypair::new(&Secret32([1; 32]), &Secret32([2; 32]), init, now, idx, 0).unwrap(),
            )
        };
        let mut s = Sessions::default();
        // Responder: new keypairs go to next; current untouched.
        assert!(s.install(mk(false, 1)).is_empty());
        assert!(s.current.is_none() && s.next.as_ref().unwrap().local_index == 1);
        // Confirmation rotates next to current.
        assert_eq!(s.confirm(9), None);
        assert_eq!(s.confirm(1), Some(None));
        assert_eq!(s.current.as_ref().unwrap().local_index, 1);
        // Initiator: new current, old current becomes previous.
        assert!(s.install(mk(true, 2)).is_empty());
        assert_eq!(s.previous.as_ref().unwrap().local_index, 1);
        assert_eq!(s.current.as_ref().unwrap().local_index, 2);
        assert_eq!(s.install(mk(true, 3)), vec![1]);
        // Responder: old next and previous destroyed.
        assert_eq!(s.install(mk(false, 4)), vec![2]);
        assert_eq!(s.install(mk(false, 5)), vec![4]);
        // Initiator while a next exists: previous := next, current destroyed.
        assert_eq!(s.install(mk(true, 6)), vec![3]);
        assert_eq!(s.previous.as_ref().unwrap().local_index, 5);
        assert!(s.find(6).is_some() && s.find(5).is_some() && s.find(3).is_none());
        let mut all = s.clear();
        all.sort();
        assert_eq!(all, vec![5, 6]);
    }
}

#[test]
fn oversized_inner_packet_is_carried_intact() {
    let mut p = Pair::new(17, true, true);
    p.send(true, b"x");
    p.pump();
    let big = vec![0xabu8; 1600];
    let (o, d) = p.send(true, &big);
    assert!(matches!(o, SendOutcome::Send { .. }), "{o:?}");
    assert!(matches!(p.deliver(false, d), RecvOutcome::Tun(_)));
    assert_eq!(p.b.tun.last().unwrap(), &ipv4(A_IP, B_IP, &big));
}

#[test]
fn absurd_lengths_are_refused_not_panics() {
    let mut p = Pair::new(18, true, true);
    p.send(true, b"x");
    p.pump();
    let mut buf = vec![0x45u8; 64];
    for len in [usize::MAX, usize::MAX - 20, 64, 33] {
        let o =
            p.a.iface
                .encapsulate(p.now, p.wall, &mut p.rng, &mut buf, len);
        assert_eq!(
            o,
            SendOutcome::Dropped(wgif::proto::DropReason::BufferTooSmall)
        );
    }
}

#[test]
fn initiator_rekeys_on_receive_after_165_s_once() {
    let mut p = Pair::new(19, true, true);
    p.send(true, b"x");
    p.pump();
    p.advance(Duration::from_secs(166));
    let (o, d) = p.send(false, b"late");
    assert!(matches!(o, SendOutcome::Send { .. }), "{o:?}");
    assert!(matches!(p.deliver(true, d), RecvOutcome::Tun(_)));
    let out = p.drain(true);
    assert_eq!(out.iter().filter(|d| d.len() == 148).count(), 1);
    // Not again for the same session.
    let (_, d) = p.send(false, b"later");
    p.advance(Duration::from_secs(6));
    assert!(matches!(p.deliver(true, d), RecvOutcome::Tun(_)));
    assert!(p.drain(true).iter().all(|d| d.len() != 148));
}

// ---- timers and sessions on the simulated clock (spec §7) ----

impl Pair {
    /// Runs both sides' due timers at the current simulated time.
    fn tick(&mut self) {
        self.timers(true);
        self.timers(false);
    }

    /// Advances in small steps, running timers, and returns what each side sent
    /// (nothing is delivered: the network drops it).
    fn run_silent(&mut self, total: Duration) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let step = Duration::from_millis(100);
        let mut t = Duration::ZERO;
        while t < total {
            self.advance(step);
            t += step;
            self.tick();
            a.extend(self.drain(true));
            b.extend(self.drain(false));
        }
        (a, b)
    }

    /// Like `run_silent`, but the network delivers everything.
    fn run_connected(&mut self, total: Duration) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let step = Duration::from_millis(100);
        let mut t = Duration::ZERO;
        while t < total {
            self.advance(step);
            t += step;
            self.tick();
            let (ab, ba) = (self.drain(true), self.drain(false));
            for d in &ab {
                self.deliver(false, d.clone());
            }
            for d in &ba {
                self.deliver(true, d.clone());
            }
            a.extend(ab);
            b.extend(ba);
        }
        (a, b)
    }

    /// A handshake started by A's first packet, completed through the network.
    /// A stages `payload` and initiates, B answers, and A's staged packet reaches B,
    /// confirming B's keypair. Returns what B sent in answer to that.
    fn a_initiates_and_confirms(&mut self, payload: &[u8]) -> Vec<Vec<u8>> {
        let (o, _) = self.send(true, payload);
        assert_eq!(o, SendOutcome::Staged);
        let init = self.drain(true);
        assert_eq!(lens(&init), vec![148]);
        assert_eq!(self.deliver(false, init[0].clone()), RecvOutcome::Handled);
        let resp = self.drain(false);
        assert_eq!(lens(&resp), vec![92]);
        assert_eq!(self.deliver(true, resp[0].clone()), RecvOutcome::Handled);
        let data = self.drain(true);
        assert_eq!(data.len(), 1, "A's staged packet");
        assert!(matches!(
            self.deliver(false, data[0].clone()),
            RecvOutcome::Tun(_)
        ));
        self.drain(false)
    }

    fn establish(&mut self) {
        let (o, _) = self.send(true, b"hello");
        assert_eq!(o, SendOutcome::Staged);
        self.pump();
        assert_eq!(self.b.tun.len(), 1, "the staged packet arrived");
    }
}

const KEEPALIVE_LEN: usize = 32;
const INITIATION_LEN: usize = 148;

fn lens(v: &[Vec<u8>]) -> Vec<usize> {
    v.iter().map(Vec::len).collect()
}

#[test]
fn keepalive_after_10_s_of_one_way_traffic() {
    let mut p = Pair::new(11, true, true);
    p.establish();
    // (B answered the key confirmation at once, as OpenBSD does.) More data comes.
    let (o, d) = p.send(true, b"more");
    assert!(matches!(o, SendOutcome::Send { .. }));
    assert!(matches!(p.deliver(false, d), RecvOutcome::Tun(_)));
    // B received data and has nothing to say: one keepalive after 10 s, not before.
    let (_, b) = p.run_silent(Duration::from_millis(9_900));
    assert!(b.is_empty(), "B sent early: {:?}", lens(&b));
    let (_, b) = p.run_silent(Duration::from_millis(300));
    assert_eq!(lens(&b), vec![KEEPALIVE_LEN]);
}

#[test]
fn new_handshake_after_15_s_without_an_answer() {
    let mut p = Pair::new(12, true, true);
    p.establish();
    p.drain(false);
    let (o, _) = p.send(true, b"are you there");
    assert!(matches!(o, SendOutcome::Send { .. }));
    // Nothing comes back for 15 s (+ up to 333 ms jitter): A initiates again.
    let (a, _) = p.run_silent(Duration::from_millis(14_900));
    assert!(
        !a.iter().any(|d| d.len() == INITIATION_LEN),
        "initiated too early"
    );
    let (a, _) = p.run_silent(Duration::from_millis(600));
    assert!(
        a.iter().any(|d| d.len() == INITIATION_LEN),
        "no new initiation: {:?}",
        lens(&a)
    );
    let want = "Retrying handshake with peer 2 (127.0.0.2) because we stopped hearing back after 15 seconds";
    assert!(p.a.events.iter().any(|e| e == want), "{:?}", p.a.events);
}

#[test]
fn sessions_are_rejected_after_180_s() {
    let mut p = Pair::new(13, true, true);
    p.establish();
    p.advance(Duration::from_secs(179));
    let (o, old) = p.send(true, b"late but valid");
    assert!(matches!(o, SendOutcome::Send { .. }));
    // The initiator's key is past REKEY_AFTER_TIME: sending also started a rekey.
    assert!(p.drain(true).iter().any(|d| d.len() == INITIATION_LEN));
    p.advance(Duration::from_secs(2));
    // B refuses a message under a key older than REJECT_AFTER_TIME ...
    assert!(matches!(p.deliver(false, old), RecvOutcome::Dropped(_)));
    // ... and A no longer sends on it: the packet waits for a new handshake, which
    // the retransmit timer sends (the 5 s spacing since the rekey holds it until then).
    let (o, _) = p.send(true, b"needs a new session");
    assert_eq!(o, SendOutcome::Staged);
    let (a, _) = p.run_silent(Duration::from_secs(6));
    assert!(
        a.iter().any(|d| d.len() == INITIATION_LEN),
        "{:?}",
        lens(&a)
    );
}

#[test]
fn persistent_keepalive_at_the_set_interval() {
    let mut p = Pair::new(14, true, true);
    p.establish();
    // B's keepalive answers A's data, so no timer but the one under test is pending.
    p.run_connected(Duration::from_secs(11));
    let (now, wall) = (p.now, p.wall);
    p.a.iface
        .set_persistent_keepalive_and_send(2, 25, now, wall, &mut p.rng);
    // Turning it on while up sends one at once (spec §7.2) ...
    let (a, _) = p.run_connected(Duration::from_millis(200));
    assert_eq!(
        a.iter().filter(|d| d.len() == KEEPALIVE_LEN).count(),
        1,
        "{:?}",
        lens(&a)
    );
    // ... then one every 25 s.
    let (a, _) = p.run_connected(Duration::from_millis(24_600));
    assert!(
        !a.iter().any(|d| d.len() == KEEPALIVE_LEN),
        "keepalive too early: {:?}",
        lens(&a)
    );
    let (a, _) = p.run_connected(Duration::from_millis(400));
    assert_eq!(a.iter().filter(|d| d.len() == KEEPALIVE_LEN).count(), 1);
    let (a, _) = p.run_connected(Duration::from_secs(25));
    assert_eq!(
        a.iter().filter(|d| d.len() == KEEPALIVE_LEN).count(),
        1,
        "and again 25 s later"
    );
}

#[test]
fn psk_on_both_sides_works_and_a_mismatch_does_not() {
    let mut p = Pair::new(15, true, true);
    p.a.iface.set_psk(2, Some(&[7u8; 32]));
    p.b.iface.set_psk(1, Some(&[7u8; 32]));
    p.establish();
    let info = p.a.iface.peer_info(2).unwrap();
    assert!(info.has_psk && info.last_handshake.is_some());

    let mut q = Pair::new(16, true, true);
    q.a.iface.set_psk(2, Some(&[7u8; 32]));
    q.b.iface.set_psk(1, Some(&[8u8; 32]));
    let (o, _) = q.send(true, b"hello");
    assert_eq!(o, SendOutcome::Staged);
    q.pump();
    assert!(
        q.b.tun.is_empty(),
        "data crossed with different preshared keys"
    );
    assert!(q.a.iface.peer_info(2).unwrap().last_handshake.is_none());
}

/// if_wg.c finds any index, a session's too: a response replayed after the handshake
/// completed is "Invalid handshake response", one naming no index "Unknown".
#[test]
fn replayed_response_is_invalid_and_a_stray_one_unknown() {
    let mut p = Pair::new(31, true, false);
    let resp = p.response_to_staged(b"ping");
    p.deliver(true, resp.clone());
    p.a.events.clear();
    assert_eq!(
        p.deliver(true, resp.clone()),
        RecvOutcome::Dropped(wgif::proto::DropReason::Invalid)
    );
    assert_eq!(
        p.a.events,
        vec!["Invalid handshake response from 127.0.0.2"]
    );
    // Once the session's keys are zeroed (540 s) its index is gone: "Unknown".
    p.advance(Duration::from_secs(541));
    p.timers(true);
    p.drain(true);
    p.a.events.clear();
    p.deliver(true, resp.clone());
    assert_eq!(
        p.a.events,
        vec!["Unknown handshake response from 127.0.0.2"]
    );
}

/// Without a private key the interface has no mac1 key: handshake messages are
/// "Invalid ... MAC" (OpenBSD's cookie checker was cleared with the key).
#[test]
fn without_a_key_handshakes_have_invalid_macs() {
    let mut p = Pair::new(32, true, true);
    let (o, _) = p.send(true, b"ping");
    assert_eq!(o, SendOutcome::Staged);
    let init = p.drain(true);
    let now = p.now;
    p.b.iface.set_private_key(None, now);
    p.drain(false);
    p.b.events.clear();
    p.deliver(false, init[0].clone());
    assert_eq!(p.b.events, vec!["Invalid initiation MAC from 127.0.0.1"]);
}

/// wg_timers_set_persistent_keepalive: any non-zero interval set while up sends a
/// keepalive at once, a changed interval too.
#[test]
fn changing_the_keepalive_interval_sends_one_at_once() {
    let mut p = Pair::new(33, true, true);
    p.send(true, b"ping");
    p.pump();
    let now = p.now;
    p.a.iface.set_persistent_keepalive(2, 25, now);
    let (wall, mut rng) = (p.wall, p.rng.clone());
    p.a.iface.handle_timeout(now, wall, &mut rng);
    assert_eq!(p.drain(true).len(), 1, "a keepalive for 0 -> 25");
    p.a.iface.set_persistent_keepalive(2, 30, now);
    p.a.iface.handle_timeout(now, wall, &mut rng);
    let out = p.drain(true);
    assert_eq!(out.len(), 1, "a keepalive for 25 -> 30");
    assert_eq!(out[0].len(), 32, "a keepalive is an empty data message");
    p.a.iface.set_persistent_keepalive(2, 0, now);
    p.a.iface.handle_timeout(now, wall, &mut rng);
    assert!(p.drain(true).is_empty(), "none for 30 -> 0");
}

/// Key confirmation on the responder: its staged packets go out after this packet's
/// receive hooks (the kernel sends them from a worker). The data they carry then
/// cancels the keepalive that A's data armed and arms new_handshake, so on a silent
/// network B sends no keepalive at 10 s and retries the handshake at 15 s.
#[test]
fn staged_data_flushed_on_confirmation_is_sent_after_the_receive() {
    let mut p = Pair::new(34, true, true);
    let (o, _) = p.send(false, b"early");
    assert_eq!(o, SendOutcome::Staged);
    assert_eq!(lens(&p.drain(false)), vec![148], "B's initiation, lost");
    let answer = p.a_initiates_and_confirms(b"one");
    assert_eq!(lens(&answer), vec![64], "B's staged packet");
    let (_, b) = p.run_silent(Duration::from_secs(16));
    assert_eq!(lens(&b), vec![148], "no keepalive; a new handshake at 15 s");
}

/// The initiator's last-minute rekey looks at `current`, whichever keypair the
/// received packet was decrypted with (the kernel's keep_key_fresh on receive).
#[test]
fn lastminute_rekey_checks_current_even_for_a_packet_on_previous() {
    let mut p = Pair::new(35, true, true);
    let (o, _) = p.send(true, b"a");
    assert_eq!(o, SendOutcome::Staged);
    assert_eq!(lens(&p.drain(true)), vec![148], "A's initiation, lost");
    // B initiates: K0, A the responder.
    let (o, _) = p.send(false, b"b");
    assert_eq!(o, SendOutcome::Staged);
    let ib = p.drain(false);
    assert_eq!(p.deliver(true, ib[0].clone()), RecvOutcome::Handled);
    let rb = p.drain(true);
    assert_eq!(lens(&rb), vec![92]);
    assert_eq!(p.deliver(false, rb[0].clone()), RecvOutcome::Handled);
    let mut on_k0 = p.drain(false);
    assert_eq!(on_k0.len(), 1, "B's data on K0, held back for later");
    let straggler = on_k0.pop().unwrap();
    // A retransmits its initiation: K1, A the initiator, becomes current.
    let mut retry = None;
    for _ in 0..70 {
        p.advance(Duration::from_millis(100));
        p.tick();
        retry = p.drain(true).into_iter().find(|d| d.len() == 148);
        if retry.is_some() {
            break;
        }
    }
    let retry = retry.expect("A's retransmitted initiation");
    assert_eq!(p.deliver(false, retry), RecvOutcome::Handled);
    let r = p.drain(false);
    assert_eq!(p.deliver(true, r[0].clone()), RecvOutcome::Handled);
    for d in p.drain(true) {
        p.deliver(false, d);
    }
    p.drain(false);
    // K1 is 166 s old (past 165), K0 171 s (still receivable).
    p.advance(Duration::from_secs(166));
    assert!(matches!(p.deliver(true, straggler), RecvOutcome::Tun(_)));
    assert_eq!(lens(&p.drain(true)), vec![148], "a last-minute initiation");
}

/// OpenBSD's handshake completion runs the keepalive task on the responder too
/// (openbsd-wg-interface spec §6.4): confirmed by A's first data and with nothing
/// staged, B answers with one keepalive at once.
#[test]
fn responder_answers_key_confirmation_with_a_keepalive() {
    let mut p = Pair::new(36, true, true);
    let out = p.a_initiates_and_confirms(b"hello");
    assert_eq!(lens(&out), vec![KEEPALIVE_LEN]);
    assert!(matches!(
        p.deliver(true, out[0].clone()),
        RecvOutcome::Handled
    ));
    // A keepalive on an established session brings no further answer.
    assert!(p.drain(true).is_empty());
}

#[test]
fn a_handshake_response_moves_the_endpoint_to_where_it_came_from() {
    let mut p = Pair::new(21, true, true);
    let resp = p.response_to_staged(b"hello");
    // B answers from another address than A has for it (B moved, or a NAT).
    let moved: SocketAddr = "127.0.0.7:2002".parse().unwrap();
    let mut d = resp.clone();
    let o = p.a.iface.decapsulate(
        p.now,
        p.wall,
        &mut p.rng,
        moved,
        Some(p.a.addr.ip()),
        &mut d,
        false,
    );
    assert_eq!(o, RecvOutcome::Handled);
    assert_eq!(p.a.iface.peer_info(2).unwrap().endpoint, Some(moved));
    // Handshake messages count in the peers' byte counters, as if_wg.c counts them:
    // the initiation (148 bytes) one way, the response (92) the other; A has also
    // sent the packet it staged (a 25-byte IPv4 packet: 16 + 32 padded + 16 = 64).
    let (ia, ib) = (
        p.a.iface.peer_info(2).unwrap(),
        p.b.iface.peer_info(1).unwrap(),
    );
    assert_eq!((ia.tx_bytes, ia.rx_bytes), (148 + 64, 92));
    assert_eq!((ib.tx_bytes, ib.rx_bytes), (92, 148));
    let (o, _) = p.send(true, b"after");
    assert!(
        matches!(o, SendOutcome::Send { to, .. } if to == moved),
        "{o:?}"
    );
}

#[test]
fn down_purges_staged_packets() {
    let mut p = Pair::new(22, true, true);
    let (o, _) = p.send(true, b"before down");
    assert_eq!(o, SendOutcome::Staged);
    assert_eq!(p.drain(true).len(), 1, "the initiation");
    let now = p.now;
    p.a.iface.down(now);
    p.a.iface.up(now);
    p.advance(Duration::from_secs(6));
    let (o, _) = p.send(true, b"after up");
    assert_eq!(o, SendOutcome::Staged);
    p.pump();
    let got: Vec<Vec<u8>> = p.b.tun.iter().map(|t| t[20..].to_vec()).collect();
    assert_eq!(
        got,
        vec![b"after up".to_vec()],
        "the packet staged before down is gone"
    );
}

/// Initiations of one peer closer together than 20 ms are a flood and dropped (spec
/// §4.2 step 7, INITIATION_SPACING); 20 ms apart they are consumed. Two interfaces with A's
/// key stand for A making a fresh initiation at the chosen moments.
#[test]
fn initiations_closer_than_twenty_ms_are_dropped() {
    let mut rng = StdRng::seed_from_u64(23);
    let t0 = Instant::now();
    let wall0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let (mut ka, mut kb) = ([0u8; 32], [0u8; 32]);
    rng.fill_bytes(&mut ka);
    rng.fill_bytes(&mut kb);
    let (pa, pb) = (
        PrivateKey::from_bytes(&ka).public_key(),
        PrivateKey::from_bytes(&kb).public_key(),
    );
    let mut b = Interface::new(t0, &mut rng);
    b.set_private_key(Some(&kb), t0);
    b.add_peer(1, &pa, t0).unwrap();
    b.up(t0);
    let from: SocketAddr = "127.0.0.1:1001".parse().unwrap();
    // An initiation from a fresh A at `at` (its TAI64N timestamp from the wall clock).
    let initiation_at = |at: Duration, rng: &mut StdRng| {
        let mut a = Interface::new(t0, rng);
        a.set_private_key(Some(&ka), t0);
        a.add_peer(2, &pb, t0).unwrap();
        a.add_aip(2, IpAddr::V4(Ipv4Addr::from(B_IP)), 32).unwrap();
        a.set_endpoint(2, Some("127.0.0.2:1002".parse().unwrap()));
        a.up(t0);
        let pkt = ipv4(A_IP, B_IP, b"x");
        let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
        a.encapsulate(t0 + at, wall0 + at, rng, &mut buf, pkt.len());
        let mut out = vec![0u8; 65536];
        let t = a.poll_transmit(&mut out).expect("an initiation");
        out.truncate(t.len);
        out
    };
    let answered = |b: &mut Interface, at: Duration, rng: &mut StdRng| {
        let mut d = initiation_at(at, rng);
        b.decapsulate(t0 + at, wall0 + at, rng, from, None, &mut d, false);
        let mut out = vec![0u8; 65536];
        let mut responses = 0;
        while let Some(t) = b.poll_transmit(&mut out) {
            responses += usize::from(out[0] == 2 && t.len == 92);
        }
        responses
    };
    let ms = Duration::from_millis;
    assert_eq!(answered(&mut b, ms(0), &mut rng), 1, "the first");
    assert_eq!(
        answered(&mut b, ms(10), &mut rng),
        0,
        "10 ms later: a flood"
    );
    assert_eq!(
        answered(&mut b, ms(25), &mut rng),
        1,
        "25 ms after the last consumed"
    );
    assert_eq!(answered(&mut b, ms(50), &mut rng), 1, "25 ms later again");
}

/// A new private key starts over: the next packet sends an initiation at once, even
/// within REKEY_TIMEOUT of the last one (openbsd-wg-interface spec §1.9: the key change resets the
/// handshake state).
#[test]
fn a_new_private_key_initiates_at_once() {
    let mut p = Pair::new(24, true, true);
    let (o, _) = p.send(true, b"one");
    assert_eq!(o, SendOutcome::Staged);
    assert_eq!(p.drain(true).len(), 1, "the first initiation");
    p.advance(Duration::from_millis(100));
    let (o, _) = p.send(true, b"two");
    assert_eq!(o, SendOutcome::Staged);
    assert!(p.drain(true).is_empty(), "no second initiation within 5 s");
    let now = p.now;
    p.a.iface.set_private_key(Some(&[9u8; 32]), now);
    let (o, _) = p.send(true, b"three");
    assert_eq!(o, SendOutcome::Staged);
    let out = p.drain(true);
    assert_eq!(out.len(), 1, "an initiation with the new key at once");
    assert_eq!(out[0][0], 1);
}

/// Cookie replies from the network each log an event ("Unknown cookie index" here): a flood of
/// junk ones, never drained, leaves at most MAX_QUEUED_EVENTS queued, as every other
/// event source does (the oldest are dropped).
#[test]
fn junk_cookie_replies_do_not_grow_the_event_queue() {
    use wgif::proto::consts::{COOKIE_LEN, MSG_COOKIE};
    use wgif::proto::iface::MAX_QUEUED_EVENTS;
    let mut p = Pair::new(31, true, true);
    p.drain(true);
    let n = 3 * MAX_QUEUED_EVENTS;
    for i in 0..n as u32 {
        let mut junk = vec![0u8; COOKIE_LEN];
        junk[..4].copy_from_slice(&MSG_COOKIE.to_le_bytes());
        junk[4..8].copy_from_slice(&i.wrapping_mul(2654435761).to_le_bytes());
        let o =
            p.a.iface
                .decapsulate(p.now, p.wall, &mut p.rng, p.b.addr, None, &mut junk, false);
        assert!(matches!(o, RecvOutcome::Dropped(_)), "{o:?}");
    }
    let mut queued = Vec::new();
    while let Some(e) = p.a.iface.poll_event() {
        queued.push(e.to_string());
    }
    assert_eq!(queued.len(), MAX_QUEUED_EVENTS, "the cap, reached");
    assert!(
        queued
            .iter()
            .all(|e| e.starts_with("Unknown cookie index from")),
        "{queued:?}"
    );
}

/// A new private key stops A sending on its sessions (spec openbsd-wg-interface §1.9:
/// current and next are invalidated, not destroyed): a packet B sealed before the
/// change still opens at A, and A's next packet waits for a fresh handshake.
#[test]
fn a_new_private_key_keeps_opening_what_the_peer_already_sealed() {
    // On A's current (A initiated).
    let mut p = Pair::new(32, true, true);
    p.send(true, b"x");
    p.pump();
    let (o, late) = p.send(false, b"sealed before the change");
    assert!(matches!(o, SendOutcome::Send { .. }), "{o:?}");
    let mut k = [0u8; 32];
    p.rng.fill_bytes(&mut k);
    p.a.iface.set_private_key(Some(&k), p.now);
    assert!(matches!(p.deliver(true, late), RecvOutcome::Tun(_)));
    assert_eq!(
        p.a.tun.last(),
        Some(&ipv4(B_IP, A_IP, b"sealed before the change"))
    );
    let (o, _) = p.send(true, b"after");
    assert_eq!(o, SendOutcome::Staged, "not sealed on the old session");
    let out = p.drain(true);
    assert_eq!(lens(&out), vec![148], "an initiation with the new key");

    // On A's next (B initiated; B's first data confirms it at A).
    let mut p = Pair::new(33, true, true);
    let (o, _) = p.send(false, b"y");
    assert_eq!(o, SendOutcome::Staged);
    let init = p.drain(false);
    p.deliver(true, init[0].clone());
    let resp = p.drain(true);
    assert_eq!(lens(&resp), vec![92]);
    p.deliver(false, resp[0].clone());
    let late = p.drain(false);
    assert_eq!(
        late.len(),
        1,
        "B's staged packet, sealed on the new session"
    );
    let mut k = [0u8; 32];
    p.rng.fill_bytes(&mut k);
    p.a.iface.set_private_key(Some(&k), p.now);
    assert!(matches!(
        p.deliver(true, late[0].clone()),
        RecvOutcome::Tun(_)
    ));
    assert_eq!(p.a.tun.last(), Some(&ipv4(B_IP, A_IP, b"y")));
    let (o, _) = p.send(true, b"after");
    assert_eq!(
        o,
        SendOutcome::Staged,
        "the confirmed session stays invalid"
    );
    let out = p.drain(true);
    assert_eq!(lens(&out), vec![148], "an initiation with the new key");
}

/// `Interface::sealed_len` is the stride the data path lays sealed segments at: it
/// must be the length of the datagram `encapsulate` makes, for every inner length,
/// with and without an MTU to pad to.
#[test]
fn sealed_len_is_the_sealed_datagram_length() {
    let mut p = Pair::new(31, true, false);
    p.send(true, b"hello");
    p.pump();
    for mtu in [0usize, 1420, 100] {
        p.b.iface.set_mtu(mtu);
        for n in [0usize, 1, 7, 12, 13, 40, 80, 95, 200] {
            let payload = vec![0x5a; n];
            let (o, dgram) = p.send(false, &payload);
            assert!(matches!(o, SendOutcome::Send { .. }), "{o:?}");
            let inner = 20 + n;
            assert_eq!(
                dgram.len(),
                p.b.iface.sealed_len(inner),
                "mtu {mtu}, inner {inner}"
            );
            if mtu != 0 && inner > mtu {
                continue;
            }
            // 16-byte header and tag around the plaintext padded to 16, but not
            // beyond the MTU (spec §6.3).
            let padded = if mtu == 0 {
                inner.next_multiple_of(16)
            } else {
                inner.next_multiple_of(16).min(mtu)
            };
            assert_eq!(dgram.len(), 16 + padded + 16, "mtu {mtu}, inner {inner}");
        }
    }
}

/// A route through the interface whose MTU is below the interface's caps the
/// padding of the packets it carries (netns.sh, "route MTU with padding": MTU 1300,
/// a /32 of MTU 1299, a 1297-byte packet padded to 1299, not 1300): staged while the
/// handshake runs, sent alone, and in a batch where the capped packets make runs
/// (grants) of their own; the byte counter counts what was sealed, and B gets every
/// packet intact.
#[test]
fn a_smaller_route_mtu_caps_padding() {
    let mut p = Pair::new(32, true, false);
    let far: [u8; 4] = [10, 0, 1, 5];
    p.a.iface.set_mtu(1300);
    p.a.iface
        .add_aip(2, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 0)), 24)
        .unwrap();
    p.a.iface
        .set_route_mtu(IpAddr::V4(Ipv4Addr::from(B_IP)), 32, Some(1299))
        .unwrap();
    let payload = [0x5a; 1277];
    let resp = p.response_to_staged(&payload);
    p.deliver(true, resp);
    let staged = p.drain(true);
    assert_eq!(lens(&staged), vec![16 + 1299 + 16], "the staged packet");
    p.deliver(false, staged[0].clone());
    assert_eq!(p.b.tun, vec![ipv4(A_IP, B_IP, &payload)]);
    let (o, d) = p.send(true, &payload);
    assert!(matches!(o, SendOutcome::Send { .. }), "{o:?}");
    assert_eq!(d.len(), 16 + 1299 + 16, "sent alone");
    // A packet longer than the route's MTU is padded as without the route.
    let (_, d) = p.send(true, &[1; 1280]);
    assert_eq!(d.len(), 16 + 1300 + 16);

    // A batch to B (capped) and to 10.0.1.5 (no route: the interface MTU).
    let to = [B_IP, B_IP, far, far, B_IP];
    let mut bufs: Vec<Vec<u8>> = to
        .iter()
        .map(|&dst| {
            let pkt = ipv4(A_IP, dst, &payload);
            let mut b = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
            b[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
            b
        })
        .collect();
    let len = 20 + payload.len();
    let before = p.a.iface.peer_info(2).unwrap().tx_bytes;
    let mut grants = Vec::new();
    let plans: Vec<Planned> = bufs
        .iter()
        .map(|b| {
            p.a.iface
                .plan_send(p.now, p.wall, &mut p.rng, b, len, &mut grants)
        })
        .collect();
    assert_eq!(
        plans,
        [0, 0, 1, 1, 2].map(Planned::Seal),
        "a run ends where the padding MTU changes"
    );
    p.a.iface
        .commit_grants(p.now, p.wall, &mut p.rng, &mut grants);
    let mut sealed = Vec::new();
    for (b, plan) in bufs.iter_mut().zip(&plans) {
        let Planned::Seal(g) = *plan else {
            unreachable!()
        };
        let n = grants[g].seal(b, len).unwrap();
        sealed.push(b[..n].to_vec());
    }
    assert_eq!(lens(&sealed), vec![1331, 1331, 1332, 1332, 1331]);
    let after = p.a.iface.peer_info(2).unwrap().tx_bytes;
    assert_eq!(after - before, 3 * 1331 + 2 * 1332);
    p.b.tun.clear();
    for d in sealed {
        assert!(matches!(p.deliver(false, d), RecvOutcome::Tun(_)));
    }
    let want: Vec<Vec<u8>> = to.iter().map(|&d| ipv4(A_IP, d, &payload)).collect();
    assert_eq!(p.b.tun, want);

    // Route gone: the interface MTU again.
    p.a.iface
        .remove_route_mtu(IpAddr::V4(Ipv4Addr::from(B_IP)), 32);
    let (_, d) = p.send(true, &payload);
    assert_eq!(d.len(), 16 + 1300 + 16);
}

/// Every datagram one side has queued, with the local source address it is to leave
/// from (None: the kernel chooses).
fn transmits(p: &mut Pair, of_a: bool) -> Vec<(u8, Option<IpAddr>)> {
    let node = if of_a { &mut p.a } else { &mut p.b };
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    while let Some(t) = node.iface.poll_transmit(&mut buf) {
        out.push((buf[0], t.src));
    }
    out
}

/// The cached local source is dropped before a handshake is retried (RetransmitHandshake)
/// and before the one sent after no reply (NewHandshake), as if_wg.c's
/// wg_timers_run_retry_handshake and wg_timers_run_new_handshake clear it: the address
/// may be what kept the handshake from getting through.
#[test]
fn the_cached_source_is_dropped_before_a_handshake_retry() {
    let a_ip: IpAddr = "127.0.0.1".parse().unwrap();
    let initiations = |t: &[(u8, Option<IpAddr>)]| -> Vec<Option<IpAddr>> {
        t.iter()
            .filter(|(ty, _)| *ty == 1)
            .map(|(_, s)| *s)
            .collect()
    };

    // RetransmitHandshake: A's keypair is old, its next packet asks for a new handshake
    // (from the cached source, learnt from B's datagrams), which gets no answer.
    let mut p = Pair::new(32, true, true);
    p.send(true, b"x");
    p.pump();
    p.advance(Duration::from_secs(121));
    let (o, _) = p.send(true, b"late");
    assert!(
        matches!(o, SendOutcome::Send { src: Some(s), .. } if s == a_ip),
        "{o:?}"
    );
    assert_eq!(initiations(&transmits(&mut p, true)), vec![Some(a_ip)]);
    p.advance(Duration::from_millis(5_000 + 334));
    p.timers(true);
    assert_eq!(
        initiations(&transmits(&mut p, true)),
        vec![None],
        "the retry"
    );

    // NewHandshake: A sent data and heard nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
    let mut p = Pair::new(33, true, true);
    p.send(true, b"x");
    p.pump();
    let (o, _) = p.send(true, b"unanswered");
    assert!(
        matches!(o, SendOutcome::Send { src: Some(s), .. } if s == a_ip),
        "{o:?}"
    );
    p.advance(Duration::from_millis(15_000 + 334));
    p.timers(true);
    assert_eq!(
        initiations(&transmits(&mut p, true)),
        vec![None],
        "after silence"
    );
}

/// The initiation's first step done outside the engine (`prepare_initiation`, as the
/// control thread does it without the lock) gives the same handshake, and a step done
/// for another message or an older key is not trusted: the engine does it again.
#[test]
fn an_initiation_prepared_outside_the_engine_is_answered_the_same() {
    use wgif::proto::prepare_initiation;
    let answer = |p: &mut Pair, init: &mut Vec<u8>, prepared| {
        let (now, wall, from) = (p.now, p.wall, p.a.addr);
        let o =
            p.b.iface
                .decapsulate_prepared(now, wall, &mut p.rng, from, None, init, false, prepared);
        (o, p.drain(false))
    };
    let mut p = Pair::new(41, true, false);
    let mut init = p.staged_initiation(b"x");
    let x = init.clone();
    let id = p.b.iface.identity().expect("B has a key");
    let prepared = prepare_initiation(&init, &id);
    assert!(prepared.is_some());
    let (o, out) = answer(&mut p, &mut init, prepared);
    assert_eq!(o, RecvOutcome::Handled);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 92, "a response");
    assert_eq!(p.deliver(true, out[0].clone()), RecvOutcome::Handled);
    assert!(p
        .take_events(true)
        .iter()
        .any(|e| e.contains("Receiving handshake response")));

    // A wrong mac1 is not prepared at all (no Diffie-Hellman for it).
    let mut bad = init.clone();
    bad[116] ^= 1;
    assert!(prepare_initiation(&bad, &id).is_none());
    let mut data = vec![0u8; 32];
    data[0] = 4;
    assert!(
        prepare_initiation(&data, &id).is_none(),
        "not an initiation"
    );

    // Prepared for another initiation (another ephemeral key): not trusted. Were it
    // used, the timestamp would not open and the initiation would be refused.
    let mut p2 = Pair::new(41, true, false);
    p2.advance(std::time::Duration::from_secs(3));
    rand::RngCore::next_u64(&mut p2.rng);
    let mut y = p2.staged_initiation(b"y");
    assert_ne!(y[8..40], x[8..40], "another ephemeral key");
    p.advance(std::time::Duration::from_secs(3));
    let stale = prepare_initiation(&x, &id);
    assert!(stale.is_some());
    let (o, out) = answer(&mut p, &mut y, stale);
    assert_eq!(o, RecvOutcome::Handled);
    assert_eq!(out.len(), 1, "answered all the same");
    assert_eq!(out[0].len(), 92);
}
