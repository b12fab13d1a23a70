//! The data path under each kernel offload configuration (`wgd -O`): a 200 MB TCP
//! stream of deterministic pseudo-random bytes each way through the tunnel, compared
//! by SHA-256 at the receiver, and a burst of UDP datagrams sent with UDP_SEGMENT
//! (USO super-packets on a tun that accepted them), each checked on arrival.
//!
//! wgd ↔ wgd: the wg(4) example, wg1 (rdomain 1, 192.168.5.1) ↔ wg2 (rdomain 2,
//! 192.168.5.2), one daemon serving both ends; also over IPv6 inside (fd55::1 ↔
//! fd55::2) and outside (::1) for all on / all off. wgd ↔ wireguard-go: wgd's wg1 in
//! rdomain 1 (10.99.0.2) ↔ wireguard-go's tun in the daemon's namespace (10.99.0.1),
//! set up as tests/netns_interop.rs does.
//!
//! The transfers run in this process: a thread enters a namespace with setns(2)
//! (which moves only that thread) and uses std's sockets, every wait bounded.

mod common;
use common::{in_netns, join, ok, wait_for, Wgd};
use nix::sys::socket::{setsockopt, sockopt};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Bytes of each TCP stream.
const STREAM_BYTES: u64 = 200_000_000;
/// A whole transfer must end within this.
const TRANSFER_LIMIT: Duration = Duration::from_secs(300);
/// A stream that moves nothing for this long has stalled.
const STALL: Duration = Duration::from_secs(30);
const TCP_PORT: u16 = 5001;
const UDP_PORT: u16 = 6001;
/// The UDP burst: datagrams, their size, and how many go in one UDP_SEGMENT send.
const UDP_COUNT: u32 = 5000;
const UDP_SIZE: usize = 1200;
const UDP_PER_SEND: usize = 20;
/// Datagrams of the burst ahead of the receiver: under a tun's queue length...
const TUN_WINDOW: usize = 400;
/// ...and when wireguard-go is on the path, under what its socket buffer holds.
const GO_WINDOW: usize = 60;

/// The offload names of `wgd -O` (src/driver/offload.rs), in its order.
const OFFLOADS: [&str; 6] = [
    "tun-tso", "tun-uso", "tun-gro", "udp-gso", "udp-gro", "mmsg",
];

/// splitmix64: a deterministic pseudo-random byte stream from a seed.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

/// What one end of a stream saw: bytes and their SHA-256.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    bytes: u64,
    sha256: [u8; 32],
}

/// Accepts one connection on `listen` and reads it to EOF, hashing.
fn receive(listen: SocketAddr, ready: mpsc::Sender<()>) -> Result<Seen, String> {
    let l = TcpListener::bind(listen).map_err(|e| format!("bind {listen}: {e}"))?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let _ = ready.send(());
    let end = Instant::now() + TRANSFER_LIMIT;
    let mut conn = None;
    let accepted = wait_for(STALL, || match l.accept() {
        Ok((s, _)) => {
            conn = Some(s);
            true
        }
        Err(_) => false,
    });
    let mut s = match (accepted, conn) {
        (true, Some(s)) => s,
        _ => return Err(format!("no connection on {listen} within {STALL:?}")),
    };
    s.set_nonblocking(false).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(STALL)).map_err(|e| e.to_string())?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        if Instant::now() > end {
            return Err(format!("not done after {TRANSFER_LIMIT:?} ({bytes} bytes)"));
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                bytes += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read after {bytes} bytes: {e}")),
        }
    }
    Ok(Seen {
        bytes,
        sha256: h.finalize().into(),
    })
}

/// Connects to `to` (retrying while the handshake runs) and sends `STREAM_BYTES`
/// pseudo-random bytes from `seed`, hashing them.
fn send(to: SocketAddr, seed: u64) -> Result<Seen, String> {
    let end = Instant::now() + TRANSFER_LIMIT;
    let mut conn = None;
    let mut last = String::new();
    wait_for(STALL, || {
        match TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
            Ok(s) => {
                conn = Some(s);
                true
            }
            Err(e) => {
                last = e.to_string();
                false
            }
        }
    });
    let mut s = conn.ok_or(format!("connect {to}: {last}"))?;
    s.set_write_timeout(Some(STALL))
        .map_err(|e| e.to_string())?;
    let mut rng = Prng(seed);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    while bytes < STREAM_BYTES {
        if Instant::now() > end {
            return Err(format!("not done after {TRANSFER_LIMIT:?} ({bytes} bytes)"));
        }
        let n = buf.len().min((STREAM_BYTES - bytes) as usize);
        rng.fill(&mut buf[..n]);
        h.update(&buf[..n]);
        s.write_all(&buf[..n])
            .map_err(|e| format!("write after {bytes} bytes: {e}"))?;
        bytes += n as u64;
    }
    s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
    // Wait (bounded) for the receiver to close, so the stream is not cut short.
    s.set_read_timeout(Some(STALL)).map_err(|e| e.to_string())?;
    let _ = s.read(&mut [0u8; 1]);
    Ok(Seen {
        bytes,
        sha256: h.finalize().into(),
    })
}

