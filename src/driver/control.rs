//! One client connection of the control socket: non-blocking, with its own input
//! decoder and output buffer, so a slow or silent client costs only its buffers.
//! Who the client is comes from SO_PEERCRED: uid 0 is privileged, like suser().
//!
//! Every connection is bounded (wgd.8, CONTROL SOCKET LIMITS):
//! - one reply at a time: while a reply is not fully written, the connection's
//!   requests are neither read nor executed (the client's own socket buffer holds
//!   them), so its output is at most one reply;
//! - a frame from a caller other than root is at most [`MAX_UNPRIVILEGED_FRAME`]
//!   bytes and must be complete [`FRAME_TIMEOUT`] after its first byte; root's
//!   frames must not stop coming for that long; else the connection is closed;
//! - one turn of the event loop executes at most [`TURN_REQUESTS`] requests and reads
//!   at most [`TURN_BYTES`] of one connection, and stops early after [`TURN_TIME`];
//!   the rest waits for the next turn, after the tunnels' packets and timers; all
//!   connections together get [`TURN_CONTROL_TIME`] per turn, in the order they
//!   became ready;
//! - connections are capped per uid ([`MAX_PER_UID`], root exempt) and in all
//!   ([`MAX_CONNECTIONS`]), with [`ROOT_RESERVED`] of them kept for root.

use super::outbox::Outbox;
use crate::ioctl::frame::{
    self, FrameDecoder, FrameError, ReplyBody, RequestBody, MAX_FRAME, MAX_UNPRIVILEGED_FRAME,
};
use crate::ioctl::request::Response;
use mio::net::UnixStream;
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{Duration, Instant};
use zeroize::Zeroize;

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Of [`MAX_CONNECTIONS`], the ones only root may take.
pub const ROOT_RESERVED: usize = 16;
/// Most connections one uid other than root may hold.
pub const MAX_PER_UID: usize = 16;
/// How long a frame may stay unfinished.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests one connection may have executed in one loop turn.
pub const TURN_REQUESTS: usize = 8;
/// Bytes read from one connection in one loop turn.
pub const TURN_BYTES: usize = 1 << 20;
/// Time one connection may take in one loop turn (checked after each request).
pub const TURN_TIME: Duration = Duration::from_millis(2);
/// Time all connections together may take in one loop turn (checked between
/// connections; the others are served first in the next turn).
pub const TURN_CONTROL_TIME: Duration = Duration::from_millis(5);

pub struct Conn {
    pub stream: UnixStream,
    pub uid: u32,
    pub privileged: bool,
    decoder: FrameDecoder,
    out: Outbox,
    /// When the bytes of the unfinished frame started to arrive.
    partial_since: Option<Instant>,
    /// The client shut its side: answer what is complete, then close.
    eof: bool,
    /// Set after an unrecoverable framing error: flush the reply, then close.
    pub closing: bool,
    /// A request the daemon could not take yet ([`Exec::Busy`]).
    held: Option<RequestBody>,
    /// Waiting for [`Conn::finish`] ([`Exec::Deferred`]).
    awaiting: bool,
}

/// What reading produced.
pub enum Incoming {
    Request(RequestBody),
    /// A frame that could not be decoded: answer with this errno.
    Bad(i32),
}

/// What the daemon did with a request.
pub enum Exec {
    /// The answer.
    Reply(Result<Response, i32>),
    /// The interface is busy with another connection's SIOCSWG: hold the request and
    /// offer it again next turn (OpenBSD serialises on the interface's lock).
    Busy(RequestBody),
    /// Answered later with [`Conn::finish`] (a large SIOCSWG served in slices); the
    /// connection does nothing meanwhile.
    Deferred,
}

/// What a connection wants after its turn.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// Waiting for the client (readable or writable).
    Wait,
    /// Used its turn's budget with work left: serve it again next turn.
    More,
    /// Done: close it.
    Close,
}

/// The uid behind a connected stream (SO_PEERCRED); None if the kernel cannot say.
pub fn peer_uid(stream: &UnixStream) -> Option<u32> {
    getsockopt(stream, PeerCredentials).ok().map(|c| c.uid())
}

