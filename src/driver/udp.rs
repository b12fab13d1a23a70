//! The UDP sockets of one interface: one IPv4 and one IPv6 (V6ONLY) socket on the
//! same port, as OpenBSD binds them. Received datagrams report the local address they
//! were sent to (IP_PKTINFO / IPV6_PKTINFO), which becomes the source of replies
//! (the "sticky" source of spec §8); sends may name that source.

use super::link::UdpEndpoint;
use nix::sys::socket::{
    bind, recvmsg, sendmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessage,
    ControlMessageOwned, MsgFlags, SockFlag, SockType, SockaddrIn, SockaddrIn6, SockaddrStorage,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};

/// Socket buffer size asked for (the kernel may grant less).
const SOCKET_BUFFER: usize = 4 << 20;
/// OpenBSD retries an ephemeral port this often when the v6 bind collides.
const BIND_RETRIES: usize = 100;

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn new_socket(family: AddressFamily) -> io::Result<OwnedFd> {
    let fd = socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(errno)?;
    let _ = setsockopt(&fd, sockopt::RcvBuf, &SOCKET_BUFFER);
    let _ = setsockopt(&fd, sockopt::SndBuf, &SOCKET_BUFFER);
    Ok(fd)
}

fn bind_v4(port: u16) -> io::Result<UdpSocket> {
    let fd = new_socket(AddressFamily::Inet)?;
    setsockopt(&fd, sockopt::Ipv4PacketInfo, &true).map_err(errno)?;
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)),
    )
    .map_err(errno)?;
    Ok(UdpSocket::from(fd))
}

fn bind_v6(port: u16) -> io::Result<UdpSocket> {
    let fd = new_socket(AddressFamily::Inet6)?;
    setsockopt(&fd, sockopt::Ipv6V6Only, &true).map_err(errno)?;
    setsockopt(&fd, sockopt::Ipv6RecvPacketInfo, &true).map_err(errno)?;
    bind(
        fd.as_raw_fd(),
        &SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
    )
    .map_err(errno)?;
    Ok(UdpSocket::from(fd))
}

/// One received datagram's addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvMeta {
    pub len: usize,
    pub from: SocketAddr,
    /// The local address the datagram was sent to.
    pub local: Option<IpAddr>,
}

pub struct UdpSockets {
    pub v4: UdpSocket,
    pub v6: UdpSocket,
    port: u16,
}

impl UdpSockets {
    /// Binds both sockets on `port` (0: a kernel-chosen port free in both families)
    /// in the calling thread's namespace.
    pub fn bind(port: u16) -> io::Result<UdpSockets> {
        if port != 0 {
            let v4 = bind_v4(port)?;
            let v6 = bind_v6(port)?;
            return Ok(UdpSockets { v4, v6, port });
        }
        let mut last = None;
        for _ in 0..BIND_RETRIES {
            let v4 = bind_v4(0)?;
            let port = v4.local_addr()?.port();
            match bind_v6(port) {
                Ok(v6) => return Ok(UdpSockets { v4, v6, port }),
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EADDRINUSE)))
    }

    pub fn local_port(&self) -> u16 {
        self.port
    }
}

impl UdpEndpoint for UdpSockets {
    fn recv(&self, v6: bool, buf: &mut [u8]) -> io::Result<RecvMeta> {
        let sock = if v6 { &self.v6 } else { &self.v4 };
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .map_err(errno)?;
        let mut local = None;
        for c in msg.cmsgs().map_err(errno)? {
            match c {
                ControlMessageOwned::Ipv4PacketInfo(i) => {
                    local = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(i.ipi_addr.s_addr))))
                }
                ControlMessageOwned::Ipv6PacketInfo(i) => {
                    local = Some(IpAddr::V6(Ipv6Addr::from(i.ipi6_addr.s6_addr)))
                }
                _ => {}
            }
        }
        let from = msg
            .address
            .and_then(|a| {
                a.as_sockaddr_in()
                    .map(|s| SocketAddr::V4(SocketAddrV4::from(*s)))
                    .or_else(|| {
                        a.as_sockaddr_in6()
                            .map(|s| SocketAddr::V6(SocketAddrV6::from(*s)))
                    })
            })
            .ok_or_else(|| io::Error::other("datagram without a source address"))?;
        Ok(RecvMeta {
            len: msg.bytes,
            from: normalize(from),
            local: local.map(normalize_ip),
        })
    }

    fn send_to(&self, buf: &[u8], to: SocketAddr, src: Option<IpAddr>) -> io::Result<usize> {
        let iov = [IoSlice::new(buf)];
        let r = match (normalize(to), src.map(normalize_ip)) {
            (SocketAddr::V4(t), src) => {
                let dst = SockaddrIn::from(t);
                match src {
                    Some(IpAddr::V4(s)) => {
                        let info = libc::in_pktinfo {
                            ipi_ifindex: 0,
                            ipi_spec_dst: libc::in_addr {
                                s_addr: u32::from(s).to_be(),
                            },
                            ipi_addr: libc::in_addr { s_addr: 0 },
                        };
                        let c = [ControlMessage::Ipv4PacketInfo(&info)];
                        sendmsg(self.v4.as_raw_fd(), &iov, &c, MsgFlags::empty(), Some(&dst))
                    }
                    _ => sendmsg(
                        self.v4.as_raw_fd(),
                        &iov,
                        &[],
                        MsgFlags::empty(),
                        Some(&dst),
                    ),
                }
            }
            (SocketAddr::V6(t), src) => {
                let dst = SockaddrIn6::from(t);
                match src {
                    Some(IpAddr::V6(s)) => {
                        let info = libc::in6_pktinfo {
                            ipi6_addr: libc::in6_addr {
                                s6_addr: s.octets(),
                            },
                            ipi6_ifindex: 0,
                        };
                        let c = [ControlMessage::Ipv6PacketInfo(&info)];
                        sendmsg(self.v6.as_raw_fd(), &iov, &c, MsgFlags::empty(), Some(&dst))
                    }
                    _ => sendmsg(
                        self.v6.as_raw_fd(),
                        &iov,
                        &[],
                        MsgFlags::empty(),
                        Some(&dst),
                    ),
                }
            }
        };
        r.map_err(errno)
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
