//! Every raw libc call of the daemon, each wrapped in a safe function. Nothing else
//! in the crate says `unsafe` (tests/layering.rs checks).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
/// `TUNSETIFF` = `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags in the union.
#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Attaches `tun` (an open /dev/net/tun) to the tun device `name` (IFF_TUN|IFF_NO_PI),
/// creating it in the calling thread's network namespace.
pub fn tun_set_iff(tun: &File, name: &str) -> io::Result<()> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut req = IfReqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TUN | IFF_NO_PI,
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
