//! wgd against an unprivileged local user (wgd.8, Control socket): each test creates a user
//! of its own and runs an attack on the control socket as that user (this test binary
//! re-run as the `helper_attacker` helper with the user's uid). While it runs, a ping
//! through a tunnel of the same daemon must keep answering (no gap over 1 s), root's
//! wgifconfig must keep working, and wgd's memory must stay bounded.
//!
//! ```text
//!   netns <prefix>1: wg1 192.168.5.1  ── UDP 127.0.0.1:7111 ⇄ :7222 ──  wg2 192.168.5.2 :netns <prefix>2
//!                    (ping -i 0.1)         in wgd's own netns, where the attacker's
//!                                          control socket lives too
//! ```

mod common;

use common::{PingWatch, TestUser, Wgd};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};
use wgif::ioctl::frame::{self, ReplyBody, RequestBody};
use wgif::ioctl::request::Request;

const ATTACK: &str = "WGIF_HARDEN_ATTACK";
const SECS: &str = "WGIF_HARDEN_SECS";

fn get_info_frame() -> Vec<u8> {
    frame::encode(&RequestBody {
        ifname: "wg1".into(),
        request: Request::GetInfo,
    })
}

fn connect(sock: &str) -> UnixStream {
    UnixStream::connect(sock).expect("connect to wgd")
}

