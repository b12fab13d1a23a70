//! The daemon: one mio loop over the control socket, its connections, a signalfd,
//! and each interface's tun device and UDP sockets; the protocol engines' timers set
//! the poll timeout. Requests are decoded to typed values before anything changes.

use super::admit;
use super::apply::{self, SocketConf};
use super::control::{self, After, Conn, Exec};
use super::dataplane::DataPlane;
use super::link::{Env, Link, SystemClock, BUF_SIZE};
use super::log::{Level, LogSink, Logger};
use super::netlink::{is_link_local, LinkMonitor, Rtnl};
use super::netns::NetnsManager;
use super::options::Options;
use super::reresolve::{self, Query, Resolver};
use super::rng::DaemonRng;
use super::routes::RouteWatch;
use super::tun::Tun;
use super::uapi::{self, UapiConn, UapiSocket};
use super::udp::UdpSockets;
use super::wgif::{
    bind_in, parse_name, rtnl_in, WgIf, DEFAULT_MTU, IPV6_MIN_MTU, MTU_RANGE, TXQUEUELEN,
};
use super::worker::{data_token, Planes, Workers};
use crate::ioctl::codec::{self, Dir};
use crate::ioctl::frame::RequestBody;
use crate::ioctl::request::{iff, Request, Response};
use crate::proto::{Interface, PeerId};
use mio::net::{UnixListener, UnixStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::{umask, Mode};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use zeroize::{Zeroize, Zeroizing};

macro_rules! system_env {
    ($log:expr, $rng:expr) => {
        &mut Env {
            clock: &SystemClock,
            rng: $rng,
            log: $log,
        }
    };
}

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const LINKS: Token = Token(2);
/// The wake-up from the resolver thread (reresolve.rs) and the data workers
/// (handshake messages queued, a timer due earlier).
const WAKE: Token = Token(3);
/// How often the named peers are looked at for re-resolution (reresolve.rs).
const RERESOLVE_CHECK: Duration = Duration::from_secs(1);
/// How often the interfaces' UAPI socket paths are checked (wg-quick down removes
/// the path to end the interface).
const UAPI_CHECK: Duration = Duration::from_secs(1);
const CONN_BASE: usize = 16;
const IF_BASE: usize = 1 << 30;
/// An interface's route notifications (`if_token(unit, ROUTES)`).
const ROUTES: usize = 2;

fn if_token(unit: u32, which: usize) -> Token {
    Token(IF_BASE + unit as usize * 4 + which)
}

pub struct Daemon {
    opts: Options,
    log: Arc<Logger>,
    poll: Poll,
    listener: UnixListener,
    signals: SignalFd,
    conns: HashMap<usize, Conn>,
    /// Connections held per uid (control.rs's caps).
    uid_conns: HashMap<u32, usize>,
    /// Connections ready or with work left after their turn's budget, in order.
    backlog: Vec<usize>,
    /// When connections with an unfinished frame are next checked for FRAME_TIMEOUT.
    next_sweep: Option<Instant>,
    /// Large SIOCSWGs being applied in slices.
    jobs: Vec<SetWgJob>,
    /// Large SIOCGWG answers being built in slices.
    get_jobs: Vec<GetWgJob>,
    next_conn: usize,
    ifs: BTreeMap<u32, WgIf>,
    namespaces: NetnsManager,
    created_ns: HashSet<u32>,
    /// OpenBSD's global peer counter: ids are never reused, across interfaces.
    next_peer_id: PeerId,
    rtnl: Rtnl,
    /// Room for one datagram the engine queued.
    scratch: Vec<u8>,
    rng: DaemonRng,
    /// The interfaces' data planes as the workers find them.
    planes: Planes,
    workers: Workers,
    /// Wakes this loop from the workers.
    wake: Arc<Waker>,
    /// An interface's handshake queue was left with messages after its turn.
    handshakes_left: bool,
    /// Each interface's configuration-protocol socket (uapi.rs).
    uapi_socks: BTreeMap<u32, UapiSocket>,
    /// Their clients, in the token space of `conns`.
    uapi_conns: HashMap<usize, UapiConn>,
    /// When the UAPI socket paths are next checked.
    next_uapi_check: Option<Instant>,
    /// Link notifications of the daemon's namespace: `ip link set up` on a wgN.
    links: Option<LinkMonitor>,
    /// The resolver thread of endpoint names (reresolve.rs).
    resolver: Resolver,
    /// When the named peers are next looked at.
    next_reresolve: Option<Instant>,
    stop: bool,
}

/// Checks the environment, binds the socket and serves until SIGTERM, SIGINT or
/// SIGHUP (the controlling terminal went away): each ends it cleanly.
pub fn run(opts: Options) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("must be run as root (it creates tun devices and network namespaces)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun is missing: load the tun module (modprobe tun)".into());
    }
    let path = &opts.socket;
    if let Ok(md) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !md.file_type().is_socket() {
            return Err(format!(
                "{} exists and is not a socket; not replacing it",
                path.display()
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!("another wgd is running on {}", path.display()));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGHUP);
    mask.thread_block()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;
    // No other wgd runs here: names left by a killed one are ours to take over, before
    // clients can reach us.
    let namespaces = NetnsManager::new(&opts.netns_prefix);
    let adopted = namespaces.adopt_leftovers();
    // Every local user may ask, as with ifconfig on OpenBSD; SO_PEERCRED decides. The
    // mode (0666) comes from the umask at bind, not a chmod of the path afterwards
    // (which would follow a symlink put there meanwhile).
    let old_mask = umask(Mode::from_bits_truncate(0o111));
    let bound = UnixListener::bind(path);
    umask(old_mask);
    let mut listener = bound.map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
    let poll = Poll::new().map_err(|e| e.to_string())?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| e.to_string())?;
    poll.registry()
        .register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )
        .map_err(|e| e.to_string())?;
    // One waker per poll (mio): the resolver thread's answers and the data workers'
    // queued handshakes and earlier timers all wake the loop through it.
    let wake = Arc::new(Waker::new(poll.registry(), WAKE).map_err(|e| format!("waker: {e}"))?);
    let resolver = Resolver::start(opts.hosts.clone(), wake.clone())
        .map_err(|e| format!("resolver thread: {e}"))?;
    let log = Arc::new(Logger::new(opts.log));
    let planes = Planes::default();
    let count = match opts.workers {
        0 => super::worker::default_count(),
        n => n,
    };
    let workers =
        Workers::start(count, &planes, &log).map_err(|e| format!("data worker threads: {e}"))?;
    let mut d = Daemon {
        resolver,
        planes,
        workers,
        wake,
        handshakes_left: false,
        next_reresolve: None,
        log,
        namespaces,
        opts,
        poll,
        listener,
        signals,
        conns: HashMap::new(),
        uid_conns: HashMap::new(),
        backlog: Vec::new(),
        next_sweep: None,
        jobs: Vec::new(),
        get_jobs: Vec::new(),
        next_conn: CONN_BASE,
        ifs: BTreeMap::new(),
        created_ns: HashSet::new(),
        next_peer_id: 0,
        rtnl: Rtnl::new().map_err(|e| format!("rtnetlink: {e}"))?,
        scratch: vec![0; BUF_SIZE],
        rng: DaemonRng::new().map_err(|e| format!("no randomness from the OS: {e}"))?,
        uapi_socks: BTreeMap::new(),
        uapi_conns: HashMap::new(),
        next_uapi_check: None,
        links: None,
        stop: false,
    };
    for n in adopted {
        // Left by a wgd that was killed: ours now, removed at exit if still empty.
        d.created_ns.insert(n);
        if d.opts.verbose {
            d.log.log(
                Level::Info,
                &format!("wgd: adopted {}", d.namespaces.name(n)),
            );
        }
    }
    match LinkMonitor::new() {
        Ok(m) => {
            let r = d.poll.registry().register(
                &mut SourceFd(&m.as_raw_fd()),
                LINKS,
                Interest::READABLE,
            );
            match r {
                Ok(()) => d.links = Some(m),
                Err(e) => d
                    .log
                    .log(Level::Err, &format!("wgd: link notifications: {e}")),
            }
        }
        Err(e) => d
            .log
            .log(Level::Err, &format!("wgd: link notifications: {e}")),
    }
    if d.opts.verbose {
        d.log.log(
            Level::Info,
            &format!(
                "wgd: listening on {}, offloads: {}, data threads: {}",
                d.opts.socket.display(),
                d.opts.offloads.describe(),
                d.workers.count()
            ),
        );
    }
    let r = d.serve();
    d.shutdown();
    r.map_err(|e| e.to_string())
}

