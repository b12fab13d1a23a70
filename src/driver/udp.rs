//! The UDP sockets of one interface: one IPv4 and one IPv6 (V6ONLY) socket on the
//! same port, as OpenBSD binds them. Received datagrams report the local address they
//! were sent to (IP_PKTINFO / IPV6_PKTINFO), which becomes the source of replies
//! (the "sticky" source of spec §8); sends may name that source. Datagrams move in
//! batches (recvmmsg/sendmmsg); runs of equal-sized datagrams to one endpoint go out
//! as one UDP_SEGMENT send and arrive as one UDP_GRO receive. A kernel that refuses
//! GSO (EIO) gets single datagrams from then on, said once. A host without one of
//! the families (booted with ipv6.disable=1, say) gets the other alone.

use super::offload::Offloads;
use super::sys::{self, Outgoing, Received, MMSG_MAX};
use nix::sys::socket::{
    bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6,
};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Socket buffer size asked for: root may exceed net.core.{r,w}mem_max (the FORCE
/// options); without them the kernel caps it there.
const SOCKET_BUFFER: usize = 16 << 20;
/// OpenBSD retries an ephemeral port this often when the v6 bind collides.
const BIND_RETRIES: usize = 100;
/// Most datagrams per UDP_SEGMENT send (the kernel's UDP_MAX_SEGMENTS on older
/// kernels; newer ones allow more).
pub const GSO_MAX_SEGMENTS: usize = 64;

fn new_socket(family: AddressFamily) -> io::Result<OwnedFd> {
    let fd = socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)?;
    if setsockopt(&fd, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(&fd, sockopt::RcvBuf, &SOCKET_BUFFER);
    }
    if setsockopt(&fd, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(&fd, sockopt::SndBuf, &SOCKET_BUFFER);
    }
    Ok(fd)
}

/// Opens a socket of a family; a seam so tests can take a family away.
type Opener<'a> = &'a dyn Fn(AddressFamily) -> io::Result<OwnedFd>;

fn bind_v4(open: Opener, port: u16) -> io::Result<UdpSocket> {
    let fd = open(AddressFamily::Inet)?;
    setsockopt(&fd, sockopt::Ipv4PacketInfo, &true).map_err(io::Error::from)?;
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)),
    )
    .map_err(io::Error::from)?;
    Ok(UdpSocket::from(fd))
}

fn bind_v6(open: Opener, port: u16) -> io::Result<UdpSocket> {
    let fd = open(AddressFamily::Inet6)?;
    setsockopt(&fd, sockopt::Ipv6V6Only, &true).map_err(io::Error::from)?;
    setsockopt(&fd, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
    bind(
        fd.as_raw_fd(),
        &SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
    )
    .map_err(io::Error::from)?;
    Ok(UdpSocket::from(fd))
}

/// The kernel has no such address family (or it was disabled at boot).
fn family_missing(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EAFNOSUPPORT)
}

/// One received message: a datagram, or with `segment` > 0 a GRO run of datagrams of
/// that size (the last may be shorter). `len` 0: nothing usable arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvMeta {
    pub len: usize,
    pub from: SocketAddr,
    /// The local address the datagram was sent to.
    pub local: Option<IpAddr>,
    pub segment: usize,
}

impl Default for RecvMeta {
    fn default() -> Self {
        RecvMeta {
            len: 0,
            from: SocketAddr::from(([0, 0, 0, 0], 0)),
            local: None,
            segment: 0,
        }
    }
}

/// One message to send: `arena[off..off+len]`, a datagram, or with `segment` > 0 a
/// run of datagrams of that size (the last may be shorter). `err` is set by the send
/// (0: sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxMsg {
    pub off: usize,
    pub len: usize,
    pub segment: usize,
    pub to: SocketAddr,
    pub src: Option<IpAddr>,
    pub err: i32,
}

impl TxMsg {
    /// One datagram of `len` bytes at `off`, not sent yet.
    pub fn one(off: usize, len: usize, to: SocketAddr, src: Option<IpAddr>) -> TxMsg {
        TxMsg {
            off,
            len,
            segment: 0,
            to,
            src,
            err: 0,
        }
    }

    /// How many datagrams it carries.
    pub fn datagrams(&self) -> usize {
        if self.segment == 0 {
            1
        } else {
            self.len.div_ceil(self.segment)
        }
    }
}

