//! Every raw libc call of the daemon, each wrapped in a safe function. Nothing else
//! in the crate says `unsafe` (tests/layering.rs checks): the tun ioctls and the
//! batched UDP calls (recvmmsg/sendmmsg with PKTINFO, UDP_SEGMENT and UDP_GRO control
//! messages), whose headers hold raw pointers into the caller's buffers.

use std::fs::File;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `TUNSETIFF` = `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `TUNSETOFFLOAD` = `_IOW('T', 208, unsigned int)`.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;

/// TUNSETOFFLOAD feature bits (linux/if_tun.h).
pub const TUN_F_CSUM: u32 = 0x01;
pub const TUN_F_TSO4: u32 = 0x02;
pub const TUN_F_TSO6: u32 = 0x04;
pub const TUN_F_USO4: u32 = 0x20;
pub const TUN_F_USO6: u32 = 0x40;

/// linux/udp.h: send a run of equal-sized datagrams (GSO) / receive them (GRO).
const UDP_SEGMENT: libc::c_int = 103;
const UDP_GRO: libc::c_int = 104;

/// Messages per recvmmsg/sendmmsg call.
pub const MMSG_MAX: usize = 64;
/// Control-message room per message (PKTINFO for IPv6 and a UDP_SEGMENT/UDP_GRO value
/// fit with room to spare), in u64 for the alignment cmsghdr needs.
const CMSG_WORDS: usize = 12;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags in the union.
#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Attaches `tun` (an open /dev/net/tun) to the tun device `name` (IFF_TUN|IFF_NO_PI,
/// and IFF_VNET_HDR when `vnet_hdr`: every read and write then starts with a
/// virtio_net_hdr), creating it in the calling thread's network namespace.
pub fn tun_set_iff(tun: &File, name: &str, vnet_hdr: bool) -> io::Result<()> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut req = IfReqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TUN | IFF_NO_PI | if vnet_hdr { IFF_VNET_HDR } else { 0 },
        _pad: [0; 22],
    };
    for (d, s) in req.name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: the fd is open for the duration of the call (borrowed from `tun`), and
    // `req` is a properly sized, initialised ifreq that the kernel reads and writes.
    let r = unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF as _, &mut req as *mut IfReqFlags) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Tells the tun which offloads the reader handles (TUN_F_* bits): with TSO the
/// kernel hands over TCP super-packets of up to 64 KiB.
pub fn tun_set_offload(tun: &File, flags: u32) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value; the fd is open (borrowed).
    let r = unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETOFFLOAD as _, flags as libc::c_ulong) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Enables UDP_GRO on a UDP socket.
pub fn udp_set_gro(fd: RawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `one` outlives the call and its size is passed; the fd is the caller's.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_UDP,
            UDP_GRO,
            &one as *const libc::c_int as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The message headers, their buffers' iovecs and the address slots of one batch,
/// all zero (null pointers, zero lengths), to be filled in before the kernel sees them.
#[allow(clippy::type_complexity)]
fn empty_headers() -> (
    [libc::mmsghdr; MMSG_MAX],
    [libc::iovec; MMSG_MAX],
    [libc::sockaddr_storage; MMSG_MAX],
) {
    // SAFETY: all-zero is a valid value of these plain C structs.
    unsafe { (zeroed(), zeroed(), zeroed()) }
}

/// One message received by [`recv_mmsg`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    pub from: Option<SocketAddr>,
    /// The local address the datagram was sent to (IP_PKTINFO / IPV6_PKTINFO).
    pub local: Option<IpAddr>,
    /// With UDP_GRO: the size of each datagram of the run (the last may be shorter).
    pub segment: usize,
    /// The datagram did not fit its slot.
    pub truncated: bool,
}

/// Receives up to `out.len()` (at most [`MMSG_MAX`]) messages with one recvmmsg,
/// message i into `arena[i*slot..(i+1)*slot]`. Returns how many arrived; `WouldBlock`
/// when none is waiting.
pub fn recv_mmsg(
    fd: RawFd,
    arena: &mut [u8],
    slot: usize,
    out: &mut [Received],
) -> io::Result<usize> {
    let n = out.len().min(MMSG_MAX).min(arena.len() / slot.max(1));
    if n == 0 {
        return Ok(0);
    }
    let (mut hdrs, mut iovs, mut names) = empty_headers();
    let mut cmsgs = [[0u64; CMSG_WORDS]; MMSG_MAX];
    let base = arena.as_mut_ptr();
    for i in 0..n {
        // SAFETY: i*slot + slot <= arena.len() by the choice of n, so the pointer
        // stays inside `arena`.
        iovs[i].iov_base = unsafe { base.add(i * slot) } as *mut libc::c_void;
        iovs[i].iov_len = slot;
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = &mut names[i] as *mut libc::sockaddr_storage as *mut libc::c_void;
        h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
        h.msg_control = cmsgs[i].as_mut_ptr() as *mut libc::c_void;
        h.msg_controllen = size_of::<[u64; CMSG_WORDS]>() as _;
    }
    // SAFETY: every header points at live buffers of the stated sizes (the arena,
    // `names`, `cmsgs`, `iovs`), all of which outlive the call; n <= MMSG_MAX.
    let r = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let got = r as usize;
    for i in 0..got {
        let h = &hdrs[i].msg_hdr;
        let mut m = Received {
            len: hdrs[i].msg_len as usize,
            from: sockaddr_to_std(&names[i], h.msg_namelen),
            truncated: h.msg_flags & libc::MSG_TRUNC != 0,
            ..Received::default()
        };
        // The kernel filled msg_control/msg_controllen of this header, and the CMSG_*
        // macros walk only inside that buffer.
        // SAFETY: each payload read is of the type its (level, type) pair defines, checked against cmsg_len.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(h);
            while !c.is_null() {
                let data = libc::CMSG_DATA(c);
                let room = (*c).cmsg_len as usize - (data as usize - c as usize);
                match ((*c).cmsg_level, (*c).cmsg_type) {
                    (libc::IPPROTO_IP, libc::IP_PKTINFO)
                        if room >= size_of::<libc::in_pktinfo>() =>
                    {
                        let p = std::ptr::read_unaligned(data as *const libc::in_pktinfo);
                        m.local = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(p.ipi_addr.s_addr))));
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO)
                        if room >= size_of::<libc::in6_pktinfo>() =>
                    {
                        let p = std::ptr::read_unaligned(data as *const libc::in6_pktinfo);
                        m.local = Some(IpAddr::V6(Ipv6Addr::from(p.ipi6_addr.s6_addr)));
                    }
                    (libc::SOL_UDP, UDP_GRO) if room >= size_of::<libc::c_int>() => {
                        let s = std::ptr::read_unaligned(data as *const libc::c_int);
                        m.segment = s.max(0) as usize;
                    }
                    _ => {}
                }
                c = libc::CMSG_NXTHDR(h, c);
            }
        }
        out[i] = m;
    }
    Ok(got)
}

/// One message for [`send_mmsg`]: `arena[off..off+len]` to `to`, from `src` when
/// given; with `segment` > 0 the kernel cuts it into datagrams of that size (GSO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub off: usize,
    pub len: usize,
    pub to: SocketAddr,
    pub src: Option<IpAddr>,
    pub segment: u16,
}

/// Sends `msgs` (at most [`MMSG_MAX`] are taken) with one sendmmsg on `fd`. Returns
/// how many were sent; when fewer than asked, the error of the first unsent one.
pub fn send_mmsg(fd: RawFd, arena: &[u8], msgs: &[Outgoing]) -> (usize, Option<io::Error>) {
    let n = msgs.len().min(MMSG_MAX);
    if n == 0 {
        return (0, None);
    }
    let (mut hdrs, mut iovs, mut names) = empty_headers();
    let mut cmsgs = [[0u64; CMSG_WORDS]; MMSG_MAX];
    for (i, m) in msgs[..n].iter().enumerate() {
        if m.off.checked_add(m.len).map_or(true, |e| e > arena.len()) {
            return (i, Some(io::Error::from_raw_os_error(libc::EINVAL)));
        }
        // SAFETY: off + len <= arena.len() was checked above; the kernel only reads
        // through iov_base (the *mut is what the C struct spells).
        iovs[i].iov_base = unsafe { arena.as_ptr().add(m.off) } as *mut libc::c_void;
        iovs[i].iov_len = m.len;
        let namelen = std_to_sockaddr(m.to, &mut names[i]);
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = &mut names[i] as *mut libc::sockaddr_storage as *mut libc::c_void;
        h.msg_namelen = namelen;
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
        let space = fill_send_cmsgs(h, &mut cmsgs[i], m.src, m.segment);
        if space == 0 {
            h.msg_control = std::ptr::null_mut();
        }
        h.msg_controllen = space as _;
    }
    // SAFETY: every header points at live buffers of the stated sizes (the arena
    // ranges checked above, `names`, `cmsgs`, `iovs`), all outliving the call.
    let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
    if r < 0 {
        return (0, Some(io::Error::last_os_error()));
    }
    let sent = r as usize;
    if sent < n {
        // sendmmsg reports the failure of message `sent` only through a retry.
        // SAFETY: as above, for the single header `sent`.
        let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr().add(sent), 1, 0) };
        if r < 0 {
            return (sent, Some(io::Error::last_os_error()));
        }
        return (sent + 1, None);
    }
    (sent, None)
}

/// Writes the PKTINFO (source address) and UDP_SEGMENT control messages of one send
/// into `buf`, pointed to by `h`; returns the bytes used (0: none).
fn fill_send_cmsgs(
    h: &mut libc::msghdr,
    buf: &mut [u64; CMSG_WORDS],
    src: Option<IpAddr>,
    segment: u16,
) -> usize {
    h.msg_control = buf.as_mut_ptr() as *mut libc::c_void;
    h.msg_controllen = size_of::<[u64; CMSG_WORDS]>() as _;
    let mut used = 0usize;
    // `buf` is large enough for both messages (CMSG_SPACE of in6_pktinfo plus that of
    // a u16 is well under CMSG_WORDS*8).
    // SAFETY: CMSG_FIRSTHDR/NXTHDR stay inside `buf` (msg_controllen is its full size), and each write fits its CMSG_LEN.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        match src {
            Some(IpAddr::V4(s)) => {
                (*c).cmsg_level = libc::IPPROTO_IP;
                (*c).cmsg_type = libc::IP_PKTINFO;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as _;
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(s).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut libc::in_pktinfo, info);
                used += libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as usize;
                c = libc::CMSG_NXTHDR(h, c);
            }
            Some(IpAddr::V6(s)) => {
                (*c).cmsg_level = libc::IPPROTO_IPV6;
                (*c).cmsg_type = libc::IPV6_PKTINFO;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) as _;
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: s.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut libc::in6_pktinfo, info);
                used += libc::CMSG_SPACE(size_of::<libc::in6_pktinfo>() as u32) as usize;
                c = libc::CMSG_NXTHDR(h, c);
            }
            None => {}
        }
        if segment > 0 && !c.is_null() {
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut u16, segment);
            used += libc::CMSG_SPACE(size_of::<u16>() as u32) as usize;
        }
    }
    used
}

/// Writes `a` as a sockaddr_in or sockaddr_in6 into `out`; returns its length.
fn std_to_sockaddr(a: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe {
                std::ptr::write(
                    out as *mut libc::sockaddr_storage as *mut libc::sockaddr_in,
                    sin,
                )
            };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo().to_be(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe {
                std::ptr::write(
                    out as *mut libc::sockaddr_storage as *mut libc::sockaddr_in6,
                    sin6,
                )
            };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// The address the kernel wrote into `s` (`len` bytes), if it is IPv4 or IPv6.
fn sockaddr_to_std(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match s.ss_family as libc::c_int {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in of `len` bytes.
            let sin = unsafe {
                std::ptr::read(s as *const libc::sockaddr_storage as *const libc::sockaddr_in)
            };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says the storage holds a sockaddr_in6 of `len` bytes.
            let sin6 = unsafe {
                std::ptr::read(s as *const libc::sockaddr_storage as *const libc::sockaddr_in6)
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    /// Batches over loopback: PKTINFO both ways, several messages per call, a GSO run
    /// received whole with GRO (or as separate datagrams where the kernel lacks it).
    #[test]
    fn mmsg_round_trip_on_loopback() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        nix::sys::socket::setsockopt(&rx, nix::sys::socket::sockopt::Ipv4PacketInfo, &true)
            .unwrap();
        let gro = udp_set_gro(rx.as_raw_fd()).is_ok();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let mut arena = vec![0u8; 4000];
        for (i, b) in arena.iter_mut().enumerate() {
            *b = i as u8;
        }
        let msgs = [
            Outgoing {
                off: 0,
                len: 100,
                to,
                src: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                segment: 0,
            },
            Outgoing {
                off: 100,
                len: 3000,
                to,
                src: None,
                segment: 1000,
            },
        ];
        assert_eq!(send_mmsg(tx.as_raw_fd(), &arena, &msgs).0, 2);
        let mut got = vec![Received::default(); 8];
        let mut rbuf = vec![0u8; 8 * 65536];
        let mut datagrams = Vec::new();
        for _ in 0..100 {
            match recv_mmsg(rx.as_raw_fd(), &mut rbuf, 65536, &mut got) {
                Ok(n) => {
                    for (i, m) in got[..n].iter().enumerate() {
                        assert_eq!(m.from, Some(tx.local_addr().unwrap()));
                        assert_eq!(m.local, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
                        let seg = if m.segment == 0 { m.len } else { m.segment };
                        let d = &rbuf[i * 65536..i * 65536 + m.len];
                        datagrams.extend(d.chunks(seg).map(|c| c.to_vec()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if datagrams.len() >= 4 {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
        let want: Vec<Vec<u8>> = [0..100, 100..1100, 1100..2100, 2100..3100]
            .into_iter()
            .map(|r| arena[r].to_vec())
            .collect();
        assert_eq!(datagrams, want, "gro={gro}");
    }

    #[test]
    fn a_bad_range_is_refused_before_the_kernel() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let m = Outgoing {
            off: 10,
            len: 100,
            to: "127.0.0.1:9".parse().unwrap(),
            src: None,
            segment: 0,
        };
        let (n, e) = send_mmsg(tx.as_raw_fd(), &[0u8; 50], &[m]);
        assert_eq!(n, 0);
        assert_eq!(e.unwrap().raw_os_error(), Some(libc::EINVAL));
    }
}
