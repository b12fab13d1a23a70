//! Shared harness of the root network tests: a wgd of the test's own, running in a
//! fresh network namespace with `lo` up (so its UDP traffic stays on that loopback),
//! with its own control socket and rdomain prefix; everything is removed on drop.
//! A missing privilege or tool fails the test with the reason. [`pair`] is the other
//! harness: two protocol engines joined in memory, for the protocol tests.
//!
//! wgd is started with `nsenter --net=` (not `ip netns exec`, which would give it a
//! private mount namespace and hide the rdomain namespaces it creates); see README.md,
//! "How the root tests stay apart".

#![allow(dead_code)]

/// The two-node harness of the protocol tests (no root, no processes).
pub mod pair;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Fails the test unless it runs as root, saying `why` root is needed. Root tests are
/// ignored by default (`#[ignore = "needs root: ..."]`); this is what a user without root
/// sees when running them anyway (`--run-ignored all`, `--include-ignored`).
pub fn require_root(why: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root ({why}): run it as root, as ./scripts/test.sh does \
         (cargo nextest run --run-ignored all; TESTING.md)"
    );
}

pub fn require_root_and_tools(tools: &[&str]) {
    require_root("network namespaces, tun devices");
    assert!(
        Path::new("/dev/net/tun").exists(),
        "this test needs /dev/net/tun"
    );
    require_tools(tools);
}

pub fn require_tools(tools: &[&str]) {
    for t in tools {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .output()
            .map(|o| o.status.success());
        assert!(
            found.unwrap_or(false),
            "this test needs `{t}` (./scripts/test.sh installs it)"
        );
    }
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    out
}

pub fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `f` every 50 ms until it is true or `limit` passes.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A directory of the test's own under the system temp dir (`wgif-<tag>-<pid>`),
/// removed on drop, also when an assertion fails.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("wgif-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl std::ops::Deref for TempDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn openssl_key() -> String {
    ok(Command::new("openssl").args(["rand", "-base64", "32"]))
        .trim()
        .to_string()
}

pub struct Wgd {
    pub ns: String,
    pub prefix: String,
    pub sock: PathBuf,
    pub dir: PathBuf,
    child: Option<Child>,
    extra_ns: Vec<String>,
    children: Vec<Child>,
    files: Vec<PathBuf>,
    /// With [`Wgd::start_with_stuck_log`]: wgd's stderr pipe, never read.
    stuck_log: Option<std::process::ChildStderr>,
    /// More arguments for wgd (kept for a restart).
    extra_args: Vec<String>,
    /// The wgd program: the one just built unless [`Wgd::start_program`] named another.
    program: PathBuf,
}

impl Wgd {
    /// Starts a wgd for test `tag` (short, unique per test in the binary).
    pub fn start(tag: &str) -> Wgd {
        Wgd::start_with(tag, &[])
    }

    /// [`Wgd::start`] with wgd's stderr a pipe that nobody reads (a stuck log reader).
    pub fn start_with_stuck_log(tag: &str) -> Wgd {
        Wgd::launch(tag, &[], true)
    }

    /// [`Wgd::start`] with `extra_args` on wgd's command line (e.g. `-O all`).
    pub fn start_with(tag: &str, extra_args: &[&str]) -> Wgd {
        Wgd::launch(tag, extra_args, false)
    }

    /// [`Wgd::start_with`] running `program` (e.g. the wgd a package installed)
    /// instead of the one just built.
    pub fn start_program(tag: &str, program: &Path, extra_args: &[&str]) -> Wgd {
        Wgd::launch_program(tag, program, extra_args, false)
    }

    fn launch(tag: &str, extra_args: &[&str], stuck_log: bool) -> Wgd {
        Wgd::launch_program(
            tag,
            Path::new(env!("CARGO_BIN_EXE_wgd")),
            extra_args,
            stuck_log,
        )
    }

