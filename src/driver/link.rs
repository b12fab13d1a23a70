//! The data path of one wg interface: packets from its tun device are sealed and sent
//! over UDP, datagrams are opened and written to the tun, the engine's queued
//! messages go out and its events reach the debug log, and the "under load" state
//! (spec §5.4) is tracked. It works over the [`TunDevice`] and [`UdpEndpoint`]
//! traits, so the same code runs on the real devices in the daemon and on in-memory
//! twins in the unit tests; time comes from a [`Clock`] and messages go to a
//! [`LogSink`].

use super::log::{event_level, Level, LogSink};
use super::udp::RecvMeta;
use crate::proto::{DropReason, Interface, RecvOutcome, SendOutcome, TxKind, HEADROOM, TAILROOM};
use rand_core::CryptoRngCore;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

/// Largest datagram or tun packet handled (a 64 KiB IP packet plus our overhead).
pub const BUF_SIZE: usize = 65536 + HEADROOM + TAILROOM;

/// Handshake messages per second past which an interface is "under load".
pub const UNDER_LOAD_PER_SECOND: u32 = 128;

/// How long an interface stays under load after the rate was last exceeded.
const UNDER_LOAD_FOR: Duration = Duration::from_secs(1);

/// A tun device: one bare IP packet per read or write; `WouldBlock` when empty.
pub trait TunDevice {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&self, pkt: &[u8]) -> io::Result<usize>;
}

/// The interface's UDP sockets (one per family, same port).
pub trait UdpEndpoint {
    /// One datagram from the socket of `v6`'s family, or `WouldBlock`.
    fn recv(&self, v6: bool, buf: &mut [u8]) -> io::Result<RecvMeta>;
    /// Sends from the local address `src` when given.
    fn send_to(&self, pkt: &[u8], to: SocketAddr, src: Option<IpAddr>) -> io::Result<usize>;
}

/// Monotonic time for the engine, wall time for TAI64N and last-handshake.
pub trait Clock {
    fn now(&self) -> Instant;
    fn wall(&self) -> SystemTime;
}

/// The system's clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// What the data path needs besides the devices: clocks, randomness, the log.
pub struct Env<'a, C, R, L> {
    pub clock: &'a C,
    pub rng: &'a mut R,
    pub log: &'a L,
}

/// Packets dropped by the data path, as the interface's error counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// Outbound packets no peer's allowed IPs cover (OpenBSD answers EHOSTUNREACH).
    pub no_route: u64,
    /// Outbound packets to a peer without an endpoint.
    pub no_endpoint: u64,
    /// Outbound packets while the interface is down, or not IPv4/IPv6.
    pub output_other: u64,
    /// Datagrams that were malformed, failed authentication or were refused under load.
    pub input: u64,
    /// Datagrams that could not be sent (after the retry without a refused cached
    /// source address).
    pub send: u64,
}

/// The protocol side of one interface and its data-path state.
pub struct Link {
    pub name: String,
    pub proto: Interface,
    pub up: bool,
    pub debug: bool,
    pub drops: Drops,
    /// Handshake messages seen in the current one-second window.
    load_window: (Instant, u32),
    under_load_until: Option<Instant>,
}

impl Link {
    pub fn new(name: &str, proto: Interface, now: Instant) -> Link {
        Link {
            name: name.to_string(),
            proto,
            up: false,
            debug: false,
            drops: Drops::default(),
            load_window: (now, 0),
            under_load_until: None,
        }
    }

