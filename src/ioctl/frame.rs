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

use super::abi;
use super::request::{Request, Response};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Read, Write};
use zeroize::Zeroize;

/// `wgd\0`.
pub const MAGIC: [u8; 4] = *b"wgd\0";
/// Bumped on any incompatible change of the bodies.
pub const PROTOCOL_VERSION: u16 = 1;
/// Largest frame accepted: a SIOCSWG/SIOCGWG buffer of the ABI's largest size
/// ([`abi::MAX_BUFFER`], room for 2^20 peers) and the envelope around it.
pub const MAX_FRAME: usize = abi::MAX_BUFFER + (64 << 10);
/// Largest frame wgd reads from a caller that is not root: everything such a caller
/// may ask for (queries, and changes that are refused with EPERM) is small.
pub const MAX_UNPRIVILEGED_FRAME: usize = 4 << 10;
const HEADER: usize = 4 + MAGIC.len() + 2;
/// Bytes the decoder reads at a time while it looks for frame boundaries.
const CHUNK: usize = 16 << 10;

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

/// One frame's payload as the decoder hands it out: `&payload[..]` is the bytes after
/// the length prefix. A large frame is the buffer it was read into (no copy); the bytes
/// are zeroed when it is dropped (SIOCSWG frames carry keys).
pub struct Payload {
    buf: Vec<u8>,
    off: usize,
}

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.off..]
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

/// Incremental reader for a non-blocking server: read into it, take complete payloads
/// out. A length prefix above the decoder's limit is refused as soon as it is seen,
/// before any of the frame is buffered. Small frames are read in chunks and copied out
/// (a few KiB); a frame larger than a chunk is read straight into a buffer of its exact
/// size, which becomes the payload: its bytes are written once, never copied. Consumed
/// bytes are zeroed.
pub struct FrameDecoder {
    limit: usize,
    /// Initialised storage; `start..filled` holds the unconsumed bytes.
    buf: Vec<u8>,
    start: usize,
    filled: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FrameDecoder {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl FrameDecoder {
    /// A decoder accepting frames up to [`MAX_FRAME`].
    pub fn new() -> Self {
        Self::with_limit(MAX_FRAME)
    }

    /// A decoder accepting frames up to `limit` bytes (after the length prefix).
    pub fn with_limit(limit: usize) -> Self {
        FrameDecoder {
            limit,
            buf: Vec::new(),
            start: 0,
            filled: 0,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Appends bytes (tests and callers without a `Read`).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.compact();
        self.room(bytes.len());
        self.buf[self.filled..self.filled + bytes.len()].copy_from_slice(bytes);
        self.filled += bytes.len();
    }

    /// Bytes held that do not yet make a complete frame (0 when idle).
    pub fn buffered(&self) -> usize {
        self.filled - self.start
    }

    /// Memory the decoder holds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The frame length announced by the buffered prefix, if one is there.
    fn announced(&self) -> Option<usize> {
        let b = &self.buf[self.start..self.filled];
        (b.len() >= 4).then(|| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    /// Makes `n` initialised bytes available after `filled`.
    fn room(&mut self, n: usize) {
        if self.buf.len() < self.filled + n {
            let want = self.filled + n;
            self.buf.reserve_exact(want - self.buf.len());
            self.buf.resize(want, 0);
        }
    }

    /// Drops consumed bytes (zeroing them) so the unconsumed ones start the buffer.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        let n = self.filled - self.start;
        self.buf.copy_within(self.start..self.filled, 0);
        self.buf[n..self.filled].zeroize();
        self.filled = n;
        self.start = 0;
    }

    /// One `read` from `r` into the buffer: up to a chunk, or, inside a large frame,
    /// what that frame still lacks (into its final place, in a buffer sized once).
    /// `Ok(0)` is end of stream. The caller takes the complete frames with
    /// [`FrameDecoder::next_frame`] before reading again.
    pub fn read_from<R: Read>(&mut self, r: &mut R) -> io::Result<usize> {
        self.compact();
        let want = match self.announced() {
            Some(len) if len <= self.limit && 4 + len > CHUNK => {
                (4 + len).saturating_sub(self.filled).max(1)
            }
            _ => CHUNK,
        };
        self.room(want);
        let n = r.read(&mut self.buf[self.filled..self.filled + want])?;
        self.filled += n;
        Ok(n)
    }

    /// The next complete payload, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Payload>, FrameError> {
        let Some(len) = self.announced() else {
            return Ok(None);
        };
        if len > self.limit {
            return Err(FrameError::Oversized(len as u64));
        }
        let end = self.start + 4 + len;
        if self.filled < end {
            return Ok(None);
        }
        if self.start == 0 && end == self.filled && len > CHUNK {
            // A large frame fills its own buffer: hand the buffer over.
            let mut buf = std::mem::take(&mut self.buf);
            buf.truncate(end);
            self.filled = 0;
            return Ok(Some(Payload { buf, off: 4 }));
        }
        let payload = self.buf[self.start + 4..end].to_vec();
        self.buf[self.start..end].zeroize();
        self.start = end;
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
            if self.buf.len() > 2 * CHUNK {
                self.buf = Vec::new();
            }
        }
        Ok(Some(Payload {
            buf: payload,
            off: 0,
        }))
    }
}

/// Blocking: writes one frame.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, body: &T) -> Result<(), FrameError> {
    // The frame may carry keys (SIOCSWG): zeroed once written.
    let f = zeroize::Zeroizing::new(encode(body));
    w.write_all(&f)?;
    w.flush()?;
    Ok(())
}

/// Appends one complete frame for `body` to `out` (the reply path: no intermediate
/// buffer).
pub fn encode_into<T: Serialize>(out: &mut Vec<u8>, body: &T) {
    let at = out.len();
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    let mut v = postcard::to_extend(body, std::mem::take(out)).unwrap_or_default();
    let len = (v.len() - at - 4) as u32;
    v[at..at + 4].copy_from_slice(&len.to_le_bytes());
    *out = v;
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

    /// A reader that hands out at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(self.step).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn big(n: usize) -> RequestBody {
        RequestBody {
            ifname: "wg1".into(),
            request: Request::SetWg {
                data: (0..n).map(|i| i as u8).collect(),
            },
        }
    }

