//! The configuration protocol of wg(8) on `<dir>/wgN.sock` as wgd serves it for one
//! connection (driver/uapi.rs `UapiConn::serve` over a real socketpair): `get=1`
//! and `set=1` requests are parsed line by line, applied to an interface the way
//! wgd applies them, and answered. Whatever the bytes, the connection ends, and
//! its output is a sequence of answers each closed by `errno=N` and a blank line.
//!
//! The daemon's `uapi_exec` is private to daemon.rs; `exec` below takes its steps
//! with wgd's own functions (admit::check_uapi, apply::uapi_get, uapi::format_get,
//! apply::set_wg).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Instant;
use wgif::driver::admit::check_uapi;
use wgif::driver::apply::uapi_get;
use wgif::driver::uapi::{errno_reply, format_get, Op, UapiConn};
use wgif_fuzz::{converse, socket_pair, WgState};
use zeroize::Zeroizing;

fn exec(wg: &mut WgState, privileged: bool, op: Op) -> Zeroizing<String> {
    if let Err(e) = check_uapi(&op, privileged) {
        return errno_reply(e);
    }
    match op {
        Op::Get => format_get(&uapi_get(&wg.proto, wg.sock, None, privileged), 0),
        Op::Set(req) => match wg.set_wg(&req.io) {
            Ok(()) => Zeroizing::new("errno=0\n\n".to_string()),
            Err(e) => errno_reply(e),
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let uid = if mode & 1 == 1 { 0 } else { 1000 };
    let (ours, mut client) = socket_pair();
    let mut conn = UapiConn::new(ours, uid, 0);
    let mut wg = WgState::default();
    let answer = converse(&mut client, stream, || {
        conn.serve(Instant::now(), |privileged, _unit, op| {
            exec(&mut wg, privileged, op)
        })
    });
    let text = std::str::from_utf8(&answer).expect("answers are text");
    if text.is_empty() {
        return;
    }
    assert!(
        text.ends_with("\n\n"),
        "the last answer is not closed: {text:?}"
    );
    for block in text.trim_end_matches('\n').split("\n\n") {
        let last = block.lines().last().unwrap_or("");
        let errno = last
            .strip_prefix("errno=")
            .unwrap_or_else(|| panic!("an answer without errno: {block:?}"));
        let n: i32 = errno.parse().expect("errno is a number");
        assert!(n <= 0, "errno is zero or negative: {n}");
    }
});
