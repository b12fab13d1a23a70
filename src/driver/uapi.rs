//! The cross-platform configuration protocol ("UAPI") of wireguard-go and boringtun,
//! served on `<dir>/wgN.sock` for each interface (wgd.8, THE CONFIGURATION PROTOCOL),
//! so that wg(8) and wg-quick(8) work on wgd's interfaces.
//!
//! Both control paths act on one state: a `set=1` request is parsed completely into
//! the same typed model SIOCSWG decodes to ([`InterfaceIo`]) before anything
//! changes, then applied by `apply::set_wg`; a `get=1` is written from the model
//! `apply::get_wg` builds. A malformed request changes nothing.
//!
//! Replies end with `errno=N` and a blank line; N is 0 or a negative errno, as
//! wireguard-go writes it.
//!
//! Every connection is bounded like a control-socket connection (control.rs): one
//! request at a time (a reply is written before the next request is read), at most
//! [`MAX_LINE`] bytes of a partial line and one read chunk are buffered, a request is
//! at most [`MAX_REQUEST`] bytes ([`MAX_UNPRIVILEGED_REQUEST`] for a caller other
//! than root), an unfinished request is answered ETIMEDOUT and dropped after
//! `control::FRAME_TIMEOUT` (from its first byte for a user other than root, from
//! its last for root, whose large requests take their time), and one loop turn
//! reads at most `control::TURN_BYTES` of one connection.

use super::control::{After, TURN_BYTES};
use super::outbox::Outbox;
use crate::ioctl::frame::{MAX_FRAME, MAX_UNPRIVILEGED_FRAME};
use crate::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo, WG_KEY_LEN};
use crate::proto::allowedips::masked;
use mio::net::UnixStream;
use std::fmt::Write as _;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use zeroize::{Zeroize, Zeroizing};

/// Longest line taken (the longest valid one is an IPv6 endpoint, under 80 bytes).
pub const MAX_LINE: usize = 4096;
/// Largest request from root: as large as the largest SIOCSWG frame.
pub const MAX_REQUEST: usize = MAX_FRAME;
/// Largest request from a caller other than root (who may only `get`).
pub const MAX_UNPRIVILEGED_REQUEST: usize = MAX_UNPRIVILEGED_FRAME;
/// Bytes read from the socket at once.
const CHUNK: usize = 64 << 10;

/// A parsed `set=1` request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SetRequest {
    pub io: InterfaceIo,
    /// `fwmark=`: only 0 is served (wgd marks no packets).
    pub fwmark: Option<u32>,
}

/// A complete request.
#[derive(Debug, PartialEq, Eq)]
pub enum Op {
    Get,
    Set(SetRequest),
}

fn parse_key(v: &str) -> Result<Key, i32> {
    let b = v.as_bytes();
    if b.len() != 2 * WG_KEY_LEN {
        return Err(libc::EINVAL);
    }
    let mut k = Key::ZERO;
    for (i, pair) in b.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16).ok_or(libc::EINVAL)?;
        let lo = (pair[1] as char).to_digit(16).ok_or(libc::EINVAL)?;
        k.0[i] = (hi * 16 + lo) as u8;
    }
    Ok(k)
}

fn hex(out: &mut String, k: &[u8; WG_KEY_LEN]) {
    for b in k {
        let _ = write!(out, "{b:02x}");
    }
}

/// A decimal number without sign or leading `+`, as wireguard-go takes it.
fn number<T: std::str::FromStr>(v: &str) -> Result<T, i32> {
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(libc::EINVAL);
    }
    v.parse().map_err(|_| libc::EINVAL)
}

fn flag(v: &str) -> Result<(), i32> {
    if v == "true" {
        Ok(())
    } else {
        Err(libc::EINVAL)
    }
}

/// `ADDR/CIDR`, the length required and in range for the family.
fn parse_prefix(v: &str) -> Result<AipIo, i32> {
    let (a, c) = v.split_once('/').ok_or(libc::EINVAL)?;
    let addr: IpAddr = a.parse().map_err(|_| libc::EINVAL)?;
    let cidr: u8 = number(c)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if cidr > max {
        return Err(libc::EINVAL);
    }
    Ok(AipIo { addr, cidr })
}

