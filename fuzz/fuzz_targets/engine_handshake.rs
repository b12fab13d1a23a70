//! The handshake state machine of the engine (proto: iface.rs, noise.rs,
//! cookie.rs, ratelimit.rs, timers) driven by a peer A that speaks real Noise:
//! every initiation and response is built with the engine's own noise module and
//! carries a valid mac1 (and mac2 once B has sent a cookie), so B gets past the MAC
//! and AEAD checks; the fuzzer then picks keys, timestamps, sender indices, byte
//! edits after sealing, replays, load, and the passing of time, and lets B start
//! handshakes of its own that A answers.
//!
//! Checked: nothing panics; whenever B answers an initiation with a response that
//! A can read, the session it sets up carries data both ways (A's data reaches B's
//! tun intact and B's data opens with A's keys).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use wgif::proto::consts::{COOKIE_LEN, RESPONSE_LEN};
use wgif::proto::{RecvOutcome, SendOutcome, HEADROOM, TAILROOM};
use wgif_fuzz::*;

struct Run {
    b: wgif::proto::Interface,
    rng: rand_chacha::ChaCha8Rng,
    cookies: wgif::proto::cookie::CookieMaker,
    now: std::time::Instant,
    v6: bool,
    under_load: bool,
    history: Vec<Vec<u8>>,
    /// Every packet B was given for A (B stages them until it has a session).
    staged: Vec<Vec<u8>>,
}

impl Run {
    fn deliver(&mut self, mut msg: Vec<u8>) -> (RecvOutcome, Vec<u8>, Vec<Vec<u8>>) {
        if self.history.len() < 32 {
            self.history.push(msg.clone());
        }
        let wall = wall() + (self.now - origin());
        let o = self.b.decapsulate(
            self.now,
            wall,
            &mut self.rng,
            a_endpoint(self.v6),
            Some(B_LOCAL),
            &mut msg,
            self.under_load,
        );
        let out = drain(&mut self.b);
        for m in &out {
            if m.len() == COOKIE_LEN && m[0] == 3 {
                if let Some(reply) = wgif::proto::wire::CookieReply::new_checked(m) {
                    let _ = self.cookies.consume_reply(self.now, &reply);
                }
            }
        }
        (o, msg, out)
    }

    fn macs(&mut self, msg: &mut [u8]) {
        add_macs(&mut self.cookies, self.now, msg);
    }

