//! The data path allocates nothing per packet: two [`Link`]s joined by in-memory
//! twins that themselves never allocate (a tun handing out pre-built packets and
//! checking what is written to it in place, a UDP pair copying datagrams into a
//! preallocated ring), a counting global allocator, and several thousand packets each
//! way after a warm-up, in plain tun mode and in virtio-net mode with TCP and UDP
//! super-packets (split on the way in, coalesced on the way out), with and without
//! UDP GSO/GRO runs.
//!
//! Set `WGIF_ALLOC_TRACE=1` to have every counted allocation print its backtrace.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use wgif::driver::dataplane::DataPlane;
use wgif::driver::gso::{VnetHdr, F_NEEDS_CSUM, GSO_NONE, GSO_TCPV4, GSO_UDP_L4, VNET_HDR_LEN};
use wgif::driver::link::{
    Clock, DataBufs, Drops, Env, Link, RecvMeta, TunDevice, TunMode, TxMsg, UdpEndpoint,
};
use wgif::driver::log::{Level, LogSink};
use wgif::driver::twin::SimClock;
use wgif::proto::Interface;

// ---------------------------------------------------------------------------
// The counting allocator: counts the allocations of a thread while it asks to.

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

/// Print a backtrace for each counted allocation (WGIF_ALLOC_TRACE=1).
static TRACE: AtomicBool = AtomicBool::new(false);

fn note(size: usize) {
    if !COUNTING.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    if TRACE.load(Ordering::Relaxed) {
        // Not counted: the backtrace and the message allocate themselves.
        COUNTING.with(|c| c.set(false));
        let bt = std::backtrace::Backtrace::force_capture();
        eprintln!("allocation of {size} bytes while counting:\n{bt}");
        COUNTING.with(|c| c.set(true));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new);
        System.realloc(p, l, new)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns how many allocations this thread made in it.
fn count_allocations(f: impl FnOnce()) -> usize {
    TRACE.store(
        std::env::var_os("WGIF_ALLOC_TRACE").is_some_and(|v| v == "1"),
        Ordering::Relaxed,
    );
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

// ---------------------------------------------------------------------------
// Packets: IPv4 TCP and UDP whose payload bytes are a function of their place in the
// stream, so any write (split, coalesced or not) can be checked in place.

const A_INNER: [u8; 4] = [10, 0, 0, 1];
const B_INNER: [u8; 4] = [10, 0, 0, 2];
/// TCP payload per segment (the inner MTU 1420 less 40 bytes of headers).
const MSS: usize = 1380;
/// TCP segments per super-packet.
const SEGS: usize = 40;
/// UDP payload per datagram and datagrams per USO super-packet.
const UDP_PAYLOAD: usize = 1200;
const UDP_SEGS: usize = 20;
const TCP_PORTS: (u16, u16) = (40000, 5001);
const UDP_PORTS: (u16, u16) = (40001, 6001);
const SEQ0: u32 = 1_000_000;

/// Stream byte `pos` of the flow whose sender is `src`.
fn pat(src: [u8; 4], pos: u32) -> u8 {
    ((pos.wrapping_mul(0x9e37_79b1) >> 13) as u8) ^ src[3].wrapping_mul(0x3b)
}

/// The ones' complement sum of `data` (as 16-bit big-endian words) added to `sum`.
fn sum16(data: &[u8], mut sum: u32) -> u32 {
    for w in data.chunks(2) {
        sum += u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0));
    }
    sum
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// An IPv4 header of `total` bytes carrying `proto`, with its checksum.
fn ipv4_header(src: [u8; 4], dst: [u8; 4], proto: u8, total: usize, id: u16) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6] = 0x40; // DF
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let c = !fold(sum16(&h, 0));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// The pseudo-header sum of an L4 segment of `l4len` bytes.
fn pseudo(src: [u8; 4], dst: [u8; 4], proto: u8, l4len: usize) -> u32 {
    sum16(&dst, sum16(&src, 0)) + u32::from(proto) + l4len as u32
}