/// The lines of one `set=1` request, in order, into the model. A peer's lines go to
/// its record; when the protocol's order cannot be kept in one record (a removal
/// after additions, an addition after removals, `replace_allowed_ips` after either),
/// a further record of the same peer follows, flagged `update_only` so that it never
/// creates the peer (its first record does, unless that one says otherwise).
#[derive(Debug, Default)]
pub struct SetParser {
    req: SetRequest,
    /// The first error; the lines after it are only counted.
    error: Option<i32>,
    aips: usize,
}

impl SetParser {
    pub fn new() -> SetParser {
        SetParser::default()
    }

    fn peer(&mut self) -> Option<&mut PeerIo> {
        self.req.io.peers.last_mut()
    }

    fn continuation(&mut self) -> &mut PeerIo {
        let public = self.peer().and_then(|p| p.public.clone());
        self.req.io.peers.push(PeerIo {
            public,
            update_only: true,
            ..PeerIo::default()
        });
        self.req.io.peers.last_mut().unwrap()
    }

    /// The record an allowed IP (`removal` or not) goes to.
    fn aip_record(&mut self, removal: bool) -> &mut PeerIo {
        let p = self.peer().unwrap();
        if p.aips.is_empty() {
            p.remove_aips = removal;
        } else if p.remove_aips != removal {
            self.continuation().remove_aips = removal;
        }
        self.peer().unwrap()
    }

    /// Takes one line (without its newline).
    pub fn line(&mut self, line: &str) {
        if self.error.is_none() {
            if let Err(e) = self.take(line) {
                self.error = Some(e);
            }
        }
    }

    fn take(&mut self, line: &str) -> Result<(), i32> {
        let (k, v) = line.split_once('=').ok_or(libc::EPROTO)?;
        let in_peer = !self.req.io.peers.is_empty();
        match (k, in_peer) {
            ("private_key", false) => self.req.io.private = Some(parse_key(v)?),
            ("listen_port", false) => self.req.io.port = Some(number(v)?),
            ("fwmark", false) => {
                // An empty value means 0 (wg(8) `fwmark off`).
                let m = if v.is_empty() { 0 } else { number(v)? };
                if m != 0 {
                    return Err(libc::EOPNOTSUPP);
                }
                self.req.fwmark = Some(m);
            }
            ("replace_peers", false) => {
                flag(v)?;
                self.req.io.replace_peers = true;
            }
            ("public_key", _) => {
                let k = parse_key(v)?;
                if self.req.io.peers.len() >= crate::ioctl::abi::MAX_PEERS {
                    return Err(libc::E2BIG);
                }
                self.req.io.peers.push(PeerIo {
                    public: Some(k),
                    protocol_version: 1,
                    ..PeerIo::default()
                });
            }
            ("remove", true) => {
                flag(v)?;
                self.peer().unwrap().remove = true;
            }
            ("update_only", true) => {
                flag(v)?;
                self.peer().unwrap().update_only = true;
            }
            ("preshared_key", true) => {
                let k = parse_key(v)?;
                self.peer().unwrap().psk = Some(k);
            }
            ("endpoint", true) => {
                let ep: SocketAddr = v.parse().map_err(|_| libc::EINVAL)?;
                self.peer().unwrap().endpoint = Some(ep);
            }
            ("persistent_keepalive_interval", true) => {
                let n: u16 = number(v)?;
                self.peer().unwrap().pka = Some(n);
            }
            ("replace_allowed_ips", true) => {
                flag(v)?;
                let p = self.peer().unwrap();
                if p.aips.is_empty() {
                    p.replace_aips = true;
                } else {
                    self.continuation().replace_aips = true;
                }
            }
            ("allowed_ip", true) => {
                let (removal, v) = match v.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, v),
                };
                let a = parse_prefix(v)?;
                self.aips += 1;
                if self.aips > crate::ioctl::abi::MAX_AIPS {
                    return Err(libc::E2BIG);
                }
                self.aip_record(removal).aips.push(a);
            }
            ("protocol_version", true) => {
                if v != "1" {
                    return Err(libc::EPROTONOSUPPORT);
                }
            }
            _ => return Err(libc::EINVAL),
        }
        Ok(())
    }

    /// The request, or the errno of its first bad line.
    pub fn finish(self) -> Result<SetRequest, i32> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.req),
        }
    }
}

