//! The tun device behind one wgN interface (IFF_TUN|IFF_NO_PI: each read or write is
//! one bare IP packet). The device lives as long as the fd. Opening with
//! IFF_VNET_HDR and TUNSETOFFLOAD for offloads is a change local to `open`.

use super::link::TunDevice;
use super::sys;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

pub struct Tun {
    file: File,
    name: String,
}

impl Tun {
    /// Creates the tun device `name` in the calling thread's namespace, non-blocking.
    pub fn open(name: &str) -> io::Result<Tun> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")?;
        sys::tun_set_iff(&file, name)?;
        Ok(Tun {
            file,
            name: name.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl TunDevice for Tun {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    fn write(&self, pkt: &[u8]) -> io::Result<usize> {
        (&self.file).write(pkt)
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