/// Reads one reply with a timeout; None if nothing came.
fn reply(s: &mut UnixStream, wait: Duration) -> Option<Result<ReplyBody, String>> {
    s.set_read_timeout(Some(wait)).unwrap();
    match frame::read_payload(s) {
        Ok(p) => Some(frame::decode::<ReplyBody>(&p).map_err(|e| e.to_string())),
        Err(frame::FrameError::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(e) => Some(Err(e.to_string())),
    }
}

/// The attacker's side, run by the tests below as their test user: not a test of its
/// own (it returns at once without the attack named in its environment).
#[test]
#[ignore = "helper process: the other tests run it as their test user (.config/nextest.toml leaves helper_ out)"]
fn helper_attacker() {
    let Ok(kind) = std::env::var(ATTACK) else {
        return;
    };
    assert_ne!(
        nix::unistd::geteuid().as_raw(),
        0,
        "the attacker is not root"
    );
    let sock = std::env::var("WGD_SOCKET").unwrap();
    let secs: u64 = std::env::var(SECS).unwrap().parse().unwrap();
    let end = Instant::now() + Duration::from_secs(secs);
    match kind.as_str() {
        // Item 1: pipelined requests, replies never read.
        "pipeline" => {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let sock = sock.clone();
                    std::thread::spawn(move || {
                        let mut s = connect(&sock);
                        s.set_write_timeout(Some(Duration::from_millis(100)))
                            .unwrap();
                        let one = get_info_frame();
                        let batch: Vec<u8> =
                            one.iter().copied().cycle().take(one.len() * 4096).collect();
                        let mut written = 0usize;
                        while Instant::now() < end && written < 30 << 20 {
                            match s.write(&batch) {
                                Ok(n) => written += n,
                                Err(_) => std::thread::sleep(Duration::from_millis(10)),
                            }
                        }
                        // Keep the connection (and its unread replies) to the end.
                        std::thread::sleep(end.saturating_duration_since(Instant::now()));
                        written
                    })
                })
                .collect();
            let written: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
            println!("ATTACK written {written}");
        }
        // Item 2: every connection writes a 219 KB burst of GetInfo requests at once.
        "burst" => {
            let one = get_info_frame();
            let burst: Vec<u8> = one
                .iter()
                .copied()
                .cycle()
                .take(219 * 1024 / one.len() * one.len())
                .collect();
            let mut conns = Vec::new();
            while Instant::now() < end {
                for _ in 0..15 {
                    let mut s = connect(&sock);
                    s.set_write_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                    let _ = s.write_all(&burst);
                    conns.push(s);
                }
                // Read nothing; drop the oldest now and then so new bursts come in.
                if conns.len() > 15 {
                    conns.drain(..15);
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            println!("ATTACK bursts {}", conns.len());
        }
        // Item 4: as many idle connections as wgd takes.
        "hold" => {
            let mut conns = Vec::new();
            let (mut refused, mut errno) = (0, 0);
            for _ in 0..300 {
                let mut s = connect(&sock);
                match reply(&mut s, Duration::from_millis(100)) {
                    Some(Ok(ReplyBody { result: Err(e) })) => {
                        refused += 1;
                        errno = e;
                    }
                    _ => conns.push(s),
                }
            }
            println!(
                "ATTACK held {} refused {refused} errno {errno}",
                conns.len()
            );
            std::io::stdout().flush().unwrap();
            std::thread::sleep(end.saturating_duration_since(Instant::now()));
        }
        // Item 3: frames too large for a user, and frames left unfinished.
        "loris" => {
            // A length prefix of 64 MiB: refused at once.
            let mut s = connect(&sock);
            s.write_all(&(64u32 << 20).to_le_bytes()).unwrap();
            match reply(&mut s, Duration::from_secs(5)) {
                Some(Ok(ReplyBody { result: Err(e) })) => println!("ATTACK big {e}"),
                other => println!("ATTACK big none {other:?}"),
            }
            // A complete 5 KB frame (a SIOCSWG a user may not make anyway).
            let mut s = connect(&sock);
            let f = frame::encode(&RequestBody {
                ifname: "wg1".into(),
                request: Request::SetWg {
                    data: vec![0u8; 5000],
                },
            });
            let _ = s.write_all(&f);
            match reply(&mut s, Duration::from_secs(5)) {
                Some(Ok(ReplyBody { result: Err(e) })) => println!("ATTACK five {e}"),
                other => println!("ATTACK five none {other:?}"),
            }
            // Unfinished frames: 4000 bytes announced, 100 sent, then nothing.
            let started = Instant::now();
            let mut open: Vec<UnixStream> = (0..12)
                .map(|_| {
                    let mut s = connect(&sock);
                    s.write_all(&4000u32.to_le_bytes()).unwrap();
                    s.write_all(&[0u8; 100]).unwrap();
                    s
                })
                .collect();
            let mut closed_after = Vec::new();
            while !open.is_empty() && Instant::now() < end {
                let mut i = 0;
                while i < open.len() {
                    open[i]
                        .set_read_timeout(Some(Duration::from_millis(50)))
                        .unwrap();
                    let mut b = [0u8; 1];
                    match open[i].read(&mut b) {
                        Ok(0) => {
                            closed_after.push(started.elapsed().as_secs_f64());
                            open.remove(i);
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            i += 1
                        }
                        _ => {
                            closed_after.push(started.elapsed().as_secs_f64());
                            open.remove(i);
                        }
                    }
                }
            }
            let max = closed_after.iter().copied().fold(0.0, f64::max);
            println!(
                "ATTACK unfinished closed {} open {} max {max:.1}",
                closed_after.len(),
                open.len()
            );
        }
        other => panic!("unknown attack {other}"),
    }
}

/// What happened while an attack ran.
struct Outcome {
    /// The attacker's `ATTACK …` lines.
    report: String,
    /// Slowest root `wgifconfig wg1` during the attack.
    root_slowest: Duration,
    root_calls: usize,
    /// Largest wgd VmRSS seen (KiB).
    rss_max: u64,
}

/// Starts the attack `kind` as `user` for `secs` seconds; its output goes to `out`.
fn spawn_attacker(
    w: &Wgd,
    user: &TestUser,
    kind: &str,
    secs: u64,
    out: &std::path::Path,
) -> std::process::Child {
    let f = std::fs::File::create(out).unwrap();
    user.command(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "helper_attacker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ATTACK, kind)
        .env(SECS, secs.to_string())
        .env("WGD_SOCKET", &w.sock)
        .stdout(f)
        .stderr(Stdio::piped())
        .spawn()
        .expect("attacker")
}

/// Runs the attack `kind` for `secs` seconds as `user`, meanwhile calling root's
/// wgifconfig and sampling wgd's memory every 200 ms.
fn attack(w: &mut Wgd, user: &TestUser, kind: &str, secs: u64) -> Outcome {
    let out = w.dir.join(format!("attack-{kind}-{}.txt", user.name));
    // Killed by PID if an assertion below fails while it runs.
    let mut guard = KillOnDrop(vec![spawn_attacker(w, user, kind, secs, &out)]);
    let child = &mut guard.0[0];
    let (mut root_slowest, mut root_calls, mut rss_max) = (Duration::ZERO, 0, 0);
    let limit = Instant::now() + Duration::from_secs(secs + 30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        let t = Instant::now();
        w.wgifconfig_ok(&["wg1"]);
        root_slowest = root_slowest.max(t.elapsed());
        root_calls += 1;
        rss_max = rss_max.max(w.rss_kib());
        assert!(w.alive(), "wgd died during the attack:\n{}", w.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let report: String = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        // libtest prints `test attacker ... ` before the test's own output.
        .filter_map(|l| l.find("ATTACK").map(|i| format!("{}\n", &l[i..])))
        .collect();
    assert!(
        status.is_some_and(|s| s.success()),
        "attacker {kind} failed ({status:?}):\n{report}\n{err}"
    );
    Outcome {
        report,
        root_slowest,
        root_calls,
        rss_max,
    }
}

fn setup(tag: &str) -> (Wgd, TestUser, PingWatch, u64) {
    let w = Wgd::start(tag);
    w.example();
    assert!(
        Wgd::ping(&w.rd(1), "192.168.5.2"),
        "tunnel before the attack"
    );
    let user = TestUser::create(tag);
    let ping = PingWatch::start(&w, &w.rd(1), "192.168.5.2", tag);
    let rss0 = w.rss_kib();
    (w, user, ping, rss0)
}

/// The checks every attack must pass.
fn check_unharmed(w: &mut Wgd, ping: PingWatch, o: &Outcome, rss0: u64, rss_budget_kib: u64) {
    let (answers, gap, tail) = ping.finish();
    assert!(
        gap <= 1.0 && tail <= 1.5,
        "the tunnel stalled: largest gap between ping answers {gap:.2} s, last answer {tail:.2} s ago ({answers} answers)\n{}",
        o.report
    );
    assert!(
        o.root_calls >= 3,
        "root's wgifconfig ran {} times",
        o.root_calls
    );
    assert!(
        o.root_slowest < Duration::from_secs(1),
        "root's wgifconfig took {:?}",
        o.root_slowest
    );
    assert!(
        o.rss_max <= rss0 + rss_budget_kib,
        "wgd grew from {rss0} KiB to {} KiB\n{}",
        o.rss_max,
        o.report
    );
    assert!(w.alive(), "wgd died:\n{}", w.log());
    // State intact: the tunnel's configuration is still there.
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(s.contains("wgaip 192.168.5.2/32"), "{s}");
}

fn field<T: std::str::FromStr>(report: &str, line: &str, after: &str) -> T {
    report
        .lines()
        .find(|l| l.starts_with(line))
        .and_then(|l| l.split(after).nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{after}` in `{line}`:\n{report}"))
}

#[test]
#[ignore = "needs root: network namespaces, tun devices and a test user"]
fn pipelined_requests_with_unread_replies_stay_bounded() {
    let (mut w, user, ping, rss0) = setup("hpl");
    let o = attack(&mut w, &user, "pipeline", 6);
    // The daemon stops reading a connection whose reply is pending: the attacker's
    // writes block after its socket buffers fill, far short of 30 MB per connection.
    let written: usize = field(&o.report, "ATTACK written", "written ");
    assert!(written > 0 && written < 4 * (8 << 20), "{}", o.report);
    check_unharmed(&mut w, ping, &o, rss0, 16 << 10);
}

#[test]
#[ignore = "needs root: network namespaces, tun devices and a test user"]
fn bursts_of_requests_do_not_stall_the_tunnels() {
    let (mut w, user, ping, rss0) = setup("hbu");
    let o = attack(&mut w, &user, "burst", 6);
    assert!(o.report.contains("ATTACK bursts"), "{}", o.report);
    check_unharmed(&mut w, ping, &o, rss0, 16 << 10);
}

#[test]
#[ignore = "needs root: network namespaces, tun devices and a test user"]
fn a_user_cannot_take_every_connection() {
    let (mut w, user, ping, rss0) = setup("hho");
    let o = attack(&mut w, &user, "hold", 4);
    let held: usize = field(&o.report, "ATTACK held", "held ");
    let refused: usize = field(&o.report, "ATTACK held", "refused ");
    let errno: i32 = field(&o.report, "ATTACK held", "errno ");
    assert_eq!(held, 16, "{}", o.report);
    assert_eq!(refused, 300 - 16, "{}", o.report);
    assert_eq!(errno, libc::EUSERS, "{}", o.report);
    check_unharmed(&mut w, ping, &o, rss0, 8 << 10);
    // The user's connections are gone with it: another user gets in again.
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(s.contains("wgport 7111"), "{s}");
}

#[test]
#[ignore = "needs root: network namespaces, tun devices and a test user"]
fn large_and_unfinished_frames_from_a_user() {
    let (mut w, user, ping, rss0) = setup("hlo");
    let o = attack(&mut w, &user, "loris", 20);
    let big: i32 = field(&o.report, "ATTACK big", "big ");
    let five: i32 = field(&o.report, "ATTACK five", "five ");
    assert_eq!(
        (big, five),
        (libc::EMSGSIZE, libc::EMSGSIZE),
        "{}",
        o.report
    );
    let closed: usize = field(&o.report, "ATTACK unfinished", "closed ");
    let max: f64 = field(&o.report, "ATTACK unfinished", "max ");
    assert_eq!(closed, 12, "{}", o.report);
    assert!(
        (9.0..=13.0).contains(&max),
        "closed after {max} s\n{}",
        o.report
    );
    check_unharmed(&mut w, ping, &o, rss0, 8 << 10);
}

#[test]
#[ignore = "needs root: network namespaces, tun devices and a test user"]
fn a_stuck_log_reader_does_not_stop_the_tunnels() {
    // wgd's stderr is a pipe nobody reads; wg1 logs a line for every packet sent to a
    // peer without an endpoint, far more than the pipe holds (64 KiB).
    let mut w = Wgd::start_with_stuck_log("hlg");
    w.example();
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"));
    w.wgifconfig_ok(&[
        "wg1",
        "wgpeer",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEE=",
        "wgaip",
        "10.9.0.0/16",
        "debug",
    ]);
    common::ok(&mut Wgd::in_ns(
        &w.rd(1),
        &["ip", "route", "add", "10.9.0.0/16", "dev", "wg1"],
    ));
    let ping = PingWatch::start(&w, &w.rd(1), "192.168.5.2", "hlg");
    // 10,000 datagrams into wg1 from its namespace, each one a log line.
    let rd1 = format!("/run/netns/{}", w.rd(1));
    let sent = std::thread::spawn(move || {
        let ns = std::fs::File::open(rd1).unwrap();
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        (0..10_000)
            .filter(|_| s.send_to(b"log me", "10.9.0.1:9").is_ok())
            .count()
    })
    .join()
    .unwrap();
    assert!(sent > 5_000, "only {sent} datagrams went out");
    let t = Instant::now();
    w.wgifconfig_ok(&["wg1"]);
    assert!(t.elapsed() < Duration::from_secs(1));
    let (answers, gap, tail) = ping.finish();
    assert!(
        gap <= 1.0 && tail <= 1.5,
        "the tunnel stalled behind the log: gap {gap:.2} s, last answer {tail:.2} s ago ({answers})"
    );
    assert!(w.stop().is_ok_and(|s| s.success()), "wgd exits on SIGTERM");
}

#[test]
#[ignore = "needs root: network namespaces, tun devices and a test user"]
fn many_users_leave_room_for_root() {
    // Fifteen users hold 16 connections each: the 240 that users may share. A
    // sixteenth user is refused (EAGAIN), root is not.
    let (mut w, last, ping, rss0) = setup("hmu");
    let users: Vec<TestUser> = (0..15)
        .map(|i| TestUser::create(&format!("hm{i}")))
        .collect();
    let outs: Vec<_> = users
        .iter()
        .map(|u| w.dir.join(format!("hold-{}.txt", u.name)))
        .collect();
    let holders = KillOnDrop(
        users
            .iter()
            .zip(&outs)
            .map(|(u, o)| spawn_attacker(&w, u, "hold", 30, o))
            .collect(),
    );
    let all_held = common::wait_for(Duration::from_secs(30), || {
        outs.iter().all(|o| {
            std::fs::read_to_string(o)
                .unwrap_or_default()
                .contains("ATTACK held 16 ")
        })
    });
    let o = attack(&mut w, &last, "hold", 2);
    drop(holders);
    assert!(all_held, "not every user got its 16 connections");
    let held: usize = field(&o.report, "ATTACK held", "held ");
    let errno: i32 = field(&o.report, "ATTACK held", "errno ");
    assert_eq!((held, errno), (0, libc::EAGAIN), "{}", o.report);
    check_unharmed(&mut w, ping, &o, rss0, 16 << 10);
}

/// The test's own attacker processes, killed by PID when the test ends (also when
/// an assertion fails first, so that their users can be removed).
struct KillOnDrop(Vec<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
