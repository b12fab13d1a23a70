//! What the fuzz targets share: a byte reader that turns the fuzzer's input into
//! choices, fixed keys and a simulated clock (so one input always runs the same way),
//! engines set up the way wgd sets them up, the MACs an honest peer would add, and
//! in-memory stand-ins for wgd and the resolver behind `wgifconfig`.
//!
//! Nothing here talks to the network or the system: a target that crashes on an input
//! crashes the same way on every run of it.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wgif::ifconfig::control::{Control, CtlError};
use wgif::ifconfig::resolve::Resolve;
use wgif::ioctl::model::InterfaceIo;
use wgif::ioctl::request::{iff, IfInfo, Inet4Addr, Inet6Addr};
use wgif::proto::cookie::CookieMaker;
use wgif::proto::crypto::PrivateKey;
use wgif::proto::{Interface, PeerId};

/// Reads choices from the fuzzer's bytes; past the end every read is zero, so a
/// short input is a valid (small) scenario rather than a rejected one.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// Exactly `n` bytes, zero-padded past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        out
    }

    /// Up to `max` bytes, the length read first (one byte scaled, two for large max).
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let want = if max > 255 {
            self.u16() as usize
        } else {
            self.u8() as usize
        };
        self.take(want.min(max))
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// The one origin of the simulated monotonic clock (std makes an `Instant` only by
/// asking the OS; every run measures from this one, so runs agree).
pub fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// A fixed wall clock: 2023-11-14.
pub fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// The engine's RNG: seeded, so an input's run is the same every time.
pub fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(0x5767_6966)
}

/// The interface under test ("B") and the peer that talks to it ("A").
pub const KEY_A: [u8; 32] = [0x11; 32];
pub const KEY_B: [u8; 32] = [0x22; 32];
/// A key no interface knows (an initiation claiming it names an unknown peer).
pub const KEY_C: [u8; 32] = [0x33; 32];

/// The public keys of [`KEY_A`], [`KEY_B`], [`KEY_C`], derived once.
pub fn publics() -> &'static [[u8; 32]; 3] {
    static P: OnceLock<[[u8; 32]; 3]> = OnceLock::new();
    P.get_or_init(|| [KEY_A, KEY_B, KEY_C].map(|k| PrivateKey::from_bytes(&k).public_key()))
}

/// A's id on B.
pub const PEER_A: PeerId = 1;
/// A's addresses: the source of its UDP datagrams, its tunnel addresses.
pub const A_ENDPOINT: &str = "192.0.2.1:51820";
pub const A_ENDPOINT6: &str = "[2001:db8::1]:51820";
pub const A_INNER4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const A_INNER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
pub const B_INNER4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const B_INNER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
/// B's local address (the datagrams' destination).
pub const B_LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

pub fn a_endpoint(v6: bool) -> SocketAddr {
    if v6 { A_ENDPOINT6 } else { A_ENDPOINT }.parse().unwrap()
}

/// Interface B as wgd configures it: its key, peer A with an endpoint and A's
/// tunnel addresses as allowed IPs (v4 and v6), optionally a PSK, up.
pub fn responder(psk: Option<&[u8; 32]>) -> Interface {
    let now = origin();
    let mut b = Interface::new(now, &mut rng());
    b.set_private_key(Some(&KEY_B), now);
    b.add_peer(PEER_A, &publics()[0], now).unwrap();
    b.add_aip(PEER_A, IpAddr::V4(A_INNER4), 32).unwrap();
    b.add_aip(PEER_A, IpAddr::V6(A_INNER6), 128).unwrap();
    b.set_endpoint(PEER_A, Some(a_endpoint(false)));
    b.set_psk(PEER_A, psk);
    b.up(now);
    b
}

/// mac1 (and mac2 when `cookies` holds a cookie from B) over a handshake message
/// bound for B, computed as an honest peer computes them: by the engine's own
/// `CookieMaker` for B's public key. Messages too short for MACs are left alone.
pub fn add_macs(cookies: &mut CookieMaker, now: Instant, msg: &mut [u8]) {
    if msg.len() >= 32 {
        cookies.add_macs(now, msg);
    }
}

/// A `CookieMaker` for messages to B.
pub fn macs_for_b() -> CookieMaker {
    CookieMaker::new(&publics()[1])
}

/// An IPv4 packet from `src` to `dst` carrying `payload` (protocol `proto`), with
/// a correct total length; the rest of the header is the fuzzer's choice.
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20 + payload.len()];
    p[0] = 0x45;
    let len = p.len().min(u16::MAX as usize) as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p[8] = 64;
    p[9] = proto;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p[20..].copy_from_slice(payload);
    p
}