impl Daemon {
    fn serve(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        while !self.stop {
            let timeout = self.poll_timeout();
            match self.poll.poll(&mut events, timeout) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => r?,
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    SIGNALS => {
                        while let Ok(Some(_)) = self.signals.read_signal() {
                            self.stop = true;
                        }
                    }
                    LINKS => self.links_changed(),
                    // The resolver's answers; the handshakes and timers the workers
                    // woke the loop for are served below.
                    WAKE => self.resolved(),
                    Token(t) if t >= IF_BASE && (t - IF_BASE) % 4 == 3 => {
                        self.uapi_accept(((t - IF_BASE) / 4) as u32)
                    }
                    Token(t) if t >= IF_BASE && (t - IF_BASE) % 4 == ROUTES => {
                        self.routes_changed(((t - IF_BASE) / 4) as u32)
                    }
                    Token(t) => self.conn_event(t),
                }
            }
            self.serve_handshakes();
            self.run_timers();
            self.reresolve();
            self.control_turn();
            self.check_uapi_paths();
        }
        Ok(())
    }

    fn shutdown(&mut self) {
        let units: Vec<u32> = self.ifs.keys().copied().collect();
        for u in units {
            self.destroy(u);
        }
        for n in self.created_ns.clone() {
            if self.namespaces.is_empty(n).unwrap_or(false) {
                let _ = self.namespaces.remove(n);
            }
        }
        let _ = std::fs::remove_file(&self.opts.socket);
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let Some(uid) = control::peer_uid(&stream) else {
                        continue;
                    };
                    if let Err(errno) = control::admit(uid, &self.uid_conns) {
                        control::refuse(stream, errno);
                        continue;
                    }
                    let mut c = Conn::new(stream, uid);
                    if let Some(id) = self.register_conn(&mut c.stream, uid) {
                        self.conns.insert(id, c);
                        // Data that came with the connection raises no new edge.
                        self.conn_event(id);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.log.log(Level::Err, &format!("wgd: accept: {e}"));
                    return;
                }
            }
        }
    }

    /// Registers an admitted connection of either socket kind with the loop and
    /// counts it for its uid; its token, or None if the loop would not take it.
    fn register_conn(&mut self, stream: &mut UnixStream, uid: u32) -> Option<usize> {
        let id = self.conn_id();
        self.poll
            .registry()
            .register(stream, Token(id), Interest::READABLE | Interest::WRITABLE)
            .ok()?;
        *self.uid_conns.entry(uid).or_default() += 1;
        Some(id)
    }

    /// A token for a new connection, of either socket kind.
    fn conn_id(&mut self) -> usize {
        loop {
            let id = self.next_conn;
            self.next_conn = if self.next_conn + 1 >= IF_BASE {
                CONN_BASE
            } else {
                self.next_conn + 1
            };
            if !self.conns.contains_key(&id) && !self.uapi_conns.contains_key(&id) {
                return id;
            }
        }
    }

    /// A connection is ready: a control connection is served in this turn's control
    /// share, in order (`control_turn`); a configuration-protocol one at once (its
    /// own budgets in uapi.rs).
    fn conn_event(&mut self, id: usize) {
        if self.uapi_conns.contains_key(&id) {
            return self.uapi_event(id);
        }
        if !self.backlog.contains(&id) {
            self.backlog.push(id);
        }
    }

    /// One turn of one connection (its own budgets in control.rs).
    fn serve_conn(&mut self, id: usize) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        let now = Instant::now();
        let after = c.serve(now, |privileged, body| self.exec(id, privileged, body));
        match after {
            After::Wait => {}
            After::More => {
                if !self.backlog.contains(&id) {
                    self.backlog.push(id);
                }
            }
            After::Close => {
                self.close_conn(c);
                return;
            }
        }
        if c.has_partial() && self.next_sweep.is_none() {
            self.next_sweep = Some(now + control::FRAME_TIMEOUT);
        }
        self.conns.insert(id, c);
    }

    /// Executes one request; errno values are Linux's.
    fn handle(&mut self, privileged: bool, ifname: &str, req: Request) -> Result<Response, i32> {
        admit::check_request(&req, privileged)?;
        if let Request::ListInterfaces = req {
            let mut all = Vec::new();
            for w in self.ifs.values_mut() {
                all.push(w.info().map_err(|e| super::errno::of(&e))?);
            }
            all.sort_by_key(|i| i.index);
            return Ok(Response::Interfaces(all));
        }
        let unit = parse_name(ifname).ok_or(libc::ENXIO)?;
        if let Request::Create = req {
            return self.create(unit, ifname).map(|_| Response::Done);
        }
        if !self.ifs.contains_key(&unit) {
            return Err(libc::ENXIO);
        }
        admit::check_arguments(&req)?;
        match req {
            Request::Destroy => {
                self.destroy(unit);
                Ok(Response::Done)
            }
            Request::GetInfo => self
                .ifs
                .get_mut(&unit)
                .map(|w| w.info().map(Response::Info))
                .unwrap()
                .map_err(|e| super::errno::of(&e)),
            Request::GetWg { size } => {
                let w = &self.ifs[&unit];
                let bound = w.dp.udp().map(|u| u.local_port());
                let (size, data) =
                    apply::get_wg_reply(&w.dp.link().proto, w.sock, bound, size, privileged);
                Ok(Response::Wg {
                    size,
                    data: data.map(|d| d.to_vec()).unwrap_or_default(),
                })
            }
            Request::SetWg { data } => {
                let rest = self.set_wg_start(unit, data, usize::MAX)?;
                debug_assert!(rest.is_none());
                Ok(Response::Done)
            }
            Request::SetFlags { flags } => self.set_flags(unit, flags).map(|_| Response::Done),
            Request::SetMtu { mtu } => {
                let w = self.ifs.get_mut(&unit).unwrap();
                // Linux drops a link's IPv6 state below 1280 and, raised again, makes it
                // anew with a link-local address at once.
                let ipv6_revived = w.mtu < IPV6_MIN_MTU && mtu >= IPV6_MIN_MTU;
                w.rtnl
                    .set_mtu(w.index, mtu)
                    .map_err(|e| super::errno::of(&e))?;
                if ipv6_revived {
                    w.no_auto_link_local();
                    w.drop_link_local();
                }
                w.mtu = mtu;
                w.dp.set_mtu(mtu as usize);
                Ok(Response::Done)
            }
            Request::SetDescription { description } => {
                self.ifs.get_mut(&unit).unwrap().description = description;
                Ok(Response::Done)
            }
            Request::SetRdomain { rdomain } => {
                self.set_rdomain(unit, rdomain).map(|_| Response::Done)
            }
            Request::AddInet(a) => {
                let w = self.ifs.get_mut(&unit).unwrap();
                let brd = a.broadcast.or_else(|| {
                    (a.prefixlen < 31).then(|| {
                        let host = if a.prefixlen == 0 {
                            u32::MAX
                        } else {
                            u32::MAX >> a.prefixlen
                        };
                        std::net::Ipv4Addr::from(u32::from(a.addr) | host)
                    })
                });
                w.rtnl
                    .add_addr_v4(w.index, a.addr, a.prefixlen, brd)
                    .map_err(|e| super::errno::of(&e))?;
                self.set_up(unit)
            }
            Request::AddInet6(a) => {
                let w = self.ifs.get_mut(&unit).unwrap();
                w.rtnl
                    .add_addr_v6(w.index, a.addr, a.prefixlen)
                    .map_err(|e| super::errno::of(&e))?;
                if !w.v6_order.contains(&a.addr) {
                    w.v6_order.push(a.addr);
                }
                w.ensure_link_local(&mut self.rng)
                    .map_err(|e| super::errno::of(&e))?;
                self.set_up(unit)
            }
            Request::DelInet(a) => {
                let w = self.ifs.get_mut(&unit).unwrap();
                w.rtnl
                    .del_addr(w.index, IpAddr::V4(a))
                    .map_err(|e| super::errno::of(&e))
                    .map(|_| Response::Done)
            }
            Request::DelInet6(a) => {
                let w = self.ifs.get_mut(&unit).unwrap();
                w.rtnl
                    .del_addr(w.index, IpAddr::V6(a))
                    .map_err(|e| super::errno::of(&e))
                    .map(|_| Response::Done)
            }
            Request::Create | Request::ListInterfaces => unreachable!("handled above"),
        }
    }

    /// SIOCSWG's model applied to `unit` (from the ioctl or the UAPI socket).
    /// Applies a whole SIOCSWG model at once (the configuration protocol's `set`).
    fn apply_wg(&mut self, unit: u32, model: &crate::ioctl::model::InterfaceIo) -> Result<(), i32> {
        self.apply_wg_interface(unit, model)?;
        self.apply_wg_peers(unit, &model.peers)
    }

    /// The interface part of a SIOCSWG model (key, port, rtable, -wgpeerall), with
    /// the rebind it may need.
    fn apply_wg_interface(
        &mut self,
        unit: u32,
        model: &crate::ioctl::model::InterfaceIo,
    ) -> Result<(), i32> {
        let w = self.ifs.get_mut(&unit).ok_or(libc::ENXIO)?;
        let (up, namespaces, offloads) = (w.dp.link().up(), &self.namespaces, &self.opts.offloads);
        let mut rebound = None;
        let r = apply::set_wg_interface(
            &mut w.dp.link().proto,
            &mut w.sock,
            &mut w.names,
            model,
            |rtable, port| {
                if !up {
                    return Ok(port);
                }
                let socks = bind_in(namespaces, rtable, port, offloads)?;
                let got = socks.local_port();
                rebound = Some(socks);
                Ok(got)
            },
            system_env!(&self.log, &mut self.rng),
        );
        if rebound.is_some() {
            self.replace_udp(unit, rebound);
            self.release_namespaces();
        }
        if r.is_err() {
            self.after_io(unit);
        }
        r
    }

    /// Peer records of a SIOCSWG model.
    fn apply_wg_peers(
        &mut self,
        unit: u32,
        peers: &[crate::ioctl::model::PeerIo],
    ) -> Result<(), i32> {
        let w = self.ifs.get_mut(&unit).ok_or(libc::ENXIO)?;
        let r = apply::set_wg_peers(
            &mut w.dp.link().proto,
            &mut w.names,
            peers,
            &mut self.next_peer_id,
            system_env!(&self.log, &mut self.rng),
        );
        self.after_io(unit);
        // The records may have named an endpoint: look at the names.
        self.next_reresolve = Some(Instant::now());
        r
    }

    fn set_up(&mut self, unit: u32) -> Result<Response, i32> {
        let flags = self.ifs[&unit].flags() | iff::UP;
        self.set_flags(unit, flags).map(|_| Response::Done)
    }

    fn create(&mut self, unit: u32, name: &str) -> Result<(), i32> {
        if self.ifs.contains_key(&unit) {
            return Err(libc::EEXIST);
        }
        let tun = Tun::open(name, &self.opts.offloads).map_err(|e| super::errno::of(&e))?;
        for n in &tun.notices {
            self.log.log(Level::Warning, &format!("wgd: {n}"));
        }
        let index = self
            .rtnl
            .link_index(name)
            .map_err(|e| super::errno::of(&e))?
            .ok_or(libc::ENXIO)?;
        self.rtnl
            .set_mtu(index, DEFAULT_MTU)
            .map_err(|e| super::errno::of(&e))?;
        // Best effort: the default queue only loses more of a burst.
        let _ = self.rtnl.set_txqlen(index, TXQUEUELEN);
        let rtnl = Rtnl::new().map_err(|e| super::errno::of(&e))?;
        let mut proto = Interface::new(Instant::now(), &mut self.rng);
        proto.set_mtu(DEFAULT_MTU as usize);
        // Drain the engine's creation events (none are visible without debug).
        while proto.poll_event().is_some() {}
        let waker = self.wake.clone();
        let dp = Arc::new(DataPlane::new(
            tun,
            Link::new(name, proto, Instant::now()),
            DEFAULT_MTU as usize,
            Box::new(move || {
                let _ = waker.wake();
            }),
        ));
        let mut w = WgIf {
            name: name.to_string(),
            unit,
            dp,
            mtu: DEFAULT_MTU,
            description: String::new(),
            rdomain: 0,
            index,
            rtnl,
            routes: None,
            sock: SocketConf::default(),
            names: Default::default(),
            v6_order: Vec::new(),
        };
        w.no_auto_link_local();
        self.planes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(unit, w.dp.clone());
        if let Err(e) = self.workers.register(&w.dp.tun, data_token(unit, 0)) {
            self.forget_plane(unit, &w.dp);
            return Err(super::errno::of(&e));
        }
        self.ifs.insert(unit, w);
        self.uapi_listen(unit, name);
        self.watch_routes(unit, None);
        Ok(())
    }

    /// Follows the routes through the interface in its namespace (`ns`; None: the
    /// daemon's), in place of any earlier watch, for the padding cap: the engine
    /// forgets what the earlier one told it. Without a watch padding ignores route
    /// MTUs, which is logged.
    fn watch_routes(&mut self, unit: u32, ns: Option<&super::netns::Netns>) {
        let Some(w) = self.ifs.get_mut(&unit) else {
            return;
        };
        if let Some(old) = w.routes.take() {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&old.as_raw_fd()));
        }
        w.dp.link().proto.clear_route_mtus();
        let index = w.index;
        let watch = match ns {
            None => RouteWatch::new(index),
            Some(ns) => super::netns::run_in(ns, || RouteWatch::new(index)).and_then(|r| r),
        };
        let r = watch.and_then(|m| {
            self.poll
                .registry()
                .register(
                    &mut SourceFd(&m.as_raw_fd()),
                    if_token(unit, ROUTES),
                    Interest::READABLE,
                )
                .map(|()| m)
        });
        match r {
            Ok(m) => {
                w.routes = Some(m);
                self.routes_changed(unit);
            }
            Err(e) => self.log.log(
                Level::Err,
                &format!(
                    "wgd: {}: route notifications: {e}; padding ignores route MTUs",
                    w.name
                ),
            ),
        }
    }

    /// The interface's routes may have changed: the engine's route MTUs follow.
    fn routes_changed(&mut self, unit: u32) {
        let Some(w) = self.ifs.get_mut(&unit) else {
            return;
        };
        let Some(watch) = w.routes.as_mut() else {
            return;
        };
        match watch.update(&mut w.rtnl) {
            Ok(changes) if changes.is_empty() => {}
            Ok(changes) => {
                let mut l = w.dp.link();
                for c in changes {
                    c.apply(&mut l.proto);
                }
            }
            Err(e) => self
                .log
                .log(Level::Err, &format!("wgd: {}: routes: {e}", w.name)),
        }
    }

    fn destroy(&mut self, unit: u32) {
        let Some(w) = self.ifs.remove(&unit) else {
            return;
        };
        if let Some(mut u) = self.uapi_socks.remove(&unit) {
            let _ = self.poll.registry().deregister(&mut u.listener);
        }
        let gone: Vec<usize> = self
            .uapi_conns
            .iter()
            .filter(|(_, c)| c.unit == unit)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(c) = self.uapi_conns.remove(&id) {
                self.close_uapi_conn(c);
            }
        }
        self.replace_udp(unit, None);
        self.forget_plane(unit, &w.dp);
        {
            let mut l = w.dp.link();
            l.proto.remove_all_peers();
            l.log_events(&*self.log);
            if l.debug {
                self.log
                    .log(Level::Info, &format!("{}: Interface destroyed", w.name));
            }
        }
        // Dropping the tun fd removes the device, wherever it is: after the worker
        // that may be in a batch of it is done.
        let end = Instant::now() + Duration::from_secs(1);
        while Arc::strong_count(&w.dp) > 1 && Instant::now() < end {
            std::thread::yield_now();
        }
        drop(w);
        self.release_namespaces();
    }

    fn set_flags(&mut self, unit: u32, flags: u32) -> Result<(), i32> {
        let want_up = flags & iff::UP != 0;
        let w = self.ifs.get_mut(&unit).unwrap();
        let was_up = w.dp.link().up();
        if want_up && !was_up {
            // Nothing changes unless the bind and the link work (debug included).
            let socks = w
                .bind(&self.namespaces, &self.opts.offloads)
                .map_err(|e| super::errno::of(&e))?;
            w.rtnl
                .set_up(w.index, true)
                .map_err(|e| super::errno::of(&e))?;
            // wg_bind writes the port it got back: a kernel-chosen one stays.
            w.sock.port = socks.local_port();
            self.replace_udp(unit, Some(socks));
            let w = &self.ifs[&unit];
            let mut l = w.dp.link();
            l.debug = flags & iff::DEBUG != 0;
            l.proto
                .up_and_flush(Instant::now(), SystemTime::now(), &mut self.rng);
            drop(l);
            self.after_io(unit);
        } else if !want_up && was_up {
            {
                let mut l = w.dp.link();
                l.debug = flags & iff::DEBUG != 0;
                l.proto.down(Instant::now());
            }
            let _ = w.rtnl.set_up(w.index, false);
            self.replace_udp(unit, None);
        } else {
            w.dp.link().debug = flags & iff::DEBUG != 0;
        }
        Ok(())
    }

    fn set_rdomain(&mut self, unit: u32, rdomain: u32) -> Result<(), i32> {
        if rdomain > 255 {
            return Err(libc::EINVAL);
        }
        let w = self.ifs.get(&unit).unwrap();
        if w.rdomain == rdomain {
            return Ok(());
        }
        let (target, created) = if rdomain == 0 {
            (
                super::netns::Netns::current().map_err(|e| super::errno::of(&e))?,
                false,
            )
        } else {
            self.namespaces
                .ensure(rdomain)
                .map_err(|e| super::errno::of(&e))?
        };
        if created {
            self.created_ns.insert(rdomain);
            // OpenBSD gives every new routing domain its loopback (lo<N>), up.
            let lo = rtnl_in(&target).and_then(|mut r| match r.link_index("lo")? {
                Some(i) => r.set_up(i, true),
                None => Ok(()),
            });
            if let Err(e) = lo {
                self.log.log(
                    Level::Err,
                    &format!("wgd: {}: lo: {e}", self.namespaces.name(rdomain)),
                );
            }
        }
        let w = self.ifs.get_mut(&unit).unwrap();
        // Everything that can fail without changing anything comes first.
        let (v4, v6) = w.rtnl.addrs(w.index).map_err(|e| super::errno::of(&e))?;
        let mut rtnl = if rdomain == 0 {
            Rtnl::new()
        } else {
            rtnl_in(&target)
        }
        .map_err(|e| super::errno::of(&e))?;
        w.rtnl
            .move_to_netns(w.index, &target)
            .map_err(|e| super::errno::of(&e))?;
        // The link is in the new namespace now: so is the interface's state, whatever
        // follows.
        let index = rtnl.link_index(&w.name);
        w.rtnl = rtnl;
        w.rdomain = rdomain;
        if rdomain != 0 {
            let _ = self.namespaces.hold(rdomain, &target);
        }
        let index = index
            .map_err(|e| super::errno::of(&e))?
            .ok_or(libc::ENXIO)?;
        w.index = index;
        // The move gave the link fresh IPv6 state with the namespace's defaults.
        w.no_auto_link_local();
        // OpenBSD's -rdomain drops the addresses; moving to a domain keeps them.
        if rdomain != 0 {
            for (a, p, b) in v4 {
                let _ = w.rtnl.add_addr_v4(index, a, p, b);
            }
            let mut any_v6 = false;
            for (a, p, _) in v6.into_iter().filter(|x| !is_link_local(&x.0)) {
                any_v6 |= w.rtnl.add_addr_v6(index, a, p).is_ok();
            }
            if any_v6 {
                let _ = w.ensure_link_local(&mut self.rng);
            }
        }
        let _ = w.rtnl.set_mtu(index, w.mtu);
        if w.dp.link().up() {
            let _ = w.rtnl.set_up(index, true);
        }
        // The routes it had stayed behind with the old namespace.
        self.watch_routes(unit, Some(&target));
        self.release_namespaces();
        Ok(())
    }

    /// Puts `new` in place of the interface's sockets: the workers wait on the new
    /// ones and no longer on the old, which close once no batch holds them.
    fn replace_udp(&mut self, unit: u32, new: Option<UdpSockets>) {
        let Some(w) = self.ifs.get(&unit) else { return };
        if let Some(old) = w.dp.udp() {
            for s in [&old.v4, &old.v6].into_iter().flatten() {
                self.workers.deregister(s);
            }
        }
        drop(w.dp.set_udp(new));
        // Registered once the plane has them: a socket already readable then is
        // reported at once (EPOLL_CTL_ADD looks), so nothing that came meanwhile waits.
        if let Some(u) = w.dp.udp() {
            for (slot, s) in [(1, &u.v4), (2, &u.v6)] {
                let Some(s) = s else { continue };
                if let Err(e) = self.workers.register(s, data_token(unit, slot)) {
                    self.log.log(
                        Level::Err,
                        &format!("wgd: {}: cannot wait on its socket: {e}", w.name),
                    );
                }
            }
        }
    }

    /// Takes the interface's data plane from the workers.
    fn forget_plane(&self, unit: u32, dp: &DataPlane<Tun, UdpSockets>) {
        self.workers.deregister(&dp.tun);
        self.planes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&unit);
    }

    /// Sends what the engine queued and logs its events.
    fn after_io(&mut self, unit: u32) {
        if let Some(w) = self.ifs.get(&unit) {
            w.dp.flush(&mut self.scratch, &*self.log);
        }
    }

    /// The handshake messages the workers queued, a bounded number per interface.
    fn serve_handshakes(&mut self) {
        self.handshakes_left = false;
        for w in self.ifs.values() {
            if w.dp.handshakes.is_empty() {
                continue;
            }
            let env = system_env!(&*self.log, &mut self.rng);
            if !w.dp.serve_handshakes(&mut self.scratch, env) {
                self.handshakes_left = true;
            }
        }
    }

    /// Queues the named peers that are due (reresolve.rs) and keeps the check's
    /// timer while any interface has a named peer.
    fn reresolve(&mut self) {
        // No check is scheduled while no interface has a named peer; a SIOCSWG
        // schedules one at once.
        let now = Instant::now();
        match self.next_reresolve {
            Some(t) if now >= t => {}
            _ => return,
        }
        let wall = std::time::SystemTime::now();
        let interval = self.opts.reresolve;
        let mut any = false;
        for w in self.ifs.values_mut() {
            if w.names.is_empty() {
                continue;
            }
            let link = w.dp.link();
            let proto = &link.proto;
            let due = w.names.due(now, interval, |id| {
                let last = proto.last_handshake(id)?;
                Some(!last.is_some_and(|t| wall.duration_since(t).unwrap_or_default() < interval))
            });
            for (peer, host, port) in due {
                let q = Query {
                    unit: w.unit,
                    peer,
                    host: host.clone(),
                    port,
                };
                if !self.resolver.ask(q) {
                    // Full queue: asked again an interval later.
                    w.names.done(peer, &host);
                    if link.debug {
                        self.log.log(
                            Level::Debug,
                            &format!("{}: Peer {peer} endpoint {host}: resolver busy", w.name),
                        );
                    }
                }
            }
            any |= !w.names.is_empty();
        }
        self.next_reresolve = any.then(|| now + RERESOLVE_CHECK);
    }

    /// The resolver thread's answers: a named peer whose endpoint is not among them
    /// moves to the first one.
    fn resolved(&mut self) {
        let answers = self.resolver.answers();
        if answers.is_empty() {
            return;
        }
        for a in answers {
            let Some(w) = self.ifs.get_mut(&a.unit) else {
                continue;
            };
            // The name may have been changed or dropped while the query was out.
            if !w.names.get(a.peer).is_some_and(|n| n.host == a.host) {
                continue;
            }
            w.names.done(a.peer, &a.host);
            let answers = match a.result {
                Ok(v) => v,
                Err(e) => {
                    if w.dp.link().debug {
                        self.log.log(
                            Level::Debug,
                            &format!("{}: Peer {} endpoint {}: {e}", w.name, a.peer, a.host),
                        );
                    }
                    continue;
                }
            };
            let current = w.dp.link().proto.endpoint(a.peer);
            if let Some(new) = reresolve::choose(current, &answers) {
                let debug = {
                    let mut l = w.dp.link();
                    l.proto.set_endpoint(a.peer, Some(new));
                    l.debug
                };
                if debug {
                    self.log.log(
                        Level::Debug,
                        &format!(
                            "{}: Peer {} endpoint {} changed to {}",
                            w.name,
                            a.peer,
                            a.host,
                            new.ip()
                        ),
                    );
                }
                let unit = a.unit;
                self.after_io(unit);
            }
        }
        // A change of configuration may have made a peer due at once.
        self.next_reresolve = Some(Instant::now());
    }

    fn run_timers(&mut self) {
        for w in self.ifs.values() {
            w.dp.run_timers(&mut self.scratch, system_env!(&*self.log, &mut self.rng));
        }
    }
}