    /// A session B agreed to: A's packet reaches B's tun, B's packet opens at A.
    fn check_session(&mut self, keys: Keys, b_index: u32) {
        let inner = ipv4(A_INNER4, B_INNER4, 17, b"fuzz");
        let msg = seal_data(&keys.send, b_index, 0, &inner, 16 - inner.len() % 16);
        match self.deliver(msg) {
            (RecvOutcome::Tun(r), buf, _) => assert_eq!(&buf[r], &inner[..], "data mangled"),
            (o, _, _) => panic!("data on a fresh session not delivered: {o:?}"),
        }
        let pkt = ipv4(B_INNER4, A_INNER4, 17, b"back");
        let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
        let wall = wall() + (self.now - origin());
        match self
            .b
            .encapsulate(self.now, wall, &mut self.rng, &mut buf, pkt.len())
        {
            SendOutcome::Send { range, .. } => {
                let pt = open_data(&keys.recv, &buf[range]).expect("B's data opens at A");
                assert_eq!(&pt[..pkt.len()], &pkt[..]);
                assert!(pt[pkt.len()..].iter().all(|&b| b == 0), "padding is zeros");
            }
            o => panic!("B cannot send on the session it just made: {o:?}"),
        }
        drain(&mut self.b);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let b_psk = (flags & 1 == 1).then_some(PSK);
    // What A uses as PSK: B's, or (bit 1) the wrong one.
    let a_psk = if flags & 2 == 2 {
        WRONG_PSK
    } else {
        b_psk.unwrap_or([0; 32])
    };
    let mut run = Run {
        b: responder(b_psk.as_ref()),
        rng: rng(),
        cookies: macs_for_b(),
        now: origin(),
        v6: flags & 8 == 8,
        under_load: flags & 4 == 4,
        history: Vec::new(),
        staged: Vec::new(),
    };
    let mut checked = false;

    for _ in 0..12 {
        if input.is_empty() {
            break;
        }
        let op = input.u8();
        match op % 6 {
            // An initiation from A (or from C, or from B itself).
            0 => {
                let (e, s, t) = (input.u8(), input.u8() % 3, input.u8());
                let sender = input.u32();
                let init = initiation(e, s, t);
                let mut msg = init.with_sender(sender).to_vec();
                mutate(&mut input, &mut msg, (op >> 3) as usize % 4);
                // The sender index is not authenticated; the rest up to mac1 is.
                let edited = msg[8..116] != init.msg[8..116];
                if op & 0x40 == 0 {
                    run.macs(&mut msg);
                }
                let sender_sent = msg[4..8].to_vec();
                let (_, _, out) = run.deliver(msg);
                for r in out.iter().filter(|m| m.len() == RESPONSE_LEN && m[0] == 2) {
                    assert!(!edited, "B answered an edited initiation");
                    assert_eq!(r[8..12], sender_sent[..], "response to another index");
                    if let Some(keys) = read_response(&init, s, &a_psk, r) {
                        let b_index = u32::from_le_bytes(r[4..8].try_into().unwrap());
                        if !checked && op & 0x80 == 0 {
                            checked = true;
                            run.check_session(keys, b_index);
                        }
                    }
                }
            }
            // A handshake-shaped message of the fuzzer's own bytes, with valid MACs.
            1 => {
                let mut msg = match input.u8() % 3 {
                    0 => initiation(0, 0, 1).msg.to_vec(),
                    1 => vec![2u8; RESPONSE_LEN],
                    _ => vec![3u8; COOKIE_LEN],
                };
                let body = input.take(msg.len() - 4);
                msg[4..4 + body.len()].copy_from_slice(body);
                msg[1..4].fill(0);
                run.macs(&mut msg);
                run.deliver(msg);
            }
            // A replay of something sent before, maybe edited, maybe with fresh MACs.
            2 => {
                if run.history.is_empty() {
                    continue;
                }
                let i = input.u8() as usize % run.history.len();
                let mut msg = run.history[i].clone();
                mutate(&mut input, &mut msg, (op >> 3) as usize % 3);
                if op & 0x40 == 0x40 {
                    run.macs(&mut msg);
                }
                run.deliver(msg);
            }
            // Time passes; the timers run (retries, rekeys, the cookie secret ages).
            3 => {
                run.now += Duration::from_millis(u64::from(input.u16()) * 8);
                let wall = wall() + (run.now - origin());
                run.b.handle_timeout(run.now, wall, &mut run.rng);
                drain(&mut run.b);
                run.under_load = op & 0x80 == 0x80;
            }
            // B has a packet for A: it initiates; A answers (maybe edited).
            4 => {
                let pkt = ipv4(B_INNER4, A_INNER4, 6, input.take(40));
                run.staged.push(pkt.clone());
                let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
                buf[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
                let wall = wall() + (run.now - origin());
                let _ = run
                    .b
                    .encapsulate(run.now, wall, &mut run.rng, &mut buf, pkt.len());
                let sent = drain(&mut run.b);
                let (e, sender) = (input.u8(), input.u32());
                for m in sent.iter().filter(|m| m.len() == 148 && m[0] == 1) {
                    let Some((mut resp, keys)) = answer_initiation(m, e, sender, &a_psk) else {
                        panic!("A cannot read B's initiation");
                    };
                    let orig = resp;
                    mutate(&mut input, &mut resp, (op >> 3) as usize % 3);
                    // Only the sender index may change without B noticing.
                    let edited = resp[8..60] != orig[8..60];
                    let mut resp = resp.to_vec();
                    if op & 0x40 == 0 {
                        run.macs(&mut resp);
                    }
                    let (_, _, out) = run.deliver(resp);
                    // Once B has the session, its staged packet goes to A.
                    for d in out.iter().filter(|d| d[0] == 4) {
                        if let Some(pt) = open_data(&keys.recv, d) {
                            assert!(!edited, "B accepted an edited response");
                            // B sends what it staged, oldest first: this packet or
                            // one staged by an earlier initiation of B's.
                            assert!(
                                pt.is_empty() || run.staged.iter().any(|s| pt.starts_with(s)),
                                "staged packet mangled"
                            );
                        }
                    }
                }
            }
            // Under load or not, from the other address family or not.
            _ => {
                run.under_load = op & 8 == 8;
                run.v6 = op & 16 == 16;
            }
        }
    }
});