/// An IPv6 packet from `src` to `dst` carrying `payload`.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40 + payload.len()];
    p[0] = 0x60;
    let len = payload.len().min(u16::MAX as usize) as u16;
    p[4..6].copy_from_slice(&len.to_be_bytes());
    p[6] = next;
    p[7] = 64;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p[40..].copy_from_slice(payload);
    p
}

/// Applies up to `n` fuzzer-chosen byte edits (position, xor) to `msg`.
pub fn mutate(input: &mut Input<'_>, msg: &mut [u8], n: usize) {
    if msg.is_empty() {
        return;
    }
    for _ in 0..n {
        let at = input.u16() as usize % msg.len();
        msg[at] ^= input.u8();
    }
}

/// A resolver for `wgendpoint`/`wgpeer ... wgendpoint` that never asks the network:
/// numeric addresses and ports only, as getaddrinfo with AI_NUMERICHOST would.
pub struct NumericResolver;

impl Resolve for NumericResolver {
    fn resolve(&self, host: &str, port: &str) -> Result<SocketAddr, String> {
        let ip: IpAddr = host
            .parse()
            .map_err(|_| "no address associated with name".to_string())?;
        let port: u16 = port
            .parse()
            .map_err(|_| "Servname not supported for ai_socktype".to_string())?;
        Ok(SocketAddr::new(ip, port))
    }
}

/// wgd in memory for `wgifconfig`: one interface `wg0`, whose SIOCSWG requests are
/// encoded into the ABI buffer and decoded back the way wgd receives them, and
/// whose SIOCGWG answers the last request (as a root caller sees it).
pub struct FakeWgd {
    pub info: IfInfo,
    pub wg: InterfaceIo,
    pub exists: bool,
}

impl Default for FakeWgd {
    fn default() -> Self {
        FakeWgd {
            info: IfInfo {
                name: "wg0".into(),
                flags: iff::UP | iff::RUNNING,
                mtu: 1420,
                groups: vec!["wg".into()],
                ..IfInfo::default()
            },
            wg: InterfaceIo::default(),
            exists: true,
        }
    }
}

impl FakeWgd {
    fn check(&self, ifname: &str) -> Result<(), CtlError> {
        if self.exists && ifname == self.info.name {
            Ok(())
        } else {
            Err(CtlError::errno(wgif::ifconfig::control::ENXIO))
        }
    }
}

impl Control for FakeWgd {
    fn create(&mut self, ifname: &str) -> Result<(), CtlError> {
        if ifname != self.info.name {
            return Err(CtlError::errno(wgif::ifconfig::control::EINVAL));
        }
        self.exists = true;
        Ok(())
    }
    fn destroy(&mut self, ifname: &str) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.exists = false;
        Ok(())
    }
    fn get_info(&mut self, ifname: &str) -> Result<IfInfo, CtlError> {
        self.check(ifname)?;
        Ok(self.info.clone())
    }
    fn list_interfaces(&mut self) -> Result<Vec<IfInfo>, CtlError> {
        Ok(if self.exists {
            vec![self.info.clone()]
        } else {
            vec![]
        })
    }
    fn set_flags(&mut self, ifname: &str, flags: u32) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.info.flags = flags;
        Ok(())
    }
    fn set_mtu(&mut self, ifname: &str, mtu: u32) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.info.mtu = mtu;
        Ok(())
    }
    fn set_rdomain(&mut self, ifname: &str, rdomain: u32) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.info.rdomain = rdomain;
        Ok(())
    }
    fn set_description(&mut self, ifname: &str, descr: &str) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.info.description = descr.to_string();
        Ok(())
    }
    fn add_inet(&mut self, ifname: &str, addr: Inet4Addr) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.info.inet.push(addr);
        Ok(())
    }
    fn del_inet(&mut self, ifname: &str, addr: Ipv4Addr) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.info.inet.retain(|a| a.addr != addr);
        Ok(())
    }
    fn add_inet6(&mut self, ifname: &str, addr: Inet6Addr) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.info.inet6.push(addr);
        Ok(())
    }
    fn del_inet6(&mut self, ifname: &str, addr: Ipv6Addr) -> Result<(), CtlError> {
        self.check(ifname)?;
        self.info.inet6.retain(|a| a.addr != addr);
        Ok(())
    }
    fn get_wg(&mut self, ifname: &str) -> Result<InterfaceIo, CtlError> {
        self.check(ifname)?;
        Ok(self.wg.clone())
    }
    fn set_wg(&mut self, ifname: &str, wg: &InterfaceIo) -> Result<(), CtlError> {
        use wgif::ioctl::codec::{decode, encode, Dir};
        self.check(ifname)?;
        // What wgifconfig sends must be what wgd reads.
        let buf = encode(wg, Dir::Set);
        let back = decode(&buf, Dir::Set)
            .unwrap_or_else(|e| panic!("wgifconfig's own SIOCSWG does not decode: {e:?}"));
        assert_eq!(&back, wg, "SIOCSWG changed on its way to wgd");
        self.wg = back;
        Ok(())
    }
}