    fn launch_program(tag: &str, program: &Path, extra_args: &[&str], stuck_log: bool) -> Wgd {
        require_root_and_tools(&["ip", "nsenter"]);
        let pid = std::process::id();
        let ns = format!("wgt{tag}{pid}");
        let prefix = format!("wgt{tag}{pid}rd");
        let dir = std::env::temp_dir().join(format!("wgt-{tag}-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("wgd.sock");
        ok(Command::new("ip").args(["netns", "add", &ns]));
        let mut w = Wgd {
            ns,
            prefix,
            sock,
            dir,
            child: None,
            extra_ns: Vec::new(),
            children: Vec::new(),
            files: Vec::new(),
            stuck_log: None,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            program: program.to_path_buf(),
        };
        ok(Command::new("ip").args(["-n", &w.ns, "link", "set", "lo", "up"]));
        w.spawn(stuck_log);
        w
    }

    /// Starts wgd again, in the same namespace with the same socket and rdomain
    /// prefix, after it was stopped (or killed).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "wgd is still running");
        self.spawn(false);
    }

    fn spawn(&mut self, stuck_log: bool) {
        let w = self;
        let log = std::fs::File::create(w.dir.join("wgd.log")).unwrap();
        let log = if stuck_log {
            Stdio::piped()
        } else {
            Stdio::from(log)
        };
        let mut child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", w.ns))
            .arg(&w.program)
            .args(["-s", w.sock.to_str().unwrap(), "--netns-prefix", &w.prefix])
            // The configuration-protocol sockets go to the test's directory unless
            // the test says where (wg(8) itself only looks in /var/run/wireguard).
            .args(if w.extra_args.iter().any(|a| a == "-u") {
                vec![]
            } else {
                vec![
                    "-u".to_string(),
                    w.dir.join("run").to_str().unwrap().to_string(),
                ]
            })
            .args(&w.extra_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn wgd");
        w.stuck_log = child.stderr.take();
        w.child = Some(child);
        let sock = w.sock.clone();
        assert!(
            // Connectable, not just present: a killed wgd leaves its socket file.
            wait_for(Duration::from_secs(10), || {
                std::os::unix::net::UnixStream::connect(&sock).is_ok()
            }),
            "wgd did not start: {}",
            w.log()
        );
    }

    pub fn rd(&self, n: u32) -> String {
        format!("{}{}", self.prefix, n)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("wgd.log")).unwrap_or_default()
    }

    /// `wgifconfig ARGS` against this wgd.
    pub fn wgifconfig(&self, args: &[&str]) -> Output {
        run(Command::new(env!("CARGO_BIN_EXE_wgifconfig"))
            .args(args)
            .env("WGD_SOCKET", &self.sock))
    }

    pub fn wgifconfig_ok(&self, args: &[&str]) -> String {
        let out = self.wgifconfig(args);
        assert!(
            out.status.success(),
            "wgifconfig {args:?}: {}{}\nwgd log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A command inside namespace `ns`.
    pub fn in_ns(ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).args(args);
        c
    }

    /// A further namespace of the test's own (`<ns><suffix>`, loopback up), removed
    /// on drop after the test's processes are killed.
    pub fn add_ns(&mut self, suffix: &str) -> String {
        let n = format!("{}{suffix}", self.ns);
        let _ = Command::new("ip").args(["netns", "del", &n]).output();
        ok(Command::new("ip").args(["netns", "add", &n]));
        self.extra_ns.push(n.clone());
        ok(Command::new("ip").args(["-n", &n, "link", "set", "lo", "up"]));
        n
    }

    /// A command in the daemon's namespace (where its UDP sockets are).
    pub fn in_daemon_ns(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.ns)).args(args);
        c
    }

    /// Keeps a process started by the test, to be killed (by PID) on drop.
    pub fn adopt(&mut self, c: Child) {
        self.children.push(c);
    }

    /// A file outside the test's directory that a process of the test creates (and
    /// leaves when killed), removed on drop.
    pub fn adopt_file(&mut self, p: impl Into<PathBuf>) {
        self.files.push(p.into());
    }

    /// The public key of `ifname`, read back as the wg(4) example does.
    pub fn pubkey(&self, ifname: &str) -> String {
        let s = self.wgifconfig_ok(&[ifname]);
        s.lines()
            .find_map(|l| l.trim().strip_prefix("wgpubkey ").map(str::to_string))
            .unwrap_or_else(|| panic!("no wgpubkey in:\n{s}"))
    }

