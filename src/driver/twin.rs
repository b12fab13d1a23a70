//! In-memory twins of the data path's IO seams: a tun ([`MemTun`]), the UDP sockets
//! ([`MemUdp`], with GSO runs cut apart on send and GRO runs formed on receive like
//! the kernel's), a simulated clock ([`SimClock`]) and a log that records
//! ([`Recorder`]). The daemon's logic runs on them without root, devices or sockets.

use super::clock::Clock;
use super::log::{Level, LogSink};
use super::tun::{TunDevice, TunMode};
use super::udp::{RecvMeta, TxMsg, UdpEndpoint};
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// A value several threads may borrow, one at a time (RefCell's calls on a Mutex).
#[derive(Default)]
pub struct Shared<T>(Mutex<T>);

impl<T> Shared<T> {
    pub fn new(v: T) -> Shared<T> {
        Shared(Mutex::new(v))
    }
    pub fn borrow(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn borrow_mut(&self) -> MutexGuard<'_, T> {
        self.borrow()
    }
}

/// A copyable setting several threads may read and change (Cell's calls).
#[derive(Default)]
pub struct Knob<T: Copy>(Mutex<T>);

impl<T: Copy> Knob<T> {
    pub fn new(v: T) -> Knob<T> {
        Knob(Mutex::new(v))
    }
    pub fn get(&self) -> T {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn set(&self, v: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = v;
    }
}

/// A tun whose packets the test queues and whose writes it reads back.
#[derive(Default)]
pub struct MemTun {
    pub inbound: Shared<VecDeque<Vec<u8>>>,
    pub written: Shared<Vec<Vec<u8>>>,
    pub mode: Knob<TunMode>,
}

impl TunDevice for MemTun {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let p = self
            .inbound
            .borrow_mut()
            .pop_front()
            .ok_or(io::ErrorKind::WouldBlock)?;
        let n = p.len().min(buf.len());
        buf[..n].copy_from_slice(&p[..n]);
        Ok(n)
    }
    fn write(&self, pkt: &[u8]) -> io::Result<usize> {
        self.written.borrow_mut().push(pkt.to_vec());
        Ok(pkt.len())
    }
    fn mode(&self) -> TunMode {
        self.mode.get()
    }
}

/// One datagram a [`MemUdp`] sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub to: SocketAddr,
    pub src: Option<IpAddr>,
    pub data: Vec<u8>,
}

/// UDP sockets in memory.
pub struct MemUdp {
    pub addr: SocketAddr,
    pub inbound: Shared<VecDeque<(SocketAddr, Vec<u8>)>>,
    pub sent: Shared<Vec<Sent>>,
    /// Sends with a source address fail (the address went away).
    pub refuse_src: Knob<bool>,
    /// What a refused source address fails with (EADDRNOTAVAIL unless set).
    pub src_errno: Knob<i32>,
    /// Every send fails, as if for its source address.
    pub refuse_all: Knob<bool>,
    /// Every send fails for a reason that is not the source address (a firewall's
    /// EPERM; no route, ENETUNREACH, is also what Linux says for a removed source).
    pub fail_other: Knob<bool>,
    /// Sends attempted (a GSO run counts once).
    pub attempts: Knob<u32>,
    /// Most datagrams per message it accepts (1: no GSO).
    pub gso: Knob<usize>,
    /// Consecutive equal-sized datagrams from one source arrive as one run.
    pub gro: Knob<bool>,
    /// Datagrams per message sent, in order.
    pub runs: Shared<Vec<usize>>,
    /// send_batch calls.
    pub batches: Knob<u32>,
}

impl MemUdp {
    pub fn new(addr: SocketAddr) -> MemUdp {
        MemUdp {
            addr,
            inbound: Shared::default(),
            sent: Shared::default(),
            refuse_src: Knob::new(false),
            src_errno: Knob::new(libc::EADDRNOTAVAIL),
            refuse_all: Knob::new(false),
            fail_other: Knob::new(false),
            attempts: Knob::new(0),
            gso: Knob::new(1),
            gro: Knob::new(false),
            runs: Shared::default(),
            batches: Knob::new(0),
        }
    }
}

impl UdpEndpoint for MemUdp {
    fn recv_batch(
        &self,
        v6: bool,
        arena: &mut [u8],
        slot: usize,
        metas: &mut [RecvMeta],
    ) -> io::Result<(usize, bool)> {
        let mut q = self.inbound.borrow_mut();
        let mut n = 0;
        while n < metas.len() && (n + 1) * slot <= arena.len() {
            let Some(i) = q.iter().position(|(from, _)| from.is_ipv6() == v6) else {
                break;
            };
            let (from, d) = q.remove(i).unwrap();
            let base = n * slot;
            arena[base..base + d.len()].copy_from_slice(&d);
            let (seg, mut len) = (d.len(), d.len());
            let mut segment = 0;
            while self.gro.get() && seg > 0 && len % seg == 0 {
                match q.get(i) {
                    Some((f, next))
                        if *f == from && next.len() <= seg && len + next.len() <= slot =>
                    {
                        let (_, next) = q.remove(i).unwrap();
                        arena[base + len..base + len + next.len()].copy_from_slice(&next);
                        len += next.len();
                        segment = seg;
                    }
                    _ => break,
                }
            }
            metas[n] = RecvMeta {
                len,
                from,
                local: Some(self.addr.ip()),
                segment,
            };
            n += 1;
        }
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let empty = !q.iter().any(|(from, _)| from.is_ipv6() == v6);
        Ok((n, empty))
    }

    fn send_batch(&self, arena: &[u8], msgs: &mut [TxMsg]) {
        self.batches.set(self.batches.get() + 1);
        for m in msgs {
            self.attempts.set(self.attempts.get() + 1);
            m.err = if self.refuse_all.get() {
                libc::EADDRNOTAVAIL
            } else if m.src.is_some() && self.refuse_src.get() {
                self.src_errno.get()
            } else if self.fail_other.get() {
                libc::EPERM
            } else if m.datagrams() > self.gso.get() {
                libc::EINVAL
            } else {
                0
            };
            if m.err != 0 {
                continue;
            }
            let data = &arena[m.off..m.off + m.len];
            let seg = if m.segment == 0 { m.len } else { m.segment };
            self.runs.borrow_mut().push(m.datagrams());
            for d in data.chunks(seg.max(1)) {
                self.sent.borrow_mut().push(Sent {
                    to: m.to,
                    src: m.src,
                    data: d.to_vec(),
                });
            }
        }
    }

    fn max_segments(&self) -> usize {
        self.gso.get()
    }

    fn take_notices(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A clock the test moves.
pub struct SimClock {
    pub now: Knob<Instant>,
    pub wall: Knob<SystemTime>,
}

impl Clock for SimClock {
    fn now(&self) -> Instant {
        self.now.get()
    }
    fn wall(&self) -> SystemTime {
        self.wall.get()
    }
}

impl SimClock {
    /// Starts at `origin` (monotonic) and a fixed wall time in 2027.
    pub fn new(origin: Instant) -> SimClock {
        SimClock {
            now: Knob::new(origin),
            wall: Knob::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        }
    }

    pub fn advance(&self, d: Duration) {
        self.now.set(self.now.get() + d);
        self.wall.set(self.wall.get() + d);
    }
}

/// A log that keeps what it is given.
#[derive(Default)]
pub struct Recorder(pub Shared<Vec<String>>);

impl LogSink for Recorder {
    fn log(&self, _level: Level, msg: &str) {
        self.0.borrow_mut().push(msg.to_string());
    }
}

impl Recorder {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.borrow_mut())
    }
}
