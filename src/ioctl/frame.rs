//! Framing of the control socket.
//!
//! Every message, in both directions, is one frame:
//!
//! ```text
//! u32 length (little-endian, counts what follows, at most MAX_FRAME)
//! 4 bytes magic "wgd\0"
//! u16 version (little-endian, PROTOCOL_VERSION)
//! postcard body: RequestBody {ifname, request} or ReplyBody {result}
//! ```
//!
//! The magic and version sit outside the postcard body so that a client and a daemon
//! of different versions recognise each other and fail with [`FrameError::WrongVersion`]
//! instead of misreading the body. A reply's result is either a [`Response`] or a Linux
//! errno. SIOCSWG/SIOCGWG buffers travel inside the body untouched (`codec.rs`).

use super::request::{Request, Response};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Read, Write};

/// `wgd\0`.
pub const MAGIC: [u8; 4] = *b"wgd\0";
/// Bumped on any incompatible change of the bodies.
pub const PROTOCOL_VERSION: u16 = 1;
/// Largest frame accepted: 1M allowed IPs (24 MiB) and 2^16 peers fit comfortably.
pub const MAX_FRAME: usize = 64 << 20;
const HEADER: usize = 4 + MAGIC.len() + 2;

/// A request as sent by a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestBody {
    /// The interface (empty for `ListInterfaces`).
    pub ifname: String,
    pub request: Request,
}

/// A reply: the response, or a Linux errno.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyBody {
    pub result: Result<Response, i32>,
}

/// Why a frame could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The length prefix is above [`MAX_FRAME`].
    Oversized(u64),
    /// The stream ended inside a frame.
    Truncated {
        have: usize,
        want: usize,
    },
    /// Not a wgd frame at all.
    BadMagic,
    /// The peer speaks another protocol version.
    WrongVersion(u16),
    /// The body names a request or response this version does not know.
    UnknownRequest,
    /// The body does not decode.
    Malformed(String),
    Io(io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Oversized(n) => write!(f, "frame of {n} bytes is above the maximum {MAX_FRAME}"),
            FrameError::Truncated { have, want } => write!(f, "truncated frame ({have} of {want} bytes)"),
            FrameError::BadMagic => f.write_str("not a wgd control frame"),
            FrameError::WrongVersion(v) => write!(
                f,
                "control protocol version {v} does not match this program's version {PROTOCOL_VERSION} (wgd and wgifconfig must come from the same build)"
            ),
            FrameError::UnknownRequest => f.write_str("unknown request"),
            FrameError::Malformed(e) => write!(f, "malformed frame: {e}"),
            FrameError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// One complete frame, length prefix included.
pub fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    let mut out = vec![0u8; HEADER];
    out[4..8].copy_from_slice(&MAGIC);
    out[8..10].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    // Serialising our own plain-data types into a Vec cannot fail.
    let out = postcard::to_extend(body, out).unwrap_or_default();
    let mut out = out;
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// Decodes one frame's payload (the bytes after the length prefix).
pub fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, FrameError> {
    if payload.len() < HEADER - 4 {
        return Err(FrameError::Truncated {
            have: payload.len(),
            want: HEADER - 4,
        });
    }
    if payload[..4] != MAGIC {
        return Err(FrameError::BadMagic);
    }
    let version = u16::from_le_bytes([payload[4], payload[5]]);
    if version != PROTOCOL_VERSION {
        return Err(FrameError::WrongVersion(version));
    }
    match postcard::from_bytes(&payload[6..]) {
        Ok(v) => Ok(v),
        // serde's derive reports an out-of-range variant index as a custom error; our
        // bodies have no other source of custom errors.
        Err(postcard::Error::DeserializeBadEnum | postcard::Error::SerdeDeCustom) => {
            Err(FrameError::UnknownRequest)
        }
        Err(e) => Err(FrameError::Malformed(e.to_string())),
    }
}

/// Incremental reader for a non-blocking server: feed bytes as they arrive, take
/// complete payloads out. An oversized length prefix is refused as soon as it is seen,
/// before any of the frame is buffered.
#[derive(Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held for an incomplete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete payload, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::Oversized(len as u64));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let payload = self.buf[4..4 + len].to_vec();
        self.buf.drain(..4 + len);
        Ok(Some(payload))
    }
}