    /// Reads every packet the tun has; each is sealed and sent, or staged while a
    /// handshake runs. `buf` must hold `BUF_SIZE` bytes.
    pub fn tun_readable<C: Clock, R: CryptoRngCore, L: LogSink>(
        &mut self,
        tun: &impl TunDevice,
        udp: Option<&impl UdpEndpoint>,
        buf: &mut [u8],
        env: &mut Env<C, R, L>,
    ) {
        loop {
            let end = buf.len() - TAILROOM;
            let n = match tun.read(&mut buf[HEADROOM..end]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if !self.up {
                self.drops.output_other += 1;
                continue;
            }
            let (now, wall) = (env.clock.now(), env.clock.wall());
            match self.proto.encapsulate(now, wall, env.rng, buf, n) {
                SendOutcome::Send {
                    to,
                    src,
                    range,
                    peer,
                } => {
                    if let Some(u) = udp {
                        self.send(u, &buf[range], to, src, TxKind::Data(peer), env.log);
                    }
                }
                SendOutcome::Staged => {}
                SendOutcome::Dropped(DropReason::NoRoute) => self.drops.no_route += 1,
                SendOutcome::Dropped(DropReason::NoEndpoint) => self.drops.no_endpoint += 1,
                SendOutcome::Dropped(_) => self.drops.output_other += 1,
            }
        }
        self.flush(udp, buf, env.log);
    }

    /// Receives every datagram waiting on the `v6` socket; data goes to the tun,
    /// handshake replies go out at once.
    pub fn udp_readable<C: Clock, R: CryptoRngCore, L: LogSink>(
        &mut self,
        tun: &impl TunDevice,
        udp: &impl UdpEndpoint,
        v6: bool,
        buf: &mut [u8],
        env: &mut Env<C, R, L>,
    ) {
        loop {
            let meta = match udp.recv(v6, buf) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let now = env.clock.now();
            let pkt = &mut buf[..meta.len];
            let under_load = self.count_handshake(pkt, now);
            match self.proto.decapsulate(
                now,
                env.clock.wall(),
                env.rng,
                meta.from,
                meta.local,
                pkt,
                under_load,
            ) {
                RecvOutcome::Tun(range) => {
                    let _ = tun.write(&buf[range]);
                }
                RecvOutcome::Handled => {}
                RecvOutcome::Dropped(_) => self.drops.input += 1,
            }
            self.flush(Some(udp), buf, env.log);
        }
    }

    /// Runs the engine's expired timers.
    pub fn run_timers<C: Clock, R: CryptoRngCore, L: LogSink>(
        &mut self,
        udp: Option<&impl UdpEndpoint>,
        buf: &mut [u8],
        env: &mut Env<C, R, L>,
    ) {
        let now = env.clock.now();
        if self.proto.poll_timeout().is_some_and(|t| t <= now) {
            self.proto.handle_timeout(now, env.clock.wall(), env.rng);
        }
        self.flush(udp, buf, env.log);
    }

    /// Whether the interface is under load after counting `pkt` if it is a
    /// handshake message (types 1 to 3).
    fn count_handshake(&mut self, pkt: &[u8], now: Instant) -> bool {
        if matches!(pkt.first(), Some(1..=3)) {
            let (start, count) = &mut self.load_window;
            if now.duration_since(*start) >= Duration::from_secs(1) {
                *start = now;
                *count = 0;
            }
            *count += 1;
            if *count >= UNDER_LOAD_PER_SECOND {
                self.under_load_until = Some(now + UNDER_LOAD_FOR);
            }
        }
        self.under_load_until.is_some_and(|t| t > now)
    }

    /// Sends what the engine queued and logs its events.
    pub fn flush(&mut self, udp: Option<&impl UdpEndpoint>, buf: &mut [u8], log: &impl LogSink) {
        while let Some(t) = self.proto.poll_transmit(buf) {
            if let Some(u) = udp {
                self.send(u, &buf[..t.len], t.to, t.src, t.kind, log);
            }
        }
        self.log_events(log);
    }

    /// Drains the engine's events; they are printed only while `debug` is set.
    pub fn log_events(&mut self, log: &impl LogSink) {
        while let Some(ev) = self.proto.poll_event() {
            if self.debug {
                log.log(event_level(&ev), &format!("{}: {}", self.name, ev));
            }
        }
    }

    /// Sends one datagram. A cached source address the kernel refuses (OpenBSD says
    /// EADDRNOTAVAIL, Linux EINVAL) is dropped for one more try without it: for data
    /// the peer forgets it (wg_deliver_out), for a handshake message only this send
    /// does (wg_send_buf), and only a handshake message that fails again is the
    /// "Unable to send packet" message. Any other failure is silent, as there.
    fn send(
        &mut self,
        u: &impl UdpEndpoint,
        pkt: &[u8],
        to: SocketAddr,
        src: Option<IpAddr>,
        kind: TxKind,
        log: &impl LogSink,
    ) {
        let Err(e) = u.send_to(pkt, to, src) else {
            return;
        };
        let refused_src = src.is_some()
            && (matches!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL | libc::EINVAL))
                || e.kind() == io::ErrorKind::AddrNotAvailable);
        if !refused_src {
            self.drops.send += 1;
            return;
        }
        if let TxKind::Data(peer) = kind {
            self.proto.forget_src(peer);
        }
        if u.send_to(pkt, to, None).is_ok() {
            return;
        }
        self.drops.send += 1;
        if self.debug && kind == TxKind::Handshake {
            log.log(
                Level::Debug,
                &format!("{}: Unable to send packet", self.name),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! Two links joined by in-memory tun and UDP twins, on a simulated clock: the
    //! daemon's data path without root, devices or sockets.
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngCore, SeedableRng};
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::net::Ipv4Addr;

    #[derive(Default)]
    struct MemTun {
        inbound: RefCell<VecDeque<Vec<u8>>>,
        written: RefCell<Vec<Vec<u8>>>,
    }

    impl TunDevice for MemTun {
        fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
            let p = self
                .inbound
                .borrow_mut()
                .pop_front()
                .ok_or(io::ErrorKind::WouldBlock)?;
            buf[..p.len()].copy_from_slice(&p);
            Ok(p.len())
        }
        fn write(&self, pkt: &[u8]) -> io::Result<usize> {
            self.written.borrow_mut().push(pkt.to_vec());
            Ok(pkt.len())
        }
    }