    #[test]
    fn read_from_small_and_large_frames_mixed() {
        let frames = [req(), big(300_000), req(), big(20_000), req()];
        let mut all = Vec::new();
        for f in &frames {
            encode_into(&mut all, f);
        }
        for step in [1, 7, 4096, 70_000, usize::MAX] {
            let mut r = Trickle { data: &all, step };
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            loop {
                while let Some(p) = d.next_frame().unwrap() {
                    got.push(decode::<RequestBody>(&p).unwrap());
                }
                if d.read_from(&mut r).unwrap() == 0 {
                    break;
                }
            }
            assert_eq!(got, frames.to_vec(), "step {step}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn a_large_frame_is_read_into_a_buffer_of_its_size() {
        let f = encode(&big(1 << 20));
        let mut r = Trickle {
            data: &f,
            step: 100_000,
        };
        let mut d = FrameDecoder::new();
        while d.next_frame().unwrap().is_none() {
            assert!(d.read_from(&mut r).unwrap() > 0);
            // Sized once from the length prefix, never grown by doubling.
            assert!(d.capacity() <= f.len().max(CHUNK), "{}", d.capacity());
        }
    }

    #[test]
    fn the_limit_is_per_decoder() {
        let mut d = FrameDecoder::with_limit(MAX_UNPRIVILEGED_FRAME);
        d.feed(&encode(&req()));
        assert!(d.next_frame().unwrap().is_some());
        d.feed(&((MAX_UNPRIVILEGED_FRAME as u32) + 1).to_le_bytes());
        assert!(matches!(d.next_frame(), Err(FrameError::Oversized(_))));
        let mut r = Trickle {
            data: &encode(&big(10_000)),
            step: usize::MAX,
        };
        let mut d = FrameDecoder::with_limit(MAX_UNPRIVILEGED_FRAME);
        d.read_from(&mut r).unwrap();
        assert!(matches!(d.next_frame(), Err(FrameError::Oversized(_))));
    }

    #[test]
    fn encode_into_appends_the_same_bytes() {
        let mut out = encode(&req());
        encode_into(&mut out, &ReplyBody { result: Err(5) });
        let mut want = encode(&req());
        want.extend_from_slice(&encode(&ReplyBody { result: Err(5) }));
        assert_eq!(out, want);
    }
}