/// Blocking: writes one frame.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, body: &T) -> Result<(), FrameError> {
    w.write_all(&encode(body))?;
    w.flush()?;
    Ok(())
}

/// Blocking: reads one frame's payload.
pub fn read_payload<R: Read>(r: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    read_exact_or_truncated(r, &mut len, 0, 4)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::Oversized(len as u64));
    }
    let mut payload = vec![0u8; len];
    read_exact_or_truncated(r, &mut payload, 4, 4 + len)?;
    Ok(payload)
}

fn read_exact_or_truncated<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    base: usize,
    want: usize,
) -> Result<(), FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(FrameError::Truncated {
                    have: base + got,
                    want,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> RequestBody {
        RequestBody {
            ifname: "wg1".into(),
            request: Request::SetMtu { mtu: 1400 },
        }
    }

    #[test]
    fn round_trip_through_the_decoder_in_pieces() {
        let a = encode(&req());
        let b = encode(&ReplyBody { result: Err(1) });
        let mut all = a.clone();
        all.extend_from_slice(&b);
        let mut d = FrameDecoder::new();
        for chunk in all.chunks(3) {
            d.feed(chunk);
        }
        let p = d.next_frame().unwrap().unwrap();
        assert_eq!(decode::<RequestBody>(&p).unwrap(), req());
        let p = d.next_frame().unwrap().unwrap();
        assert_eq!(decode::<ReplyBody>(&p).unwrap().result, Err(1));
        assert!(d.next_frame().unwrap().is_none());
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn oversized_prefix_is_refused_at_once() {
        let mut d = FrameDecoder::new();
        d.feed(&((MAX_FRAME as u32) + 1).to_le_bytes());
        assert!(matches!(d.next_frame(), Err(FrameError::Oversized(_))));
        let mut r: &[u8] = &u32::MAX.to_le_bytes();
        assert!(matches!(
            read_payload(&mut r),
            Err(FrameError::Oversized(_))
        ));
    }

    #[test]
    fn truncated_frames_are_errors() {
        let f = encode(&req());
        for cut in 0..f.len() {
            let mut r = &f[..cut];
            assert!(
                matches!(read_payload(&mut r), Err(FrameError::Truncated { .. })),
                "cut {cut}"
            );
        }
        let mut whole = &f[..];
        assert!(read_payload(&mut whole).is_ok());
    }

    #[test]
    fn wrong_version_and_magic() {
        let mut f = encode(&req());
        f[8] = 99;
        assert!(matches!(
            decode::<RequestBody>(&f[4..]),
            Err(FrameError::WrongVersion(99))
        ));
        let mut g = encode(&req());
        g[4] = b'x';
        assert!(matches!(
            decode::<RequestBody>(&g[4..]),
            Err(FrameError::BadMagic)
        ));
        assert!(FrameError::WrongVersion(99)
            .to_string()
            .contains("version 99"));
    }

    #[test]
    fn unknown_request_variant() {
        let mut f = encode(&req());
        // Body: ifname (len 3 + "wg1"), then the variant index of SetMtu; make it absurd.
        let variant_at = 4 + 6 + 1 + 3;
        f[variant_at] = 0x7f;
        assert!(matches!(
            decode::<RequestBody>(&f[4..]),
            Err(FrameError::UnknownRequest)
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 12345;
        for n in 0..2000 {
            let mut p = MAGIC.to_vec();
            p.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
            for _ in 0..(n % 64) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                p.push(x as u8);
            }
            let _ = decode::<RequestBody>(&p);
            let _ = decode::<ReplyBody>(&p);
        }
    }
}