/// Whether one more connection of `uid` may be served, given the connections per uid.
/// Err is the errno the refusal carries.
pub fn admit(uid: u32, per_uid: &HashMap<u32, usize>) -> Result<(), i32> {
    let total: usize = per_uid.values().sum();
    if total >= MAX_CONNECTIONS {
        return Err(libc::EAGAIN);
    }
    if uid != 0 {
        if total >= MAX_CONNECTIONS - ROOT_RESERVED {
            return Err(libc::EAGAIN);
        }
        if per_uid.get(&uid).copied().unwrap_or(0) >= MAX_PER_UID {
            return Err(libc::EUSERS);
        }
    }
    Ok(())
}

/// Best effort, never blocking: tells a refused client why (one reply frame with
/// `errno`), so its request fails with that error rather than a hang-up.
pub fn refuse(mut stream: UnixStream, errno: i32) {
    let mut out = Vec::new();
    frame::encode_into(&mut out, &ReplyBody { result: Err(errno) });
    let _ = stream.write(&out);
}

impl Conn {
    pub fn new(stream: UnixStream, uid: u32) -> Conn {
        let privileged = super::admit::is_privileged(uid);
        let limit = if privileged {
            MAX_FRAME
        } else {
            MAX_UNPRIVILEGED_FRAME
        };
        Conn {
            stream,
            uid,
            privileged,
            decoder: FrameDecoder::with_limit(limit),
            out: Outbox::default(),
            partial_since: None,
            eof: false,
            closing: false,
            held: None,
            awaiting: false,
        }
    }

    /// The answer to the request that was [`Exec::Deferred`].
    pub fn finish(&mut self, result: Result<Response, i32>) {
        self.reply(result);
        self.awaiting = false;
    }

    /// Serves the connection for one turn: writes pending output; while none is
    /// pending, takes the next complete request, has `exec` answer it and writes the
    /// reply; reads more when no complete request is buffered. Stops at the budgets.
    pub fn serve(
        &mut self,
        now: Instant,
        mut exec: impl FnMut(bool, RequestBody) -> Exec,
    ) -> After {
        let (mut done, mut read) = (0, 0);
        loop {
            match self.flush() {
                Err(_) => return After::Close,
                Ok(false) => return After::Wait,
                Ok(true) => {}
            }
            if self.awaiting {
                return After::Wait;
            }
            if self.closing {
                return After::Close;
            }
            let next = match self.held.take() {
                Some(body) => Some(Incoming::Request(body)),
                None => self.next_incoming(),
            };
            match next {
                Some(incoming) => {
                    let result = match incoming {
                        Incoming::Bad(e) => Err(e),
                        Incoming::Request(body) => match exec(self.privileged, body) {
                            Exec::Reply(r) => r,
                            Exec::Busy(body) => {
                                self.held = Some(body);
                                return After::More;
                            }
                            Exec::Deferred => {
                                self.awaiting = true;
                                return After::Wait;
                            }
                        },
                    };
                    self.reply(result);
                    done += 1;
                    if done >= TURN_REQUESTS || now.elapsed() >= TURN_TIME {
                        // Write this reply now; the rest waits for the next turn.
                        return match self.flush() {
                            Err(_) => After::Close,
                            Ok(false) => After::Wait,
                            Ok(true) if self.closing => After::Close,
                            Ok(true) => After::More,
                        };
                    }
                    continue;
                }
                None if self.eof => return After::Close,
                None => {}
            }
            if read >= TURN_BYTES {
                return After::More;
            }
            match self.decoder.read_from(&mut self.stream) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    read += n;
                    // A user's frame must be complete FRAME_TIMEOUT after it began;
                    // root's (up to 256 MiB) only must not stop coming for that long.
                    if self.privileged || self.partial_since.is_none() {
                        self.partial_since = Some(now);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return After::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return After::Close,
            }
        }
    }

