//! Handshake-initiation floods against wgd (and the "cookie path
//! under load" test): initiations with a valid mac1 from one source and from many
//! sources, while a legitimate peer keeps a tunnel up and rekeys. Checked: the cookie
//! reply and the rate limiter engage (wgd's debug lines and the cookies the flooder
//! gets back), the tunnel keeps answering pings, a forced rekey completes during the
//! flood (through the cookie path itself), wgd's CPU stays within one core, root's
//! wgifconfig keeps answering, and under a flood iperf3 through the tunnel keeps at
//! least half of the throughput measured without one in the same run.
//!
//! ```text
//!   netns <prefix>1: wg1 192.168.5.1 ── UDP 127.0.0.1:7111 ⇄ :7222 ── wg2 192.168.5.2 :netns <prefix>2
//!                                                             ▲
//!       flooder (a thread of this test, setns into wgd's      │ initiations from
//!       namespace): one UDP socket per source address  ───────┘ 127.10.x.y:port
//! ```
//!
//! The sources are addresses of wgd's own namespace's loopback (all of 127/8 is
//! local there), so every "spoofed" source can also receive its cookie reply: the
//! flooder binds one socket per address instead of forging headers with a raw socket.
//! To wgd that is the same traffic, and it lets a flooder that answers cookies (a
//! botnet with real addresses) reach the rate limiter behind mac2.
//!
//! The flood messages are built here from the protocol (spec §5.4: mac1 keyed with
//! HASH("mac1----" || responder's public key), the cookie opened with XChaCha20-Poly1305
//! keyed with HASH("cookie--" || public key) and mac1 as associated data), not with
//! wgd's own cookie code. Their bodies are random: past the gate each one costs wgd a
//! Diffie-Hellman before it fails, which is what makes a flood expensive.

mod common;

use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2s256, Blake2sMac};
type Blake2sMac128 = Blake2sMac<blake2::digest::consts::U16>;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use common::{wait_for, PingWatch, Wgd};
use nix::sched::{setns, CloneFlags};
use rand::RngCore;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const INITIATION_LEN: usize = 148;
const MAC1_AT: usize = 116;
const MAC2_AT: usize = 132;
const COOKIE_REPLY_LEN: usize = 64;

/// The victim: wg2 of the wg(4) example.
const VICTIM: &str = "127.0.0.1:7222";

/// HASH(label || public), the keys of mac1 and of the cookie reply (spec §5.4).
fn label_key(label: &[u8; 8], public: &[u8; 32]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    h.update(label);
    h.update(public);
    h.finalize().into()
}

/// MAC(key, data): keyed BLAKE2s with a 16-byte output.
fn mac(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut m = <Blake2sMac128 as KeyInit>::new_from_slice(key).expect("key of at most 32 bytes");
    Mac::update(&mut m, data);
    m.finalize().into_bytes().into()
}

/// An initiation with a random body and a valid mac1 for `responder`.
fn initiation(responder: &[u8; 32]) -> [u8; INITIATION_LEN] {
    let mut m = [0u8; INITIATION_LEN];
    rand::thread_rng().fill_bytes(&mut m[4..MAC1_AT]);
    m[0] = 1;
    let k = label_key(b"mac1----", responder);
    let m1 = mac(&k, &m[..MAC1_AT]);
    m[MAC1_AT..MAC2_AT].copy_from_slice(&m1);
    m
}

/// The cookie in a reply to `msg`, if `reply` is a cookie reply to it that opens.
fn open_cookie(reply: &[u8], msg: &[u8; INITIATION_LEN], responder: &[u8; 32]) -> Option<[u8; 16]> {
    if reply.len() != COOKIE_REPLY_LEN || reply[..4] != [3, 0, 0, 0] || reply[4..8] != msg[4..8] {
        return None;
    }
    let key = label_key(b"cookie--", responder);
    let aead = XChaCha20Poly1305::new_from_slice(&key).unwrap();
    let cookie = aead
        .decrypt(
            XNonce::from_slice(&reply[8..32]),
            Payload {
                msg: &reply[32..64],
                aad: &msg[MAC1_AT..MAC2_AT],
            },
        )
        .ok()?;
    cookie.try_into().ok()
}