/// The `get=1` answer for `m` (what `apply::get_wg` built for root, or the port-only
/// view for others), with `errno=0` and the blank line. Allowed IPs are written
/// oldest first with their host bits cleared, as Linux's implementations do.
pub fn format_get(m: &InterfaceIo, fwmark: u32) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    if let Some(k) = &m.private {
        out.push_str("private_key=");
        hex(&mut out, &k.0);
        out.push('\n');
    }
    let _ = writeln!(out, "listen_port={}", m.port.unwrap_or(0));
    if fwmark != 0 {
        let _ = writeln!(out, "fwmark={fwmark}");
    }
    for p in &m.peers {
        let Some(public) = &p.public else { continue };
        out.push_str("public_key=");
        hex(&mut out, &public.0);
        out.push('\n');
        if let Some(psk) = &p.psk {
            out.push_str("preshared_key=");
            hex(&mut out, &psk.0);
            out.push('\n');
        }
        out.push_str("protocol_version=1\n");
        if let Some(ep) = p.endpoint {
            let _ = writeln!(out, "endpoint={ep}");
        }
        let _ = writeln!(
            out,
            "last_handshake_time_sec={}\nlast_handshake_time_nsec={}\ntx_bytes={}\nrx_bytes={}\npersistent_keepalive_interval={}",
            p.last_handshake.sec,
            p.last_handshake.nsec,
            p.tx_bytes,
            p.rx_bytes,
            p.pka.unwrap_or(0)
        );
        for a in p.aips.iter().rev() {
            let _ = writeln!(out, "allowed_ip={}/{}", masked(a.addr, a.cidr), a.cidr);
        }
    }
    out.push_str("errno=0\n\n");
    out
}

/// The reply of a failed request.
pub fn errno_reply(errno: i32) -> Zeroizing<String> {
    Zeroizing::new(format!("errno={}\n\n", -errno.abs()))
}

/// Where a connection is in its current request.
#[derive(Debug)]
enum State {
    /// Waiting for `get=1` or `set=1`.
    Idle,
    Get {
        error: Option<i32>,
    },
    Set(Box<SetParser>),
    /// A `set=1` that will be refused with this errno: its lines are only counted.
    Refused(i32),
}

/// Takes the lines of a stream and says when a request is complete.
#[derive(Debug)]
pub struct RequestReader {
    state: State,
    privileged: bool,
    /// Bytes of the current request so far.
    bytes: usize,
}

/// What one line did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// More lines are needed.
    More,
    /// The request is complete.
    Done(Result<Op, i32>),
    /// The stream cannot go on (an unknown operation, a request too large): reply
    /// with this errno and close.
    Fatal(i32),
}

impl RequestReader {
    pub fn new(privileged: bool) -> RequestReader {
        RequestReader {
            state: State::Idle,
            privileged,
            bytes: 0,
        }
    }

    fn limit(&self) -> usize {
        if self.privileged {
            MAX_REQUEST
        } else {
            MAX_UNPRIVILEGED_REQUEST
        }
    }