    /// The next complete request, decoded; None when no complete frame is buffered.
    fn next_incoming(&mut self) -> Option<Incoming> {
        let r = match self.decoder.next_frame() {
            Ok(None) => None,
            Ok(Some(p)) => Some(match frame::decode::<RequestBody>(&p) {
                Ok(r) => Incoming::Request(r),
                Err(FrameError::WrongVersion(_)) | Err(FrameError::BadMagic) => {
                    Incoming::Bad(libc::EPROTONOSUPPORT)
                }
                Err(_) => Incoming::Bad(libc::EINVAL),
            }),
            Err(_) => {
                // An oversized length: the stream cannot be resynchronised.
                self.closing = true;
                Some(Incoming::Bad(libc::EMSGSIZE))
            }
        };
        if self.decoder.buffered() == 0 {
            self.partial_since = None;
        } else if r.is_some() {
            // What is left starts a new frame: its time starts now.
            self.partial_since = Some(Instant::now());
        }
        r
    }

    /// Whether an unfinished frame has waited longer than [`FRAME_TIMEOUT`].
    pub fn stalled(&self, now: Instant) -> bool {
        self.partial_since
            .is_some_and(|t| now.saturating_duration_since(t) >= FRAME_TIMEOUT)
    }

    /// Whether an unfinished frame is buffered (the loop then checks [`Conn::stalled`]).
    pub fn has_partial(&self) -> bool {
        self.partial_since.is_some()
    }

    /// Memory held for this connection (input and output buffers).
    pub fn held(&self) -> usize {
        self.decoder.capacity() + self.out.capacity()
    }

    pub fn reply(&mut self, result: Result<Response, i32>) {
        let mut body = ReplyBody { result };
        frame::encode_into(self.out.buf(), &body);
        // SIOCGWG answers to root carry keys.
        if let Ok(Response::Wg { data, .. }) = &mut body.result {
            data.zeroize();
        }
    }