/// One end of the tunnel: its namespace and inner address.
#[derive(Clone)]
struct End {
    ns: String,
    ip: &'static str,
}

/// `ip` (v4 or v6) and `port`.
fn at(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// A 200 MB stream each way between `a` and `b`, both at once; returns what went
/// wrong, direction by direction.
fn streams_both_ways(a: &End, b: &End) -> Vec<String> {
    let mut errors = Vec::new();
    let mut runs = Vec::new();
    for (i, (from, to)) in [(a, b), (b, a)].into_iter().enumerate() {
        let dir = format!("{} -> {}", from.ip, to.ip);
        let addr = at(to.ip, TCP_PORT);
        let (tx, rx) = mpsc::channel();
        let receiver = in_netns(&to.ns, move || receive(addr, tx));
        if rx.recv_timeout(STALL).is_err() {
            errors.push(format!("{dir}: {:?}", join(receiver, "receiver").err()));
            continue;
        }
        let sender = in_netns(&from.ns, move || send(addr, 0x5eed_0000 + i as u64));
        runs.push((dir, sender, receiver));
    }
    for (dir, sender, receiver) in runs {
        let sent = join(sender, "sender");
        let got = join(receiver, "receiver");
        match (sent, got) {
            (Ok(s), Ok(r)) => {
                if s.bytes != STREAM_BYTES {
                    errors.push(format!("{dir}: sent {} bytes", s.bytes));
                }
                if r != s {
                    errors.push(format!(
                        "{dir}: received {} bytes with SHA-256 {}, sent {} bytes with {}",
                        r.bytes,
                        hex::encode(r.sha256),
                        s.bytes,
                        hex::encode(s.sha256)
                    ));
                }
            }
            (s, r) => errors.push(format!("{dir}: sender {s:?}, receiver {r:?}")),
        }
    }
    errors
}

/// Datagram `seq` of the burst: seq (8 bytes), the SHA-256 prefix of the rest
/// (8 bytes), then pseudo-random bytes from `seq`.
fn datagram(seq: u32, out: &mut [u8]) {
    out[..8].copy_from_slice(&u64::from(seq).to_le_bytes());
    Prng(0xd47a_0000_0000 + u64::from(seq)).fill(&mut out[16..]);
    let sum = Sha256::digest(&out[16..]);
    out[8..16].copy_from_slice(&sum[..8]);
}

/// Whether `d` is an intact datagram of the burst; its sequence number.
fn check_datagram(d: &[u8]) -> Result<u32, String> {
    if d.len() != UDP_SIZE {
        return Err(format!("a datagram of {} bytes", d.len()));
    }
    let seq = u64::from_le_bytes(d[..8].try_into().unwrap());
    if seq >= u64::from(UDP_COUNT) {
        return Err(format!("sequence number {seq}"));
    }
    let mut want = vec![0u8; UDP_SIZE];
    datagram(seq as u32, &mut want);
    if d != want {
        return Err(format!("datagram {seq} corrupted"));
    }
    Ok(seq as u32)
}

/// Sends the burst from `from` to `to` in UDP_SEGMENT runs, with at most `window`
/// datagrams ahead of what the receiver has read (None: as fast as it goes); returns
/// how many arrived.
fn udp_burst(from: &End, to: &End, window: Option<usize>) -> Result<usize, String> {
    let addr = at(to.ip, UDP_PORT);
    let (tx, rx) = mpsc::channel();
    let progress = Arc::new(AtomicUsize::new(0));
    let read = progress.clone();
    let receiver = in_netns(&to.ns, move || {
        let s = common::udp_receiver(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(3)))
            .map_err(|e| e.to_string())?;
        let _ = tx.send(());
        let end = Instant::now() + Duration::from_secs(60);
        let mut seen = HashSet::new();
        let mut buf = vec![0u8; 65536];
        while seen.len() < UDP_COUNT as usize && Instant::now() < end {
            // Ends 3 s after the last datagram (the read timeout).
            let Ok(n) = s.recv(&mut buf) else { break };
            let seq = check_datagram(&buf[..n])?;
            if !seen.insert(seq) {
                return Err(format!("datagram {seq} arrived twice"));
            }
            read.store(seen.len(), Ordering::Relaxed);
        }
        Ok(seen.len())
    });
    if rx.recv_timeout(STALL).is_err() {
        // The receiver ended (or hangs) before it was ready: say why.
        return Err(format!("{:?}", join(receiver, "UDP receiver").err()));
    }
    let sender = in_netns(&from.ns, move || {
        let any = if addr.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        let s = UdpSocket::bind(any).map_err(|e| e.to_string())?;
        setsockopt(&s, sockopt::UdpGsoSegment, &(UDP_SIZE as i32))
            .map_err(|e| format!("UDP_SEGMENT: {e}"))?;
        // The handshake is done (the caller pinged), so the first run is not staged.
        let mut buf = vec![0u8; UDP_SIZE * UDP_PER_SEND];
        let mut seq = 0;
        while seq < UDP_COUNT {
            if let Some(window) = window {
                // Bounded: a receiver that stops reading (losses) does not hold us.
                let until = Instant::now() + Duration::from_secs(1);
                while seq as usize > progress.load(Ordering::Relaxed) + window
                    && Instant::now() < until
                {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            let k = (UDP_COUNT - seq).min(UDP_PER_SEND as u32) as usize;
            for (i, d) in buf[..k * UDP_SIZE].chunks_mut(UDP_SIZE).enumerate() {
                datagram(seq + i as u32, d);
            }
            s.send_to(&buf[..k * UDP_SIZE], addr)
                .map_err(|e| format!("send at {seq}: {e}"))?;
            seq += k as u32;
        }
        Ok(())
    });
    join(sender, "UDP sender")?;
    join(receiver, "UDP receiver")
}

/// Through the tunnel between `a` and `b`: a ping, a 200 MB stream each way (at
/// once), and the UDP burst each way (paced by `window`, see [`udp_burst`]); wg1's
/// counters must show the streams crossed.
fn traffic(w: &Wgd, label: &str, a: &End, b: &End, window: Option<usize>) {
    let t0 = Instant::now();
    assert!(Wgd::ping(&a.ns, b.ip), "{label}: no ping\n{}", w.log());
    let errors = streams_both_ways(a, b);
    assert!(
        errors.is_empty(),
        "{label}: {errors:#?}\nwgd log:\n{}",
        w.log()
    );
    let (tx, rx) = counters(w, "wg1");
    assert!(
        tx >= STREAM_BYTES && rx >= STREAM_BYTES,
        "{label}: wg1's peer counted tx {tx}, rx {rx}: the streams did not cross the tunnel"
    );
    let t1 = Instant::now();
    for (from, to) in [(a, b), (b, a)] {
        let dir = format!("{label}: UDP {} -> {}", from.ip, to.ip);
        let before = loss_counters(w, from, to);
        let got = udp_burst(from, to, window).unwrap_or_else(|e| panic!("{dir}: {e}\n{}", w.log()));
        let after = loss_counters(w, from, to);
        let d = |i: usize| after[i] - before[i];
        let lost = format!(
            "during the burst: SndbufErrors {} and tx drops {} in the sender's namespace {}, \
             RcvbufErrors {} in the daemon's {}, RcvbufErrors {} in the receiver's {}",
            d(0),
            d(1),
            from.ns,
            d(2),
            w.ns,
            d(3),
            to.ns
        );
        assert!(
            got * 2 >= UDP_COUNT as usize,
            "{dir}: only {got} of {UDP_COUNT} datagrams arrived; {lost}"
        );
        eprintln!("{dir}: {got}/{UDP_COUNT} arrived; {lost}");
    }
    eprintln!(
        "{label}: streams {:?}, UDP bursts {:?}",
        t1 - t0,
        t1.elapsed()
    );
}

/// Namespace `ns`'s UDP counter `name`, IPv4 and IPv6 added (/proc/net/snmp and
/// snmp6: RcvbufErrors counts datagrams dropped for a full receive buffer,
/// SndbufErrors sends dropped on the way out).
fn udp_counter(ns: &str, name: &str) -> u64 {
    let cat = |file: &str| {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{ns}"))
            .args(["cat", file])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let snmp = cat("/proc/net/snmp");
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        panic!("no Udp counters in {ns}'s /proc/net/snmp:\n{snmp}");
    };
    let v4: u64 = names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {ns}'s /proc/net/snmp:\n{snmp}"));
    let snmp6 = cat("/proc/net/snmp6");
    let v6: u64 = snmp6
        .lines()
        .filter_map(|l| l.split_once(char::is_whitespace))
        .find(|(n, _)| *n == format!("Udp6{name}"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Udp6{name} in {ns}'s /proc/net/snmp6:\n{snmp6}"));
    v4 + v6
}

/// The transmit drops of every device in namespace `ns` but lo (/proc/net/dev).
fn tx_dropped(ns: &str) -> u64 {
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{ns}"))
        .args(["cat", "/proc/net/dev"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(dev, _)| dev.trim() != "lo")
        .filter_map(|(_, v)| v.split_whitespace().nth(11)?.parse::<u64>().ok())
        .sum()
}

/// Where datagrams may be dropped on the burst's way, as counters to compare.
fn loss_counters(w: &Wgd, from: &End, to: &End) -> [u64; 4] {
    [
        udp_counter(&from.ns, "SndbufErrors"),
        tx_dropped(&from.ns),
        udp_counter(&w.ns, "RcvbufErrors"),
        udp_counter(&to.ns, "RcvbufErrors"),
    ]
}

/// The peer's tx and rx byte counters on `ifname` (wgifconfig's "tx: N, rx: M").
fn counters(w: &Wgd, ifname: &str) -> (u64, u64) {
    let s = w.wgifconfig_ok(&[ifname]);
    let l = s
        .lines()
        .find_map(|l| l.trim().strip_prefix("tx: "))
        .unwrap_or_else(|| panic!("no tx: line in\n{s}"));
    let (tx, rx) = l.split_once(", rx: ").unwrap();
    (tx.parse().unwrap(), rx.parse().unwrap())
}

/// The wgd arguments for `off` (names of offloads to turn off), and the offloads
/// that should be left on, as wgd -d names them.
fn wgd_args(off: &[&str]) -> (Vec<String>, String) {
    let mut args = vec!["-d".to_string()];
    if !off.is_empty() {
        args.extend(["-O".to_string(), off.join(",")]);
    }
    let on: Vec<&str> = OFFLOADS
        .iter()
        .copied()
        .filter(|n| !off.contains(n) && !off.contains(&"all"))
        .collect();
    let on = if on.is_empty() {
        "none".to_string()
    } else {
        on.join(",")
    };
    (args, on)
}

fn start(tag: &str, off: &[&str]) -> Wgd {
    let (args, on) = wgd_args(off);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let w = Wgd::start_with(tag, &args);
    let want = format!("offloads: {on}, data threads: ");
    assert!(
        wait_for(Duration::from_secs(5), || w.log().contains(&want)),
        "wgd did not say {want:?}:\n{}",
        w.log()
    );
    w
}

/// wgd ↔ wgd under `off`: both streams, then the UDP burst both ways.
fn wgd_pair(tag: &str, off: &[&str]) {
    let w = start(tag, off);
    w.example();
    let (one, two) = (
        End {
            ns: w.rd(1),
            ip: "192.168.5.1",
        },
        End {
            ns: w.rd(2),
            ip: "192.168.5.2",
        },
    );
    // Paced so that the sending tun's queue (500 packets) cannot overflow: a tun
    // orphans what it queues, so nothing slows a local UDP sender down, and without
    // tun-uso (one queue entry per datagram instead of per super-packet) an unpaced
    // burst loses about half of itself there, counted as the tun's tx drops.
    traffic(
        &w,
        &format!("wgd -O {off:?} <-> wgd"),
        &one,
        &two,
        Some(TUN_WINDOW),
    );
}

/// [`wgd_pair`] with IPv6 inside the tunnel (TSO6/USO6 super-packets, IPv6
/// coalescing) and outside it (wgendpoint ::1: UDP GSO/GRO and PKTINFO on IPv6).
fn wgd_pair_v6(tag: &str, off: &[&str]) {
    let w = start(tag, off);
    w.example();
    let (p1, p2) = (w.pubkey("wg1"), w.pubkey("wg2"));
    for (ifname, peer, port, addr, aip) in [
        ("wg1", &p2, "7222", "fd55::1", "fd55::2/128"),
        ("wg2", &p1, "7111", "fd55::2", "fd55::1/128"),
    ] {
        w.wgifconfig_ok(&[
            ifname,
            "wgpeer",
            peer,
            "wgendpoint",
            "::1",
            port,
            "wgaip",
            aip,
        ]);
        w.wgifconfig_ok(&[ifname, "inet6", addr, "prefixlen", "64"]);
    }
    let conf = w.wgifconfig_ok(&["wg1"]);
    assert!(
        conf.contains("wgendpoint ::1 7222") && conf.contains("wgaip fd55::2/128"),
        "wg1 did not take the IPv6 configuration:\n{conf}"
    );
    let (one, two) = (
        End {
            ns: w.rd(1),
            ip: "fd55::1",
        },
        End {
            ns: w.rd(2),
            ip: "fd55::2",
        },
    );
    traffic(
        &w,
        &format!("wgd -O {off:?} <-> wgd over IPv6"),
        &one,
        &two,
        Some(TUN_WINDOW),
    );
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_v6_all_offloads_on() {
    wgd_pair_v6("va", &[]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_v6_all_offloads_off() {
    wgd_pair_v6("vn", &["all"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_all_offloads_on() {
    wgd_pair("oa", &[]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_without_tun_tso() {
    wgd_pair("o1", &["tun-tso"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_without_tun_uso() {
    wgd_pair("o2", &["tun-uso"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_without_tun_gro() {
    wgd_pair("o3", &["tun-gro"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_without_udp_gso() {
    wgd_pair("o4", &["udp-gso"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_without_udp_gro() {
    wgd_pair("o5", &["udp-gro"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_without_mmsg() {
    wgd_pair("o6", &["mmsg"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn wgd_all_offloads_off() {
    wgd_pair("on", &["all"]);
}

/// wgd (under `off`) ↔ wireguard-go: both streams, then the UDP burst both ways.
fn wgd_go(tag: &str, off: &[&str]) {
    let mut w = start(tag, off);
    // The UAPI socket (/var/run/wireguard/NAME.sock) is shared by every namespace:
    // the name carries the PID, like the namespaces (at most 15 bytes).
    let goif = format!("wgo{tag}{}", std::process::id());
    let gokey = w.start_go(&goif);
    let k1 = common::openssl_key();
    w.wgifconfig_ok(&[
        "wg1", "create", "wgport", "7111", "wgkey", &k1, "rdomain", "1",
    ]);
    let p1 = w.pubkey("wg1");
    w.wgifconfig_ok(&[
        "wg1",
        "wgpeer",
        &gokey,
        "wgendpoint",
        "127.0.0.1",
        "7222",
        "wgaip",
        "10.99.0.1/32",
    ]);
    w.wgifconfig_ok(&["wg1", "10.99.0.2/24"]);
    ok(&mut w.in_daemon_ns(&[
        "wg",
        "set",
        &goif,
        "listen-port",
        "7222",
        "peer",
        &p1,
        "allowed-ips",
        "10.99.0.2/32",
        "endpoint",
        "127.0.0.1:7111",
    ]));
    ok(&mut w.in_daemon_ns(&["ip", "addr", "add", "10.99.0.1/24", "dev", &goif]));
    ok(&mut w.in_daemon_ns(&["ip", "link", "set", &goif, "up"]));
    let (wgd_end, go_end) = (
        End {
            ns: w.rd(1),
            ip: "10.99.0.2",
        },
        End {
            ns: w.ns.clone(),
            ip: "10.99.0.1",
        },
    );
    // Paced: wireguard-go 0.0.20220316 reads one datagram per system call from a
    // socket with the default buffer (net.core.rmem_default), which an unpaced burst
    // from wgd overflows: most of it is lost there (RcvbufErrors in the daemon's
    // namespace), before wireguard-go sees it.
    traffic(
        &w,
        &format!("wgd -O {off:?} <-> wireguard-go"),
        &wgd_end,
        &go_end,
        Some(GO_WINDOW),
    );
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn go_wgd_all_offloads_on() {
    wgd_go("ga", &[]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn go_wgd_all_offloads_off() {
    wgd_go("gn", &["all"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn go_wgd_without_tun_tso() {
    wgd_go("g1", &["tun-tso"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn go_wgd_without_tun_uso() {
    wgd_go("g2", &["tun-uso"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn go_wgd_without_tun_gro() {
    wgd_go("g3", &["tun-gro"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn go_wgd_without_udp_gso() {
    wgd_go("g4", &["udp-gso"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn go_wgd_without_udp_gro() {
    wgd_go("g5", &["udp-gro"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn go_wgd_without_mmsg() {
    wgd_go("g6", &["mmsg"]);
}
