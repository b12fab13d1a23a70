//! Transport data against an established session (proto: iface.rs, keypair.rs,
//! replay.rs, allowedips.rs, timers): A completes a real handshake with B, then the
//! fuzzer sends data messages sealed with the session's keys (any inner bytes, any
//! padding, counters in order, out of order, far ahead or repeated), replays and
//! bit-flipped copies of earlier messages, keepalives, traffic from B, and lets
//! time pass (rekeys, expiry).
//!
//! Checked: nothing panics; a message reaches the tun at most once per counter
//! (the replay window); an edited message never does; what reaches the tun is the
//! inner packet A sealed, from a source B allows for A; B's own data opens with
//! A's keys and carries B's packet with zero padding; no data is accepted on a
//! session older than REJECT_AFTER_TIME.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;
use wgif::proto::consts::{REJECT_AFTER_TIME, RESPONSE_LEN};
use wgif::proto::{RecvOutcome, SendOutcome, HEADROOM, TAILROOM};
use wgif_fuzz::*;

/// The interface MTU `responder` leaves B with (Interface::new's).
const MTU: usize = 1420;

/// Padded plaintext length by spec §6.3, written out here rather than taken from
/// wgif: up to a multiple of 16, but not past the MTU; a packet longer than the MTU
/// pads only its last MTU-sized piece.
fn spec_padded(len: usize) -> usize {
    let last = if len <= MTU { len } else { len % MTU };
    len + (last.div_ceil(16) * 16).min(MTU).saturating_sub(last)
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let psk = (flags & 1 == 1).then_some(PSK);
    let mut b = responder(psk.as_ref());
    let mut rng = rng();
    let mut now = origin();
    let wall_at = |now: std::time::Instant| wall() + (now - origin());
    let from = a_endpoint(flags & 2 == 2);

    // The handshake: A's initiation, B's response, A's keys.
    let init = initiation(0, 0, 1);
    let mut msg = init.with_sender(0x0a0a_0a0a).to_vec();
    add_macs(&mut macs_for_b(), now, &mut msg);
    let o = b.decapsulate(
        now,
        wall_at(now),
        &mut rng,
        from,
        Some(B_LOCAL),
        &mut msg,
        false,
    );
    assert_eq!(o, RecvOutcome::Handled);
    let resp = drain(&mut b)
        .into_iter()
        .find(|m| m.len() == RESPONSE_LEN && m[0] == 2)
        .expect("B answers a valid initiation");
    let keys = read_response(&init, 0, &psk.unwrap_or([0; 32]), &resp).expect("B's response reads");
    let index = u32::from_le_bytes(resp[4..8].try_into().unwrap());
    let born = now;

    let mut next = 0u64;
    let mut delivered: HashSet<u64> = HashSet::new();
    let mut sent: Vec<(u64, Vec<u8>)> = Vec::new();
    for _ in 0..24 {
        if input.is_empty() {
            break;
        }
        let op = input.u8();
        let (msg, counter, inner, fresh_copy) = match op % 6 {
            // Data from A: an inner packet and a counter of the fuzzer's choosing.
            0 | 1 => {
                let counter = match (op >> 3) & 3 {
                    0 => next,
                    1 => next.saturating_sub(u64::from(input.u8())),
                    2 => next + u64::from(input.u16()),
                    _ => u64::from(input.u32()) << 16 | u64::from(input.u16()),
                };
                next = next.max(counter.saturating_add(1));
                let body = input.bytes(1500);
                let inner = match (op >> 5) & 3 {
                    0 => ipv4(A_INNER4, B_INNER4, input.u8(), body),
                    1 => ipv6(A_INNER6, B_INNER6, input.u8(), body),
                    // Any source, so the allowed-IPs check is exercised too.
                    2 => ipv4(input.array::<4>().into(), B_INNER4, 17, body),
                    _ => body.to_vec(),
                };
                let pad = input.u8() as usize % 32;
                let m = seal_data(&keys.send, index, counter, &inner, pad);
                if sent.len() < 64 {
                    sent.push((counter, m.clone()));
                }
                (m, Some(counter), Some(inner), true)
            }
            // A replay of an earlier message, exact or with bits flipped.
            2 => {
                if sent.is_empty() {
                    continue;
                }
                let (counter, mut m) = sent[input.u8() as usize % sent.len()].clone();
                let before = m.clone();
                mutate(&mut input, &mut m, 1 + (op >> 4) as usize % 3);
                let same = m == before;
                (m, same.then_some(counter), None, false)
            }
            // A keepalive.
            3 => {
                let m = seal_data(&keys.send, index, next, &[], 0);
                next += 1;
                (m, Some(next - 1), Some(Vec::new()), true)
            }
            // B sends to A (an inner packet to one of A's addresses).
            4 => {
                let body = input.bytes(1400);
                let pkt = if op & 8 == 8 {
                    ipv6(B_INNER6, A_INNER6, 17, body)
                } else {
                    ipv4(B_INNER4, A_INNER4, 17, body)
                };
                let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
                buf[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
                if let SendOutcome::Send { range, to, .. } =
                    b.encapsulate(now, wall_at(now), &mut rng, &mut buf, pkt.len())
                {
                    assert_eq!(to, from, "B sends to where A's data came from");
                    if let Some(pt) = open_data(&keys.recv, &buf[range]) {
                        assert_eq!(&pt[..pkt.len()], &pkt[..], "B's packet mangled");
                        assert!(pt[pkt.len()..].iter().all(|&x| x == 0), "padding is zeros");
                        assert_eq!(pt.len(), spec_padded(pkt.len()), "padding of {}", pkt.len());
                    }
                }
                drain(&mut b);
                continue;
            }
            // Time passes.
            _ => {
                now += Duration::from_millis(u64::from(input.u16()) * 16);
                b.handle_timeout(now, wall_at(now), &mut rng);
                drain(&mut b);
                continue;
            }
        };
        let mut buf = msg.clone();
        let o = b.decapsulate(
            now,
            wall_at(now),
            &mut rng,
            from,
            Some(B_LOCAL),
            &mut buf,
            false,
        );
        drain(&mut b);
        match o {
            RecvOutcome::Tun(r) => {
                let c = counter.expect("an edited message reached the tun");
                assert!(delivered.insert(c), "counter {c} reached the tun twice");
                assert!(
                    now - born <= REJECT_AFTER_TIME,
                    "data on an expired session"
                );
                if fresh_copy {
                    let inner = inner.unwrap();
                    assert_eq!(&buf[r.clone()], &inner[..r.len()], "inner packet mangled");
                }
                let pkt = &buf[r];
                let src: IpAddr = match pkt[0] >> 4 {
                    4 => <[u8; 4]>::try_from(&pkt[12..16]).unwrap().into(),
                    6 => <[u8; 16]>::try_from(&pkt[8..24]).unwrap().into(),
                    v => panic!("IP version {v} reached the tun"),
                };
                assert!(
                    src == IpAddr::V4(A_INNER4) || src == IpAddr::V6(A_INNER6),
                    "source {src} is not A's"
                );
            }
            RecvOutcome::Handled => {
                let c = counter.expect("an edited message was taken");
                assert!(delivered.insert(c), "counter {c} taken twice");
            }
            RecvOutcome::Dropped(_) => {}
        }
    }
});
