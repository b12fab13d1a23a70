//! The data workers: threads that move packets while the control thread keeps the
//! configuration, the timers and the handshakes. They wait on one epoll shared by all
//! of them, in which every interface's tun and UDP sockets are registered
//! edge-triggered, so a packet's arrival wakes one worker, not all; each has its own
//! batch buffers and its own CSPRNG. Any worker may serve any source, and the data
//! planes' reader locks and order tickets (driver/dataplane.rs) keep each source's
//! packets in order while the crypto of several batches runs at once.
//!
//! Only the first worker waits on the epoll all the time. The others park on the
//! crew's bell until a batch comes back full (more is waiting than one worker keeps up
//! with) and park again after [`IDLE`] without work. Sparse traffic, a ping, then wakes
//! one thread per crossing, the one that ran the last, instead of whichever of several
//! sleepers the kernel picks, often on a CPU it has to wake up first.

use super::dataplane::{DataPlane, Turn};
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// The daemon's data plane type.
pub type Plane = DataPlane<Tun, UdpSockets>;
/// Every interface's data plane by unit, as the workers look them up.
pub type Planes = Arc<RwLock<HashMap<u32, Arc<Plane>>>>;

/// How long a called worker waits for work before it parks again: longer than the
/// gaps inside a bulk transfer, short enough that a finished one frees the CPU.
pub const IDLE: Duration = Duration::from_millis(20);

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
    crew: Arc<Crew>,
}

/// Where the workers beyond the first wait while one keeps up.
#[derive(Default)]
pub struct Crew {
    /// Calls not yet answered by a parked worker.
    calls: Mutex<usize>,
    bell: Condvar,
    /// Workers parked now; read without the lock so a worker that keeps up pays
    /// nothing when nobody is parked.
    parked: AtomicUsize,
}

fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Crew {
    /// Calls one parked worker in, if one is parked and not already called.
    pub fn call(&self) {
        if self.parked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut calls = lock(&self.calls);
        if *calls < self.parked.load(Ordering::Relaxed) {
            *calls += 1;
            self.bell.notify_one();
        }
    }

    /// Parks until called or `stop`; returns whether to work (false: stop).
    pub fn park(&self, stop: &AtomicBool) -> bool {
        let mut calls = lock(&self.calls);
        self.parked.fetch_add(1, Ordering::Relaxed);
        while *calls == 0 && !stop.load(Ordering::SeqCst) {
            calls = self.bell.wait(calls).unwrap_or_else(|e| e.into_inner());
        }
        self.parked.fetch_sub(1, Ordering::Relaxed);
        if *calls > 0 {
            *calls -= 1;
        }
        !stop.load(Ordering::SeqCst)
    }

    /// Wakes every parked worker (to see the stop flag).
    fn release_all(&self) {
        let _g = lock(&self.calls);
        self.bell.notify_all();
    }

    /// Workers parked now.
    pub fn parked(&self) -> usize {
        self.parked.load(Ordering::Relaxed)
    }
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
        let crew = Arc::new(Crew::default());
        let mut w = Workers {
            epoll: epoll.clone(),
            stop_event,
            handles: Vec::new(),
            stop: stop.clone(),
            crew: crew.clone(),
        };
        for i in 0..count.max(1) {
            let rng = DaemonRng::new().map_err(|e| io::Error::other(e.to_string()))?;
            let (epoll, planes, log, stop, crew) = (
                epoll.clone(),
                planes.clone(),
                log.clone(),
                stop.clone(),
                crew.clone(),
            );
            let first = i == 0;
            w.handles.push(
                std::thread::Builder::new()
                    .name(format!("wgd-data{i}"))
                    .spawn(move || {
                        let mut bufs = DataBufs::new();
                        let mut rng = rng;
                        let ctx = Ctx {
                            epoll: &epoll,
                            planes: &planes,
                            log: &log,
                            stop: &stop,
                            crew: &crew,
                        };
                        if first {
                            ctx.work(None, &mut bufs, &mut rng);
                        } else {
                            while crew.park(&stop) {
                                ctx.work(Some(IDLE), &mut bufs, &mut rng);
                            }
                        }
                    })?,
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
        self.crew.release_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// What a worker works with.
struct Ctx<'a> {
    epoll: &'a Epoll,
    planes: &'a Planes,
    log: &'a Arc<Logger>,
    stop: &'a AtomicBool,
    crew: &'a Crew,
}

impl Ctx<'_> {
    /// Serves the sources until stopped, or until `idle` passes without work.
    fn work(&self, idle: Option<Duration>, bufs: &mut DataBufs, rng: &mut DaemonRng) {
        let mut events = [EpollEvent::empty(); 64];
        let mut busy: Vec<(u32, usize)> = Vec::new();
        let wait = idle.map_or(EpollTimeout::NONE, |d| {
            EpollTimeout::try_from(d).unwrap_or(EpollTimeout::MAX)
        });
        while !self.stop.load(Ordering::Relaxed) {
            let timeout = if busy.is_empty() {
                wait
            } else {
                EpollTimeout::ZERO
            };
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    self.log
                        .log(Level::Err, &format!("wgd: data worker: epoll: {e}"));
                    return;
                }
            };
            if n == 0 && busy.is_empty() {
                return;
            }
            let mut again = std::mem::take(&mut busy);
            let mut full = false;
            for ev in &events[..n] {
                if ev.data() == STOP {
                    continue;
                }
                let s = source(ev.data());
                again.retain(|x| *x != s);
                let turn = serve(self.planes, s, bufs, rng, self.log);
                full |= turn.full > 0;
                if !turn.drained {
                    busy.push(s);
                }
            }
            for s in again {
                let turn = serve(self.planes, s, bufs, rng, self.log);
                full |= turn.full > 0;
                if !turn.drained {
                    busy.push(s);
                }
            }
            if full {
                self.crew.call();
            }
        }
    }
}