    /// Whether a request has started and is not complete.
    pub fn partial(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// Takes one line (without its newline; `raw_len` is what it took on the wire).
    pub fn line(&mut self, line: &[u8], raw_len: usize) -> Step {
        self.bytes += raw_len;
        if self.bytes > self.limit() {
            let e = match self.state {
                State::Refused(e) => e,
                _ => libc::EMSGSIZE,
            };
            return Step::Fatal(e);
        }
        let text = std::str::from_utf8(line).ok();
        let blank = line.is_empty();
        match &mut self.state {
            State::Idle => {
                if blank {
                    // Blank lines between requests are nothing.
                    self.bytes = 0;
                    return Step::More;
                }
                self.state = match text {
                    Some("get=1") => State::Get { error: None },
                    Some("set=1") if !self.privileged => State::Refused(libc::EPERM),
                    Some("set=1") => State::Set(Box::new(SetParser::new())),
                    _ => return Step::Fatal(libc::EPROTO),
                };
                Step::More
            }
            _ if blank => {
                self.bytes = 0;
                let done = match std::mem::replace(&mut self.state, State::Idle) {
                    State::Get { error: Some(e) } | State::Refused(e) => Err(e),
                    State::Get { error: None } => Ok(Op::Get),
                    State::Set(p) => p.finish().map(Op::Set),
                    State::Idle => unreachable!(),
                };
                Step::Done(done)
            }
            State::Get { error } => {
                error.get_or_insert(libc::EINVAL);
                Step::More
            }
            State::Set(p) => {
                match text {
                    Some(t) => p.line(t),
                    // Not text: as an unknown key.
                    None => p.line("\u{0}="),
                }
                Step::More
            }
            State::Refused(_) => Step::More,
        }
    }
}

/// One client of an interface's UAPI socket.
pub struct UapiConn {
    pub stream: UnixStream,
    pub uid: u32,
    pub privileged: bool,
    pub unit: u32,
    reader: RequestReader,
    /// Bytes read and not yet taken (at most a partial line and one chunk).
    inbuf: Vec<u8>,
    /// Of `inbuf`, the bytes already taken.
    taken: usize,
    out: Outbox,
    partial_since: Option<Instant>,
    eof: bool,
    closing: bool,
}

impl UapiConn {
    pub fn new(stream: UnixStream, uid: u32, unit: u32) -> UapiConn {
        let privileged = super::admit::is_privileged(uid);
        UapiConn {
            stream,
            uid,
            privileged,
            unit,
            reader: RequestReader::new(privileged),
            inbuf: Vec::new(),
            taken: 0,
            out: Outbox::default(),
            partial_since: None,
            eof: false,
            closing: false,
        }
    }

    /// The next step from the buffered bytes: None when no complete line is buffered.
    fn next_step(&mut self) -> Option<Step> {
        loop {
            let rest = &self.inbuf[self.taken..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > MAX_LINE {
                    return Some(Step::Fatal(libc::EMSGSIZE));
                }
                return None;
            };
            if nl > MAX_LINE {
                return Some(Step::Fatal(libc::EMSGSIZE));
            }
            let line = &rest[..nl];
            self.taken += nl + 1;
            let step = self.reader.line(line, nl + 1);
            // A line can hold a key: clear it from the buffer once taken.
            let start = self.taken - nl - 1;
            self.inbuf[start..self.taken].zeroize();
            match step {
                Step::More => continue,
                s => return Some(s),
            }
        }
    }

    /// Serves the connection for one turn: writes pending output; while none is
    /// pending, takes the next complete request, has `exec` answer it and queues the
    /// reply; reads more when no complete request is buffered.
    pub fn serve(
        &mut self,
        now: Instant,
        mut exec: impl FnMut(bool, u32, Op) -> Zeroizing<String>,
    ) -> After {
        let mut read = 0;
        loop {
            match self.flush() {
                Err(_) => return After::Close,
                Ok(false) => return After::Wait,
                Ok(true) => {}
            }
            if self.closing {
                return After::Close;
            }
            match self.next_step() {
                Some(Step::Done(r)) => {
                    let reply = match r {
                        Ok(op) => exec(self.privileged, self.unit, op),
                        Err(e) => errno_reply(e),
                    };
                    self.out.buf().extend_from_slice(reply.as_bytes());
                    // Bytes of the next request already here start its clock.
                    self.partial_since =
                        (self.reader.partial() || self.taken < self.inbuf.len()).then_some(now);
                    // One request per turn: the next waits for the next turn.
                    return match self.flush() {
                        Err(_) => After::Close,
                        Ok(false) => After::Wait,
                        Ok(true) => After::More,
                    };
                }
                Some(Step::Fatal(e)) => {
                    self.out.buf().extend_from_slice(errno_reply(e).as_bytes());
                    self.closing = true;
                    continue;
                }
                Some(Step::More) => unreachable!(),
                None if self.eof && (self.reader.partial() || self.taken < self.inbuf.len()) => {
                    // The client ended in the middle of a request.
                    self.out
                        .buf()
                        .extend_from_slice(errno_reply(libc::EPROTO).as_bytes());
                    self.closing = true;
                    continue;
                }
                None if self.eof => return After::Close,
                None => {}
            }
            if read >= TURN_BYTES {
                return After::More;
            }
            // Keep only the partial line, then read a chunk after it.
            self.inbuf.drain(..self.taken);
            self.taken = 0;
            let have = self.inbuf.len();
            self.inbuf.resize(have + CHUNK, 0);
            match self.stream.read(&mut self.inbuf[have..]) {
                Ok(0) => {
                    self.inbuf.truncate(have);
                    self.eof = true;
                }
                Ok(n) => {
                    self.inbuf.truncate(have + n);
                    read += n;
                    // Root's clock runs from its last byte (a large request takes
                    // its time); another user's from the first byte of the request.
                    if self.privileged || self.partial_since.is_none() {
                        self.partial_since = Some(now);
                    }
                }
                Err(e) => {
                    self.inbuf.truncate(have);
                    match e.kind() {
                        io::ErrorKind::WouldBlock => {
                            if !self.reader.partial() && have == 0 {
                                self.partial_since = None;
                            }
                            return After::Wait;
                        }
                        io::ErrorKind::Interrupted => {}
                        _ => return After::Close,
                    }
                }
            }
        }
    }