/// The control socket's share of the loop: budgets, backlog and timeouts (control.rs).
impl Daemon {
    /// How long the loop may sleep: until the engines' next timer, not at all while a
    /// connection has work left from its budget, and until the next check of unfinished
    /// frames.
    fn poll_timeout(&self) -> Option<Duration> {
        // A connection with work left, a job under way, or a source left readable
        // is served again without waiting.
        if !self.backlog.is_empty()
            || !self.jobs.is_empty()
            || !self.get_jobs.is_empty()
            || self.handshakes_left
        {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        self.ifs
            .values()
            .filter_map(|w| w.dp.arm())
            .chain(self.next_sweep)
            .chain(self.next_uapi_check)
            .chain(self.next_reresolve)
            .min()
            .map(|t| {
                // Round up to the millisecond so the timer has expired when we wake.
                t.saturating_duration_since(now) + Duration::from_millis(1)
            })
    }

    /// After the turn's packets and timers: one more budget for each connection that
    /// had work left, and the closing of connections whose frame stalled.
    fn control_turn(&mut self) {
        self.run_jobs();
        // Ready connections in order, within the turn's share of time for all of
        // them; the ones left keep their place for the next turn.
        let start = Instant::now();
        let mut queue = std::mem::take(&mut self.backlog).into_iter();
        while let Some(id) = queue.next() {
            if start.elapsed() >= control::TURN_CONTROL_TIME {
                let left: Vec<usize> = std::iter::once(id).chain(queue).collect();
                self.backlog.splice(0..0, left);
                break;
            }
            self.serve_conn(id);
        }
        let now = Instant::now();
        if self.next_sweep.is_some_and(|t| t <= now) {
            self.next_sweep = None;
            let stalled: Vec<usize> = self
                .conns
                .iter()
                .filter(|(_, c)| c.stalled(now))
                .map(|(id, _)| *id)
                .collect();
            for id in stalled {
                if let Some(c) = self.conns.remove(&id) {
                    self.close_conn(c);
                }
            }
            let stalled: Vec<usize> = self
                .uapi_conns
                .iter()
                .filter(|(_, c)| c.stalled(now, control::FRAME_TIMEOUT))
                .map(|(id, _)| *id)
                .collect();
            for id in stalled {
                if let Some(mut c) = self.uapi_conns.remove(&id) {
                    c.time_out();
                    self.close_uapi_conn(c);
                }
            }
            if self.conns.values().any(Conn::has_partial)
                || self.uapi_conns.values().any(UapiConn::has_partial)
            {
                // Checked once a second: a stalled frame lives at most a second longer.
                self.next_sweep = Some(now + Duration::from_secs(1));
            }
        }
    }

    fn close_conn(&mut self, mut c: Conn) {
        let _ = self.poll.registry().deregister(&mut c.stream);
        if let Some(n) = self.uid_conns.get_mut(&c.uid) {
            *n -= 1;
            if *n == 0 {
                self.uid_conns.remove(&c.uid);
            }
        }
    }
}

/// A large SIOCSWG whose peer records are applied a slice per loop turn; its
/// connection gets the answer when the last slice is done.
struct SetWgJob {
    conn: usize,
    unit: u32,
    model: crate::ioctl::model::InterfaceIo,
    /// Peer records done.
    at: usize,
}

/// SIOCSWGs with more peer records than this are applied in slices.
const SLICE_PEERS: usize = 512;
/// Time one turn gives to the slices of a large SIOCSWG.
const SLICE_TIME: Duration = Duration::from_millis(3);

impl Daemon {
    /// Executes a request for connection `conn`; a large SIOCSWG becomes a job, and
    /// requests for an interface with a job running wait for it.
    fn exec(&mut self, conn: usize, privileged: bool, body: RequestBody) -> Exec {
        if let Some(unit) = parse_name(&body.ifname) {
            if self.jobs.iter().any(|j| j.unit == unit)
                || self.get_jobs.iter().any(|j| j.unit == unit)
            {
                return Exec::Busy(body);
            }
            if let Request::GetWg { size } = body.request {
                if let Some(job) = self.get_wg_start(conn, unit, size, privileged) {
                    self.get_jobs.push(job);
                    return Exec::Deferred;
                }
            }
            if let Request::SetWg { .. } = body.request {
                if privileged && self.ifs.contains_key(&unit) {
                    let Request::SetWg { data } = body.request else {
                        unreachable!()
                    };
                    return match self.set_wg_start(unit, data, SLICE_PEERS) {
                        Err(e) => Exec::Reply(Err(e)),
                        Ok(None) => Exec::Reply(Ok(Response::Done)),
                        Ok(Some(model)) => {
                            self.jobs.push(SetWgJob {
                                conn,
                                unit,
                                model,
                                at: 0,
                            });
                            Exec::Deferred
                        }
                    };
                }
            }
        }
        Exec::Reply(self.handle(privileged, &body.ifname, body.request))
    }