/// One wg interface's configuration as wgd keeps it (engine, socket settings,
/// endpoint names, the global peer counter), changed and read through the same
/// functions wgd's request handlers call (driver/apply.rs), on a simulated clock.
pub struct WgState {
    pub proto: Interface,
    pub sock: wgif::driver::apply::SocketConf,
    pub names: wgif::driver::reresolve::EndpointNames,
    pub next_peer_id: PeerId,
}

impl Default for WgState {
    fn default() -> Self {
        WgState {
            proto: Interface::new(origin(), &mut rng()),
            sock: Default::default(),
            names: Default::default(),
            next_peer_id: 1,
        }
    }
}

impl WgState {
    /// SIOCSWG with an already decoded model: the port "binds" as asked (0 gets 40000).
    pub fn set_wg(&mut self, model: &InterfaceIo) -> Result<(), i32> {
        use wgif::driver::link::Env;
        let clock = wgif::driver::twin::SimClock::new(origin());
        wgif::driver::apply::set_wg(
            &mut self.proto,
            &mut self.sock,
            &mut self.names,
            model,
            &mut self.next_peer_id,
            |_rtable, port| Ok(if port == 0 { 40000 } else { port }),
            &mut Env {
                clock: &clock,
                rng: &mut rng(),
                log: &(),
            },
        )
    }

    /// SIOCSWG as wgd receives it: the raw `wg_interface_io` buffer, decoded by
    /// wgd's own `apply::decode_set_wg` (its errnos), then applied.
    pub fn set_wg_buffer(&mut self, data: &[u8]) -> Result<(), i32> {
        let model = wgif::driver::apply::decode_set_wg(data.to_vec())?;
        self.set_wg(&model)
    }

    /// SIOCGWG for a caller offering `capacity` bytes; a returned buffer is checked
    /// to decode (what wgifconfig does with it) and to agree with the engine.
    pub fn get_wg(&self, capacity: u64, privileged: bool) -> (u64, Option<Vec<u8>>) {
        use wgif::ioctl::codec::{decode, Dir};
        let (size, data) =
            wgif::driver::apply::get_wg_reply(&self.proto, self.sock, None, capacity, privileged);
        if let Some(d) = &data {
            assert_eq!(d.len() as u64, size, "SIOCGWG size and buffer disagree");
            let m = decode(d, Dir::Get)
                .unwrap_or_else(|e| panic!("wgd's own SIOCGWG answer does not decode: {e:?}"));
            if privileged {
                assert_eq!(m.peers.len(), self.proto.peer_count(), "peers in SIOCGWG");
            } else {
                assert!(
                    m.private.is_none() && m.peers.is_empty(),
                    "unprivileged view"
                );
            }
        }
        (size, data.map(|d| d.to_vec()))
    }
}

/// A connected pair: the daemon's end (non-blocking, for its connection objects)
/// and the client's end (non-blocking too, driven by [`converse`]).
pub fn socket_pair() -> (mio::net::UnixStream, std::os::unix::net::UnixStream) {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    ours.set_nonblocking(true).unwrap();
    theirs.set_nonblocking(true).unwrap();
    (mio::net::UnixStream::from_std(ours), theirs)
}

/// Plays the client: writes `stream` (then shuts its side), reads everything the
/// connection answers, and lets the connection take turns (`serve`) until it says
/// `Close`. Returns what was answered; panics if the connection does not finish
/// within a generous number of turns (a livelock on some input).
pub fn converse(
    client: &mut std::os::unix::net::UnixStream,
    stream: &[u8],
    mut serve: impl FnMut() -> wgif::driver::control::After,
) -> Vec<u8> {
    use std::io::{ErrorKind, Read, Write};
    let mut sent = 0usize;
    let mut shut = false;
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 65536];
    for _ in 0..100_000 {
        if sent < stream.len() {
            match client.write(&stream[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("client write: {e}"),
            }
        }
        if sent == stream.len() && !shut {
            client.shutdown(std::net::Shutdown::Write).unwrap();
            shut = true;
        }
        let after = serve();
        // The client reads everything it is sent, so answers never back up.
        loop {
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("client read: {e}"),
            }
        }
        if after == wgif::driver::control::After::Close {
            return answer;
        }
    }
    panic!("the connection never finished with its input");
}