    /// Writes what the socket takes; `Ok(true)` when everything is out.
    pub fn flush(&mut self) -> io::Result<bool> {
        self.out.flush(&mut self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_keeps_room_for_root_and_caps_each_uid() {
        let mut m = HashMap::new();
        m.insert(1000, MAX_PER_UID);
        assert_eq!(admit(1000, &m), Err(libc::EUSERS));
        assert_eq!(admit(1001, &m), Ok(()));
        assert_eq!(admit(0, &m), Ok(()));
        // Many users fill the shared part: only root gets in.
        let mut m = HashMap::new();
        for u in 0..((MAX_CONNECTIONS - ROOT_RESERVED) / MAX_PER_UID) as u32 {
            m.insert(2000 + u, MAX_PER_UID);
        }
        assert_eq!(admit(5000, &m), Err(libc::EAGAIN));
        assert_eq!(admit(0, &m), Ok(()));
        m.insert(0, ROOT_RESERVED);
        assert_eq!(admit(0, &m), Err(libc::EAGAIN));
        // Root alone may take every connection.
        let mut m = HashMap::new();
        m.insert(0, MAX_CONNECTIONS - 1);
        assert_eq!(admit(0, &m), Ok(()));
        assert_eq!(admit(7, &m), Err(libc::EAGAIN));
    }

    use crate::ioctl::request::{IfInfo, Request};
    use std::io::Read;

    fn pair(uid: u32) -> (Conn, std::os::unix::net::UnixStream) {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (Conn::new(UnixStream::from_std(a), uid), b)
    }

    fn request() -> Vec<u8> {
        frame::encode(&RequestBody {
            ifname: "wg1".into(),
            request: Request::GetInfo,
        })
    }

    /// A reply of about `n` bytes.
    fn info(n: usize) -> Exec {
        Exec::Reply(Ok(Response::Info(IfInfo {
            description: "x".repeat(n),
            ..IfInfo::default()
        })))
    }

    #[test]
    fn a_turn_executes_a_bounded_number_of_requests() {
        let (mut c, mut client) = pair(1000);
        client.write_all(&request().repeat(100)).unwrap();
        let mut calls = 0;
        let after = c.serve(Instant::now(), |_, _| {
            calls += 1;
            info(10)
        });
        assert_eq!((after, calls), (After::More, TURN_REQUESTS));
    }

    #[test]
    fn unread_replies_stop_the_connection() {
        let (mut c, mut client) = pair(1000);
        client.write_all(&request().repeat(50)).unwrap();
        let mut calls = 0;
        // Replies of 64 KiB, never read: the socket buffer fills, then nothing more
        // is read or executed however often the connection is served.
        for _ in 0..20 {
            c.serve(Instant::now(), |_, _| {
                calls += 1;
                info(64 << 10)
            });
        }
        assert!(calls < 20, "{calls} requests executed");
        assert!(
            c.held() <= 2 * (64 << 10) + (64 << 10),
            "{} bytes held",
            c.held()
        );
        // Reading the replies lets it go on.
        client.set_nonblocking(true).unwrap();
        let mut sink = vec![0u8; 1 << 20];
        let mut before = calls;
        for _ in 0..200 {
            while client.read(&mut sink).is_ok_and(|n| n > 0) {}
            c.serve(Instant::now(), |_, _| {
                calls += 1;
                info(64 << 10)
            });
            if calls == 50 {
                break;
            }
            assert!(calls >= before);
            before = calls;
        }
        assert_eq!(calls, 50);
    }

    #[test]
    fn a_users_large_frame_is_refused_unread() {
        let (mut c, mut client) = pair(1000);
        let big = frame::encode(&RequestBody {
            ifname: "wg1".into(),
            request: Request::SetWg {
                data: vec![0u8; MAX_UNPRIVILEGED_FRAME],
            },
        });
        client.write_all(&big).unwrap();
        let after = c.serve(Instant::now(), |_, _| panic!("not executed"));
        assert_eq!(after, After::Close);
        let p = frame::read_payload(&mut client).unwrap();
        let r: ReplyBody = frame::decode(&p).unwrap();
        assert_eq!(r.result, Err(libc::EMSGSIZE));
        // Root's frame of the same size is read.
        let (mut c, mut client) = pair(0);
        client.write_all(&big).unwrap();
        let mut calls = 0;
        c.serve(Instant::now(), |_, _| {
            calls += 1;
            Exec::Reply(Err(libc::EPERM))
        });
        assert_eq!(calls, 1);
    }

    #[test]
    fn an_unfinished_frame_stalls_after_the_timeout() {
        let (mut c, mut client) = pair(1000);
        client.write_all(&request()[..5]).unwrap();
        let t = Instant::now();
        assert_eq!(c.serve(t, |_, _| panic!("incomplete")), After::Wait);
        assert!(c.has_partial());
        assert!(!c.stalled(t + FRAME_TIMEOUT - Duration::from_millis(1)));
        assert!(c.stalled(t + FRAME_TIMEOUT));
        // Finished in time, it is a request like any other.
        client.write_all(&request()[5..]).unwrap();
        let mut calls = 0;
        c.serve(t, |_, _| {
            calls += 1;
            info(1)
        });
        assert_eq!(calls, 1);
        assert!(!c.has_partial());
    }

    #[test]
    fn busy_requests_are_held_and_deferred_ones_answered_later() {
        let (mut c, mut client) = pair(0);
        client.write_all(&request().repeat(2)).unwrap();
        let t = Instant::now();
        assert_eq!(c.serve(t, |_, b| Exec::Busy(b)), After::More);
        assert_eq!(c.serve(t, |_, _| Exec::Deferred), After::Wait);
        // Waiting: the second request is not taken.
        assert_eq!(c.serve(t, |_, _| panic!("awaiting")), After::Wait);
        c.finish(Err(libc::EINVAL));
        let mut calls = 0;
        c.serve(t, |_, _| {
            calls += 1;
            info(1)
        });
        assert_eq!(calls, 1);
        let r: ReplyBody = frame::decode(&frame::read_payload(&mut client).unwrap()).unwrap();
        assert_eq!(r.result, Err(libc::EINVAL));
    }
}
