//! Where wgd's messages go: stderr (journald picks it up under systemd) or syslog
//! through /dev/log. Interface debug messages (OpenBSD's strings, prefixed `wgN: `)
//! are logged only while the interface has `debug` set; the caller decides that.

use super::options::LogTo;
use crate::proto::Event;
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

/// The log(9) level if_wg.c r1.47 gives each message (spec §5.3's table).
pub fn event_level(ev: &Event) -> Level {
    use Event::*;
    match ev {
        NotIp { .. } | UnallowedSource { .. } => Level::Warning,
        SendingCookie
        | Ratelimited { .. }
        | UnknownCookieIndex { .. }
        | CookieDecryptFailed { .. }
        | ReceivingCookie { .. }
        | SendingKeepalive { .. }
        | ReceivingKeepalive { .. }
        | DroppingHandshakePacket { .. }
        | NoEndpoint { .. } => Level::Debug,
        PeerCreated(_)
        | PeerDestroyed(_)
        | HandshakeRetry { .. }
        | HandshakeGaveUp { .. }
        | StoppedHearing { .. }
        | ZeroingKeys { .. }
        | SendingInitiation { .. }
        | SendingResponse { .. }
        | InvalidInitiationMac { .. }
        | InvalidInitiation { .. }
        | ReceivingInitiation { .. }
        | InvalidResponseMac { .. }
        | UnknownResponse { .. }
        | InvalidResponse { .. }
        | ReceivingResponse { .. } => Level::Info,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Ep;

    #[test]
    fn levels_follow_if_wg_c() {
        let ip = "192.0.2.1".parse().unwrap();
        let ep = Ep(Some(ip));
        let cases = [
            (Event::PeerCreated(1), Level::Info),
            (Event::SendingInitiation { peer: 1, ep }, Level::Info),
            (Event::InvalidResponse { from: ip }, Level::Info),
            (Event::SendingCookie, Level::Debug),
            (Event::Ratelimited { from: ip }, Level::Debug),
            (Event::SendingKeepalive { peer: 1, ep }, Level::Debug),
            (Event::NoEndpoint { peer: 1 }, Level::Debug),
            (Event::NotIp { peer: 1, ep }, Level::Warning),
            (Event::UnallowedSource { peer: 1, ep }, Level::Warning),
        ];
        for (ev, want) in cases {
            assert_eq!(event_level(&ev), want, "{ev}");
        }
    }
}