    struct Sent {
        to: SocketAddr,
        src: Option<IpAddr>,
        data: Vec<u8>,
    }

    struct MemUdp {
        addr: SocketAddr,
        inbound: RefCell<VecDeque<(SocketAddr, Vec<u8>)>>,
        sent: RefCell<Vec<Sent>>,
        /// Sends with a source address fail (the address went away).
        refuse_src: Cell<bool>,
        /// Every send fails, as if for its source address.
        refuse_all: Cell<bool>,
        /// Every send fails for another reason (no route).
        fail_other: Cell<bool>,
        attempts: Cell<u32>,
    }

    impl MemUdp {
        fn new(addr: SocketAddr) -> MemUdp {
            MemUdp {
                addr,
                inbound: RefCell::default(),
                sent: RefCell::default(),
                refuse_src: Cell::new(false),
                refuse_all: Cell::new(false),
                fail_other: Cell::new(false),
                attempts: Cell::new(0),
            }
        }
    }

    impl UdpEndpoint for MemUdp {
        fn recv(&self, v6: bool, buf: &mut [u8]) -> io::Result<RecvMeta> {
            let mut q = self.inbound.borrow_mut();
            let i = q
                .iter()
                .position(|(from, _)| from.is_ipv6() == v6)
                .ok_or(io::ErrorKind::WouldBlock)?;
            let (from, d) = q.remove(i).unwrap();
            buf[..d.len()].copy_from_slice(&d);
            Ok(RecvMeta {
                len: d.len(),
                from,
                local: Some(self.addr.ip()),
            })
        }
        fn send_to(&self, pkt: &[u8], to: SocketAddr, src: Option<IpAddr>) -> io::Result<usize> {
            self.attempts.set(self.attempts.get() + 1);
            if self.refuse_all.get() || (src.is_some() && self.refuse_src.get()) {
                return Err(io::Error::from(io::ErrorKind::AddrNotAvailable));
            }
            if self.fail_other.get() {
                return Err(io::Error::from_raw_os_error(libc::ENETUNREACH));
            }
            self.sent.borrow_mut().push(Sent {
                to,
                src,
                data: pkt.to_vec(),
            });
            Ok(pkt.len())
        }
    }

    struct SimClock {
        now: Cell<Instant>,
        wall: Cell<SystemTime>,
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
        fn advance(&self, d: Duration) {
            self.now.set(self.now.get() + d);
            self.wall.set(self.wall.get() + d);
        }
    }

    #[derive(Default)]
    struct Recorder(RefCell<Vec<String>>);

    impl LogSink for Recorder {
        fn log(&self, _level: Level, msg: &str) {
            self.0.borrow_mut().push(msg.to_string());
        }
    }

