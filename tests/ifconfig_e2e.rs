//! wg(4)'s EXAMPLES script, run by sh(1) with `ifconfig` spelled `wgifconfig` and
//! `route -T1 exec` spelled `ip netns exec <prefix>1`, and a hostname.if boot through
//! wgnetstart, each against a real wgd of the test's own (tests/common: a fresh
//! network namespace, its own socket and rdomain prefix, all removed on drop):
//!
//! ```text
//!   netns <prefix>1           the daemon's netns (rtable 0)          netns <prefix>2
//!   wg1 192.168.5.1/24 ── UDP 127.0.0.1:111 <──> 127.0.0.1:222 ── wg2 192.168.5.2/24
//! ```
//!
//! Needs root, ip(8), ping(8) and openssl(1); fails loudly without them.

mod common;
use common::{require_tools, Wgd};
use std::path::Path;

/// The directory of the built binaries, to put in front of PATH.
fn bin_dir() -> String {
    Path::new(env!("CARGO_BIN_EXE_wgifconfig"))
        .parent()
        .unwrap()
        .display()
        .to_string()
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wgnetstart)"]
fn wg4_examples_script() {
    let w = Wgd::start("e2x");
    require_tools(&["openssl", "ping", "grep", "cut"]);
    // OpenBSD's text, two substitutions made; the ping is bounded (-c/-w) instead of
    // running until interrupted.
    let script = format!(
        "set -e
wgifconfig wg1 create wgport 111 wgkey `openssl rand -base64 32` rdomain 1
wgifconfig wg2 create wgport 222 wgkey `openssl rand -base64 32` rdomain 2
PUB1=\"`wgifconfig wg1 | grep 'wgpubkey' | cut -d ' ' -f 2`\"
PUB2=\"`wgifconfig wg2 | grep 'wgpubkey' | cut -d ' ' -f 2`\"
wgifconfig wg1 wgpeer $PUB2 wgendpoint 127.0.0.1 222 wgaip 192.168.5.2/32
wgifconfig wg2 wgpeer $PUB1 wgendpoint 127.0.0.1 111 wgaip 192.168.5.1/32
wgifconfig wg1 192.168.5.1/24
wgifconfig wg2 192.168.5.2/24
ip netns exec {} ping -c 3 -w 10 192.168.5.2
",
        w.rd(1)
    );
    let path = format!(
        "{}:{}",
        bin_dir(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = common::run(
        w.in_daemon_ns(&["sh", "-c", &script])
            .env("PATH", path)
            .env("WGD_SOCKET", &w.sock),
    );
    assert!(
        out.status.success(),
        "the example failed:\n{}{}\nwgd log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        w.log()
    );

    // The status now shows the peer, its endpoint, traffic and a handshake.
    let pub2 = w.pubkey("wg2");
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(s.contains(" rdomain 1 mtu 1420\n"), "{s}");
    assert!(s.contains("\twgport 111\n"), "{s}");
    assert!(s.contains(&format!("\twgpeer {pub2}\n")), "{s}");
    assert!(s.contains("\t\twgendpoint 127.0.0.1 222\n"), "{s}");
    assert!(s.contains("\t\twgaip 192.168.5.2/32\n"), "{s}");
    assert!(s.contains("\t\tlast handshake: "), "{s}");
    assert!(
        s.contains("\tinet 192.168.5.1 netmask 0xffffff00 broadcast 192.168.5.255\n"),
        "{s}"
    );
    // create on an existing one fails as on OpenBSD.
    let o = w.wgifconfig(&["wg1", "create"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "wgifconfig: wg1: SIOCIFCREATE: File exists\n"
    );
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wgnetstart)"]
fn wgnetstart_configures_from_hostname_files() {
    let w = Wgd::start("e2n");
    let key = common::openssl_key();
    let mark = w.dir.join("ran");
    let text = format!(
        "# boot config\nwgkey {key} wgport 0\ninet 10.77.0.1 255.255.255.0\n\
         description \"boot tunnel\"\n!echo $if > {}\nup\n",
        mark.display()
    );
    let hn = w.dir.join("hostname.wg0");
    std::fs::write(&hn, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hn, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = common::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_wgnetstart"))
            .arg("wg0")
            .env("WGNETSTART_DIR", &w.dir)
            .env("WGD_SOCKET", &w.sock),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("is insecure, fixing permissions."), "{err}");
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), "wg0\n");
    let out = w.wgifconfig_ok(&["wg0"]);
    assert!(
        out.starts_with("wg0: flags=80c3<UP,BROADCAST,RUNNING,NOARP,MULTICAST> mtu 1420\n"),
        "{out}"
    );
    assert!(out.contains("\tdescription: boot tunnel\n"), "{out}");
    assert!(out.contains("\twgpubkey "), "{out}");
    // wgport 0: the kernel chose a port, and it is reported.
    let port: u16 = out
        .lines()
        .find_map(|l| l.strip_prefix("\twgport "))
        .unwrap_or_else(|| panic!("no wgport in:\n{out}"))
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    assert!(
        out.contains("\tinet 10.77.0.1 netmask 0xffffff00 broadcast 10.77.0.255\n"),
        "{out}"
    );
}
