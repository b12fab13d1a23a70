//! wg(4)'s EXAMPLES script with `ifconfig` spelled `wgifconfig` and
//! `route -T1 exec` spelled `ip netns exec <prefix>1`, against a real wgd this
//! test starts with its own socket (-s) and namespace prefix (--netns-prefix):
//!
//! ```text
//!   netns <prefix>1            host netns (rtable 0)            netns <prefix>2
//!   wgA 192.168.5.1/24 ── UDP 127.0.0.1:PA <──> 127.0.0.1:PB ── wgB 192.168.5.2/24
//! ```
//!
//! Needs root and ip(8)/ping(8); fails loudly without them. Interface units and
//! ports are derived from the PID so parallel runs do not collide.

use base64::Engine;
use rand::RngCore;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    dir: PathBuf,
    prefix: String,
    ifs: Vec<String>,
    sock: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        for i in &self.ifs {
            let _ = wgifconfig(&self.sock, &[i, "destroy"]);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for n in 1..=2 {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("{}{n}", self.prefix)])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wgifconfig(sock: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_wgifconfig"))
        .args(args)
        .env("WGD_SOCKET", sock)
        .output()
        .expect("run wgifconfig");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(sock: &Path, line: &str) -> String {
    let args: Vec<&str> = line.split_whitespace().collect();
    let (code, out, err) = wgifconfig(sock, &args);
    assert_eq!((code, err.as_str()), (0, ""), "wgifconfig {line}");
    out
}

fn random_key() -> String {
    let mut k = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut k);
    base64::engine::general_purpose::STANDARD.encode(k)
}

fn require_root_and_tools() {
    let uid = Command::new("id").arg("-u").output().expect("id(1)");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "ifconfig_e2e needs root (network namespaces, tun devices)"
    );
    for tool in ["ip", "ping"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(found, "ifconfig_e2e needs {tool}(8)");
    }
}

/// Starts wgd with a socket and namespace prefix of its own; `salt` keeps the
/// interface units of the tests in this file apart.
fn start_daemon(tag: &str, salt: u32) -> Daemon {
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("wgif-e2e-{tag}-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("wgd.sock");
    let prefix = format!("wgife{tag}{}rd", pid % 100_000);
    let unit = 1000 + (pid % 20_000) * 4 + salt * 2;
    let ifs = vec![format!("wg{unit}"), format!("wg{}", unit + 1)];
    let child = Command::new(env!("CARGO_BIN_EXE_wgd"))
        .args(["-s", sock.to_str().unwrap(), "--netns-prefix", &prefix])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start wgd");
    let d = Daemon {
        child,
        dir,
        prefix,
        ifs,
        sock,
    };
    let t0 = Instant::now();
    while !d.sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "wgd did not create {}",
            d.sock.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d
}

#[test]
fn wgnetstart_configures_from_hostname_files() {
    require_root_and_tools();
    let d = start_daemon("ns", 1);
    let wg = d.ifs[0].clone();
    let key = random_key();
    let mark = d.dir.join("ran");
    let text = format!(
        "# boot config\nwgkey {key} wgport 0\ninet 10.77.0.1 255.255.255.0\n\
         description \"boot tunnel\"\n!echo $if > {}\nup\n",
        mark.display()
    );
    std::fs::write(d.dir.join(format!("hostname.{wg}")), text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wgnetstart"))
        .arg(&wg)
        .env("WGNETSTART_DIR", &d.dir)
        .env("WGD_SOCKET", &d.sock)
        .output()
        .expect("run wgnetstart");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("is insecure, fixing permissions."), "{err}");
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), format!("{wg}\n"));
    let out = ok(&d.sock, &wg);
    assert!(
        out.starts_with(&format!(
            "{wg}: flags=80c3<UP,BROADCAST,RUNNING,NOARP,MULTICAST> mtu 1420\n"
        )),
        "{out}"
    );
    assert!(out.contains("\tdescription: boot tunnel\n"), "{out}");
    assert!(out.contains("\twgpubkey "), "{out}");
    assert!(
        out.contains("\tinet 10.77.0.1 netmask 0xffffff00 broadcast 10.77.0.255\n"),
        "{out}"
    );
}

#[test]
fn wg4_examples_script() {
    require_root_and_tools();
    let pid = std::process::id();
    let d = start_daemon("ex", 0);
    let sock = d.sock.clone();
    let prefix = d.prefix.clone();
    let (wga, wgb) = (d.ifs[0].clone(), d.ifs[1].clone());
    let (pa, pb) = (20_000 + (pid % 20_000) * 2, 20_001 + (pid % 20_000) * 2);

    // ifconfig wg1 create wgport 111 wgkey `openssl rand -base64 32` rdomain 1
    ok(
        &sock,
        &format!("{wga} create wgport {pa} wgkey {} rdomain 1", random_key()),
    );
    ok(
        &sock,
        &format!("{wgb} create wgport {pb} wgkey {} rdomain 2", random_key()),
    );
    // PUB1="`ifconfig wg1 | grep 'wgpubkey' | cut -d ' ' -f 2`"
    let pubkey = |ifname: &str| -> String {
        let out = ok(&sock, ifname);
        let line = out
            .lines()
            .find(|l| l.contains("wgpubkey"))
            .unwrap_or_else(|| panic!("no wgpubkey in:\n{out}"));
        line.split(' ').nth(1).unwrap().to_string()
    };
    let (pub1, pub2) = (pubkey(&wga), pubkey(&wgb));
    assert_eq!(pub1.len(), 44);
    ok(
        &sock,
        &format!("{wga} wgpeer {pub2} wgendpoint 127.0.0.1 {pb} wgaip 192.168.5.2/32"),
    );
    ok(
        &sock,
        &format!("{wgb} wgpeer {pub1} wgendpoint 127.0.0.1 {pa} wgaip 192.168.5.1/32"),
    );
    ok(&sock, &format!("{wga} 192.168.5.1/24"));
    ok(&sock, &format!("{wgb} 192.168.5.2/24"));

    // route -T1 exec ping 192.168.5.2
    let ns1 = format!("{prefix}1");
    let mut pinged = false;
    for _ in 0..10 {
        let st = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns1,
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "192.168.5.2",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("ping");
        if st.success() {
            pinged = true;
            break;
        }
    }
    assert!(pinged, "no ping reply from 192.168.5.2 in {ns1}");

    // The status now shows the peer, its endpoint, traffic and a handshake.
    let out = ok(&sock, &wga);
    assert!(out.contains(&format!("\twgport {pa}\n")), "{out}");
    assert!(out.contains(&format!("\twgpeer {pub2}\n")), "{out}");
    assert!(
        out.contains(&format!("\t\twgendpoint 127.0.0.1 {pb}\n")),
        "{out}"
    );
    assert!(out.contains("\t\twgaip 192.168.5.2/32\n"), "{out}");
    assert!(out.contains("\t\tlast handshake: "), "{out}");
    assert!(
        out.contains("\tinet 192.168.5.1 netmask 0xffffff00 broadcast 192.168.5.255\n"),
        "{out}"
    );
    assert!(out.contains(" rdomain 1 mtu 1420\n"), "{out}");

    // create on an existing one fails as on OpenBSD.
    assert_eq!(
        wgifconfig(&sock, &[&wga, "create"]),
        (
            1,
            String::new(),
            format!("wgifconfig: {wga}: SIOCIFCREATE: File exists\n")
        )
    );
}