/// What a flood is: where it comes from and goes, and how it behaves.
#[derive(Clone)]
struct FloodSpec {
    /// The namespace the flooder's thread enters.
    ns: String,
    /// One socket per source address.
    sources: Vec<Ipv4Addr>,
    to: SocketAddr,
    responder: [u8; 32],
    /// Whether a source that got a cookie puts a valid mac2 on what it sends next.
    answer_cookies: bool,
    /// Initiations per second; None: as fast as one thread can send.
    pps: Option<u64>,
}

/// What the flooder did.
#[derive(Debug, Default, Clone)]
struct FloodStats {
    sent: u64,
    /// Sends the kernel refused (a full buffer); the flooder goes on.
    refused: u64,
    with_mac2: u64,
    /// Cookie replies received that opened (only read when answering cookies).
    cookies: u64,
    secs: f64,
}

impl FloodStats {
    fn pps(&self) -> f64 {
        self.sent as f64 / self.secs
    }
}

/// A flood running on a thread of its own until [`Flood::finish`] (or drop).
struct Flood {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<FloodStats, String>>>,
}

impl Flood {
    fn start(spec: FloodSpec) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let path = format!("/run/netns/{}", spec.ns);
            let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            setns(f, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {path}: {e}"))?;
            let r = flood(&spec, &s, &ready_tx);
            // A flooder that failed before it was ready must not leave start() waiting.
            let _ = ready_tx.send(());
            r
        });
        assert!(
            ready_rx.recv_timeout(Duration::from_secs(30)).is_ok(),
            "the flooder did not start"
        );
        Flood {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> FloodStats {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .unwrap()
            .join()
            .expect("the flooder panicked")
            .unwrap_or_else(|e| panic!("the flooder failed: {e}"))
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The flooder's loop: round-robin over the sources' sockets, paced to `spec.pps`.
fn flood(
    spec: &FloodSpec,
    stop: &AtomicBool,
    ready: &std::sync::mpsc::Sender<()>,
) -> Result<FloodStats, String> {
    let mut socks = Vec::with_capacity(spec.sources.len());
    for a in &spec.sources {
        let s = UdpSocket::bind((*a, 0)).map_err(|e| format!("bind {a}: {e}"))?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        s.connect(spec.to)
            .map_err(|e| format!("connect {}: {e}", spec.to))?;
        socks.push((s, initiation(&spec.responder), false));
    }
    let _ = ready.send(());
    let mut st = FloodStats::default();
    let t0 = Instant::now();
    let mut buf = [0u8; 256];
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        if let Some(pps) = spec.pps {
            let due = t0 + Duration::from_secs_f64(st.sent as f64 / pps as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(Duration::from_millis(5)));
                continue;
            }
        }
        let (s, msg, has_mac2) = &mut socks[i];
        i = (i + 1) % spec.sources.len();
        match s.send(&msg[..]) {
            Ok(_) => {
                st.sent += 1;
                st.with_mac2 += u64::from(*has_mac2);
            }
            Err(_) => {
                st.refused += 1;
                std::thread::yield_now();
            }
        }
        if spec.answer_cookies {
            while let Ok(n) = s.recv(&mut buf) {
                if let Some(c) = open_cookie(&buf[..n], msg, &spec.responder) {
                    st.cookies += 1;
                    let m2 = mac(&c, &msg[..MAC2_AT]);
                    msg[MAC2_AT..].copy_from_slice(&m2);
                    *has_mac2 = true;
                }
            }
        }
    }
    st.secs = t0.elapsed().as_secs_f64();
    Ok(st)
}

/// `n` source addresses on the loopback: 127.10.x.y, y in 1..=250.
fn sources(n: usize) -> Vec<Ipv4Addr> {
    (0..n)
        .map(|i| Ipv4Addr::new(127, 10, (i / 250) as u8, (i % 250 + 1) as u8))
        .collect()
}

fn public_key(w: &Wgd, ifname: &str) -> [u8; 32] {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(w.pubkey(ifname))
        .unwrap()
        .try_into()
        .unwrap()
}

/// wgd's CPU time so far (user + system, all its threads), in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command's closing parenthesis: state is the first, utime
    // the 12th and stime the 13th (proc(5) fields 14 and 15).
    let rest: Vec<&str> = s[s.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap();
    ticks as f64 / clock_ticks()
}

