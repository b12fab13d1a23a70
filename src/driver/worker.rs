//! The data workers: threads that move packets while the control thread keeps the
//! configuration, the timers and the handshakes. They wait on one epoll shared by all
//! of them, in which every interface's tun and UDP sockets are registered
//! edge-triggered, so a packet's arrival wakes one worker, not all; each has its own
//! batch buffers and its own CSPRNG. Any worker may serve any source, and the data
//! planes' reader locks and order tickets (driver/dataplane.rs) keep each source's
//! packets in order while the crypto of several batches runs at once.

use super::dataplane::DataPlane;
use super::link::{DataBufs, Env, SystemClock};
use super::log::{Level, LogSink, Logger};
use super::rng::DaemonRng;
use super::tun::Tun;
use super::udp::UdpSockets;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

/// The daemon's data plane type.
pub type Plane = DataPlane<Tun, UdpSockets>;
/// Every interface's data plane by unit, as the workers look them up.
pub type Planes = Arc<RwLock<HashMap<u32, Arc<Plane>>>>;

/// The stop event's key (no source has it: units are below 2^32).
const STOP: u64 = u64::MAX;

/// The key of source `slot` (0 the tun, 1 and 2 the IPv4 and IPv6 sockets) of `unit`.
pub fn data_token(unit: u32, slot: usize) -> u64 {
    u64::from(unit) * 4 + slot as u64
}

fn source(key: u64) -> (u32, usize) {
    ((key / 4) as u32, (key % 4) as usize)
}

/// The worker threads.
pub struct Workers {
    epoll: Arc<Epoll>,
    stop_event: EventFd,
    handles: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

/// The default count: one per CPU.
pub fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Workers {
    pub fn start(count: usize, planes: &Planes, log: &Arc<Logger>) -> io::Result<Workers> {
        let epoll = Arc::new(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?);
        let stop_event = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        // Level-triggered: once written it stays readable, so every worker sees it.
        epoll.add(
            stop_event.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, STOP),
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut w = Workers {
            epoll: epoll.clone(),
            stop_event,
            handles: Vec::new(),
            stop: stop.clone(),
        };
        for i in 0..count.max(1) {
            let rng = DaemonRng::new().map_err(|e| io::Error::other(e.to_string()))?;
            let (epoll, planes, log, stop) =
                (epoll.clone(), planes.clone(), log.clone(), stop.clone());
            w.handles.push(
                std::thread::Builder::new()
                    .name(format!("wgd-data{i}"))
                    .spawn(move || run(&epoll, &planes, &log, rng, &stop))?,
            );
        }
        Ok(w)
    }

    pub fn count(&self) -> usize {
        self.handles.len()
    }

    /// Has the workers wait on `fd` as source `key` (edge-triggered: a worker that
    /// leaves it readable serves it again without waiting).
    pub fn register(&self, fd: impl AsFd, key: u64) -> io::Result<()> {
        let ev = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, key);
        Ok(self.epoll.add(fd, ev)?)
    }

    pub fn deregister(&self, fd: impl AsFd) {
        let _ = self.epoll.delete(fd);
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.stop_event.write(1);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn run(epoll: &Epoll, planes: &Planes, log: &Arc<Logger>, mut rng: DaemonRng, stop: &AtomicBool) {
    let mut bufs = DataBufs::new();
    let mut events = [EpollEvent::empty(); 64];
    let mut busy: Vec<(u32, usize)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let timeout = if busy.is_empty() {
            EpollTimeout::NONE
        } else {
            EpollTimeout::ZERO
        };
        let n = match epoll.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                log.log(Level::Err, &format!("wgd: data worker: epoll: {e}"));
                return;
            }
        };
        let mut again = std::mem::take(&mut busy);
        for ev in &events[..n] {
            if ev.data() == STOP {
                continue;
            }
            let s = source(ev.data());
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