    /// Decodes an SIOCSWG buffer and applies its interface part; the peer records
    /// too when there are at most `at_once` of them, else they are returned (in the
    /// model) to be applied in slices.
    fn set_wg_start(
        &mut self,
        unit: u32,
        data: Vec<u8>,
        at_once: usize,
    ) -> Result<Option<crate::ioctl::model::InterfaceIo>, i32> {
        let model = apply::decode_set_wg(data)?;
        self.apply_wg_interface(unit, &model)?;
        if model.peers.len() > at_once {
            return Ok(Some(model));
        }
        self.apply_wg_peers(unit, &model.peers).map(|_| None)
    }

    /// One turn of the running SIOCSWG jobs: slices until SLICE_TIME is used; a
    /// finished job answers its connection.
    fn run_jobs(&mut self) {
        self.run_get_jobs();
        let start = Instant::now();
        let mut i = 0;
        while i < self.jobs.len() {
            let job = &mut self.jobs[i];
            let result = match self.ifs.get_mut(&job.unit) {
                None => Some(Err(libc::ENXIO)),
                Some(w) => loop {
                    let end = (job.at + 256).min(job.model.peers.len());
                    let r = apply::set_wg_peers(
                        &mut w.dp.link().proto,
                        &mut w.names,
                        &job.model.peers[job.at..end],
                        &mut self.next_peer_id,
                        system_env!(&self.log, &mut self.rng),
                    );
                    job.at = end;
                    if r.is_err() || end == job.model.peers.len() {
                        break Some(r.map(|_| Response::Done));
                    }
                    if start.elapsed() >= SLICE_TIME {
                        break None;
                    }
                },
            };
            let unit = job.unit;
            self.after_io(unit);
            self.next_reresolve = Some(Instant::now());
            match result {
                None => i += 1,
                Some(r) => {
                    let job = self.jobs.remove(i);
                    if let Some(c) = self.conns.get_mut(&job.conn) {
                        c.finish(r);
                        self.conn_event(job.conn);
                    }
                }
            }
            if start.elapsed() >= SLICE_TIME {
                break;
            }
        }
    }
}

impl Daemon {
    /// Lets go of the rdomain namespaces no interface is in and no wgrtable uses.
    fn release_namespaces(&self) {
        let ifs = &self.ifs;
        self.namespaces.release_unused(|n| {
            ifs.values()
                .any(|w| w.rdomain == n || (w.dp.udp().is_some() && w.sock.rtable == n))
        });
    }
}

/// Root's SIOCGWG of a large interface, built a slice of peers per loop turn.
struct GetWgJob {
    conn: usize,
    unit: u32,
    ids: Vec<PeerId>,
    at: usize,
    size: u64,
    buf: zeroize::Zeroizing<Vec<u8>>,
}

impl Daemon {
    /// A job for root's SIOCGWG when the interface has many peers and the caller
    /// offers room for them; None: answered at once by `handle`.
    fn get_wg_start(
        &mut self,
        conn: usize,
        unit: u32,
        capacity: u64,
        privileged: bool,
    ) -> Option<GetWgJob> {
        let w = self.ifs.get(&unit)?;
        let link = w.dp.link();
        let proto = &link.proto;
        let size = apply::get_wg_size(proto);
        if !privileged || proto.peer_count() <= SLICE_PEERS || capacity < size {
            return None;
        }
        let ids = proto.peer_ids();
        let bound = w.dp.udp().map(|u| u.local_port());
        let header = apply::get_wg_header(proto, w.sock, bound);
        let buf = codec::encode_header_start(&header, ids.len(), size as usize);
        Some(GetWgJob {
            conn,
            unit,
            ids,
            at: 0,
            size,
            buf,
        })
    }