/// A TCP packet from `src` with `segs` segments of payload from stream position `seq`
/// (one segment: a plain packet with its checksum; more: a TSO super-packet whose
/// checksum field holds the pseudo-header sum, as the kernel hands it over).
fn tcp(src: [u8; 4], dst: [u8; 4], seq: u32, segs: usize, id: u16) -> Vec<u8> {
    let payload = MSS * segs;
    let total = 40 + payload;
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&ipv4_header(src, dst, 6, total.min(0xffff), id));
    let mut t = [0u8; 20];
    t[0..2].copy_from_slice(&TCP_PORTS.0.to_be_bytes());
    t[2..4].copy_from_slice(&TCP_PORTS.1.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&7u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x10; // ACK
    t[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
    p.extend_from_slice(&t);
    p.extend((0..payload as u32).map(|i| pat(src, seq.wrapping_add(i))));
    let ph = pseudo(src, dst, 6, total - 20);
    let c = if segs > 1 {
        fold(ph)
    } else {
        !fold(sum16(&p[20..], ph))
    };
    p[36..38].copy_from_slice(&c.to_be_bytes());
    p
}

/// UDP datagram number `n` of the flow from `src`: its number, then stream bytes.
fn udp_payload(src: [u8; 4], n: u32, out: &mut [u8]) {
    out[..4].copy_from_slice(&n.to_be_bytes());
    for (i, b) in out[4..].iter_mut().enumerate() {
        *b = pat(
            src,
            n.wrapping_mul(UDP_PAYLOAD as u32).wrapping_add(i as u32) ^ 0x5555,
        );
    }
}

/// A USO super-packet of `segs` datagrams numbered from `n0` (one: a plain datagram).
fn udp(src: [u8; 4], dst: [u8; 4], n0: u32, segs: usize, id: u16) -> Vec<u8> {
    let total = 28 + UDP_PAYLOAD * segs;
    let mut p = vec![0u8; total];
    p[..20].copy_from_slice(&ipv4_header(src, dst, 17, total, id));
    p[20..22].copy_from_slice(&UDP_PORTS.0.to_be_bytes());
    p[22..24].copy_from_slice(&UDP_PORTS.1.to_be_bytes());
    p[24..26].copy_from_slice(&((total - 20) as u16).to_be_bytes());
    for (k, d) in p[28..].chunks_mut(UDP_PAYLOAD).enumerate() {
        udp_payload(src, n0 + k as u32, d);
    }
    let ph = pseudo(src, dst, 17, total - 20);
    let c = if segs > 1 {
        fold(ph)
    } else {
        match !fold(sum16(&p[20..], ph)) {
            0 => 0xffff,
            c => c,
        }
    };
    p[26..28].copy_from_slice(&c.to_be_bytes());
    p
}

/// The virtio-net header the kernel puts before such a packet on a tun with offloads.
fn vnet(proto: u8, segs: usize) -> [u8; VNET_HDR_LEN] {
    let (gso_type, gso_size, off) = match (proto, segs > 1) {
        (6, true) => (GSO_TCPV4, MSS, 16),
        (17, true) => (GSO_UDP_L4, UDP_PAYLOAD, 6),
        (6, false) => (GSO_NONE, 0, 16),
        _ => (GSO_NONE, 0, 6),
    };
    VnetHdr {
        flags: F_NEEDS_CSUM * u8::from(segs > 1),
        gso_type,
        hdr_len: if proto == 6 { 40 } else { 28 },
        gso_size: gso_size as u16,
        csum_start: 20 * u16::from(segs > 1),
        csum_offset: off * u16::from(segs > 1),
    }
    .encode()
}

// ---------------------------------------------------------------------------
// The tun twin.

/// What a tun was written, as counted and checked in place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Written {
    writes: u64,
    /// Writes that were TCP or UDP super-packets.
    supers: u64,
    tcp_bytes: u64,
    /// The next TCP stream position expected (writes come in order here).
    tcp_next: u32,
    udp_datagrams: u64,
    /// The first bad write's number and why (a static reason: no allocation).
    bad: Option<(u64, &'static str)>,
}

/// A tun that hands out `packets` in order (as many as released) and checks every
/// write against the stream its peer sends, storing nothing.
struct FixedTun {
    mode: TunMode,
    packets: Vec<Vec<u8>>,
    next: Cell<usize>,
    released: Cell<usize>,
    /// Whose packets are written to it.
    peer: [u8; 4],
    me: [u8; 4],
    w: Cell<Written>,
    /// UDP datagrams seen, by number (preallocated).
    udp_seen: RefCell<Vec<bool>>,
}

impl FixedTun {
    fn new(mode: TunMode, packets: Vec<Vec<u8>>, me: [u8; 4], peer: [u8; 4], udp: usize) -> Self {
        FixedTun {
            mode,
            packets,
            next: Cell::new(0),
            released: Cell::new(0),
            peer,
            me,
            w: Cell::new(Written {
                tcp_next: SEQ0,
                ..Written::default()
            }),
            udp_seen: RefCell::new(vec![false; udp]),
        }
    }

    fn release(&self, n: usize) {
        self.released
            .set((self.released.get() + n).min(self.packets.len()));
    }

    fn all_read(&self) -> bool {
        self.next.get() == self.packets.len()
    }

    fn check(&self, w: &mut Written, buf: &[u8]) -> Result<(), &'static str> {
        let (hdr, p) = if self.mode.vnet_hdr {
            let h = VnetHdr::decode(buf).ok_or("shorter than a virtio-net header")?;
            (h, &buf[VNET_HDR_LEN..])
        } else {
            (VnetHdr::default(), buf)
        };
        if p.len() < 20 || p[0] != 0x45 {
            return Err("not an IPv4 packet without options");
        }
        if usize::from(u16::from_be_bytes([p[2], p[3]])) != p.len() {
            return Err("IP length is not the write's");
        }
        if p[12..16] != self.peer || p[16..20] != self.me {
            return Err("addresses");
        }
        match (p[9], hdr.gso_type) {
            (6, GSO_NONE | GSO_TCPV4) => {
                if p.len() < 40 || p[32] >> 4 != 5 {
                    return Err("TCP header");
                }
                if p[20..22] != TCP_PORTS.0.to_be_bytes() || p[22..24] != TCP_PORTS.1.to_be_bytes()
                {
                    return Err("TCP ports");
                }
                let seq = u32::from_be_bytes([p[24], p[25], p[26], p[27]]);
                if seq != w.tcp_next {
                    return Err("TCP sequence: a segment lost, repeated or reordered");
                }
                let data = &p[40..];
                for (i, &b) in data.iter().enumerate() {
                    if b != pat(self.peer, seq.wrapping_add(i as u32)) {
                        return Err("TCP payload corrupted");
                    }
                }
                if hdr.gso_type == GSO_TCPV4 {
                    if usize::from(hdr.gso_size) != MSS {
                        return Err("gso_size of a TCP super-packet");
                    }
                    w.supers += 1;
                }
                w.tcp_bytes += data.len() as u64;
                w.tcp_next = seq.wrapping_add(data.len() as u32);
            }
            (17, GSO_NONE | GSO_UDP_L4) => {
                if p.len() < 28
                    || p[20..22] != UDP_PORTS.0.to_be_bytes()
                    || p[22..24] != UDP_PORTS.1.to_be_bytes()
                {
                    return Err("UDP header");
                }
                let seg = if hdr.gso_type == GSO_UDP_L4 {
                    w.supers += 1;
                    usize::from(hdr.gso_size)
                } else {
                    p.len() - 28
                };
                if seg != UDP_PAYLOAD {
                    return Err("UDP datagram size");
                }
                let mut seen = self.udp_seen.borrow_mut();
                let mut want = [0u8; UDP_PAYLOAD];
                for d in p[28..].chunks(seg) {
                    if d.len() != UDP_PAYLOAD {
                        return Err("UDP datagram size");
                    }
                    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
                    let Some(s) = seen.get_mut(n as usize) else {
                        return Err("UDP datagram number");
                    };
                    if std::mem::replace(s, true) {
                        return Err("UDP datagram written twice");
                    }
                    udp_payload(self.peer, n, &mut want);
                    if d != want {
                        return Err("UDP payload corrupted");
                    }
                    w.udp_datagrams += 1;
                }
            }
            _ => return Err("protocol or gso_type"),
        }
        Ok(())
    }
}

