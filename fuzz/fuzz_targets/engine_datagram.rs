//! Any UDP payload into the engine (`proto::Interface::decapsulate`) of an interface
//! configured as wgd configures it (a key, one peer with allowed IPs and an
//! endpoint, up), a few datagrams in a row with the clock moving between them.
//! Per datagram the fuzzer may ask for the exact length and type word of one of the
//! four messages and for a valid mac1 (computed with B's public key by the engine's
//! cookie module, as a peer would), so its bytes reach the Noise and cookie code
//! behind those checks. Nothing panics; a datagram written to the tun is inside the
//! buffer; whatever the engine queues in answer fits a datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use wgif::proto::consts::{COOKIE_LEN, DATA_MIN_LEN, INITIATION_LEN, RESPONSE_LEN};
use wgif::proto::RecvOutcome;
use wgif_fuzz::*;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let mut b = responder((flags & 1 == 1).then_some(&PSK));
    let mut rng = rng();
    let mut cookies = macs_for_b();
    let mut now = origin();
    for _ in 0..16 {
        if input.is_empty() {
            break;
        }
        let how = input.u8();
        let mut msg = input.bytes(2048).to_vec();
        // Bits 0-2: shape it as one of the messages (type word and exact length).
        let shape = match how & 7 {
            1 => Some((1u8, INITIATION_LEN)),
            2 => Some((2, RESPONSE_LEN)),
            3 => Some((3, COOKIE_LEN)),
            4 => Some((4, msg.len().max(DATA_MIN_LEN))),
            _ => None,
        };
        if let Some((t, len)) = shape {
            msg.resize(len, 0);
            msg[..4].copy_from_slice(&[t, 0, 0, 0]);
        }
        // Bit 3: a valid mac1 (and mac2 once B has sent a cookie).
        if how & 8 == 8 {
            add_macs(&mut cookies, now, &mut msg);
        }
        let from = a_endpoint(how & 16 == 16);
        let local = (how & 32 == 32).then_some(B_LOCAL);
        let under_load = how & 64 == 64;
        let len = msg.len();
        match b.decapsulate(now, wall(), &mut rng, from, local, &mut msg, under_load) {
            RecvOutcome::Tun(r) => assert!(r.start <= r.end && r.end <= len, "{r:?} of {len}"),
            RecvOutcome::Handled | RecvOutcome::Dropped(_) => {}
        }
        for out in drain(&mut b) {
            // B's cookie reply makes A's later MACs carry a valid mac2.
            if out.len() == COOKIE_LEN && out[0] == 3 {
                if let Some(reply) = wgif::proto::wire::CookieReply::new_checked(&out) {
                    let _ = cookies.consume_reply(now, &reply);
                }
            }
        }
        // Bit 7: time passes (up to ~4.5 minutes) and the timers run.
        if how & 128 == 128 {
            now += Duration::from_millis(u64::from(input.u16()) * 4);
            b.handle_timeout(now, wall() + (now - origin()), &mut rng);
            drain(&mut b);
        }
    }
});