    /// One turn of the SIOCGWG jobs (SLICE_TIME in all).
    fn run_get_jobs(&mut self) {
        let start = Instant::now();
        let mut i = 0;
        while i < self.get_jobs.len() {
            let job = &mut self.get_jobs[i];
            let result = match self.ifs.get(&job.unit) {
                None => Some(Err(libc::ENXIO)),
                Some(w) => loop {
                    let end = (job.at + 256).min(job.ids.len());
                    let mut missing = false;
                    let link = w.dp.link();
                    for id in &job.ids[job.at..end] {
                        match apply::get_wg_peer(&link.proto, *id) {
                            Some(p) => codec::encode_peer_append(&mut job.buf, &p, Dir::Get),
                            None => missing = true,
                        }
                    }
                    job.at = end;
                    if missing {
                        // Nothing removes peers while the job runs; should one go,
                        // the count in the header would be wrong: ask again.
                        break Some(Err(libc::EAGAIN));
                    }
                    if end == job.ids.len() {
                        let data = std::mem::take(&mut *job.buf);
                        break Some(Ok(Response::Wg {
                            size: job.size,
                            data,
                        }));
                    }
                    if start.elapsed() >= SLICE_TIME {
                        break None;
                    }
                },
            };
            match result {
                None => i += 1,
                Some(r) => {
                    let job = self.get_jobs.remove(i);
                    match self.conns.get_mut(&job.conn) {
                        Some(c) => {
                            c.finish(r);
                            self.conn_event(job.conn);
                        }
                        // The caller went away: its keys go too.
                        None => {
                            if let Ok(Response::Wg { mut data, .. }) = r {
                                data.zeroize();
                            }
                        }
                    }
                }
            }
            if start.elapsed() >= SLICE_TIME {
                break;
            }
        }
    }
}

/// The configuration protocol (uapi.rs): each interface's socket, its clients, and
/// the link state others change (wg-quick's `ip link set up`).
impl Daemon {
    fn uapi_listen(&mut self, unit: u32, name: &str) {
        match UapiSocket::bind(&self.opts.uapi_dir, name) {
            Ok(mut u) => {
                let r = self.poll.registry().register(
                    &mut u.listener,
                    if_token(unit, 3),
                    Interest::READABLE,
                );
                match r {
                    Ok(()) => {
                        self.uapi_socks.insert(unit, u);
                        self.next_uapi_check
                            .get_or_insert(Instant::now() + UAPI_CHECK);
                    }
                    Err(e) => self.log.log(Level::Err, &format!("wgd: {name}: {e}")),
                }
            }
            Err(e) => self.log.log(
                Level::Err,
                &format!("wgd: {name}: no configuration-protocol socket: {e}"),
            ),
        }
    }