    /// Whether an unfinished request has waited longer than `limit`.
    pub fn stalled(&self, now: Instant, limit: std::time::Duration) -> bool {
        self.partial_since
            .is_some_and(|t| now.saturating_duration_since(t) >= limit)
    }

    /// Says ETIMEDOUT (best effort, never blocking) before the connection is dropped
    /// for an unfinished request.
    pub fn time_out(&mut self) {
        self.out
            .buf()
            .extend_from_slice(errno_reply(libc::ETIMEDOUT).as_bytes());
        let _ = self.flush();
    }

    pub fn has_partial(&self) -> bool {
        self.partial_since.is_some()
    }

    fn flush(&mut self) -> io::Result<bool> {
        self.out.flush(&mut self.stream)
    }
}

impl Drop for UapiConn {
    fn drop(&mut self) {
        self.inbuf.zeroize();
    }
}

/// The listening socket `<dir>/wgN.sock` of one interface. Dropping it removes the
/// path, if it is still this socket.
pub struct UapiSocket {
    pub listener: mio::net::UnixListener,
    pub path: std::path::PathBuf,
    id: (u64, u64),
}

impl UapiSocket {
    /// Binds `<dir>/<ifname>.sock`, mode 0666 (every user may ask; SO_PEERCRED
    /// decides). `dir` is made (0755) if missing and must be a directory owned by
    /// root that only root may write. A socket left at the path by a killed daemon
    /// (nobody accepts on it) is replaced; anything else there (a live socket, a
    /// symlink, a file) is refused.
    pub fn bind(dir: &std::path::Path, ifname: &str) -> Result<UapiSocket, String> {
        use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
        if std::fs::symlink_metadata(dir).is_err() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        }
        let md = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !md.file_type().is_dir() || md.uid() != 0 || md.mode() & 0o022 != 0 {
            return Err(format!(
                "{}: not a directory owned by root and writable by root only",
                dir.display()
            ));
        }
        let path = dir.join(format!("{ifname}.sock"));
        if let Ok(md) = std::fs::symlink_metadata(&path) {
            if !md.file_type().is_socket() {
                return Err(format!(
                    "{} exists and is not a socket; not replacing it",
                    path.display()
                ));
            }
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return Err(format!("{} is served by another process", path.display()));
            }
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove stale {}: {e}", path.display()))?;
        }
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o111));
        let bound = mio::net::UnixListener::bind(&path);
        nix::sys::stat::umask(old);
        let listener = bound.map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
        let md =
            std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(UapiSocket {
            listener,
            path,
            id: (md.dev(), md.ino()),
        })
    }

    /// Whether the path is still this socket (wg-quick down removes it).
    pub fn present(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id)
    }
}

