//! The blocking client of wgd's control socket, used by wgifconfig and the tests.
//!
//! This is the one file of `ioctl` that does IO: it opens the Unix socket, sends one
//! request frame and reads one reply frame, with timeouts. SIOCGWG is done the way
//! OpenBSD's ifconfig does it: ask with capacity 0, then grow to the reported size and
//! ask again until the size stops growing.

use super::codec::{self, Dir};
use super::frame::{self, FrameError, ReplyBody, RequestBody};
use super::model::InterfaceIo;
use super::request::{IfInfo, Inet4Addr, Inet6Addr, Request, Response};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::{Zeroize, Zeroizing};

/// Where wgd listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/wgd.sock";
/// The environment variable that overrides [`DEFAULT_SOCKET`] for every client.
pub const SOCKET_ENV: &str = "WGD_SOCKET";
/// How long one request may take (plus a second per MiB of an SIOCSWG/SIOCGWG buffer).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The socket path clients use: `$WGD_SOCKET`, else `/run/wgd.sock`.
pub fn default_socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// wgd answered with this errno (Linux numbering).
    Errno(i32),
    /// No socket at the path: wgd is not running.
    NotRunning(PathBuf),
    /// The socket exists but may not be opened.
    PermissionDenied(PathBuf),
    /// Anything else on the way (timeouts, a daemon that hung up, bad frames).
    Transport(String),
}