/// Runs one `wgifconfig` command line (the arguments after argv[0]) against `wgd`,
/// as `wgifconfig` and `wgnetstart` do; returns the exit status and the output.
pub fn wgifconfig(args: &[String], wgd: &mut FakeWgd) -> (i32, Vec<u8>, Vec<u8>) {
    use wgif::ifconfig::exec::{run, Io};
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Io {
        prog: "wgifconfig",
        now: 1_700_000_000,
        stdout: &mut out,
        stderr: &mut err,
    };
    let status = run(args, wgd, &NumericResolver, &mut io);
    (status, out, err)
}

// ---------------------------------------------------------------------------------
// The honest (or not) peer A of the engine targets: real Noise messages built with
// the engine's own noise module, so the fuzzer starts past mac1 and the AEADs and
// spends its time on the states behind them. Expensive results (X25519) are kept:
// a message is a pure function of the keys, the timestamp and the transcript.
// ---------------------------------------------------------------------------------

use std::collections::HashMap;
use std::sync::Mutex;
use wgif::proto::consts::{INITIATION_LEN, RESPONSE_LEN};
use wgif::proto::crypto::{dh, Secret32};
use wgif::proto::noise::{self, InitiatorState};

/// The ephemeral keys A may use (the fuzzer picks one).
pub const EPHEMERALS: [[u8; 32]; 4] = [[0x41; 32], [0x42; 32], [0x43; 32], [0x44; 32]];

/// TAI64N timestamps A may send: zero, now, one nanosecond later, the largest.
pub fn timestamp(i: u8) -> [u8; 12] {
    let now = (1u64 << 62) + 1_700_000_000;
    let mut t = [0u8; 12];
    match i % 4 {
        0 => {}
        1 | 2 => {
            t[..8].copy_from_slice(&now.to_be_bytes());
            t[8..].copy_from_slice(&u32::from(i % 4 - 1).to_be_bytes());
        }
        _ => t = [0xff; 12],
    }
    t
}

/// The private keys an initiation may claim to come from: A (B's peer), C (unknown
/// to B), B itself.
pub const STATICS: [[u8; 32]; 3] = [KEY_A, KEY_C, KEY_B];

/// The two PSKs: B's (when it has one) and a wrong one.
pub const PSK: [u8; 32] = [0x50; 32];
pub const WRONG_PSK: [u8; 32] = [0x51; 32];

/// An initiation (without MACs, sender index 0) and the state to read its response.
#[derive(Clone)]
pub struct Initiation {
    pub msg: [u8; INITIATION_LEN],
    pub c: [u8; 32],
    pub h: [u8; 32],
    pub ephemeral: [u8; 32],
}

impl Initiation {
    /// The message with `sender` as its sender index (not covered by the Noise hash).
    pub fn with_sender(&self, sender: u32) -> [u8; INITIATION_LEN] {
        let mut m = self.msg;
        m[4..8].copy_from_slice(&sender.to_le_bytes());
        m
    }

    pub fn state(&self, sender: u32) -> InitiatorState {
        InitiatorState {
            c: self.c,
            h: self.h,
            ephemeral: PrivateKey::from_bytes(&self.ephemeral),
            local_index: sender,
        }
    }
}

/// The initiation from `STATICS[s]` to B with `EPHEMERALS[e]` and `timestamp(t)`.
pub fn initiation(e: u8, s: u8, t: u8) -> Initiation {
    type Cache = Mutex<HashMap<(u8, u8, u8), Initiation>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (e % 4, s % 3, t % 4);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(i) = cache.lock().unwrap().get(&key) {
        return i.clone();
    }
    let local = PrivateKey::from_bytes(&STATICS[key.1 as usize]);
    let b_public = publics()[1];
    let ss = dh(&local, &b_public).expect("fixed keys are not low order");
    let mut msg = [0u8; INITIATION_LEN];
    let st = noise::create_initiation(
        &mut msg,
        &local.public_key(),
        &b_public,
        &ss,
        PrivateKey::from_bytes(&EPHEMERALS[key.0 as usize]),
        &timestamp(key.2),
        0,
    )
    .expect("fixed keys are not low order");
    let i = Initiation {
        msg,
        c: st.c,
        h: st.h,
        ephemeral: *st.ephemeral.as_bytes(),
    };
    cache.lock().unwrap().insert(key, i.clone());
    i
}