/// One turn of a source.
fn serve(
    planes: &Planes,
    (unit, slot): (u32, usize),
    bufs: &mut DataBufs,
    rng: &mut DaemonRng,
    log: &Arc<Logger>,
) -> Turn {
    let dp = match planes.read() {
        Ok(m) => m.get(&unit).cloned(),
        Err(e) => e.into_inner().get(&unit).cloned(),
    };
    let Some(dp) = dp else {
        return Turn {
            drained: true,
            full: 0,
        };
    };
    let env = &mut Env {
        clock: &SystemClock,
        rng,
        log: &**log,
    };
    match slot {
        0 => dp.tun_turn(bufs, env),
        _ => dp.udp_turn(slot == 2, bufs, env),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Waits (bounded) until `cond` holds.
    fn until(cond: impl Fn() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn a_call_wakes_one_parked_worker_and_stop_wakes_all() {
        let crew = Arc::new(Crew::default());
        let stop = Arc::new(AtomicBool::new(false));
        let woken = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (crew, stop, woken) = (crew.clone(), stop.clone(), woken.clone());
                std::thread::spawn(move || {
                    while crew.park(&stop) {
                        woken.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        assert!(until(|| crew.parked() == 3));
        // Nobody is woken without a call.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(woken.load(Ordering::SeqCst), 0);
        crew.call();
        assert!(until(|| woken.load(Ordering::SeqCst) == 1));
        assert!(until(|| crew.parked() == 3));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(woken.load(Ordering::SeqCst), 1, "one call, one worker");
        stop.store(true, Ordering::SeqCst);
        crew.release_all();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            woken.load(Ordering::SeqCst),
            1,
            "stop does not count as a call"
        );
    }

    #[test]
    fn calls_beyond_the_parked_workers_are_not_kept() {
        let crew = Crew::default();
        // Nobody parked: the call costs one atomic load and is not remembered.
        crew.call();
        assert_eq!(*lock(&crew.calls), 0);
        crew.parked.store(1, Ordering::Relaxed);
        crew.call();
        crew.call();
        assert_eq!(*lock(&crew.calls), 1, "one parked worker, one call");
    }
}