    fn uapi_accept(&mut self, unit: u32) {
        loop {
            let Some(u) = self.uapi_socks.get(&unit) else {
                return;
            };
            match u.listener.accept() {
                Ok((stream, _)) => {
                    let Some(uid) = control::peer_uid(&stream) else {
                        continue;
                    };
                    if let Err(errno) = control::admit(uid, &self.uid_conns) {
                        let mut stream = stream;
                        let _ = io::Write::write(&mut stream, uapi::errno_reply(errno).as_bytes());
                        continue;
                    }
                    let mut c = UapiConn::new(stream, uid, unit);
                    if let Some(id) = self.register_conn(&mut c.stream, uid) {
                        self.uapi_conns.insert(id, c);
                        self.uapi_event(id);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.log.log(Level::Err, &format!("wgd: accept: {e}"));
                    return;
                }
            }
        }
    }

    fn uapi_event(&mut self, id: usize) {
        let Some(mut c) = self.uapi_conns.remove(&id) else {
            return;
        };
        let now = Instant::now();
        let after = c.serve(now, |privileged, unit, op| {
            self.uapi_exec(privileged, unit, op)
        });
        match after {
            After::Wait => {}
            After::More => {
                if !self.backlog.contains(&id) {
                    self.backlog.push(id);
                }
            }
            After::Close => {
                self.close_uapi_conn(c);
                return;
            }
        }
        if c.has_partial() && self.next_sweep.is_none() {
            self.next_sweep = Some(now + control::FRAME_TIMEOUT);
        }
        self.uapi_conns.insert(id, c);
    }

    /// One complete request of the configuration protocol. A caller other than
    /// root never gets here with a set (uapi.rs refuses it) and is answered the
    /// port alone, as SIOCGWG answers it.
    fn uapi_exec(&mut self, privileged: bool, unit: u32, op: uapi::Op) -> Zeroizing<String> {
        let Some(w) = self.ifs.get(&unit) else {
            return uapi::errno_reply(libc::ENXIO);
        };
        if let Err(e) = admit::check_uapi(&op, privileged) {
            return uapi::errno_reply(e);
        }
        match op {
            uapi::Op::Get => {
                let bound = w.dp.udp().map(|u| u.local_port());
                let model = apply::uapi_get(&w.dp.link().proto, w.sock, bound, privileged);
                uapi::format_get(&model, 0)
            }
            uapi::Op::Set(req) => match self.apply_wg(unit, &req.io) {
                Ok(()) => Zeroizing::new("errno=0\n\n".to_string()),
                Err(e) => uapi::errno_reply(e),
            },
        }
    }

    fn close_uapi_conn(&mut self, mut c: UapiConn) {
        let _ = self.poll.registry().deregister(&mut c.stream);
        if let Some(n) = self.uid_conns.get_mut(&c.uid) {
            *n -= 1;
            if *n == 0 {
                self.uid_conns.remove(&c.uid);
            }
        }
    }

    /// wg-quick down removes `wgN.sock` to end a userspace interface: an interface
    /// whose socket path is gone (or is another file now) is destroyed.
    fn check_uapi_paths(&mut self) {
        let now = Instant::now();
        if self.next_uapi_check.map_or(true, |t| t > now) {
            return;
        }
        let gone: Vec<u32> = self
            .uapi_socks
            .iter()
            .filter(|(_, u)| !u.present())
            .map(|(unit, _)| *unit)
            .collect();
        for unit in gone {
            if let Some(w) = self.ifs.get(&unit) {
                self.log.log(
                    Level::Info,
                    &format!(
                        "wgd: {}: its configuration socket was removed: destroying it",
                        w.name
                    ),
                );
            }
            self.destroy(unit);
        }
        self.next_uapi_check = (!self.uapi_socks.is_empty()).then_some(now + UAPI_CHECK);
    }

    /// Link notifications: an interface of rdomain 0 brought up or down, or given
    /// another MTU, by someone else (`ip link`) follows as if wgifconfig had asked;
    /// one whose link was deleted (`ip link delete`, as wg-quick down does) is
    /// destroyed.
    /// The kernel's present state is read back, not the notification's, so that
    /// wgd's own changes, already made, are no-ops.
    fn links_changed(&mut self) {
        let Some(m) = self.links.as_mut() else { return };
        let units: Vec<u32> = match m.drain() {
            Some(indexes) => self
                .ifs
                .iter()
                .filter(|(_, w)| w.rdomain == 0 && indexes.contains(&w.index))
                .map(|(u, _)| *u)
                .collect(),
            None => self
                .ifs
                .iter()
                .filter(|(_, w)| w.rdomain == 0)
                .map(|(u, _)| *u)
                .collect(),
        };
        for unit in units {
            let w = self.ifs.get_mut(&unit).unwrap();
            let (up, mtu) = match w.rtnl.link_state(w.index) {
                Ok(Some(s)) => s,
                Ok(None) => {
                    // `ip link delete` (wg-quick down): the interface is gone.
                    self.log.log(
                        Level::Info,
                        &format!("wgd: {}: the link was deleted: destroying it", w.name),
                    );
                    self.destroy(unit);
                    continue;
                }
                Err(_) => continue,
            };
            if MTU_RANGE.contains(&mtu) && mtu != w.mtu {
                w.mtu = mtu;
                w.dp.set_mtu(mtu as usize);
            }
            if up == w.dp.link().up() {
                continue;
            }
            let flags = if up {
                w.flags() | iff::UP
            } else {
                w.flags() & !iff::UP
            };
            if let Err(e) = self.set_flags(unit, flags) {
                let w = self.ifs.get_mut(&unit).unwrap();
                self.log.log(
                    Level::Err,
                    &format!(
                        "wgd: {}: up: {}; the link is set down again",
                        w.name,
                        io::Error::from_raw_os_error(e)
                    ),
                );
                let _ = w.rtnl.set_up(w.index, false);
            }
        }
    }
}