impl TunDevice for FixedTun {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let i = self.next.get();
        if i >= self.released.get() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.next.set(i + 1);
        let p = &self.packets[i];
        buf[..p.len()].copy_from_slice(p);
        Ok(p.len())
    }

    fn write(&self, pkt: &[u8]) -> io::Result<usize> {
        let mut w = self.w.get();
        w.writes += 1;
        if let Err(why) = self.check(&mut w, pkt) {
            w.bad.get_or_insert((w.writes, why));
        }
        self.w.set(w);
        Ok(pkt.len())
    }

    fn mode(&self) -> TunMode {
        self.mode
    }
}

// ---------------------------------------------------------------------------
// The UDP twin: each side sends into a preallocated ring the other side reads.

const RING_BYTES: usize = 64 << 20;
const RING_ENTRIES: usize = 1 << 16;

#[derive(Clone, Copy)]
struct Entry {
    off: usize,
    len: usize,
    segment: usize,
    from: SocketAddr,
}

/// Messages in flight one way. It is drained whole between steps, and starts over
/// from its beginning once empty.
struct Ring {
    bytes: RefCell<Vec<u8>>,
    entries: RefCell<Vec<Entry>>,
    written: Cell<usize>,
    read: Cell<usize>,
    /// Datagrams of entry `read` already handed out (without GRO).
    sub: Cell<usize>,
    used: Cell<usize>,
    overflows: Cell<u64>,
}