/// Transport keys (A sends with the first, B with the second).
#[derive(Clone, Copy)]
pub struct Keys {
    pub send: [u8; 32],
    pub recv: [u8; 32],
}

/// A reads B's response to `init` (sent as `STATICS[s]`, with `psk`): the transport
/// keys, or None if the response does not authenticate.
pub fn read_response(init: &Initiation, s: u8, psk: &[u8; 32], resp: &[u8]) -> Option<Keys> {
    type Key = (Vec<u8>, [u8; 32], u8, [u8; 32]);
    static CACHE: OnceLock<Mutex<HashMap<Key, Option<Keys>>>> = OnceLock::new();
    let key: Key = (resp.to_vec(), init.ephemeral, s % 3, *psk);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(k) = cache.lock().unwrap().get(&key) {
        return *k;
    }
    let msg = wgif::proto::wire::Response::new_checked(resp)?;
    let st = init.state(0);
    let local = PrivateKey::from_bytes(&STATICS[(s % 3) as usize]);
    let keys = noise::consume_response(&msg, &st, &local, &Secret32(*psk)).map(|c| {
        let (t1, t2) = noise::derive_transport_keys(&c);
        Keys {
            send: t1.0,
            recv: t2.0,
        }
    });
    let mut cache = cache.lock().unwrap();
    if cache.len() > 4096 {
        cache.clear();
    }
    cache.insert(key, keys);
    keys
}

/// A answers B's initiation `msg` (when it authenticates as B's, to A): a response
/// with `EPHEMERALS[e]` and `sender`, and the transport keys (A as responder sends
/// with the second key).
pub fn answer_initiation(
    msg: &[u8],
    e: u8,
    sender: u32,
    psk: &[u8; 32],
) -> Option<([u8; RESPONSE_LEN], Keys)> {
    let init = wgif::proto::wire::Initiation::new_checked(msg)?;
    let a = PrivateKey::from_bytes(&KEY_A);
    let partial = noise::consume_initiation_static(&init, &a, &publics()[0])?;
    let ss = dh(&a, &publics()[1])?;
    let (st, _ts) = noise::consume_initiation_finish(partial, &init, &ss)?;
    let mut out = [0u8; RESPONSE_LEN];
    let c = noise::create_response(
        &mut out,
        &st,
        &publics()[1],
        &Secret32(*psk),
        PrivateKey::from_bytes(&EPHEMERALS[(e % 4) as usize]),
        sender,
    )?;
    let (t1, t2) = noise::derive_transport_keys(&c);
    Some((
        out,
        Keys {
            send: t2.0,
            recv: t1.0,
        },
    ))
}

/// A transport data message from A: `inner` padded with `pad` zero bytes, sealed
/// with `key` at `counter`, for B's index `receiver`.
pub fn seal_data(key: &[u8; 32], receiver: u32, counter: u64, inner: &[u8], pad: usize) -> Vec<u8> {
    let mut m = vec![0u8; 16 + inner.len() + pad + 16];
    m[0] = 4;
    m[4..8].copy_from_slice(&receiver.to_le_bytes());
    m[8..16].copy_from_slice(&counter.to_le_bytes());
    m[16..16 + inner.len()].copy_from_slice(inner);
    let ok = wgif::proto::crypto::aead_seal(key, counter, &mut m[16..], &[]);
    assert!(ok);
    m
}

/// Opens a data message from B with `key`: the padded plaintext, or None.
pub fn open_data(key: &[u8; 32], msg: &[u8]) -> Option<Vec<u8>> {
    if msg.len() < 32 || msg[..4] != [4, 0, 0, 0] {
        return None;
    }
    let counter = u64::from_le_bytes(msg[8..16].try_into().ok()?);
    let mut body = msg[16..].to_vec();
    wgif::proto::crypto::aead_open(key, counter, &mut body, &[]).then(|| {
        body.truncate(body.len() - 16);
        body
    })
}

/// Every datagram B has queued (B's handshake messages, cookie replies, keepalives),
/// and its events rendered as text (which must not panic either).
pub fn drain(b: &mut Interface) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Some(t) = b.poll_transmit(&mut buf) {
        assert!(t.len <= buf.len());
        out.push(buf[..t.len].to_vec());
    }
    while let Some(e) = b.poll_event() {
        let _ = e.to_string();
    }
    out
}
