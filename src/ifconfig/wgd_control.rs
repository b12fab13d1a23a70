//! [`Control`] over wgd's control socket ([`Client`]). The socket is opened on
//! the first request, so what needs no daemon (usage errors, `-C`,
//! `wgnetstart -n`) works while wgd is stopped.

use super::control::{Control, CtlError};
use crate::ioctl::client::{default_socket_path, strerror, CallError, Client};
use crate::ioctl::model::InterfaceIo;
use crate::ioctl::request::{IfInfo, Inet4Addr, Inet6Addr};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// wgd's client, connected on first use.
pub struct WgdControl {
    path: PathBuf,
    client: Option<Client>,
}

impl WgdControl {
    /// `$WGD_SOCKET`, else `/run/wgd.sock`.
    pub fn from_env() -> WgdControl {
        WgdControl::at(default_socket_path())
    }

    pub fn at(path: PathBuf) -> WgdControl {
        WgdControl { path, client: None }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn client(&mut self) -> Result<&mut Client, CtlError> {
        if self.client.is_none() {
            self.client = Some(Client::connect(&self.path).map_err(map_err)?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| CtlError::Transport("wgd connection lost".into()))
    }
}

/// The client's errors as wgifconfig reports them: an errno with its text, or one
/// self-explaining line (with how to start wgd when it is not running).
pub fn map_err(e: CallError) -> CtlError {
    match e {
        CallError::Errno(errno) => CtlError::Errno {
            errno,
            text: strerror(errno),
        },
        CallError::NotRunning(_) => CtlError::Transport(format!("{e}; start it with: wgd")),
        other => CtlError::Transport(other.to_string()),
    }
}

impl Control for WgdControl {
    fn create(&mut self, n: &str) -> Result<(), CtlError> {
        self.client()?.create(n).map_err(map_err)
    }
    fn destroy(&mut self, n: &str) -> Result<(), CtlError> {
        self.client()?.destroy(n).map_err(map_err)
    }
    fn get_info(&mut self, n: &str) -> Result<IfInfo, CtlError> {
        self.client()?.get_info(n).map_err(map_err)
    }
    fn list_interfaces(&mut self) -> Result<Vec<IfInfo>, CtlError> {
        self.client()?.list_interfaces().map_err(map_err)
    }
    fn set_flags(&mut self, n: &str, flags: u32) -> Result<(), CtlError> {
        self.client()?.set_flags(n, flags).map_err(map_err)
    }
    fn set_mtu(&mut self, n: &str, mtu: u32) -> Result<(), CtlError> {
        self.client()?.set_mtu(n, mtu).map_err(map_err)
    }
    fn set_rdomain(&mut self, n: &str, rdomain: u32) -> Result<(), CtlError> {
        self.client()?.set_rdomain(n, rdomain).map_err(map_err)
    }
    fn set_description(&mut self, n: &str, descr: &str) -> Result<(), CtlError> {
        self.client()?.set_description(n, descr).map_err(map_err)
    }
    fn add_inet(&mut self, n: &str, a: Inet4Addr) -> Result<(), CtlError> {
        self.client()?.add_inet(n, a).map_err(map_err)
    }
    fn del_inet(&mut self, n: &str, a: Ipv4Addr) -> Result<(), CtlError> {
        self.client()?.del_inet(n, a).map_err(map_err)
    }
    fn add_inet6(&mut self, n: &str, a: Inet6Addr) -> Result<(), CtlError> {
        self.client()?.add_inet6(n, a).map_err(map_err)
    }
    fn del_inet6(&mut self, n: &str, a: Ipv6Addr) -> Result<(), CtlError> {
        self.client()?.del_inet6(n, a).map_err(map_err)
    }
    fn get_wg(&mut self, n: &str) -> Result<InterfaceIo, CtlError> {
        self.client()?.get_wg(n).map_err(map_err)
    }
    fn set_wg(&mut self, n: &str, wg: &InterfaceIo) -> Result<(), CtlError> {
        self.client()?.set_wg(n, wg).map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_running_says_how_to_start_wgd() {
        let path = std::env::temp_dir().join(format!("wgif-nosock-{}", std::process::id()));
        let mut c = WgdControl::at(path.clone());
        assert_eq!(
            c.get_info("wg0").unwrap_err(),
            CtlError::Transport(format!(
                "wgd is not running (no socket at {}); start it with: wgd",
                path.display()
            ))
        );
    }

    #[test]
    fn errno_keeps_its_text() {
        assert_eq!(
            map_err(CallError::Errno(1)),
            CtlError::Errno {
                errno: 1,
                text: "Operation not permitted".into()
            }
        );
    }
}