impl Ring {
    fn new() -> Rc<Ring> {
        let e = Entry {
            off: 0,
            len: 0,
            segment: 0,
            from: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        Rc::new(Ring {
            bytes: RefCell::new(vec![0; RING_BYTES]),
            entries: RefCell::new(vec![e; RING_ENTRIES]),
            written: Cell::new(0),
            read: Cell::new(0),
            sub: Cell::new(0),
            used: Cell::new(0),
            overflows: Cell::new(0),
        })
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct UdpStats {
    messages: u64,
    datagrams: u64,
    /// Messages of more than one datagram (GSO runs).
    runs: u64,
    refused: u64,
    /// Messages with a datagram padded under the route MTU of `Config::route_mtus`.
    capped: u64,
}

/// A UDP datagram's sealed length under that route MTU: 16 + 1230 + 16 (under the
/// interface MTU alone every plaintext is a multiple of 16, or 1420).
const CAPPED_LEN: usize = 1262;

struct RingUdp {
    addr: SocketAddr,
    out: Rc<Ring>,
    inp: Rc<Ring>,
    max_segments: usize,
    /// A run arrives as one GRO message (else datagram by datagram).
    gro: bool,
    stats: Cell<UdpStats>,
}

impl UdpEndpoint for RingUdp {
    fn recv_batch(
        &self,
        v6: bool,
        arena: &mut [u8],
        slot: usize,
        metas: &mut [RecvMeta],
    ) -> io::Result<(usize, bool)> {
        let r = &self.inp;
        let mut n = 0;
        if !v6 {
            let bytes = r.bytes.borrow();
            let entries = r.entries.borrow();
            while n < metas.len() && (n + 1) * slot <= arena.len() && r.read.get() < r.written.get()
            {
                let e = entries[r.read.get()];
                let (off, len, segment) = if e.segment == 0 || self.gro {
                    r.read.set(r.read.get() + 1);
                    (e.off, e.len, e.segment)
                } else {
                    let at = r.sub.get() * e.segment;
                    let len = e.segment.min(e.len - at);
                    if at + len >= e.len {
                        r.read.set(r.read.get() + 1);
                        r.sub.set(0);
                    } else {
                        r.sub.set(r.sub.get() + 1);
                    }
                    (e.off + at, len, 0)
                };
                arena[n * slot..n * slot + len].copy_from_slice(&bytes[off..off + len]);
                metas[n] = RecvMeta {
                    len,
                    from: e.from,
                    local: Some(self.addr.ip()),
                    segment,
                };
                n += 1;
            }
            if r.read.get() == r.written.get() {
                r.read.set(0);
                r.written.set(0);
                r.used.set(0);
            }
        }
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok((n, r.read.get() == r.written.get()))
    }

    fn send_batch(&self, arena: &[u8], msgs: &mut [TxMsg]) {
        let r = &self.out;
        let mut st = self.stats.get();
        let mut bytes = r.bytes.borrow_mut();
        let mut entries = r.entries.borrow_mut();
        for m in msgs {
            let k = m.datagrams();
            if k > self.max_segments || m.to.ip() != IpAddr::V4(Ipv4Addr::LOCALHOST) {
                st.refused += 1;
                m.err = libc::EINVAL;
                continue;
            }
            let (w, used) = (r.written.get(), r.used.get());
            if w == RING_ENTRIES || used + m.len > RING_BYTES {
                r.overflows.set(r.overflows.get() + 1);
                m.err = 0; // lost on the way, as a network may
                continue;
            }
            bytes[used..used + m.len].copy_from_slice(&arena[m.off..m.off + m.len]);
            entries[w] = Entry {
                off: used,
                len: m.len,
                segment: if k > 1 { m.segment } else { 0 },
                from: self.addr,
            };
            r.written.set(w + 1);
            r.used.set(used + m.len);
            m.err = 0;
            st.messages += 1;
            st.datagrams += k as u64;
            st.runs += u64::from(k > 1);
            // A run's datagrams are `segment` bytes, but for its last, which may be shorter.
            let (seg, last) = match k {
                1 => (m.len, m.len),
                _ => (m.segment, m.len - (k - 1) * m.segment),
            };
            st.capped += u64::from(seg == CAPPED_LEN || last == CAPPED_LEN);
        }
        self.stats.set(st);
    }

    fn max_segments(&self) -> usize {
        self.max_segments
    }

    fn take_notices(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A log that counts messages and keeps none.
#[derive(Default)]
struct CountLog(Cell<u64>);

impl LogSink for CountLog {
    fn log(&self, _level: Level, _msg: &str) {
        self.0.set(self.0.get() + 1);
    }
}

// ---------------------------------------------------------------------------
// Two links.

struct Side {
    dp: DataPlane<FixedTun, RingUdp>,
    /// The plane's sockets, for the counters.
    udp: Arc<RingUdp>,
    log: CountLog,
}

struct World {
    a: Side,
    b: Side,
    clock: SimClock,
    rng: StdRng,
    bufs: DataBufs,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    mode: TunMode,
    max_segments: usize,
    gro: bool,
    /// Each side has routes through it whose MTU caps the padding of the UDP
    /// datagrams (proto/routemtu.rs): a lookup per packet.
    route_mtus: bool,
}

/// Packets a side's tun hands out: `units` of TCP (and in vnet mode UDP) traffic.
fn packets(me: [u8; 4], peer: [u8; 4], mode: TunMode, units: usize) -> (Vec<Vec<u8>>, usize) {
    let vnet_hdr = mode.vnet_hdr;
    let mut out = Vec::new();
    let (mut seq, mut id, mut dgram) = (SEQ0, 1u16, 0u32);
    for u in 0..units {
        if vnet_hdr {
            // Three TCP super-packets, one USO super-packet, and the odd lone segment.
            for segs in [SEGS, SEGS, 1, SEGS] {
                let mut p = vnet(6, segs).to_vec();
                p.extend(tcp(me, peer, seq, segs, id));
                seq = seq.wrapping_add((MSS * segs) as u32);
                id = id.wrapping_add(segs as u16);
                out.push(p);
            }
            // A tun without USO hands over each datagram alone.
            let segs = if u % 4 == 3 || !mode.uso { 1 } else { UDP_SEGS };
            let mut p = vnet(17, segs).to_vec();
            p.extend(udp(me, peer, dgram, segs, id));
            dgram += segs as u32;
            id = id.wrapping_add(segs as u16);
            out.push(p);
        } else {
            for _ in 0..8 {
                out.push(tcp(me, peer, seq, 1, id));
                seq = seq.wrapping_add(MSS as u32);
                id = id.wrapping_add(1);
            }
            out.push(udp(me, peer, dgram, 1, id));
            dgram += 1;
            id = id.wrapping_add(1);
        }
    }
    (out, dgram as usize)
}

/// Units of traffic per side: before counting (the handshake and warm-up), then in all.
const WARM_UNITS: usize = 8;

impl World {
    fn new(cfg: Config, units: usize) -> World {
        let mut rng = StdRng::seed_from_u64(0xa110c);
        let clock = SimClock::new(Instant::now());
        let now = clock.now();
        let (ra, rb) = (Ring::new(), Ring::new());
        let addr_a: SocketAddr = "127.0.0.1:1111".parse().unwrap();
        let addr_b: SocketAddr = "127.0.0.1:2222".parse().unwrap();
        let mut side = |me: [u8; 4], peer: [u8; 4], addr, out: &Rc<Ring>, inp: &Rc<Ring>| {
            let mut key = [0u8; 32];
            rng.fill_bytes(&mut key);
            let mut p = Interface::new(now, &mut rng);
            p.set_private_key(Some(&key), now);
            let (pkts, dgrams) = packets(me, peer, cfg.mode, units);
            let dp = DataPlane::new(
                FixedTun::new(cfg.mode, pkts, me, peer, dgrams),
                Link::new("wg", p, now),
                1420,
                Box::new(|| {}),
            );
            dp.set_udp(Some(RingUdp {
                addr,
                out: out.clone(),
                inp: inp.clone(),
                max_segments: cfg.max_segments,
                gro: cfg.gro,
                stats: Cell::new(UdpStats::default()),
            }));
            Side {
                udp: dp.udp().unwrap(),
                dp,
                log: CountLog::default(),
            }
        };
        let a = side(A_INNER, B_INNER, addr_a, &ra, &rb);
        let b = side(B_INNER, A_INNER, addr_b, &rb, &ra);
        let (pa, pb) = (
            a.dp.link().proto.public_key().unwrap(),
            b.dp.link().proto.public_key().unwrap(),
        );
        for (s, id, public, inner, ep) in
            [(&a, 2, pb, B_INNER, addr_b), (&b, 1, pa, A_INNER, addr_a)]
        {
            let mut l = s.dp.link();
            let p = &mut l.proto;
            p.add_peer(id, &public, now).unwrap();
            p.add_aip(id, IpAddr::V4(inner.into()), 32).unwrap();
            if cfg.route_mtus {
                // The UDP datagrams (1228 bytes) pad to 1230, not 1232; the TCP
                // segments (1420) are longer than the route allows and pad as before.
                p.set_route_mtu(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 24, Some(1230))
                    .unwrap();
                p.set_route_mtu(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8, None)
                    .unwrap();
                p.set_route_mtu(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 32, Some(1280))
                    .unwrap();
            }
            p.set_endpoint(id, Some(ep));
            p.up(now);
        }
        World {
            a,
            b,
            clock,
            rng,
            bufs: DataBufs::new(),
        }
    }

    /// One step: both tuns release `per_step` packets, each link reads its tun, then
    /// the datagrams are read until both rings are empty; the clock moves 1 ms and
    /// timers run. Nothing here allocates but the code under test.
    fn step(&mut self, a_sends: usize, b_sends: usize) {
        let World {
            a,
            b,
            clock,
            rng,
            bufs,
        } = self;
        a.dp.tun.release(a_sends);
        b.dp.tun.release(b_sends);
        for s in [&mut *a, &mut *b] {
            let mut env = Env {
                clock: &*clock,
                rng: &mut *rng,
                log: &s.log,
            };
            while !s.dp.tun_readable(bufs, &mut env) {}
        }
        // Replies (handshake responses, keepalives) go back and forth a few times.
        for _ in 0..4 {
            for s in [&mut *b, &mut *a] {
                let mut env = Env {
                    clock: &*clock,
                    rng: &mut *rng,
                    log: &s.log,
                };
                while !s.dp.udp_readable(false, bufs, &mut env) {}
                while !s.dp.serve_handshakes(&mut bufs.scratch, &mut env) {}
            }
        }
        clock.advance(std::time::Duration::from_millis(1));
        for s in [&mut *a, &mut *b] {
            let mut env = Env {
                clock: &*clock,
                rng: &mut *rng,
                log: &s.log,
            };
            s.dp.run_timers(&mut bufs.scratch, &mut env);
        }
    }
}

/// Runs `cfg` with `units` of traffic per side (of which WARM_UNITS before counting),
/// `per_step` packets released per side per step; asserts no allocation, and that
/// each tun got all its peer's traffic intact.
fn no_allocations(cfg: Config, units: usize, per_step: usize) {
    no_allocations_with(cfg, units, per_step, false)
}

/// [`no_allocations`], with a rekey between the warm-up and the counting when `rekey`.
fn no_allocations_with(cfg: Config, units: usize, per_step: usize, rekey: bool) {
    let mut w = World::new(cfg, units);
    let unit = if cfg.mode.vnet_hdr { 5 } else { 9 };
    // The handshake: A's first packet is staged until it completes. (Allocating
    // here is allowed; the count shows the meter sees the links' allocations.)
    let handshake = count_allocations(|| {
        w.step(1, 0);
        w.step(0, 0);
    });
    eprintln!("{cfg:?}: the handshake allocated {handshake} times");
    assert!(
        w.b.dp.tun.w.get().writes > 0,
        "the handshake did not complete: {:?} {:?}",
        w.b.dp.tun.w.get(),
        w.a.udp.stats.get()
    );
    while w.a.dp.tun.next.get() < WARM_UNITS * unit {
        w.step(per_step, per_step);
    }
    if rekey {
        // Past REKEY_AFTER_TIME (120 s): A, the initiator, starts a new handshake with
        // its next packet. Handshake messages may allocate (they are queued as owned
        // buffers, a keypair is boxed); the data path on the new keypair may not.
        let first = w.a.dp.link().proto.peer_info(2).unwrap().last_handshake;
        w.clock.advance(std::time::Duration::from_secs(121));
        let mut steps = 0;
        let allocs = count_allocations(|| {
            while w.a.dp.link().proto.peer_info(2).unwrap().last_handshake == first && steps < 10 {
                w.step(1, 1);
                steps += 1;
            }
        });
        assert!(steps < 10, "no rekey within 10 steps");
        eprintln!("{cfg:?}: the rekey allocated {allocs} times");
    }
    let (a0, b0) = (w.a.udp.stats.get(), w.b.udp.stats.get());
    let (wa0, wb0) = (w.a.dp.tun.w.get(), w.b.dp.tun.w.get());
    let mut steps = 0;
    let allocs = count_allocations(|| {
        while !(w.a.dp.tun.all_read() && w.b.dp.tun.all_read()) {
            w.step(per_step, per_step);
            steps += 1;
        }
        w.step(0, 0);
    });
    let (a1, b1) = (w.a.udp.stats.get(), w.b.udp.stats.get());
    let (wa1, wb1) = (w.a.dp.tun.w.get(), w.b.dp.tun.w.get());
    eprintln!(
        "{cfg:?}: {steps} steps; A sent {} datagrams in {} messages ({} runs), B {} in {} ({} runs); \
         B's tun {} writes ({} super-packets), A's {} ({})",
        a1.datagrams - a0.datagrams,
        a1.messages - a0.messages,
        a1.runs - a0.runs,
        b1.datagrams - b0.datagrams,
        b1.messages - b0.messages,
        b1.runs - b0.runs,
        wb1.writes - wb0.writes,
        wb1.supers - wb0.supers,
        wa1.writes - wa0.writes,
        wa1.supers - wa0.supers,
    );
    assert_eq!(
        allocs,
        0,
        "{cfg:?}: the data path allocated {allocs} times for {} + {} datagrams \
         (WGIF_ALLOC_TRACE=1 prints where)",
        a1.datagrams - a0.datagrams,
        b1.datagrams - b0.datagrams
    );
    // Everything each side's tun handed out reached the other's tun, intact.
    for (name, tx, rx) in [("A -> B", &w.a, &w.b), ("B -> A", &w.b, &w.a)] {
        let got = rx.dp.tun.w.get();
        assert_eq!(got.bad, None, "{name}: a bad write: {got:?}");
        let (tcp_sent, udp_sent) = tx.dp.tun.packets.iter().fold((0u64, 0u64), |(t, u), p| {
            let ip = &p[if cfg.mode.vnet_hdr { VNET_HDR_LEN } else { 0 }..];
            match ip[9] {
                6 => (t + (ip.len() - 40) as u64, u),
                _ => (t, u + ((ip.len() - 28) / UDP_PAYLOAD) as u64),
            }
        });
        assert_eq!(got.tcp_bytes, tcp_sent, "{name}: TCP bytes: {got:?}");
        assert_eq!(
            got.udp_datagrams, udp_sent,
            "{name}: UDP datagrams: {got:?}"
        );
        assert!(
            rx.dp.tun.udp_seen.borrow().iter().all(|&s| s),
            "{name}: a UDP datagram is missing"
        );
        assert_eq!(tx.udp.out.overflows.get(), 0, "{name}: the ring overflowed");
        assert_eq!(tx.udp.stats.get().refused, 0, "{name}: sends refused");
        assert_eq!(
            tx.dp.link().drops,
            Drops::default(),
            "{name}: sender's drops"
        );
        assert_eq!(
            rx.dp.link().drops,
            Drops::default(),
            "{name}: receiver's drops"
        );
    }
    // What the configuration is about did happen while counting.
    assert_eq!(
        (a1.capped > a0.capped, b1.capped > b0.capped),
        (cfg.route_mtus, cfg.route_mtus),
        "{cfg:?}: datagrams padded under the route MTU: {a1:?} {b1:?}"
    );
    if cfg.max_segments > 1 {
        assert!(
            a1.runs > a0.runs && b1.runs > b0.runs,
            "{cfg:?}: no GSO runs were sent"
        );
    }
    if cfg.mode.gro_tcp {
        assert!(
            wb1.supers > wb0.supers && wa1.supers > wa0.supers,
            "{cfg:?}: nothing was coalesced"
        );
    }
}

const PLAIN: TunMode = TunMode {
    vnet_hdr: false,
    uso: false,
    gro_tcp: false,
    gro_udp: false,
};
const VNET: TunMode = TunMode {
    vnet_hdr: true,
    uso: true,
    gro_tcp: true,
    gro_udp: true,
};

#[test]
fn plain_tun_single_datagrams() {
    no_allocations(
        Config {
            mode: PLAIN,
            max_segments: 1,
            gro: false,
            route_mtus: false,
        },
        500,
        36,
    );
}

#[test]
fn plain_tun_gso_runs_and_gro() {
    no_allocations(
        Config {
            mode: PLAIN,
            max_segments: 64,
            gro: true,
            route_mtus: false,
        },
        500,
        36,
    );
}

#[test]
fn vnet_super_packets_single_datagrams() {
    no_allocations(
        Config {
            mode: VNET,
            max_segments: 1,
            gro: false,
            route_mtus: false,
        },
        40,
        5,
    );
}

#[test]
fn vnet_super_packets_gso_runs_and_gro() {
    no_allocations(
        Config {
            mode: VNET,
            max_segments: 64,
            gro: true,
            route_mtus: false,
        },
        40,
        5,
    );
}

#[test]
fn vnet_super_packets_gso_runs_and_gro_after_a_rekey() {
    no_allocations_with(
        Config {
            mode: VNET,
            max_segments: 64,
            gro: true,
            route_mtus: false,
        },
        40,
        5,
        true,
    );
}

/// The meter works: what it must count, it counts (and only on its own thread).
#[test]
fn the_counter_counts() {
    let v = count_allocations(|| {
        let b = std::hint::black_box(Box::new([7u8; 100]));
        let mut s = String::with_capacity(1);
        s.push_str(std::hint::black_box("more than one byte"));
        drop((b, s));
    });
    assert_eq!(v, 3, "a Box, a String and its growth");
    let other = count_allocations(|| {
        std::thread::spawn(|| std::hint::black_box(vec![1u8; 10]).len())
            .join()
            .unwrap();
    });
    assert!(other >= 1, "spawning a thread allocates here");
    assert_eq!(count_allocations(|| {}), 0);
}

/// tun-gro off: super-packets are still split on the way in, and each decrypted
/// packet is written alone behind its own virtio-net header.
#[test]
fn vnet_super_packets_without_tun_gro() {
    no_allocations(
        Config {
            mode: TunMode {
                gro_tcp: false,
                gro_udp: false,
                ..VNET
            },
            max_segments: 64,
            gro: true,
            route_mtus: false,
        },
        40,
        5,
    );
}

/// tun-uso off: TCP super-packets only, UDP datagrams one by one and never coalesced.
#[test]
fn vnet_tcp_super_packets_without_uso() {
    no_allocations(
        Config {
            mode: TunMode {
                uso: false,
                gro_udp: false,
                ..VNET
            },
            max_segments: 64,
            gro: true,
            route_mtus: false,
        },
        40,
        5,
    );
}

/// Routes whose MTU caps padding: a route lookup per packet, and runs that end
/// where the padding MTU changes, allocate nothing either.
#[test]
fn vnet_super_packets_gso_runs_and_gro_under_route_mtus() {
    no_allocations(
        Config {
            mode: VNET,
            max_segments: 64,
            gro: true,
            route_mtus: true,
        },
        40,
        5,
    );
}

#[test]
fn plain_tun_gso_runs_and_gro_under_route_mtus() {
    no_allocations(
        Config {
            mode: PLAIN,
            max_segments: 64,
            gro: true,
            route_mtus: true,
        },
        500,
        36,
    );
}
