//! Where wgd's messages go: stderr (journald picks it up under systemd) or syslog
//! through /dev/log. Interface debug messages (OpenBSD's strings, prefixed `wgN: `)
//! are logged only while the interface has `debug` set; the caller decides that.
//!
//! The event loop never writes: it hands each line to a writer thread through a
//! bounded queue ([`QUEUE`] lines) and goes on. A log reader that stops reading
//! (a full pipe on stderr, a stuck syslog) costs lines, never the data path: when the
//! queue is full, lines are dropped and counted, and the writer says how many once
//! it can write again.

use super::options::LogTo;
use crate::proto::Event;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines waiting for the writer thread at most.
pub const QUEUE: usize = 4096;

/// syslog priorities used (facility LOG_DAEMON = 3 << 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Err = 3,
    Warning = 4,
    Info = 6,
    Debug = 7,
}

/// The log(9) level if_wg.c r1.47 gives each message (openbsd-wg-interface spec §5.3's table).
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
    tx: Option<SyncSender<(Level, String)>>,
    dropped: Arc<AtomicU64>,
    writer: Option<JoinHandle<()>>,
}

impl Logger {
    pub fn new(to: LogTo) -> Logger {
        let syslog = match to {
            LogTo::Syslog => UnixDatagram::unbound()
                .and_then(|s| s.connect("/dev/log").map(|_| s))
                .ok(),
            LogTo::Stderr => None,
        };
        let (tx, rx) = sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let d = dropped.clone();
        let writer = std::thread::Builder::new()
            .name("wgd-log".into())
            .spawn(move || write_lines(rx, syslog, &d))
            .ok();
        Logger {
            tx: writer.as_ref().map(|_| tx),
            dropped,
            writer,
        }
    }
}

/// The writer thread: blocking writes, off the event loop.
fn write_lines(rx: Receiver<(Level, String)>, syslog: Option<UnixDatagram>, dropped: &AtomicU64) {
    for (level, msg) in rx {
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            write_line(
                &syslog,
                Level::Warning,
                &format!("wgd: {lost} log messages dropped (log reader too slow)"),
            );
        }
        write_line(&syslog, level, &msg);
    }
}

fn write_line(syslog: &Option<UnixDatagram>, level: Level, msg: &str) {
    if let Some(s) = syslog {
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

impl LogSink for Logger {
    fn log(&self, level: Level, msg: &str) {
        let sent = match &self.tx {
            Some(tx) => match tx.try_send((level, msg.to_string())) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            // No writer thread (it could not be started): write here.
            write_line(&None, level, msg);
        }
    }
}

impl Drop for Logger {
    /// Lets the writer finish the queued lines, for at most a second (a stuck reader
    /// must not keep wgd from exiting).
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let end = Instant::now() + Duration::from_secs(1);
            while !w.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
            if w.is_finished() {
                let _ = w.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::LogEndpoint;

    #[test]
    fn levels_follow_if_wg_c() {
        let ip = "192.0.2.1".parse().unwrap();
        let ep = LogEndpoint(Some(ip));
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
