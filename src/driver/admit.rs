//! Whether a request may run, decided before it touches anything: who the caller is
//! (SO_PEERCRED's uid; root alone is privileged, like OpenBSD's suser()), whether
//! that caller may make the request at all (anyone may read; only root may change),
//! and whether its arguments are in range. Pure functions of the request and the
//! caller, so unit tests pin them without a daemon and the fuzz targets call them.

use super::uapi::Op;
use super::wgif::MTU_RANGE;
use crate::ioctl::abi::IFDESCRSIZE;
use crate::ioctl::request::Request;

/// Whether the caller with this uid is privileged: root alone.
pub fn is_privileged(uid: u32) -> bool {
    uid == 0
}

/// Whether a control-socket caller may make `req`: EPERM for anything but a read
/// unless privileged (if_wg.c and ifioctl() call suser() for every set).
pub fn check_request(req: &Request, privileged: bool) -> Result<(), i32> {
    if !privileged && !req.is_read() {
        return Err(libc::EPERM);
    }
    Ok(())
}

/// The range checks a request's arguments pass before it changes its interface
/// (which exists by then: a missing one is ENXIO first).
pub fn check_arguments(req: &Request) -> Result<(), i32> {
    match req {
        Request::SetMtu { mtu } if !MTU_RANGE.contains(mtu) => Err(libc::EINVAL),
        Request::SetDescription { description } if description.len() >= IFDESCRSIZE => {
            Err(libc::ENAMETOOLONG)
        }
        Request::AddInet(a) if a.prefixlen > 32 => Err(libc::EINVAL),
        Request::AddInet6(a) if a.prefixlen > 128 => Err(libc::EINVAL),
        _ => Ok(()),
    }
}

/// Whether a caller of the configuration protocol may make `op`: a `set=1` needs
/// root (uapi.rs already refuses one from anyone else while reading it).
pub fn check_uapi(op: &Op, privileged: bool) -> Result<(), i32> {
    match op {
        Op::Set(_) if !privileged => Err(libc::EPERM),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioctl::request::tests::one_of_each;
    use crate::ioctl::request::{Inet4Addr, Inet6Addr};
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn root_alone_is_privileged() {
        assert!(is_privileged(0));
        for uid in [1, 1000, 65534, u32::MAX] {
            assert!(!is_privileged(uid), "uid {uid}");
        }
    }

    #[test]
    fn a_siocswg_from_anyone_but_root_is_refused_with_eperm() {
        let set = Request::SetWg { data: vec![0; 80] };
        assert_eq!(check_request(&set, false), Err(libc::EPERM));
        assert_eq!(check_request(&set, true), Ok(()));
        let get = Request::GetWg { size: 80 };
        assert_eq!(check_request(&get, false), Ok(()));
        assert_eq!(check_request(&get, true), Ok(()));
    }

    /// Every request kind: root may make each; anyone else only the three reads
    /// (SIOCGWG, the interface's flags and addresses, the list of interfaces).
    #[test]
    fn every_change_needs_root() {
        for r in one_of_each() {
            assert_eq!(check_request(&r, true), Ok(()), "root: {r:?}");
            let read = matches!(
                r,
                Request::GetWg { .. } | Request::GetInfo | Request::ListInterfaces
            );
            let want = if read { Ok(()) } else { Err(libc::EPERM) };
            assert_eq!(check_request(&r, false), want, "user: {r:?}");
        }
    }

    #[test]
    fn arguments_out_of_range_are_refused() {
        let mtu = |mtu| check_arguments(&Request::SetMtu { mtu });
        assert_eq!(
            (
                mtu(0),
                mtu(1),
                mtu(1420),
                mtu(9000),
                mtu(9001),
                mtu(u32::MAX)
            ),
            (
                Err(libc::EINVAL),
                Ok(()),
                Ok(()),
                Ok(()),
                Err(libc::EINVAL),
                Err(libc::EINVAL)
            )
        );
        let descr = |n| {
            check_arguments(&Request::SetDescription {
                description: "d".repeat(n),
            })
        };
        assert_eq!(
            (descr(0), descr(63), descr(64), descr(1000)),
            (
                Ok(()),
                Ok(()),
                Err(libc::ENAMETOOLONG),
                Err(libc::ENAMETOOLONG)
            )
        );
        let inet = |prefixlen| {
            check_arguments(&Request::AddInet(Inet4Addr {
                addr: Ipv4Addr::new(192, 0, 2, 1),
                prefixlen,
                broadcast: None,
                dest: None,
            }))
        };
        assert_eq!(
            (inet(0), inet(32), inet(33), inet(255)),
            (Ok(()), Ok(()), Err(libc::EINVAL), Err(libc::EINVAL))
        );
        let inet6 = |prefixlen| {
            check_arguments(&Request::AddInet6(Inet6Addr {
                addr: Ipv6Addr::LOCALHOST,
                prefixlen,
                scope_id: 0,
            }))
        };
        assert_eq!(
            (inet6(0), inet6(128), inet6(129), inet6(255)),
            (Ok(()), Ok(()), Err(libc::EINVAL), Err(libc::EINVAL))
        );
    }

    /// The requests without a range check pass whatever they carry.
    #[test]
    fn other_requests_have_no_argument_check() {
        for r in one_of_each() {
            if !matches!(
                r,
                Request::SetMtu { .. }
                    | Request::SetDescription { .. }
                    | Request::AddInet(_)
                    | Request::AddInet6(_)
            ) {
                assert_eq!(check_arguments(&r), Ok(()), "{r:?}");
            }
        }
    }

    #[test]
    fn a_configuration_protocol_set_needs_root() {
        let set = Op::Set(Default::default());
        assert_eq!(check_uapi(&set, false), Err(libc::EPERM));
        assert_eq!(check_uapi(&set, true), Ok(()));
        assert_eq!(check_uapi(&Op::Get, false), Ok(()));
        assert_eq!(check_uapi(&Op::Get, true), Ok(()));
    }
}
