//! The tun device behind one wgN interface. With offloads it is opened with
//! IFF_VNET_HDR (every read and write starts with a virtio_net_hdr) and TUNSETOFFLOAD,
//! so reads may be TCP (and UDP) super-packets of up to 64 KiB; a kernel that refuses
//! part of that gets the rest, and the reason is kept for the log. The device lives
//! as long as the fd.

use super::offload::Offloads;
use super::sys;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// What the tun device was opened with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunMode {
    /// Every read and write starts with a virtio_net_hdr.
    pub vnet_hdr: bool,
    /// The kernel accepted USO: reads may be UDP super-packets.
    pub uso: bool,
    /// Decrypted TCP segments of one flow may be written as one super-packet.
    pub gro_tcp: bool,
    /// The same for UDP datagrams (needs `uso`).
    pub gro_udp: bool,
}

/// A tun device: one packet (with its virtio-net header in `vnet_hdr` mode) per read
/// or write; `WouldBlock` when empty.
pub trait TunDevice {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&self, pkt: &[u8]) -> io::Result<usize>;
    fn mode(&self) -> TunMode;
}

pub struct Tun {
    file: File,
    name: String,
    mode: TunMode,
    /// What the kernel refused while opening, for the log.
    pub notices: Vec<String>,
}

fn open_dev() -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")
}

impl Tun {
    /// Creates the tun device `name` in the calling thread's namespace, non-blocking,
    /// with the offloads `want` allows and the kernel accepts.
    pub fn open(name: &str, want: &Offloads) -> io::Result<Tun> {
        let mut notices = Vec::new();
        let mut mode = TunMode::default();
        let mut file = open_dev()?;
        if want.vnet_hdr() {
            match sys::tun_set_iff(&file, name, true) {
                Ok(()) => mode.vnet_hdr = true,
                Err(e) => {
                    notices.push(format!("{name}: tun offloads unavailable ({e})"));
                    file = open_dev()?;
                }
            }
        }
        if !mode.vnet_hdr {
            sys::tun_set_iff(&file, name, false)?;
        }
        if mode.vnet_hdr && (want.tun_tso || want.tun_uso) {
            let tso = sys::TUN_F_CSUM | sys::TUN_F_TSO4 | sys::TUN_F_TSO6;
            let uso = sys::TUN_F_USO4 | sys::TUN_F_USO6;
            let base = if want.tun_tso { tso } else { sys::TUN_F_CSUM };
            if want.tun_uso {
                match sys::tun_set_offload(&file, base | uso) {
                    Ok(()) => mode.uso = true,
                    Err(e) => notices.push(format!("{name}: tun-uso refused by the kernel ({e})")),
                }
            }
            if !mode.uso {
                if let Err(e) = sys::tun_set_offload(&file, base) {
                    notices.push(format!("{name}: tun-tso refused by the kernel ({e})"));
                }
            }
        }
        mode.gro_tcp = mode.vnet_hdr && want.tun_gro;
        mode.gro_udp = mode.gro_tcp && mode.uso;
        Ok(Tun {
            file,
            name: name.to_string(),
            mode,
            notices,
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

    fn mode(&self) -> TunMode {
        self.mode
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
