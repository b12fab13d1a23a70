//! One client connection of the control socket: non-blocking, with its own input
//! decoder and output buffer, so a slow or silent client costs only its buffers.
//! Who the client is comes from SO_PEERCRED: uid 0 is privileged, like suser().

use crate::ioctl::frame::{self, FrameDecoder, FrameError, ReplyBody, RequestBody};
use crate::ioctl::request::Response;
use mio::net::UnixStream;
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::io::{self, Read, Write};

/// Most connections served at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 256;

pub struct Conn {
    pub stream: UnixStream,
    pub privileged: bool,
    decoder: FrameDecoder,
    out: Vec<u8>,
    /// Set after an unrecoverable framing error: flush the reply, then close.
    pub closing: bool,
}

/// What reading produced.
pub enum Incoming {
    Request(RequestBody),
    /// A frame that could not be decoded: answer with this errno.
    Bad(i32),
}

impl Conn {
    pub fn new(stream: UnixStream) -> Conn {
        let privileged = getsockopt(&stream, PeerCredentials)
            .map(|c| c.uid() == 0)
            .unwrap_or(false);
        Conn {
            stream,
            privileged,
            decoder: FrameDecoder::new(),
            out: Vec::new(),
            closing: false,
        }
    }

    /// Reads what is available; returns complete requests. `Ok(None)` = the client
    /// hung up.
    pub fn read(&mut self) -> io::Result<Option<Vec<Incoming>>> {
        let mut buf = [0u8; 16 * 1024];
        let mut got = Vec::new();
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => self.decoder.feed(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            loop {
                match self.decoder.next_frame() {
                    Ok(Some(p)) => got.push(match frame::decode::<RequestBody>(&p) {
                        Ok(r) => Incoming::Request(r),
                        Err(FrameError::WrongVersion(_)) | Err(FrameError::BadMagic) => {
                            Incoming::Bad(libc::EPROTONOSUPPORT)
                        }
                        Err(_) => Incoming::Bad(libc::EINVAL),
                    }),
                    Ok(None) => break,
                    Err(_) => {
                        // An oversized length: the stream cannot be resynchronised.
                        got.push(Incoming::Bad(libc::EMSGSIZE));
                        self.closing = true;
                        return Ok(Some(got));
                    }
                }
            }
        }
        Ok(Some(got))
    }

    pub fn reply(&mut self, result: Result<Response, i32>) {
        self.out
            .extend_from_slice(&frame::encode(&ReplyBody { result }));
    }

    /// Writes what the socket takes; `Ok(true)` when everything is out.
    pub fn flush(&mut self) -> io::Result<bool> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
