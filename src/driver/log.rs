//! Where wgd's messages go: stderr (journald picks it up under systemd) or syslog
//! through /dev/log. Interface debug messages (OpenBSD's strings, prefixed `wgN: `)
//! are logged only while the interface has `debug` set; the caller decides that.

use super::options::LogTo;
use std::io::Write;
use std::os::unix::net::UnixDatagram;

/// syslog priorities used (facility LOG_DAEMON = 3 << 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Err = 3,
    Warning = 4,
    Info = 6,
    Debug = 7,
}

/// Where a message goes; the daemon's [`Logger`], or a recorder in tests.
pub trait LogSink {
    fn log(&self, level: Level, msg: &str);
}

pub struct Logger {
    to: LogTo,
    syslog: Option<UnixDatagram>,
}

impl Logger {
    pub fn new(to: LogTo) -> Logger {
        let syslog = match to {
            LogTo::Syslog => UnixDatagram::unbound()
                .and_then(|s| s.connect("/dev/log").map(|_| s))
                .ok(),
            LogTo::Stderr => None,
        };
        Logger { to, syslog }
    }
}

impl LogSink for Logger {
    fn log(&self, level: Level, msg: &str) {
        if let (LogTo::Syslog, Some(s)) = (self.to, &self.syslog) {
            let line = format!(
                "<{}>wgd[{}]: {}",
                (3 << 3) | level as u8,
                std::process::id(),
                msg
            );
            if s.send(line.as_bytes()).is_ok() {
                return;
            }
        }
        let _ = writeln!(std::io::stderr(), "{msg}");
    }
}