/// The interface's UDP sockets (one per family, same port).
pub trait UdpEndpoint {
    /// Receives a batch from the socket of `v6`'s family: message i into
    /// `arena[i*slot..]`, its addresses into `metas[i]`. Returns the count and
    /// whether the socket is now empty (it gave fewer than it could: a later
    /// datagram wakes the loop again, so no read is spent to learn it). `WouldBlock`
    /// when empty to begin with.
    fn recv_batch(
        &self,
        v6: bool,
        arena: &mut [u8],
        slot: usize,
        metas: &mut [RecvMeta],
    ) -> io::Result<(usize, bool)>;
    /// Sends every message from `arena`, each from its `src` when given; each
    /// message's outcome lands in its `err`.
    fn send_batch(&self, arena: &[u8], msgs: &mut [TxMsg]);
    /// Most datagrams one message may carry (1: no GSO).
    fn max_segments(&self) -> usize;
    /// Offloads the kernel refused since last asked, for the log.
    fn take_notices(&self) -> Vec<String>;
}

pub struct UdpSockets {
    /// Either may be missing when the host lacks that family, never both.
    pub v4: Option<UdpSocket>,
    pub v6: Option<UdpSocket>,
    port: u16,
    /// Messages per system call (1 without `mmsg`).
    batch: usize,
    gso: AtomicBool,
    notices: Mutex<Vec<String>>,
    /// The batched send: sys::send_mmsg, or a kernel's behaviour in the tests.
    send: SendFn,
}

/// The signature of [`sys::send_mmsg`].
type SendFn = fn(RawFd, &[u8], &[Outgoing]) -> (usize, Option<io::Error>);

impl UdpSockets {
    /// Binds both sockets on `port` (0: a kernel-chosen port free in both families)
    /// in the calling thread's namespace, with the offloads `want` allows.
    pub fn bind(port: u16, want: &Offloads) -> io::Result<UdpSockets> {
        Self::bind_with(&new_socket, port, want)
    }

    fn bind_with(open: Opener, port: u16, want: &Offloads) -> io::Result<UdpSockets> {
        let (v4, v6, port) = Self::bind_pair(open, port)?;
        let mut notices = Vec::new();
        if want.udp_gro {
            let both = [("IPv4", &v4), ("IPv6", &v6)];
            for (fam, s) in both.iter().filter_map(|(f, s)| s.as_ref().map(|s| (f, s))) {
                if let Err(e) = sys::udp_set_gro(s.as_raw_fd()) {
                    notices.push(format!("udp-gro refused by the kernel on {fam} ({e})"));
                }
            }
        }
        Ok(UdpSockets {
            v4,
            v6,
            port,
            batch: if want.mmsg { MMSG_MAX } else { 1 },
            gso: AtomicBool::new(want.udp_gso),
            notices: Mutex::new(notices),
            send: sys::send_mmsg,
        })
    }

    /// Both sockets on `port`, or on one kernel-chosen port free in both families;
    /// a family the host lacks is left out (both lacking: the IPv4 error).
    #[allow(clippy::type_complexity)]
    fn bind_pair(
        open: Opener,
        port: u16,
    ) -> io::Result<(Option<UdpSocket>, Option<UdpSocket>, u16)> {
        let mut last = None;
        for _ in 0..BIND_RETRIES {
            let v4 = match bind_v4(open, port) {
                Ok(s) => Some(s),
                Err(e) if family_missing(&e) => None,
                Err(e) => return Err(e),
            };
            let p = match &v4 {
                Some(s) => s.local_addr()?.port(),
                None => port,
            };
            match bind_v6(open, p) {
                Ok(v6) => {
                    let p = if v4.is_none() {
                        v6.local_addr()?.port()
                    } else {
                        p
                    };
                    return Ok((v4, Some(v6), p));
                }
                Err(e) if family_missing(&e) => {
                    return match v4 {
                        Some(v4) => Ok((Some(v4), None, p)),
                        None => Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
                    };
                }
                // OpenBSD retries an ephemeral port taken in the other family.
                Err(e) if port == 0 && e.raw_os_error() == Some(libc::EADDRINUSE) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EADDRINUSE)))
    }

    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// The socket of a family; EAFNOSUPPORT when the host has none.
    fn fd(&self, v6: bool) -> io::Result<RawFd> {
        let s = if v6 { &self.v6 } else { &self.v4 };
        s.as_ref()
            .map(|s| s.as_raw_fd())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
    }

    /// Sends `m`'s datagrams one by one (no UDP_SEGMENT); the first failure, if any.
    fn send_each(&self, arena: &[u8], m: &TxMsg) -> Option<io::Error> {
        let seg = if m.segment == 0 { m.len } else { m.segment };
        let mut out = [Outgoing {
            off: 0,
            len: 0,
            to: m.to,
            src: m.src,
            segment: 0,
        }; MMSG_MAX];
        let mut at = 0;
        let mut first_err = None;
        while at < m.len {
            let mut k = 0;
            while k < self.batch && at < m.len {
                let len = seg.min(m.len - at);
                out[k].off = m.off + at;
                out[k].len = len;
                at += len;
                k += 1;
            }
            let fd = match self.fd(normalize(m.to).is_ipv6()) {
                Ok(fd) => fd,
                Err(e) => return Some(e),
            };
            let mut i = 0;
            while i < k {
                let (sent, e) = (self.send)(fd, arena, &out[i..k]);
                i += sent;
                // Nothing sent and nothing said: count it as failed, never spin.
                let e = e.or_else(|| (sent == 0).then(|| io::Error::from_raw_os_error(libc::EIO)));
                if let Some(e) = e {
                    first_err.get_or_insert(e);
                    i += 1;
                }
            }
        }
        first_err
    }
}

