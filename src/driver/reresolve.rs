//! Endpoint names that re-resolve (wg.4, `WG_PEER_HAS_HOSTNAME`): the host names
//! peers' endpoints were given by, kept per interface as driver state (the protocol
//! engine knows only addresses), and the resolver thread that looks them up again
//! off the event loop.
//!
//! A named peer whose last handshake is older than the interval (or that never had
//! one) is queued for resolution at most once per interval. The thread takes
//! queries from a bounded queue (a full queue drops the query; it is asked again one
//! interval later), answers through a channel and wakes the mio loop with a
//! `Waker`. getaddrinfo never runs on the event loop's thread.

use crate::proto::PeerId;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default interval: a peer that keeps its session re-keys every
/// REKEY_AFTER_TIME (120 s), so 135 s without a handshake (the figure of
/// wireguard-tools' reresolve-dns script) means it stopped answering or is idle.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(135);
/// Queries waiting for the resolver thread at most.
pub const QUEUE_LEN: usize = 64;

/// One peer's endpoint name: the host and the port it was given with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub host: String,
    pub port: u16,
    /// When the peer may be queued again (set when queued).
    pub next_try: Option<Instant>,
    /// A query is out for it.
    pub in_flight: bool,
}

/// The endpoint names of one interface's peers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointNames {
    names: HashMap<PeerId, Named>,
}

impl EndpointNames {
    /// Sets or (with `None`) forgets a peer's name, as an SIOCSWG endpoint does.
    pub fn set(&mut self, peer: PeerId, host: Option<&str>, port: u16) {
        match host {
            Some(h) => {
                self.names.insert(
                    peer,
                    Named {
                        host: h.to_string(),
                        port,
                        next_try: None,
                        in_flight: false,
                    },
                );
            }
            None => {
                self.names.remove(&peer);
            }
        }
    }

    pub fn remove(&mut self, peer: PeerId) {
        self.names.remove(&peer);
    }

    pub fn clear(&mut self) {
        self.names.clear();
    }

    pub fn get(&self, peer: PeerId) -> Option<&Named> {
        self.names.get(&peer)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The peers due for a query at `now`: stale (`stale(peer)` says whether the
    /// peer has had no handshake for an interval; `None` = the peer is gone, and
    /// its name is dropped), not in flight, and not tried within the interval.
    /// Each returned peer is marked in flight with its next try an interval on.
    pub fn due(
        &mut self,
        now: Instant,
        interval: Duration,
        mut stale: impl FnMut(PeerId) -> Option<bool>,
    ) -> Vec<(PeerId, String, u16)> {
        let mut out = Vec::new();
        self.names.retain(|&id, n| {
            let Some(is_stale) = stale(id) else {
                return false;
            };
            if n.next_try.is_none() {
                // Named just now: its first check is one interval on.
                n.next_try = Some(now + interval);
            } else if is_stale && !n.in_flight && n.next_try.is_some_and(|t| now >= t) {
                n.in_flight = true;
                n.next_try = Some(now + interval);
                out.push((id, n.host.clone(), n.port));
            }
            true
        });
        out
    }

    /// A query came back (or was dropped): the peer may be queued again.
    pub fn done(&mut self, peer: PeerId, host: &str) {
        if let Some(n) = self.names.get_mut(&peer) {
            if n.host == host {
                n.in_flight = false;
            }
        }
    }
}

/// Where the current endpoint should move given the answers: `None` when it is one
/// of them (a name with several addresses does not flap), else the first answer.
pub fn choose(current: Option<SocketAddr>, answers: &[SocketAddr]) -> Option<SocketAddr> {
    if current.is_some_and(|c| answers.contains(&c)) {
        return None;
    }
    answers.first().copied()
}

/// The addresses a hosts(5) text gives `host`, in file order (names and aliases
/// match case-insensitively; `#` starts a comment).
pub fn hosts_lookup(text: &str, host: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(addr) = words.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
            continue;
        };
        if words.any(|w| w.eq_ignore_ascii_case(host)) {
            out.push(addr);
        }
    }
    out
}

/// A query for the thread.
pub struct Query {
    pub unit: u32,
    pub peer: PeerId,
    pub host: String,
    pub port: u16,
}

/// The thread's answer: the addresses, or the resolver's error text.
pub struct Answer {
    pub unit: u32,
    pub peer: PeerId,
    pub host: String,
    pub result: Result<Vec<SocketAddr>, String>,
}

