//! The data workers: threads that move packets while the control thread keeps the
//! configuration, the timers and the handshakes. Each worker has its own epoll, in
//! which every interface's tun and UDP sockets are registered, its own batch
//! buffers and its own CSPRNG; any worker may serve any source, and the data
//! planes' reader locks and order tickets (driver/dataplane.rs) keep each source's
//! packets in order while the crypto of several batches runs at once.

use super::dataplane::DataPlane;
use super::link::{DataBufs, Env, SystemClock};
use super::log::{Level, LogSink, Logger};
use super::rng::DaemonRng;
use super::tun::Tun;
use super::udp::UdpSockets;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// The daemon's data plane type.
pub type Plane = DataPlane<Tun, UdpSockets>;
/// Every interface's data plane by unit, as the workers look them up.
pub type Planes = Arc<RwLock<HashMap<u32, Arc<Plane>>>>;

const STOP: Token = Token(usize::MAX);

/// The source `slot` (0 the tun, 1 and 2 the IPv4 and IPv6 sockets) of `unit`.
pub fn data_token(unit: u32, slot: usize) -> Token {
    Token(unit as usize * 4 + slot)
}

fn source(t: Token) -> (u32, usize) {
    ((t.0 / 4) as u32, t.0 % 4)
}

/// The worker threads.
pub struct Workers {
    registries: Vec<Registry>,
    wakers: Vec<Waker>,
    handles: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

/// The default count: one per CPU.
pub fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Workers {
    pub fn start(count: usize, planes: &Planes, log: &Arc<Logger>) -> io::Result<Workers> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut w = Workers {
            registries: Vec::new(),
            wakers: Vec::new(),
            handles: Vec::new(),
            stop: stop.clone(),
        };
        for i in 0..count.max(1) {
            let poll = Poll::new()?;
            w.registries.push(poll.registry().try_clone()?);
            w.wakers.push(Waker::new(poll.registry(), STOP)?);
            let rng = DaemonRng::new().map_err(|e| io::Error::other(e.to_string()))?;
            let (planes, log, stop) = (planes.clone(), log.clone(), stop.clone());
            w.handles.push(
                std::thread::Builder::new()
                    .name(format!("wgd-data{i}"))
                    .spawn(move || run(poll, &planes, &log, rng, &stop))?,
            );
        }
        Ok(w)
    }

    pub fn count(&self) -> usize {
        self.handles.len()
    }

    /// Has every worker wait on `fd` as source `token` (edge-triggered: a worker
    /// that leaves it readable serves it again without waiting).
    pub fn register(&self, fd: RawFd, token: Token) -> io::Result<()> {
        for r in &self.registries {
            r.register(&mut SourceFd(&fd), token, Interest::READABLE)?;
        }
        Ok(())
    }

    pub fn deregister(&self, fd: RawFd) {
        for r in &self.registries {
            let _ = r.deregister(&mut SourceFd(&fd));
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for w in &self.wakers {
            let _ = w.wake();
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn run(mut poll: Poll, planes: &Planes, log: &Arc<Logger>, mut rng: DaemonRng, stop: &AtomicBool) {
    let mut bufs = DataBufs::new();
    let mut events = Events::with_capacity(256);
    let mut busy: Vec<(u32, usize)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let timeout = (!busy.is_empty()).then_some(Duration::ZERO);
        match poll.poll(&mut events, timeout) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log.log(Level::Err, &format!("wgd: data worker: poll: {e}"));
                return;
            }
            Ok(()) => {}
        }
        let mut again = std::mem::take(&mut busy);
        for ev in events.iter() {
            if ev.token() == STOP {
                continue;
            }
            let s = source(ev.token());
            again.retain(|x| *x != s);
            if !serve(planes, s, &mut bufs, &mut rng, log) {
                busy.push(s);
            }
        }
        for s in again {
            if !serve(planes, s, &mut bufs, &mut rng, log) {
                busy.push(s);
            }
        }
    }
}

/// One turn of a source; false if it was left readable.
fn serve(
    planes: &Planes,
    (unit, slot): (u32, usize),
    bufs: &mut DataBufs,
    rng: &mut DaemonRng,
    log: &Arc<Logger>,
) -> bool {
    let dp = match planes.read() {
        Ok(m) => m.get(&unit).cloned(),
        Err(e) => e.into_inner().get(&unit).cloned(),
    };
    let Some(dp) = dp else { return true };
    let env = &mut Env {
        clock: &SystemClock,
        rng,
        log: &**log,
    };
    match slot {
        0 => dp.tun_readable(bufs, env),
        _ => dp.udp_readable(slot == 2, bufs, env),
    }
}