impl UdpEndpoint for UdpSockets {
    fn recv_batch(
        &self,
        v6: bool,
        arena: &mut [u8],
        slot: usize,
        metas: &mut [RecvMeta],
    ) -> io::Result<(usize, bool)> {
        let mut got = [Received::default(); MMSG_MAX];
        let want = metas.len().min(self.batch);
        let n = sys::recv_mmsg(self.fd(v6)?, arena, slot, &mut got[..want])?;
        for (m, r) in metas.iter_mut().zip(&got[..n]) {
            *m = RecvMeta {
                // A datagram without a source or cut short is nothing to open.
                len: if r.from.is_some() && !r.truncated {
                    r.len
                } else {
                    0
                },
                from: normalize(
                    r.from
                        .unwrap_or(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))),
                ),
                local: r.local.map(normalize_ip),
                segment: r.segment,
            };
        }
        Ok((n, n < want))
    }

    fn send_batch(&self, arena: &[u8], msgs: &mut [TxMsg]) {
        let mut out = [Outgoing {
            off: 0,
            len: 0,
            to: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
            src: None,
            segment: 0,
        }; MMSG_MAX];
        let gso = self.gso.load(Ordering::Relaxed);
        let mut i = 0;
        while i < msgs.len() {
            let m = msgs[i];
            if m.segment != 0 && (!gso || m.len <= m.segment) {
                // A run the socket may not send whole (GSO went off meanwhile).
                msgs[i].err = self
                    .send_each(arena, &m)
                    .map_or(0, |e| super::errno::of(&e));
                i += 1;
                continue;
            }
            let v6 = normalize(m.to).is_ipv6();
            let mut k = 0;
            while i + k < msgs.len() && k < self.batch {
                let n = msgs[i + k];
                let to = normalize(n.to);
                if to.is_ipv6() != v6 || (n.segment != 0 && (!gso || n.len <= n.segment)) {
                    break;
                }
                out[k] = Outgoing {
                    off: n.off,
                    len: n.len,
                    to,
                    src: n.src.map(normalize_ip),
                    segment: n.segment as u16,
                };
                k += 1;
            }
            let (sent, e) = match self.fd(v6) {
                Ok(fd) => (self.send)(fd, arena, &out[..k]),
                Err(e) => (0, Some(e)),
            };
            for m in &mut msgs[i..i + sent] {
                m.err = 0;
            }
            i += sent;
            // Nothing sent and nothing said: count it as failed, never spin.
            let e = e.or_else(|| (sent == 0).then(|| io::Error::from_raw_os_error(libc::EIO)));
            let Some(e) = e else { continue };
            let failed = msgs[i];
            let code = super::errno::of(&e);
            if failed.segment != 0 && (code == libc::EIO || code == libc::EINVAL) {
                // EIO: no GSO on this path (the kernel needs checksum offload on the
                // device); EINVAL: the run or its source is not acceptable. One by one
                // tells which; only EIO turns GSO off for good.
                if code == libc::EIO && self.gso.swap(false, Ordering::Relaxed) {
                    self.notices
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(format!(
                            "udp-gso refused by the kernel ({e}); sending datagrams one by one"
                        ));
                }
                msgs[i].err = self
                    .send_each(arena, &failed)
                    .map_or(0, |e| super::errno::of(&e));
            } else {
                msgs[i].err = code;
            }
            i += 1;
        }
    }

    fn max_segments(&self) -> usize {
        if self.gso.load(Ordering::Relaxed) {
            GSO_MAX_SEGMENTS
        } else {
            1
        }
    }

    fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut self.notices.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// IPv4-mapped IPv6 addresses are IPv4 addresses.