    /// Pings `dst` from namespace `ns` with bounded retries (the first packets wait
    /// for the handshake).
    pub fn ping(ns: &str, dst: &str) -> bool {
        wait_for(Duration::from_secs(10), || {
            Wgd::in_ns(ns, &["ping", "-c", "1", "-W", "1", dst])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
    }

    /// The wg(4) EXAMPLES setup: wg1 in rdomain 1 on port 7111, wg2 in rdomain 2 on
    /// port 7222, UDP over 127.0.0.1 in the daemon's namespace.
    pub fn example(&self) {
        self.example_with(&[]);
    }

    /// [`Wgd::example`] with `extra` added to both `create` lines (e.g. a wgrtable).
    pub fn example_with(&self, extra: &[&str]) {
        let (k1, k2) = (openssl_key(), openssl_key());
        for (ifname, port, key, rdomain) in [("wg1", "7111", &k1, "1"), ("wg2", "7222", &k2, "2")] {
            let mut args = vec![ifname, "create", "wgport", port];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["wgkey", key, "rdomain", rdomain]);
            self.wgifconfig_ok(&args);
        }
        let (p1, p2) = (self.pubkey("wg1"), self.pubkey("wg2"));
        self.wgifconfig_ok(&[
            "wg1",
            "wgpeer",
            &p2,
            "wgendpoint",
            "127.0.0.1",
            "7222",
            "wgaip",
            "192.168.5.2/32",
        ]);
        self.wgifconfig_ok(&[
            "wg2",
            "wgpeer",
            &p1,
            "wgendpoint",
            "127.0.0.1",
            "7111",
            "wgaip",
            "192.168.5.1/32",
        ]);
        self.wgifconfig_ok(&["wg1", "192.168.5.1/24"]);
        self.wgifconfig_ok(&["wg2", "192.168.5.2/24"]);
    }
}

impl Wgd {
    /// Sends wgd SIGTERM and waits (bounded) for it to exit; kills it if it does
    /// not. Returns its exit status, or an error saying why there is none.
    pub fn stop(&mut self) -> Result<std::process::ExitStatus, &'static str> {
        self.stop_with(nix::sys::signal::SIGTERM)
    }

    /// [`Wgd::stop`] with another signal.
    pub fn stop_with(
        &mut self,
        sig: nix::sys::signal::Signal,
    ) -> Result<std::process::ExitStatus, &'static str> {
        let mut c = self.child.take().ok_or("wgd was already stopped")?;
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), sig);
        let mut status = None;
        wait_for(Duration::from_secs(5), || {
            status = c.try_wait().ok().flatten();
            status.is_some()
        });
        if status.is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
        status.ok_or("wgd did not exit within 5 s of SIGTERM (killed)")
    }

    /// Whether the network namespace `name` exists.
    pub fn netns_exists(name: &str) -> bool {
        Path::new("/run/netns").join(name).exists()
    }
}

impl Drop for Wgd {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        let _ = self.stop();
        // wgd removes the namespaces it created; remove any left behind all the same.
        if let Ok(list) = std::fs::read_dir("/run/netns") {
            for e in list.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(&self.prefix) {
                    let _ = Command::new("ip").args(["netns", "del", &n]).output();
                }
            }
        }
        for n in self.extra_ns.iter().chain(std::iter::once(&self.ns)) {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The private directory of a test's own files.
pub fn dir_of(w: &Wgd) -> &Path {
    &w.dir
}

impl Wgd {
    /// The daemon's PID (to read its memory use; never to signal it by name).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).expect("wgd is running")
    }

    /// Resident memory of wgd in KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    /// Whether wgd is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// A local user of the test's own (`useradd`, per-test name), removed on drop with
/// its processes' PIDs killed by the test that started them.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl TestUser {
    pub fn create(tag: &str) -> TestUser {
        require_tools(&["useradd", "userdel", "id"]);
        let name = format!("wgt{tag}{}", std::process::id() % 100_000);
        let _ = Command::new("userdel").arg(&name).output();
        ok(Command::new("useradd").args([
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "--user-group",
            &name,
        ]));
        let id = |flag: &str| -> u32 {
            ok(Command::new("id").args([flag, &name]))
                .trim()
                .parse()
                .unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        assert_ne!(uid, 0);
        TestUser { name, uid, gid }
    }

    /// `program` run as this user.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(program);
        c.uid(self.uid).gid(self.gid);
        c
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// A ping running in the background (`ping -D -i 0.1`), to check that a tunnel kept
/// answering: the largest gap between answers.
pub struct PingWatch {
    child: Child,
    out: PathBuf,
}

impl PingWatch {
    pub fn start(w: &Wgd, ns: &str, dst: &str, tag: &str) -> PingWatch {
        let out = w.dir.join(format!("ping-{tag}.txt"));
        let f = std::fs::File::create(&out).unwrap();
        let child = Wgd::in_ns(ns, &["ping", "-D", "-n", "-i", "0.1", "-W", "1", dst])
            .stdout(f)
            .stderr(Stdio::null())
            .spawn()
            .expect("ping");
        let p = PingWatch { child, out };
        assert!(
            wait_for(Duration::from_secs(10), || p.answers().len() >= 3),
            "the tunnel does not answer before the test"
        );
        p
    }

    /// Times (seconds, from ping -D) of the answers so far.
    pub fn answers(&self) -> Vec<f64> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("bytes from"))
            .filter_map(|l| {
                l.strip_prefix('[')
                    .and_then(|r| r.split(']').next())
                    .and_then(|t| t.parse().ok())
            })
            .collect()
    }

    /// Stops the ping (its own PID) and returns (answers, largest gap in seconds,
    /// seconds from the last answer to now).
    pub fn finish(mut self) -> (usize, f64, f64) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let a = self.answers();
        let gap = a.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let tail = a.last().map_or(f64::INFINITY, |l| now - l);
        (a.len(), gap, tail)
    }
}

