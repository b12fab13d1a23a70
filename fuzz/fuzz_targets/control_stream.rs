//! The control socket's request path as wgd runs it for one connection
//! (driver/control.rs `Conn::serve` over a real socketpair): length-prefixed frames
//! (ioctl/frame.rs) are cut out of the byte stream, decoded into requests, executed
//! against one interface `wg0` and answered. Whatever the bytes, the connection
//! ends (no livelock), every answer is a well-formed reply frame, and there is at
//! most one answer per frame.
//!
//! `Daemon::handle` is private to daemon.rs and needs a kernel; `exec` below takes
//! its steps in its order with wgd's own functions for everything that needs none
//! (admission and argument checks from driver/admit.rs, the interface name,
//! SIOCSWG decoding and applying, SIOCGWG), and answers the other requests with
//! success.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Instant;
use wgif::driver::admit::{check_arguments, check_request};
use wgif::driver::control::{Conn, Exec};
use wgif::driver::wgif::parse_name;
use wgif::ioctl::frame::{self, FrameDecoder, ReplyBody, RequestBody, MAGIC, PROTOCOL_VERSION};
use wgif::ioctl::request::{Request, Response};
use wgif_fuzz::{converse, socket_pair, Input, WgState};

fn exec(wg: &mut WgState, privileged: bool, body: RequestBody) -> Result<Response, i32> {
    let req = body.request;
    check_request(&req, privileged)?;
    if let Request::ListInterfaces = req {
        return Ok(Response::Interfaces(Vec::new()));
    }
    if parse_name(&body.ifname) != Some(0) {
        return Err(libc::ENXIO);
    }
    check_arguments(&req)?;
    match req {
        Request::SetWg { data } => wg.set_wg_buffer(&data).map(|_| Response::Done),
        Request::GetWg { size } => {
            let (size, data) = wg.get_wg(size, privileged);
            Ok(Response::Wg {
                size,
                data: data.unwrap_or_default(),
            })
        }
        _ => Ok(Response::Done),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8();
    let uid = if mode & 1 == 1 { 0 } else { 1000 };
    // Bit 1: the rest is a list of bodies, each given a valid frame header, so the
    // fuzzer reaches postcard and the requests without first finding the envelope.
    let stream: Vec<u8> = if mode & 2 == 2 {
        let mut s = Vec::new();
        while !input.is_empty() {
            let body = input.bytes(65535);
            s.extend_from_slice(&((body.len() + 6) as u32).to_le_bytes());
            s.extend_from_slice(&MAGIC);
            s.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
            s.extend_from_slice(body);
        }
        s
    } else {
        let mut s = input.rest().to_vec();
        // Root may announce frames up to MAX_FRAME (256 MiB): the decoder then sizes
        // its buffer for the whole frame when the prefix arrives, by design (wgd.8),
        // and zeroes it when the connection goes. Past 256 KiB that only makes the
        // fuzzer slow (the path of a frame larger than a read chunk starts at 16 KiB),
        // so the stream is cut before such a prefix.
        let mut at = 0;
        while uid == 0 && at + 4 <= s.len() {
            let len = u32::from_le_bytes(s[at..at + 4].try_into().unwrap()) as usize;
            if len > 256 << 10 {
                s.truncate(at);
                break;
            }
            at += 4 + len;
        }
        s
    };

    let (ours, mut client) = socket_pair();
    let mut conn = Conn::new(ours, uid);
    let mut wg = WgState::default();
    let answer = converse(&mut client, &stream, || {
        conn.serve(Instant::now(), |privileged, body| {
            Exec::Reply(exec(&mut wg, privileged, body))
        })
    });
    let mut replies = FrameDecoder::new();
    replies.feed(&answer);
    let mut answers = 0usize;
    while let Some(p) = replies.next_frame().expect("reply frame length") {
        let _: ReplyBody = frame::decode(&p).expect("a reply that decodes");
        answers += 1;
    }
    assert_eq!(replies.buffered(), 0, "a partial reply frame");
    // Each answer used up at least one frame header of the input.
    assert!(
        answers <= stream.len() / 4 + 1,
        "{answers} answers for {} bytes",
        stream.len()
    );
});