/// Looks `host` up: in the `--hosts` file first when there is one (read anew for
/// each query), else with getaddrinfo.
pub fn lookup(hosts: Option<&Path>, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Some(path) = hosts {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("hosts file {}: {e}", path.display()))?;
        let found = hosts_lookup(&text, host);
        if !found.is_empty() {
            return Ok(found
                .into_iter()
                .map(|a| SocketAddr::new(a, port))
                .collect());
        }
    }
    let answers: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    if answers.is_empty() {
        return Err("no address".into());
    }
    Ok(answers)
}

/// The resolver thread's handle on the loop's side.
pub struct Resolver {
    queries: SyncSender<Query>,
    answers: Receiver<Answer>,
}

impl Resolver {
    /// Starts the thread; it wakes `waker` after each answer and ends when the
    /// `Resolver` is dropped.
    pub fn start(hosts: Option<PathBuf>, waker: Arc<mio::Waker>) -> std::io::Result<Resolver> {
        let (qtx, qrx) = mpsc::sync_channel::<Query>(QUEUE_LEN);
        let (atx, arx) = mpsc::channel::<Answer>();
        std::thread::Builder::new()
            .name("wgd-resolver".into())
            .spawn(move || {
                while let Ok(q) = qrx.recv() {
                    let result = lookup(hosts.as_deref(), &q.host, q.port);
                    let a = Answer {
                        unit: q.unit,
                        peer: q.peer,
                        host: q.host,
                        result,
                    };
                    if atx.send(a).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })?;
        Ok(Resolver {
            queries: qtx,
            answers: arx,
        })
    }

    /// Queues a query without blocking; `false` when the queue is full (or the
    /// thread is gone), and the query is dropped.
    pub fn ask(&self, q: Query) -> bool {
        match self.queries.try_send(q) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// The answers that have come back.
    pub fn answers(&self) -> Vec<Answer> {
        self.answers.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_lines() {
        let text = "# comment\n127.0.0.1 localhost\n10.0.0.2 peer.test alias # x\n\
                    bogus peer.test\n::1 PEER.test\n";
        assert_eq!(
            hosts_lookup(text, "peer.test"),
            vec![
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(
            hosts_lookup(text, "alias"),
            vec!["10.0.0.2".parse::<IpAddr>().unwrap()]
        );
        assert!(hosts_lookup(text, "x").is_empty());
    }

    #[test]
    fn choose_keeps_a_current_answer() {
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1".parse().unwrap();
        assert_eq!(choose(Some(a), &[b, a]), None);
        assert_eq!(choose(Some(a), &[b]), Some(b));
        assert_eq!(choose(None, &[b, a]), Some(b));
        assert_eq!(choose(Some(a), &[]), None);
    }

    #[test]
    fn due_waits_an_interval_and_once_in_flight() {
        let mut n = EndpointNames::default();
        let t0 = Instant::now();
        let i = Duration::from_secs(10);
        n.set(1, Some("a.test"), 5);
        n.set(2, Some("b.test"), 6);
        // Named just now: not before an interval.
        assert!(n.due(t0, i, |_| Some(true)).is_empty());
        assert!(n.due(t0 + i / 2, i, |_| Some(true)).is_empty());
        // Peer 2 had a handshake lately; peer 1 did not.
        let got = n.due(t0 + i, i, |id| Some(id == 1));
        assert_eq!(got, vec![(1, "a.test".to_string(), 5)]);
        // In flight: not again, even an interval later.
        assert!(n.due(t0 + 3 * i, i, |id| Some(id == 1)).is_empty());
        n.done(1, "a.test");
        assert_eq!(n.due(t0 + 3 * i, i, |id| Some(id == 1)).len(), 1);
        // A peer that is gone loses its name; a numeric endpoint forgets it.
        n.due(t0, i, |id| (id != 2).then_some(false));
        assert!(n.get(2).is_none());
        n.set(1, None, 0);
        assert!(n.is_empty());
    }

    #[test]
    fn lookup_prefers_the_hosts_file() {
        let dir = std::env::temp_dir().join(format!("wgd-hosts-{}", std::process::id()));
        std::fs::write(&dir, "192.0.2.7 peer.test\n").unwrap();
        assert_eq!(
            lookup(Some(&dir), "peer.test", 9).unwrap(),
            vec!["192.0.2.7:9".parse::<SocketAddr>().unwrap()]
        );
        // Not in the file: the system resolver answers (a literal needs no network).
        assert_eq!(
            lookup(Some(&dir), "127.0.0.1", 9).unwrap(),
            vec!["127.0.0.1:9".parse::<SocketAddr>().unwrap()]
        );
        std::fs::remove_file(&dir).unwrap();
        assert!(lookup(Some(&dir), "peer.test", 9)
            .unwrap_err()
            .contains("hosts file"));
    }
}
