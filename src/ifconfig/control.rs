//! The operations wgifconfig asks of the interface owner (wgd), one method per
//! OpenBSD ioctl it would issue. The real implementation talks to wgd over its
//! control socket; tests use an in-memory fake.

use crate::ioctl::client::strerror;
use crate::ioctl::model::InterfaceIo;
use crate::ioctl::request::{IfInfo, Inet4Addr, Inet6Addr};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `ENXIO` (Linux numbering, as on the wire).
pub const ENXIO: i32 = 6;
/// `EEXIST`.
pub const EEXIST: i32 = 17;
/// `ENOTTY`: the interface is not a wg interface (SIOCGWG section omitted).
pub const ENOTTY: i32 = 25;
/// `EPERM`.
pub const EPERM: i32 = 1;
/// `EINVAL`.
pub const EINVAL: i32 = 22;
/// `EADDRNOTAVAIL`.
pub const EADDRNOTAVAIL: i32 = 99;

/// Why one operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtlError {
    /// The operation was refused with an errno; `text` is its strerror text.
    Errno { errno: i32, text: String },
    /// The daemon could not be reached or spoke nonsense; `text` is the whole,
    /// self-explaining message (e.g. that wgd is not running and how to start it).
    Transport(String),
}

impl CtlError {
    /// An errno with the C library's text for it.
    pub fn errno(errno: i32) -> CtlError {
        CtlError::Errno {
            errno,
            text: strerror(errno),
        }
    }

    pub fn errno_value(&self) -> Option<i32> {
        match self {
            CtlError::Errno { errno, .. } => Some(*errno),
            CtlError::Transport(_) => None,
        }
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlError::Errno { text, .. } => f.write_str(text),
            CtlError::Transport(text) => f.write_str(text),
        }
    }
}

/// One method per request wgifconfig makes; names follow the OpenBSD ioctls.
pub trait Control {
    /// SIOCIFCREATE.
    fn create(&mut self, ifname: &str) -> Result<(), CtlError>;
    /// SIOCIFDESTROY.
    fn destroy(&mut self, ifname: &str) -> Result<(), CtlError>;
    /// SIOCGIFFLAGS and friends: everything `status()` prints about the interface.
    fn get_info(&mut self, ifname: &str) -> Result<IfInfo, CtlError>;
    /// getifaddrs(3): every interface, in index order.
    fn list_interfaces(&mut self) -> Result<Vec<IfInfo>, CtlError>;
    /// SIOCSIFFLAGS.
    fn set_flags(&mut self, ifname: &str, flags: u32) -> Result<(), CtlError>;
    /// SIOCSIFMTU.
    fn set_mtu(&mut self, ifname: &str, mtu: u32) -> Result<(), CtlError>;
    /// SIOCSIFRDOMAIN.
    fn set_rdomain(&mut self, ifname: &str, rdomain: u32) -> Result<(), CtlError>;
    /// SIOCSIFDESCR (empty removes it).
    fn set_description(&mut self, ifname: &str, descr: &str) -> Result<(), CtlError>;
    /// SIOCAIFADDR.
    fn add_inet(&mut self, ifname: &str, addr: Inet4Addr) -> Result<(), CtlError>;
    /// SIOCDIFADDR.
    fn del_inet(&mut self, ifname: &str, addr: Ipv4Addr) -> Result<(), CtlError>;
    /// SIOCAIFADDR_IN6.
    fn add_inet6(&mut self, ifname: &str, addr: Inet6Addr) -> Result<(), CtlError>;
    /// SIOCDIFADDR_IN6.
    fn del_inet6(&mut self, ifname: &str, addr: Ipv6Addr) -> Result<(), CtlError>;
    /// SIOCGWG (with the grow-until-stable size loop done by the implementation).
    fn get_wg(&mut self, ifname: &str) -> Result<InterfaceIo, CtlError>;
    /// SIOCSWG.
    fn set_wg(&mut self, ifname: &str, wg: &InterfaceIo) -> Result<(), CtlError>;
}