/// strerror(3) text of a Linux errno, without Rust's " (os error N)" suffix: what
/// OpenBSD's programs print after the failed request's name.
pub fn strerror(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl CallError {
    pub fn errno(&self) -> Option<i32> {
        match self {
            CallError::Errno(e) => Some(*e),
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Errno(e) => f.write_str(&strerror(*e)),
            CallError::NotRunning(p) => {
                write!(f, "wgd is not running (no socket at {})", p.display())
            }
            CallError::PermissionDenied(p) => {
                write!(f, "cannot reach wgd at {}: permission denied", p.display())
            }
            CallError::Transport(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for CallError {}

/// A connection to wgd; one request at a time.
pub struct Client {
    path: PathBuf,
    stream: UnixStream,
}

impl Client {
    pub fn connect(path: &Path) -> Result<Client, CallError> {
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                CallError::NotRunning(path.to_path_buf())
            }
            io::ErrorKind::PermissionDenied => CallError::PermissionDenied(path.to_path_buf()),
            _ => CallError::Transport(format!("cannot reach wgd at {}: {e}", path.display())),
        })?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| CallError::Transport(e.to_string()))?;
        Ok(Client {
            path: path.to_path_buf(),
            stream,
        })
    }

    pub fn connect_default() -> Result<Client, CallError> {
        Client::connect(&default_socket_path())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one request and waits for its reply.
    pub fn call(&mut self, ifname: &str, request: Request) -> Result<Response, CallError> {
        // SIOCSWG/SIOCGWG buffers may be hundreds of MB: a second more per MiB moved.
        let bytes = match &request {
            Request::SetWg { data } => data.len() as u64,
            Request::GetWg { size } => *size,
            _ => 0,
        };
        let timeout = TIMEOUT + Duration::from_secs(bytes >> 20);
        self.stream
            .set_read_timeout(Some(timeout))
            .and_then(|_| self.stream.set_write_timeout(Some(timeout)))
            .map_err(|e| CallError::Transport(e.to_string()))?;
        let body = RequestBody {
            ifname: ifname.to_string(),
            request,
        };
        let transport =
            |e: FrameError| CallError::Transport(format!("wgd at {}: {e}", self.path.display()));
        let sent = frame::write_frame(&mut self.stream, &body);
        if let Request::SetWg { mut data } = body.request {
            data.zeroize();
        }
        // A daemon that refuses the connection (too many) answers before it reads:
        // a failed write may still have that answer to read.
        let payload = match frame::read_payload(&mut self.stream) {
            Ok(p) => Zeroizing::new(p),
            Err(e) => return Err(transport(sent.err().unwrap_or(e))),
        };
        let reply: ReplyBody = frame::decode(&payload).map_err(transport)?;
        reply.result.map_err(CallError::Errno)
    }

    fn expect_done(&mut self, ifname: &str, request: Request) -> Result<(), CallError> {
        match self.call(ifname, request)? {
            Response::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// SIOCGWG with OpenBSD ifconfig's grow-until-stable size loop.
    pub fn get_wg(&mut self, ifname: &str) -> Result<InterfaceIo, CallError> {
        let mut capacity = 0u64;
        // Bounded: each round the size must grow, and a reply cannot pass MAX_FRAME
        // (room for the ABI's largest buffer, 2^20 peers).
        for _ in 0..64 {
            match self.call(ifname, Request::GetWg { size: capacity })? {
                Response::Wg { size, data } => {
                    if size > capacity {
                        capacity = size;
                        continue;
                    }
                    return codec::decode(&data, Dir::Get).map_err(|e| {
                        CallError::Transport(format!("wgd sent a bad SIOCGWG buffer: {e}"))
                    });
                }
                other => return Err(unexpected(&other)),
            }
        }
        Err(CallError::Transport("SIOCGWG size kept growing".into()))
    }

    /// SIOCSWG.
    pub fn set_wg(&mut self, ifname: &str, wg: &InterfaceIo) -> Result<(), CallError> {
        let data = codec::encode(wg, Dir::Set);
        self.expect_done(
            ifname,
            Request::SetWg {
                data: data.to_vec(),
            },
        )
    }

    pub fn create(&mut self, ifname: &str) -> Result<(), CallError> {
        self.expect_done(ifname, Request::Create)
    }

    pub fn destroy(&mut self, ifname: &str) -> Result<(), CallError> {
        self.expect_done(ifname, Request::Destroy)
    }

    pub fn get_info(&mut self, ifname: &str) -> Result<IfInfo, CallError> {
        match self.call(ifname, Request::GetInfo)? {
            Response::Info(i) => Ok(i),
            other => Err(unexpected(&other)),
        }
    }

    pub fn list_interfaces(&mut self) -> Result<Vec<IfInfo>, CallError> {
        match self.call("", Request::ListInterfaces)? {
            Response::Interfaces(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    pub fn set_flags(&mut self, ifname: &str, flags: u32) -> Result<(), CallError> {
        self.expect_done(ifname, Request::SetFlags { flags })
    }

    pub fn set_mtu(&mut self, ifname: &str, mtu: u32) -> Result<(), CallError> {
        self.expect_done(ifname, Request::SetMtu { mtu })
    }

    pub fn set_rdomain(&mut self, ifname: &str, rdomain: u32) -> Result<(), CallError> {
        self.expect_done(ifname, Request::SetRdomain { rdomain })
    }

    pub fn set_description(&mut self, ifname: &str, description: &str) -> Result<(), CallError> {
        self.expect_done(
            ifname,
            Request::SetDescription {
                description: description.to_string(),
            },
        )
    }

    pub fn add_inet(&mut self, ifname: &str, a: Inet4Addr) -> Result<(), CallError> {
        self.expect_done(ifname, Request::AddInet(a))
    }

    pub fn del_inet(&mut self, ifname: &str, a: Ipv4Addr) -> Result<(), CallError> {
        self.expect_done(ifname, Request::DelInet(a))
    }

    pub fn add_inet6(&mut self, ifname: &str, a: Inet6Addr) -> Result<(), CallError> {
        self.expect_done(ifname, Request::AddInet6(a))
    }

    pub fn del_inet6(&mut self, ifname: &str, a: Ipv6Addr) -> Result<(), CallError> {
        self.expect_done(ifname, Request::DelInet6(a))
    }
}

fn unexpected(r: &Response) -> CallError {
    let kind = match r {
        Response::Done => "Done",
        Response::Wg { .. } => "Wg",
        Response::Info(_) => "Info",
        Response::Interfaces(_) => "Interfaces",
    };
    CallError::Transport(format!("wgd answered with an unexpected {kind} response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_has_no_rust_suffix() {
        // Linux's EEXIST and EPERM, as the wire carries them.
        assert_eq!(strerror(17), "File exists");
        assert_eq!(strerror(1), "Operation not permitted");
    }
}