/// CPU seconds of each of wgd's threads so far, by thread name.
fn thread_cpu(pid: u32) -> Vec<(String, f64)> {
    let tck = clock_ticks();
    let mut v: Vec<(String, f64)> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|t| {
            let s = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let name = s[s.find('(')? + 1..s.rfind(')')?].to_string();
            let rest: Vec<&str> = s[s.rfind(')')? + 2..].split(' ').collect();
            let ticks = rest[11].parse::<u64>().ok()? + rest[12].parse::<u64>().ok()?;
            Some((
                format!("{name}/{}", t.file_name().to_string_lossy()),
                ticks as f64 / tck,
            ))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Datagrams the kernel dropped in namespace `ns` because a UDP socket's receive
/// buffer was full (/proc/net/snmp, Udp: RcvbufErrors).
fn rcvbuf_errors(ns: &str) -> u64 {
    let out = common::ok(
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{ns}"))
            .args(["cat", "/proc/net/snmp"]),
    );
    let mut udp = out.lines().filter(|l| l.starts_with("Udp: "));
    let (names, values) = (udp.next().unwrap(), udp.next().unwrap());
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .expect("RcvbufErrors")
}

fn clock_ticks() -> f64 {
    let out = common::ok(Command::new("getconf").arg("CLK_TCK"));
    out.trim().parse().expect("getconf CLK_TCK")
}

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// The lines wgd's log writer says it dropped (its queue was full).
fn log_dropped(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains(" log messages dropped"))
        .filter_map(|l| {
            l.split(" log messages dropped")
                .next()?
                .rsplit(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The largest gap between ping answers inside [from, to] (unix seconds), counting
/// the edges of the window.
fn largest_gap(answers: &[f64], from: f64, to: f64) -> f64 {
    let mut t: Vec<f64> = vec![from];
    t.extend(answers.iter().copied().filter(|a| *a > from && *a < to));
    t.push(to);
    t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

/// What the test saw of wgd while a flood ran.
#[derive(Default)]
struct Watch {
    calls: u32,
    slowest: Duration,
    rss_max: u64,
}

impl Watch {
    /// One round: root's wgifconfig on the victim (timed), wgd's memory, wgd alive.
    fn sample(&mut self, w: &mut Wgd) {
        let t = Instant::now();
        w.wgifconfig_ok(&["wg2"]);
        self.slowest = self.slowest.max(t.elapsed());
        self.calls += 1;
        self.rss_max = self.rss_max.max(w.rss_kib());
        assert!(w.alive(), "wgd died during the flood:\n{}", w.log());
    }

    /// Samples every 200 ms until `done` or `limit`; whether `done` came true.
    fn until(&mut self, w: &mut Wgd, limit: Duration, mut done: impl FnMut(&Wgd) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            self.sample(w);
            if done(w) {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The wg(4) example with `debug` on both ends and a ping watch on the tunnel.
fn setup(tag: &str) -> (Wgd, PingWatch) {
    let w = Wgd::start(tag);
    w.example();
    w.wgifconfig_ok(&["wg1", "debug"]);
    w.wgifconfig_ok(&["wg2", "debug"]);
    assert!(
        Wgd::ping(&w.rd(1), "192.168.5.2"),
        "tunnel before the flood"
    );
    let ping = PingWatch::start(&w, &w.rd(1), "192.168.5.2", tag);
    (w, ping)
}

/// Forces the legitimate peer to handshake again: wg1 goes down (its sessions are
/// dropped) and up; the ping watch's next packet starts a handshake, which meets wg2
/// under load. Samples while it waits; returns how long until wg1's last handshake
/// moved and the tunnel answered again (None if not within `limit`). The debug log
/// cannot tell: under a flood its bounded queue drops lines.
fn rekey(w: &mut Wgd, ping: &PingWatch, watch: &mut Watch, limit: Duration) -> Option<Duration> {
    let before = last_handshake(w, "wg1");
    let t = Instant::now();
    w.wgifconfig_ok(&["wg1", "down"]);
    w.wgifconfig_ok(&["wg1", "up"]);
    let since = unix_now();
    watch
        .until(w, limit, |w| {
            last_handshake(w, "wg1") > before && ping.answers().iter().any(|a| *a > since)
        })
        .then(|| t.elapsed())
}

/// A flood with everything watched: a steady part (the tunnel must not notice), a
/// forced rekey during it, then a second steady part. Returns the report line.
fn flood_while_rekeying(
    tag: &str,
    n_sources: usize,
    answer_cookies: bool,
    pps: Option<u64>,
) -> String {
    let (mut w, ping) = setup(tag);
    let spec = FloodSpec {
        ns: w.ns.clone(),
        sources: sources(n_sources),
        to: VICTIM.parse().unwrap(),
        responder: public_key(&w, "wg2"),
        answer_cookies,
        pps,
    };
    let rss0 = w.rss_kib();
    let mut watch = Watch::default();
    let (cpu0, t0, u0) = (cpu_secs(w.pid()), Instant::now(), unix_now());
    let (threads0, rcvbuf0) = (thread_cpu(w.pid()), rcvbuf_errors(&w.ns));
    let flood = Flood::start(spec);
    // Steady: 6 s of flood against an established session.
    watch.until(&mut w, Duration::from_secs(6), |_| false);
    let u1 = unix_now();
    // The legitimate peer handshakes again under the flood: its first initiation gets
    // a cookie reply, its retry (REKEY_TIMEOUT, 5 s plus jitter, later) carries mac2 and
    // passes its own source's rate limit.
    let took = rekey(&mut w, &ping, &mut watch, Duration::from_secs(25));
    let u2 = unix_now();
    watch.until(&mut w, Duration::from_secs(3), |_| false);
    let u3 = unix_now();
    let st = flood.finish();
    let (cpu1, wall) = (cpu_secs(w.pid()), t0.elapsed().as_secs_f64());
    let threads: Vec<String> = thread_cpu(w.pid())
        .into_iter()
        .map(|(n, c)| {
            let c0 = threads0.iter().find(|t| t.0 == n).map_or(0.0, |t| t.1);
            format!("{n} {:.2}", c - c0)
        })
        .collect();
    let rcvbuf = rcvbuf_errors(&w.ns) - rcvbuf0;
    let answers = ping.answers();
    let (n_answers, _, tail) = ping.finish();
    let log = w.log();
    let cpu = (cpu1 - cpu0) / wall;
    let in_steady = |a: &&f64| (**a > u0 && **a < u1) || (**a > u2 && **a < u3);
    // ping -i 0.1: ten a second are sent.
    let answered =
        answers.iter().filter(in_steady).count() as f64 * 100.0 / ((u1 - u0 + u3 - u2) * 10.0);
    let report = format!(
        "{tag}: {n_sources} source(s), answer cookies {answer_cookies}: {:.0} initiations/s \
         ({} sent, {} refused by the sender's kernel, {} with mac2, {} cookies back) for {wall:.1} s; \
         wgd CPU {:.2} s = {cpu:.2} per wall second (threads: {threads:?}); \
         datagrams dropped for a full socket buffer {rcvbuf}; ping steady-state answered {answered:.0}%; rekey under the flood took {took:?}; \
         wgifconfig wg2: {} calls, slowest {:?}; RSS {rss0} -> max {} KiB; \
         log: {} cookie lines, {} ratelimited lines, {} lines dropped",
        st.pps(),
        st.sent,
        st.refused,
        st.with_mac2,
        st.cookies,
        cpu1 - cpu0,
        watch.calls,
        watch.slowest,
        watch.rss_max,
        count(&log, "wg2: Sending cookie response for denied handshake message"),
        count(&log, "wg2: Handshake ratelimited from 127.10."),
        log_dropped(&log),
    );
    eprintln!("{report}");
    // The flood was one: far over the 128 handshake messages a second that put an
    // interface under load, and at the pace asked for.
    assert!(st.pps() > 1000.0, "{report}");
    if let Some(pps) = pps {
        assert!(
            st.pps() >= 0.9 * pps as f64,
            "the flooder fell short: {report}"
        );
    }
    // Cookies engage.
    assert!(
        log.contains("wg2: Sending cookie response for denied handshake message"),
        "{report}\n{log}"
    );
    if answer_cookies {
        assert!(st.cookies > 0 && st.with_mac2 > 0, "{report}");
        // Past mac2 the rate limiter engages, for each of the sources.
        for a in &sources(n_sources)[..n_sources.min(10)] {
            assert!(
                log.contains(&format!("wg2: Handshake ratelimited from {a}")),
                "no ratelimit for {a}: {report}"
            );
        }
    }
    // The established session is untouched by the flood...
    // ping -i 0.1 sends a little under ten a second on a busy machine (96% of that
    // here with no flood): 80% leaves room for that and for the few datagrams the
    // kernel drops from the socket buffer the flood shares with the tunnel, while a
    // tunnel the flood starves answers about half (the unpaced floods).
    let steady = largest_gap(&answers, u0, u1).max(largest_gap(&answers, u2, u3));
    assert!(
        steady <= 1.0 && answered >= 80.0,
        "the tunnel stalled under the flood: largest gap between ping answers {steady:.2} s\n{report}"
    );
    // ...and the legitimate peer handshakes through the cookie path during it.
    let took = took.unwrap_or_else(|| panic!("no new handshake under the flood\n{report}\n{log}"));
    // Its first initiation got a cookie reply (unless the log queue dropped the line).
    assert!(
        log.contains("wg1: Receiving cookie response from 127.0.0.1")
            || log.contains("log messages dropped"),
        "the legitimate peer's rekey did not meet the cookie path: {report}"
    );
    assert!(
        tail <= 1.5,
        "no ping answer at the end ({n_answers} answers)"
    );
    // Under load the gate (mac1, cookie replies, the rate limit) runs on the data
    // workers, as the kernel runs it on every CPU, and the public-key work on the
    // control thread; the log writer only formats lines from a bounded queue, a few
    // a second under a flood. Of this machine's two CPUs a flood may take a core and
    // a half: more would mean some work grows with the flood beyond those threads (a
    // log line per message, say), and starves everything else on the host.
    assert!(cpu <= 1.5, "wgd used more than 1.5 cores: {report}");
    // Root's requests keep answering; 1 s as in tests/harden.rs (unloaded they take
    // a few ms).
    assert!(watch.calls >= 10, "{report}");
    assert!(
        watch.slowest < Duration::from_secs(1),
        "root's wgifconfig slowed down: {report}"
    );
    // Nothing is kept per flood message; a rate-limiter entry per source is small.
    assert!(
        watch.rss_max <= rss0 + 8 * 1024,
        "wgd grew under the flood: {report}"
    );
    // The first initiation meets the cookie, the retry 5 s (REKEY_TIMEOUT plus at
    // most 1/3 s of jitter) later carries mac2: two tries, and room for one lost.
    assert!(
        took < Duration::from_secs(17),
        "the rekey took three tries or more: {report}"
    );
    report
}

#[test]
#[ignore = "needs root: network namespaces"]
fn flood_from_one_source_meets_cookies_and_the_rate_limit() {
    flood_while_rekeying("fl1", 1, true, Some(FLOOD_PPS));
}

#[test]
#[ignore = "needs root: network namespaces"]
fn flood_from_many_spoofed_sources_meets_cookies() {
    // Spoofed sources never see the cookie replies.
    flood_while_rekeying("flm", 1000, false, Some(FLOOD_PPS));
}

#[test]
#[ignore = "needs root: network namespaces"]
fn flood_from_sources_that_answer_cookies_meets_the_rate_limit() {
    // 25 sources with real addresses (a small botnet): each gets 20 handshakes a
    // second past the rate limiter, 500 Diffie-Hellman computations a second in all.
    flood_while_rekeying("flb", 25, true, Some(FLOOD_PPS));
}

#[test]
#[ignore = "needs root: network namespaces"]
fn flood_at_full_speed_from_many_spoofed_sources() {
    // Unpaced (100,000-300,000 initiations a second, by machine) from 1,000 addresses
    // that never see the cookie replies: 20 replies a second per address, and the
    // rest refused after mac1, so the workers keep the socket the tunnel shares
    // drained.
    flood_while_rekeying("fls", 1000, false, None);
}

#[test]
#[ignore = "needs root: network namespaces"]
fn flood_at_full_speed_from_many_sources_that_answer_cookies() {
    // Unpaced, ~100,000 initiations a second carrying mac2 from 250 sources: 5,000
    // Diffie-Hellman computations a second pass the rate limiter, done outside the
    // engine's lock, so the data workers keep the socket drained.
    flood_while_rekeying("flz", 250, true, None);
}

/// One iperf3 run through the tunnel (rd1 → 192.168.5.2), in bits per second received.
fn iperf(w: &Wgd, secs: u32) -> f64 {
    let out = Wgd::in_ns(
        &w.rd(1),
        &[
            "iperf3",
            "-c",
            "192.168.5.2",
            "-t",
            &secs.to_string(),
            "-J",
            "--connect-timeout",
            "5000",
        ],
    )
    .output()
    .expect("iperf3");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("iperf3 -J: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    j["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("iperf3: {j}"))
}

/// While iperf3 runs through the tunnel, a flood of handshake initiations
/// from another address (the cookie path under load) leaves at least half of the
/// throughput measured without it, and the legitimate peer still rekeys during it.
/// Unloaded and loaded runs alternate, so a neighbour's load on the machine falls on
/// both alike.
#[test]
#[ignore = "needs root: network namespaces"]
fn iperf_keeps_half_its_throughput_under_a_flood_and_the_peer_rekeys() {
    common::require_tools(&["iperf3"]);
    let tag = "fli";
    let (mut w, ping) = setup(tag);
    let server = Wgd::in_ns(&w.rd(2), &["iperf3", "-s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 -s");
    w.adopt(server);
    assert!(
        wait_for(Duration::from_secs(10), || {
            Wgd::in_ns(&w.rd(2), &["ss", "-Hltn", "sport = :5201"])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty())
        }),
        "iperf3 -s did not listen"
    );
    let spec = FloodSpec {
        ns: w.ns.clone(),
        sources: vec![Ipv4Addr::new(127, 0, 0, 3)],
        to: VICTIM.parse().unwrap(),
        responder: public_key(&w, "wg2"),
        answer_cookies: false,
        pps: Some(FLOOD_PPS),
    };
    let (mut unloaded, mut loaded) = (Vec::new(), Vec::new());
    let mut stats = Vec::new();
    for _ in 0..3 {
        unloaded.push(iperf(&w, 3));
        let f = Flood::start(spec.clone());
        loaded.push(iperf(&w, 3));
        stats.push(f.finish());
    }
    let (u, l) = (unloaded.iter().sum::<f64>(), loaded.iter().sum::<f64>());
    let ratio = l / u;
    // The rekey, with the flood on and iperf3 running.
    let f = Flood::start(spec);
    let mut watch = Watch::default();
    let hs0 = last_handshake(&w, "wg1");
    let client = Wgd::in_ns(&w.rd(1), &["iperf3", "-c", "192.168.5.2", "-t", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 -c");
    w.adopt(client);
    std::thread::sleep(Duration::from_secs(1));
    let took = rekey(&mut w, &ping, &mut watch, Duration::from_secs(25));
    let hs1 = last_handshake(&w, "wg1");
    let st = f.finish();
    let log = w.log();
    let mbit = |v: &[f64]| {
        v.iter()
            .map(|b| format!("{:.0}", b / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let report = format!(
        "{tag}: iperf3 unloaded [{}] Mbit/s, under {} initiations/s [{}] Mbit/s: ratio {ratio:.2}; \
         achieved flood rates {:?}/s; rekey under flood and iperf3 took {took:?} \
         (last handshake {hs0:?} -> {hs1:?}), cookie lines {}",
        mbit(&unloaded),
        FLOOD_PPS,
        mbit(&loaded),
        stats.iter().chain([&st]).map(|s| s.pps().round()).collect::<Vec<_>>(),
        count(&log, "wg2: Sending cookie response for denied handshake message"),
    );
    eprintln!("{report}");
    assert!(
        stats.iter().all(|s| s.pps() >= FLOOD_PPS as f64 * 0.9),
        "the flood fell short of its rate: {report}"
    );
    assert!(
        log.contains("wg2: Sending cookie response for denied handshake message"),
        "{report}"
    );
    assert!(ratio >= 0.5, "{report}");
    assert!(
        took.is_some(),
        "no new handshake under the flood: {report}\n{log}"
    );
    assert!(
        hs1.is_some() && hs1 > hs0,
        "wg1's last handshake did not move: {report}"
    );
}

/// The paced floods: 20,000 initiations a second, 150 times the rate that puts an
/// interface under load (128/s), and under a third of what one flooder thread sends
/// unpaced here (56,000-84,000/s), so the flooder itself takes a small share of the
/// two CPUs that wgd (and iperf3) need.
const FLOOD_PPS: u64 = 20_000;

/// The peer's last handshake on `ifname` (unix seconds), from `wgifconfig -j`.
fn last_handshake(w: &Wgd, ifname: &str) -> Option<i64> {
    let s = w.wgifconfig_ok(&["-j", ifname]);
    let j: serde_json::Value = serde_json::from_str(&s).unwrap();
    let peers = j
        .pointer("/interfaces/0/wg/peers")
        .and_then(|p| p.as_array())
        .unwrap_or_else(|| panic!("no peers in {s}"));
    peers[0]["last_handshake"].as_i64()
}