fn normalize(sa: SocketAddr) -> SocketAddr {
    match sa {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => sa,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn without(missing: AddressFamily) -> impl Fn(AddressFamily) -> io::Result<OwnedFd> {
        move |f| {
            if f == missing {
                Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
            } else {
                new_socket(f)
            }
        }
    }

    #[test]
    fn a_missing_family_leaves_the_other() {
        for (missing, v6_left) in [(AddressFamily::Inet6, false), (AddressFamily::Inet, true)] {
            let mut port = 0;
            // A kernel-chosen port, then that port asked for by number.
            for _ in 0..2 {
                let u = UdpSockets::bind_with(&without(missing), port, &Offloads::ALL).unwrap();
                if port != 0 {
                    assert_eq!(u.local_port(), port);
                }
                port = u.local_port();
                assert_eq!(u.v6.is_some(), v6_left);
                assert_eq!(u.v4.is_some(), !v6_left);
                let got =
                    u.v4.as_ref()
                        .or(u.v6.as_ref())
                        .unwrap()
                        .local_addr()
                        .unwrap();
                assert_eq!(got.port(), u.local_port());
                assert_ne!(u.local_port(), 0);
                // Sending to the missing family fails cleanly, counted by the caller.
                let to: SocketAddr = if v6_left {
                    "127.0.0.1:9".parse().unwrap()
                } else {
                    "[::1]:9".parse().unwrap()
                };
                let mut m = [TxMsg::one(0, 4, to, None)];
                u.send_batch(&[0; 4], &mut m);
                assert_eq!(m[0].err, libc::EAFNOSUPPORT);
                let mut metas = [RecvMeta::default(); 4];
                let e = u
                    .recv_batch(!v6_left, &mut [0; 4096], 1024, &mut metas)
                    .unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::EAFNOSUPPORT));
            }
        }
        let none = |_| Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
        let e = UdpSockets::bind_with(&none, 0, &Offloads::ALL)
            .err()
            .unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::EAFNOSUPPORT));
    }

    /// A kernel that refuses UDP_SEGMENT (EIO: no checksum offload on the path, or
    /// IPsec under it): the run goes out again one datagram at a time, GSO is off
    /// for these sockets from then on, and that is said once.
    #[test]
    fn gso_refused_with_eio_falls_back_and_says_so_once() {
        fn no_gso(fd: RawFd, arena: &[u8], msgs: &[Outgoing]) -> (usize, Option<io::Error>) {
            match msgs.iter().position(|m| m.segment != 0) {
                Some(0) => (0, Some(io::Error::from_raw_os_error(libc::EIO))),
                Some(i) => sys::send_mmsg(fd, arena, &msgs[..i]),
                None => sys::send_mmsg(fd, arena, msgs),
            }
        }
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let to = rx.local_addr().unwrap();
        let mut u = UdpSockets::bind(0, &Offloads::ALL).unwrap();
        u.send = no_gso;
        assert_eq!(u.max_segments(), GSO_MAX_SEGMENTS);
        let arena: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let msg = |off, len, segment| TxMsg {
            off,
            len,
            segment,
            to,
            src: None,
            err: 0,
        };
        // A single datagram, a run of three (300+300+100) and another single.
        let mut msgs = [msg(0, 50, 0), msg(50, 700, 300), msg(750, 60, 0)];
        u.send_batch(&arena, &mut msgs);
        assert!(msgs.iter().all(|m| m.err == 0), "{msgs:?}");
        assert_eq!(u.max_segments(), 1, "GSO is off now");
        let notices = u.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].starts_with("udp-gso refused by the kernel"));
        let mut got = Vec::new();
        let mut buf = [0u8; 2000];
        assert!(common_wait(|| {
            while let Ok(n) = rx.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
            got.len() >= 5
        }));
        let want: Vec<Vec<u8>> = [0..50, 50..350, 350..650, 650..750, 750..810]
            .into_iter()
            .map(|r| arena[r].to_vec())
            .collect();
        assert_eq!(got, want);
        // Later runs (built before GSO went off) go one by one at once, unsaid.
        let mut msgs = [msg(0, 600, 300)];
        u.send_batch(&arena, &mut msgs);
        assert_eq!(msgs[0].err, 0);
        assert!(u.take_notices().is_empty());
    }

    /// Polls `f` for up to 5 s.
    fn common_wait(mut f: impl FnMut() -> bool) -> bool {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < end {
            if f() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn both_families_on_one_port_and_a_port_in_use_is_refused() {
        let u = UdpSockets::bind(0, &Offloads::ALL).unwrap();
        let p = u.local_port();
        assert_eq!(u.v4.as_ref().unwrap().local_addr().unwrap().port(), p);
        assert_eq!(u.v6.as_ref().unwrap().local_addr().unwrap().port(), p);
        let e = UdpSockets::bind(p, &Offloads::ALL).err().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE));
    }
}