impl Drop for UapiSocket {
    fn drop(&mut self) {
        if self.present() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(lines: &[&str]) -> Result<SetRequest, i32> {
        let mut r = RequestReader::new(true);
        let mut all: Vec<&str> = vec!["set=1"];
        all.extend_from_slice(lines);
        all.push("");
        for l in all {
            match r.line(l.as_bytes(), l.len() + 1) {
                Step::More => {}
                Step::Done(d) => {
                    return d.map(|op| match op {
                        Op::Set(s) => s,
                        Op::Get => panic!("get"),
                    })
                }
                Step::Fatal(e) => return Err(e),
            }
        }
        panic!("no end")
    }

    const K1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const K2: &str = "22222222222222222222222222222222222222222222222222222222222222aB";

    #[test]
    fn a_full_set_parses_to_the_model() {
        let s = set(&[
            "private_key=0000000000000000000000000000000000000000000000000000000000000001",
            "listen_port=51820",
            "fwmark=0",
            "replace_peers=true",
            &format!("public_key={K1}"),
            &format!("preshared_key={K2}"),
            "endpoint=[2001:db8::1]:51820",
            "persistent_keepalive_interval=25",
            "replace_allowed_ips=true",
            "allowed_ip=10.0.0.0/24",
            "allowed_ip=fd00::1/128",
            "protocol_version=1",
            &format!("public_key={K2}"),
            "update_only=true",
            "endpoint=192.0.2.1:7",
            "remove=true",
        ])
        .unwrap();
        assert_eq!(s.fwmark, Some(0));
        let io = &s.io;
        assert_eq!(io.port, Some(51820));
        assert!(io.replace_peers);
        assert_eq!(io.private.as_ref().unwrap().0[31], 1);
        assert_eq!(io.peers.len(), 2);
        let p = &io.peers[0];
        assert_eq!(p.public.as_ref().unwrap().0, [0x11; 32]);
        assert_eq!(p.psk.as_ref().unwrap().0[31], 0xab);
        assert_eq!(p.endpoint, Some("[2001:db8::1]:51820".parse().unwrap()));
        assert_eq!(p.pka, Some(25));
        assert!(p.replace_aips && !p.remove_aips);
        assert_eq!(
            p.aips,
            vec![
                AipIo {
                    addr: "10.0.0.0".parse().unwrap(),
                    cidr: 24
                },
                AipIo {
                    addr: "fd00::1".parse().unwrap(),
                    cidr: 128
                }
            ]
        );
        let q = &io.peers[1];
        assert!(q.update_only && q.remove);
        assert_eq!(q.endpoint, Some("192.0.2.1:7".parse().unwrap()));
    }

    #[test]
    fn removals_and_additions_keep_their_order_in_records() {
        let s = set(&[
            &format!("public_key={K1}"),
            "allowed_ip=10.0.0.1/32",
            "allowed_ip=-10.0.0.2/32",
            "allowed_ip=-10.0.0.3/32",
            "allowed_ip=10.0.0.4/32",
            "replace_allowed_ips=true",
            "allowed_ip=10.0.0.5/32",
        ])
        .unwrap();
        let shape: Vec<(bool, bool, bool, usize)> =
            s.io.peers
                .iter()
                .map(|p| (p.update_only, p.remove_aips, p.replace_aips, p.aips.len()))
                .collect();
        assert_eq!(
            shape,
            vec![
                (false, false, false, 1),
                (true, true, false, 2),
                (true, false, false, 1),
                (true, false, true, 1)
            ]
        );
        assert!(s
            .io
            .peers
            .iter()
            .all(|p| p.public.as_ref().unwrap().0 == [0x11; 32]));
    }

    #[test]
    fn bad_lines_give_their_errno() {
        let peer = format!("public_key={K1}");
        for (lines, want) in [
            (vec!["bogus=1"], libc::EINVAL),
            (vec!["private_key=zz"], libc::EINVAL),
            (vec![&K1[..62]], libc::EPROTO),
            (vec!["private_key=111"], libc::EINVAL),
            (vec![&format!("public_key={K1}00")[..]], libc::EINVAL),
            (vec!["listen_port=65536"], libc::EINVAL),
            (vec!["listen_port=-1"], libc::EINVAL),
            (vec!["fwmark=7"], libc::EOPNOTSUPP),
            (vec!["replace_peers=false"], libc::EINVAL),
            (vec!["endpoint=1.2.3.4:5"], libc::EINVAL),
            (vec![&peer, "endpoint=example.com:5"], libc::EINVAL),
            (vec![&peer, "allowed_ip=10.0.0.0/33"], libc::EINVAL),
            (vec![&peer, "allowed_ip=10.0.0.0"], libc::EINVAL),
            (vec![&peer, "allowed_ip=--10.0.0.0/8"], libc::EINVAL),
            (vec![&peer, "protocol_version=2"], libc::EPROTONOSUPPORT),
            (
                vec![&peer, "persistent_keepalive_interval=70000"],
                libc::EINVAL,
            ),
            (vec![&peer, "private_key=00"], libc::EINVAL),
            (vec![&peer, "listen_port=1"], libc::EINVAL),
        ] {
            assert_eq!(set(&lines).unwrap_err(), want, "{lines:?}");
        }
    }

    #[test]
    fn unprivileged_set_is_refused_and_large_requests_end_the_stream() {
        let mut r = RequestReader::new(false);
        assert_eq!(r.line(b"set=1", 6), Step::More);
        assert_eq!(r.line(b"listen_port=1", 14), Step::More);
        assert_eq!(r.line(b"", 1), Step::Done(Err(libc::EPERM)));
        assert_eq!(r.line(b"get=1", 6), Step::More);
        assert_eq!(r.line(b"", 1), Step::Done(Ok(Op::Get)));
        assert_eq!(r.line(b"set=1", 6), Step::More);
        let mut step = Step::More;
        for _ in 0..MAX_UNPRIVILEGED_REQUEST {
            step = r.line(b"x=1", 4);
            if step != Step::More {
                break;
            }
        }
        assert_eq!(step, Step::Fatal(libc::EPERM));
        let mut r = RequestReader::new(true);
        assert_eq!(r.line(b"put=1", 6), Step::Fatal(libc::EPROTO));
    }

    #[test]
    fn get_writes_keys_hex_and_aips_oldest_first_masked() {
        let m = InterfaceIo {
            private: Some(Key([0xab; 32])),
            port: Some(7),
            peers: vec![PeerIo {
                public: Some(Key([1; 32])),
                pka: Some(5),
                endpoint: Some("[::1]:9".parse().unwrap()),
                aips: vec![
                    AipIo {
                        addr: "10.1.2.3".parse().unwrap(),
                        cidr: 24,
                    },
                    AipIo {
                        addr: "fd00::".parse().unwrap(),
                        cidr: 8,
                    },
                ],
                tx_bytes: 3,
                rx_bytes: 4,
                ..PeerIo::default()
            }],
            ..InterfaceIo::default()
        };
        let s = format_get(&m, 0);
        let want = format!(
            "private_key={}\nlisten_port=7\npublic_key={}\nprotocol_version=1\nendpoint=[::1]:9\n\
             last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=3\nrx_bytes=4\n\
             persistent_keepalive_interval=5\nallowed_ip=fd00::/8\nallowed_ip=10.1.2.0/24\nerrno=0\n\n",
            "ab".repeat(32),
            "01".repeat(32)
        );
        assert_eq!(*s, want);
        assert_eq!(*errno_reply(libc::EPERM), "errno=-1\n\n");
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            /// Any bytes, cut into lines anywhere: the reader answers or asks for more.
            #[test]
            fn any_input(chunks in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..40),
                    "(set=1|get=1|public_key=[0-9a-f]{0,66}|allowed_ip=-?[0-9a-f.:/]{0,20}|endpoint=[\\[\\]0-9a-f.:]{0,30}|[a-z_]{0,12}=[0-9a-z]{0,8}|)"
                        .prop_map(String::into_bytes),
                ], 0..30), privileged in any::<bool>()) {
                let mut r = RequestReader::new(privileged);
                for c in chunks {
                    if let Step::Fatal(_) = r.line(&c, c.len() + 1) {
                        break;
                    }
                }
            }
        }
    }
}