    impl Recorder {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.0.borrow_mut())
        }
    }

    struct Side {
        link: Link,
        io: Devices,
        log: Recorder,
    }

    /// A side's devices.
    struct Devices {
        tun: MemTun,
        udp: MemUdp,
    }

    struct World {
        a: Side,
        b: Side,
        clock: SimClock,
        rng: StdRng,
        buf: Vec<u8>,
    }

    const A_ADDR: &str = "127.0.0.1:1111";
    const B_ADDR: &str = "127.0.0.2:2222";
    const A_INNER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B_INNER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// An IPv4 packet (ICMP protocol number, arbitrary payload) of `len` bytes.
    fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, len: usize, fill: u8) -> Vec<u8> {
        let mut p = vec![fill; len];
        p[0] = 0x45;
        p[1] = 0;
        p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        p[4..8].fill(0);
        p[8] = 64;
        p[9] = 1;
        p[10..12].fill(0);
        p[12..16].copy_from_slice(&src.octets());
        p[16..20].copy_from_slice(&dst.octets());
        p
    }

    impl World {
        /// Two up interfaces, each with the other as peer (A's peer id 2, B's 1).
        fn new() -> World {
            let mut rng = StdRng::seed_from_u64(7);
            let clock = SimClock {
                now: Cell::new(Instant::now()),
                wall: Cell::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            };
            let now = clock.now();
            let (mut ka, mut kb) = ([0u8; 32], [0u8; 32]);
            rng.fill_bytes(&mut ka);
            rng.fill_bytes(&mut kb);
            let mut side = |name: &str, key: &[u8; 32], addr: &str| {
                let mut p = Interface::new(now, &mut rng);
                p.set_private_key(Some(key), now);
                Side {
                    link: Link::new(name, p, now),
                    io: Devices {
                        tun: MemTun::default(),
                        udp: MemUdp::new(addr.parse().unwrap()),
                    },
                    log: Recorder::default(),
                }
            };
            let mut a = side("wg1", &ka, A_ADDR);
            let mut b = side("wg2", &kb, B_ADDR);
            let (pa, pb) = (
                a.link.proto.public_key().unwrap(),
                b.link.proto.public_key().unwrap(),
            );
            for (s, id, public, inner, ep) in [
                (&mut a, 2, pb, B_INNER, B_ADDR),
                (&mut b, 1, pa, A_INNER, A_ADDR),
            ] {
                let p = &mut s.link.proto;
                p.add_peer(id, &public, now).unwrap();
                p.add_aip(id, IpAddr::V4(inner), 32).unwrap();
                p.set_endpoint(id, Some(ep.parse().unwrap()));
                p.up(now);
                s.link.up = true;
                // Setup events ("Peer N created") are not what the tests look at.
                while p.poll_event().is_some() {}
            }
            World {
                a,
                b,
                clock,
                rng,
                buf: vec![0u8; BUF_SIZE],
            }
        }

        /// Runs `f` on the link of A (`true`) or B with its devices and an Env.
        fn on(
            &mut self,
            on_a: bool,
            f: impl FnOnce(&mut Link, &Devices, &mut [u8], &mut Env<SimClock, StdRng, Recorder>),
        ) {
            let World {
                a,
                b,
                clock,
                rng,
                buf,
            } = self;
            let s = if on_a { a } else { b };
            let mut env = Env {
                clock: &*clock,
                rng,
                log: &s.log,
            };
            f(&mut s.link, &s.io, buf, &mut env);
        }

        /// `pkt` arrives on the tun of A (`true`) or B.
        fn tun_in(&mut self, to_a: bool, pkt: Vec<u8>) {
            self.on(to_a, |link, io, buf, env| {
                io.tun.inbound.borrow_mut().push_back(pkt);
                link.tun_readable(&io.tun, Some(&io.udp), buf, env)
            });
        }

        /// Moves everything A (`true`) or B sent to the other side, which reads it.
        /// Returns the first byte (message type) of each datagram moved.
        fn deliver(&mut self, from_a: bool) -> Vec<u8> {
            let (from, to) = if from_a {
                (&self.a.io, &self.b.io)
            } else {
                (&self.b.io, &self.a.io)
            };
            let sent = std::mem::take(&mut *from.udp.sent.borrow_mut());
            let types = sent.iter().map(|d| d.data[0]).collect();
            for d in sent {
                assert_eq!(d.to, to.udp.addr, "sent to the peer's endpoint");
                to.udp
                    .inbound
                    .borrow_mut()
                    .push_back((from.udp.addr, d.data));
            }
            self.read_udp(!from_a);
            types
        }

        /// A (`true`) or B reads the datagrams queued for it.
        fn read_udp(&mut self, on_a: bool) {
            self.on(on_a, |link, io, buf, env| {
                link.udp_readable(&io.tun, &io.udp, false, buf, env)
            });
        }

        fn timers(&mut self, on_a: bool) {
            self.on(on_a, |link, io, buf, env| {
                link.run_timers(Some(&io.udp), buf, env)
            });
        }

        /// A sends `pkt` to B through a full handshake; returns what B's tun got.
        fn handshake_with(&mut self, pkt: Vec<u8>) -> Vec<Vec<u8>> {
            self.tun_in(true, pkt);
            assert_eq!(self.deliver(true), vec![1], "initiation");
            assert_eq!(self.deliver(false), vec![2], "response");
            assert_eq!(self.deliver(true), vec![4], "the staged packet");
            std::mem::take(&mut *self.b.io.tun.written.borrow_mut())
        }
    }

    #[test]
    fn handshake_then_data_both_ways() {
        let mut w = World::new();
        let ping = ipv4(A_INNER, B_INNER, 84, 0xaa);
        assert_eq!(w.handshake_with(ping.clone()), vec![ping]);
        // A's data confirmed B's keypair; as on OpenBSD (handshake complete runs the
        // keepalive task) B answers with a keepalive, having nothing staged.
        assert_eq!(w.deliver(false), vec![4]);
        assert!(w.a.io.tun.written.borrow().is_empty());
        // B seals at once, no handshake.
        let pong = ipv4(B_INNER, A_INNER, 1400, 0xbb);
        w.tun_in(false, pong.clone());
        assert_eq!(w.deliver(false), vec![4]);
        assert_eq!(*w.a.io.tun.written.borrow(), vec![pong]);
        assert_eq!(w.a.link.drops, Drops::default());
        assert_eq!(w.b.link.drops, Drops::default());
        let info = w.a.link.proto.peer_info(2).unwrap();
        assert!(info.tx_bytes > 0 && info.rx_bytes > 0);
        assert_eq!(info.last_handshake, Some(w.clock.wall()));
    }

    #[test]
    fn debug_log_only_while_debug_is_set() {
        let mut w = World::new();
        w.b.link.debug = true;
        w.handshake_with(ipv4(A_INNER, B_INNER, 84, 1));
        assert!(w.a.log.take().is_empty(), "A has no debug: silent");
        assert_eq!(
            w.b.log.take(),
            vec![
                "wg2: Receiving handshake initiation from peer 1 (127.0.0.1)",
                "wg2: Sending handshake response to peer 1 (127.0.0.1)",
                "wg2: Sending keepalive packet to peer 1 (127.0.0.1)",
            ]
        );
    }

    #[test]
    fn interface_down_drops_tun_packets() {
        let mut w = World::new();
        w.a.link.up = false;
        w.tun_in(true, ipv4(A_INNER, B_INNER, 84, 1));
        assert!(w.a.io.udp.sent.borrow().is_empty());
        assert_eq!(w.a.link.drops.output_other, 1);
    }

    #[test]
    fn packets_without_a_peer_are_dropped_and_counted() {
        let mut w = World::new();
        w.tun_in(true, ipv4(A_INNER, Ipv4Addr::new(10, 9, 9, 9), 84, 1));
        w.tun_in(true, vec![0x60; 10]);
        assert!(w.a.io.udp.sent.borrow().is_empty());
        assert_eq!(w.a.link.drops.no_route, 1);
        assert_eq!(w.a.link.drops.output_other, 1);
        w.a.link.proto.set_endpoint(2, None);
        w.tun_in(true, ipv4(A_INNER, B_INNER, 84, 1));
        assert_eq!(w.a.link.drops.no_endpoint, 1);
    }

    #[test]
    fn unallowed_source_is_dropped_and_logged() {
        let mut w = World::new();
        w.b.link.debug = true;
        let spoofed = ipv4(Ipv4Addr::new(10, 0, 0, 99), B_INNER, 84, 1);
        assert!(w.handshake_with(spoofed).is_empty());
        assert!(w
            .b
            .log
            .take()
            .contains(&"wg2: Packet has unallowed source IP from peer 1 (127.0.0.1)".into()));
    }

    #[test]
    fn garbage_datagrams_are_counted_and_change_nothing() {
        let mut w = World::new();
        let ping = ipv4(A_INNER, B_INNER, 84, 1);
        w.handshake_with(ping.clone());
        for junk in [vec![], vec![4; 31], vec![1; 148], vec![9; 200]] {
            w.b.io
                .udp
                .inbound
                .borrow_mut()
                .push_back((w.a.io.udp.addr, junk));
        }
        w.read_udp(false);
        assert_eq!(w.b.link.drops.input, 4);
        // The session still works.
        w.tun_in(true, ping.clone());
        assert_eq!(w.deliver(true), vec![4]);
        assert_eq!(*w.b.io.tun.written.borrow(), vec![ping]);
    }

    #[test]
    fn retransmits_on_the_simulated_clock_with_the_try_number() {
        let mut w = World::new();
        w.a.link.debug = true;
        w.tun_in(true, ipv4(A_INNER, B_INNER, 84, 1));
        assert_eq!(w.a.io.udp.sent.borrow().len(), 1);
        w.a.io.udp.sent.borrow_mut().clear();
        w.clock.advance(Duration::from_secs(4));
        w.timers(true);
        assert!(w.a.io.udp.sent.borrow().is_empty(), "not before 5 s");
        w.clock.advance(Duration::from_millis(1400));
        w.timers(true);
        let sent = std::mem::take(&mut *w.a.io.udp.sent.borrow_mut());
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].data[0], 1);
        let log = w.a.log.take();
        assert!(log.contains(
            &"wg1: Handshake for peer 2 (127.0.0.2) did not complete after 5 seconds, retrying (try 2)"
                .into()
        ));
    }

    #[test]
    fn refused_source_on_data_is_forgotten_and_data_failures_are_silent() {
        let mut w = World::new();
        w.handshake_with(ipv4(A_INNER, B_INNER, 84, 1));
        assert_eq!(w.deliver(false), vec![4], "B's keepalive on confirmation");
        w.b.link.debug = true;
        w.b.log.take();
        // B learnt the local address A's packets came to; its replies use it.
        w.b.io.udp.refuse_src.set(true);
        w.tun_in(false, ipv4(B_INNER, A_INNER, 84, 2));
        let sent = std::mem::take(&mut *w.b.io.udp.sent.borrow_mut());
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].src, None);
        let tries = w.b.io.udp.attempts.get();
        w.tun_in(false, ipv4(B_INNER, A_INNER, 84, 3));
        assert_eq!(
            w.b.io.udp.attempts.get() - tries,
            1,
            "the peer forgot the source: one try"
        );
        w.b.io.udp.refuse_all.set(true);
        w.tun_in(false, ipv4(B_INNER, A_INNER, 84, 4));
        assert_eq!(w.b.link.drops.send, 1);
        assert_eq!(w.b.log.take(), Vec::<String>::new(), "no message for data");
    }

    #[test]
    fn a_handshake_message_that_fails_twice_is_unable_to_send() {
        let mut w = World::new();
        w.b.link.debug = true;
        w.b.io.udp.refuse_all.set(true);
        w.tun_in(true, ipv4(A_INNER, B_INNER, 84, 1));
        let tries = w.b.io.udp.attempts.get();
        w.deliver(true);
        assert_eq!(
            w.b.io.udp.attempts.get() - tries,
            2,
            "the response, then again without the source"
        );
        assert_eq!(w.b.link.drops.send, 1);
        let log = w.b.log.take();
        assert!(
            log.contains(&"wg2: Unable to send packet".into()),
            "{log:?}"
        );
        // A failure that is not about the source address is silent.
        w.b.io.udp.refuse_all.set(false);
        w.b.io.udp.fail_other.set(true);
        w.tun_in(true, ipv4(A_INNER, B_INNER, 84, 2));
        w.clock.advance(Duration::from_secs(6));
        w.timers(true);
        let tries = w.b.io.udp.attempts.get();
        assert_eq!(w.deliver(true), vec![1], "A's retry");
        assert_eq!(w.b.io.udp.attempts.get() - tries, 1, "one try, no retry");
        let log = w.b.log.take();
        assert!(
            !log.contains(&"wg2: Unable to send packet".into()),
            "{log:?}"
        );
    }

    #[test]
    fn under_load_initiations_get_cookie_replies() {
        let mut w = World::new();
        w.b.link.debug = true;
        w.tun_in(true, ipv4(A_INNER, B_INNER, 84, 1));
        let init = w.a.io.udp.sent.borrow()[0].data.clone();
        for _ in 0..UNDER_LOAD_PER_SECOND + 2 {
            w.b.io
                .udp
                .inbound
                .borrow_mut()
                .push_back((w.a.io.udp.addr, init.clone()));
        }
        w.read_udp(false);
        let types: Vec<u8> = w.b.io.udp.sent.borrow().iter().map(|d| d.data[0]).collect();
        assert_eq!(types[0], 2, "the first is answered");
        assert!(types[1..].iter().all(|&t| t == 3), "{types:?}");
        assert!(types.len() >= 2, "cookie replies once under load");
        assert!(w
            .b
            .log
            .take()
            .contains(&"wg2: Sending cookie response for denied handshake message".into()));
        // A second later the load is forgotten.
        w.clock.advance(Duration::from_secs(2));
        assert!(!w.b.link.count_handshake(&[4], w.clock.now()));
    }
}