impl Drop for PingWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WireGuard key pair from wg(8): (private, public), base64.
pub fn wg_genkey() -> (String, String) {
    use std::io::Write;
    let private = ok(Command::new("wg").arg("genkey")).trim().to_string();
    let mut p = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wg pubkey");
    p.stdin
        .take()
        .unwrap()
        .write_all(private.as_bytes())
        .unwrap();
    let public = String::from_utf8(p.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    (private, public)
}

impl Wgd {
    /// Starts wireguard-go (Debian's, the interop peer) on `ifname` in the daemon's
    /// namespace, killed and its UAPI socket removed on drop, and gives it a fresh
    /// private key; returns the public key. `ifname` should carry the test's PID:
    /// UAPI sockets live in /var/run/wireguard, shared by every namespace.
    pub fn start_go(&mut self, ifname: &str) -> String {
        require_root_and_tools(&["wireguard-go", "wg"]);
        let child = self
            .in_daemon_ns(&["wireguard-go", "-f", ifname])
            .env("WG_PROCESS_FOREGROUND", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn wireguard-go");
        self.adopt(child);
        // Its UAPI socket outlives a SIGKILL.
        self.adopt_file(format!("/var/run/wireguard/{ifname}.sock"));
        // Ready when wg(8) can talk to it over its UAPI socket.
        let ready = wait_for(Duration::from_secs(10), || {
            self.in_daemon_ns(&["wg", "show", ifname])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        });
        assert!(ready, "wireguard-go did not start");
        let (private, public) = wg_genkey();
        let keyfile = self.dir.join(format!("{ifname}.key"));
        std::fs::write(&keyfile, &private).unwrap();
        ok(&mut self.in_daemon_ns(&[
            "wg",
            "set",
            ifname,
            "private-key",
            keyfile.to_str().unwrap(),
        ]));
        public
    }
}

/// Runs `f` on a thread inside network namespace `ns` (only that thread moves).
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> JoinHandle<Result<T, String>> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("setns {path}: {e}"))?;
        f()
    })
}

pub fn join<T>(h: JoinHandle<Result<T, String>>, what: &str) -> Result<T, String> {
    h.join()
        .map_err(|_| format!("{what}: thread panicked"))
        .and_then(|r| r.map_err(|e| format!("{what}: {e}")))
}

/// A UDP socket bound to `addr` with a 16 MiB receive buffer (forced as root), so
/// that a test's burst is not lost in its own socket.
pub fn udp_receiver(addr: std::net::SocketAddr) -> Result<std::net::UdpSocket, String> {
    use nix::sys::socket::{setsockopt, sockopt};
    let s = std::net::UdpSocket::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let big = 16usize << 20;
    if setsockopt(&s, sockopt::RcvBufForce, &big).is_err() {
        let _ = setsockopt(&s, sockopt::RcvBuf, &big);
    }
    Ok(s)
}
