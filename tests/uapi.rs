//! The configuration protocol on wgd's interfaces, driven by the real wg(8) from
//! wireguard-tools (and by hand for what wg(8) never sends). wg(8) only looks in
//! /var/run/wireguard, so these tests start wgd with `-u /var/run/wireguard` and
//! use interface names derived from the test's PID; every socket is removed on
//! drop (wgd removes its own; `adopt_file` covers a wgd that died).

mod common;

use common::{ok, run, wait_for, TestUser, Wgd};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const RUN: &str = "/var/run/wireguard";

/// A unit number of this test process's own (`k` tells the interfaces of one test
/// apart; the tests of this binary use distinct `k`).
fn unit(k: u32) -> u32 {
    (std::process::id() % 100_000) * 100 + k
}

fn start(tag: &str) -> Wgd {
    common::require_tools(&["wg"]);
    Wgd::start_with(tag, &["-u", RUN])
}

fn sock_of(name: &str) -> PathBuf {
    Path::new(RUN).join(format!("{name}.sock"))
}

/// `wgifconfig NAME create` with the socket it brings kept for cleanup.
fn create(w: &mut Wgd, k: u32) -> String {
    let name = format!("wg{}", unit(k));
    w.wgifconfig_ok(&[&name, "create"]);
    w.adopt_file(sock_of(&name));
    assert!(
        wait_for(Duration::from_secs(5), || sock_of(&name).exists()),
        "no {}: {}",
        sock_of(&name).display(),
        w.log()
    );
    name
}

fn wg(args: &[&str]) -> String {
    ok(Command::new("wg").args(args))
}

fn genkey() -> (String, String) {
    common::wg_genkey()
}

fn key_hex(b64: &str) -> String {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    hex::encode(raw)
}

/// One request on the socket, the reply up to its blank line (or what came before
/// EOF or 20 s of silence).
fn raw(path: &Path, req: &[u8]) -> String {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Written from a thread: a long request and the early reply may cross.
    let mut w = s.try_clone().unwrap();
    let req = req.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&req);
        // The end of the input: a truncated request is answered too.
        let _ = w.shutdown(std::net::Shutdown::Write);
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"\n\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("raw: read: {e}");
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    drop(s);
    let _ = writer.join();
    String::from_utf8_lossy(&got).into_owned()
}

fn get(path: &Path) -> String {
    let r = raw(path, b"get=1\n\n");
    assert!(r.ends_with("errno=0\n\n"), "get: {r:?}");
    r
}

/// A wg(8) configuration as sections of (key, value) lines, in order.
fn sections(conf: &str) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    for l in conf.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.starts_with('[') {
            out.push(vec![("section".into(), l.to_string())]);
        } else if let Some((k, v)) = l.split_once('=') {
            let v = v
                .trim()
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(",");
            out.last_mut().unwrap().push((k.trim().to_string(), v));
        }
    }
    for s in &mut out {
        s.sort();
    }
    out
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn setconf_then_showconf_round_trips_and_wgifconfig_sees_it() {
    let mut w = start("ua1");
    let name = create(&mut w, 1);
    let (private, _) = genkey();
    let peers: Vec<(String, String)> = (0..3).map(|_| genkey()).collect();
    let (psk0, psk2) = (wg(&["genpsk"]), wg(&["genpsk"]));
    let conf = format!(
        "[Interface]\nPrivateKey = {private}\nListenPort = 51{u:03}\n\n\
         [Peer]\nPublicKey = {p0}\nPresharedKey = {psk0}\nAllowedIPs = 10.20.0.0/24, fd20::/64, 10.21.1.1/32\nEndpoint = 192.0.2.7:51820\nPersistentKeepalive = 25\n\n\
         [Peer]\nPublicKey = {p1}\nAllowedIPs = fd21::5/128\nEndpoint = [2001:db8::9]:4500\n\n\
         [Peer]\nPublicKey = {p2}\nPresharedKey = {psk2}\nAllowedIPs = 0.0.0.0/1\nPersistentKeepalive = 7\n",
        u = unit(1) % 1000,
        p0 = peers[0].1,
        p1 = peers[1].1,
        p2 = peers[2].1,
        psk0 = psk0.trim(),
        psk2 = psk2.trim(),
    );
    let file = common::dir_of(&w).join("in.conf");
    std::fs::write(&file, &conf).unwrap();
    wg(&["setconf", &name, file.to_str().unwrap()]);
    let shown = wg(&["showconf", &name]);
    assert_eq!(sections(&shown), sections(&conf), "showconf:\n{shown}");

    // The same state through the other control path.
    let ifc = w.wgifconfig_ok(&[&name]);
    for (_, public) in &peers {
        assert!(ifc.contains(&format!("wgpeer {public}")), "{ifc}");
    }
    for l in [
        "wgaip 10.20.0.0/24",
        "wgaip fd20::/64",
        "wgaip 10.21.1.1/32",
        "wgaip fd21::5/128",
        "wgaip 0.0.0.0/1",
        "wgendpoint 192.0.2.7 51820",
        "wgendpoint 2001:db8::9 4500",
        "wgpka 25 (sec)",
        "wgpka 7 (sec)",
        &format!("wgport 51{:03}", unit(1) % 1000),
    ] {
        assert!(ifc.contains(l), "no {l:?} in\n{ifc}");
    }
    assert_eq!(ifc.matches("wgpsk (present)").count(), 2, "{ifc}");

    // And back: what wgifconfig sets, wg(8) shows.
    let (_, p3) = genkey();
    w.wgifconfig_ok(&[&name, "wgpeer", &p3, "wgaip", "10.99.0.0/16", "wgpka", "9"]);
    w.wgifconfig_ok(&[&name, "-wgpeer", &peers[1].1]);
    let dump = wg(&["show", &name, "dump"]);
    let rows: Vec<Vec<&str>> = dump
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    let keys: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        keys,
        vec![&peers[0].1[..], &peers[2].1[..], &p3[..]],
        "{dump}"
    );
    assert_eq!(rows[2][3], "10.99.0.0/16");
    assert_eq!(rows[2][7], "9");

    // syncconf back to the file: the wgifconfig peer goes, the removed one returns.
    wg(&["syncconf", &name, file.to_str().unwrap()]);
    // (The peer made again comes last.)
    let mut again = sections(&wg(&["showconf", &name]));
    let mut want = sections(&conf);
    again.sort();
    want.sort();
    assert_eq!(again, want);

    // The socket goes with the interface.
    w.wgifconfig_ok(&[&name, "destroy"]);
    assert!(!sock_of(&name).exists());
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn one_prefix_is_removed_by_protocol_and_by_wgaip() {
    let mut w = start("ua2");
    let name = create(&mut w, 2);
    let (_, a) = genkey();
    let (_, b) = genkey();
    wg(&[
        "set",
        &name,
        "peer",
        &a,
        "allowed-ips",
        "10.1.0.0/24,10.2.0.0/24,10.3.0.0/24,fd00::/64",
        "peer",
        &b,
        "allowed-ips",
        "10.4.0.0/24",
    ]);
    let sock = sock_of(&name);
    let aips = |peer: &str| -> Vec<String> {
        let out = wg(&["show", &name, "allowed-ips"]);
        let line = out
            .lines()
            .find(|l| l.starts_with(peer))
            .unwrap()
            .to_string();
        let mut v: Vec<String> = line
            .split_whitespace()
            .skip(1)
            .filter(|x| *x != "(none)")
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    // The protocol's allowed_ip=-A/L (host bits ignored).
    let r = raw(
        &sock,
        format!(
            "set=1\npublic_key={}\nallowed_ip=-10.2.0.9/24\n\n",
            key_hex(&a)
        )
        .as_bytes(),
    );
    assert_eq!(r, "errno=0\n\n");
    assert_eq!(aips(&a), vec!["10.1.0.0/24", "10.3.0.0/24", "fd00::/64"]);
    // Another peer's prefix is not removed through this one.
    let r = raw(
        &sock,
        format!(
            "set=1\npublic_key={}\nallowed_ip=-10.4.0.0/24\n\n",
            key_hex(&a)
        )
        .as_bytes(),
    );
    assert_eq!(r, "errno=0\n\n");
    assert_eq!(aips(&b), vec!["10.4.0.0/24"]);
    // wgifconfig -wgaip.
    w.wgifconfig_ok(&[&name, "wgpeer", &a, "-wgaip", "fd00::/64"]);
    assert_eq!(aips(&a), vec!["10.1.0.0/24", "10.3.0.0/24"]);
    let ifc = w.wgifconfig_ok(&[&name]);
    assert!(
        !ifc.contains("fd00::") && ifc.contains("wgaip 10.3.0.0/24"),
        "{ifc}"
    );
    // Removal and addition in order in one request: added then removed, and back.
    let r = raw(
        &sock,
        format!(
            "set=1\npublic_key={}\nallowed_ip=10.5.0.0/24\nallowed_ip=-10.5.0.0/24\nallowed_ip=-10.6.0.0/24\nallowed_ip=10.6.0.0/24\n\n",
            key_hex(&a)
        )
        .as_bytes(),
    );
    assert_eq!(r, "errno=0\n\n");
    assert_eq!(aips(&a), vec!["10.1.0.0/24", "10.3.0.0/24", "10.6.0.0/24"]);
    // A peer removes only what it owns: `wgpeer C` makes C (as on OpenBSD), and
    // its -wgaip of a's prefix leaves a's prefix where it is.
    let (_, c) = genkey();
    w.wgifconfig_ok(&[&name, "wgpeer", &c, "-wgaip", "10.1.0.0/24"]);
    assert!(wg(&["show", &name, "peers"]).contains(&c));
    assert_eq!(aips(&c), Vec::<String>::new());
    assert_eq!(aips(&a), vec!["10.1.0.0/24", "10.3.0.0/24", "10.6.0.0/24"]);
    // With update_only the removal does not make the peer.
    let (_, d) = genkey();
    let r = raw(
        &sock,
        format!(
            "set=1\npublic_key={}\nupdate_only=true\nallowed_ip=-10.1.0.0/24\n\n",
            key_hex(&d)
        )
        .as_bytes(),
    );
    assert_eq!(r, "errno=0\n\n");
    assert!(!wg(&["show", &name, "peers"]).contains(&d));
    assert_eq!(aips(&a), vec!["10.1.0.0/24", "10.3.0.0/24", "10.6.0.0/24"]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn bad_input_gets_an_errno_and_changes_nothing() {
    let mut w = start("ua3");
    let name = create(&mut w, 3);
    let (private, _) = genkey();
    let (_, a) = genkey();
    wg(&["set", &name, "listen-port", "0"]);
    let file = common::dir_of(&w).join("k");
    std::fs::write(&file, &private).unwrap();
    wg(&[
        "set",
        &name,
        "private-key",
        file.to_str().unwrap(),
        "peer",
        &a,
        "allowed-ips",
        "10.1.0.0/24",
        "endpoint",
        "192.0.2.1:9",
    ]);
    let sock = sock_of(&name);
    let before = get(&sock);
    let ka = key_hex(&a);
    let million: Vec<u8> = {
        let mut v = format!("set=1\npublic_key={ka}\nbogus_key=1\n").into_bytes();
        for _ in 0..1_000_000 {
            v.extend_from_slice(b"allowed_ip=10.9.0.0/16\n");
        }
        v.extend_from_slice(b"\n");
        v
    };
    let long_line = format!("set=1\nlisten_port={}\n\n", "1".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unknown key",
            b"set=1\nlisten_port=7\nfrobnicate=1\n\n".to_vec(),
            "errno=-22\n\n",
        ),
        (
            "bad hex",
            format!("set=1\nprivate_key={}\n\n", "zz".repeat(32)).into_bytes(),
            "errno=-22\n\n",
        ),
        (
            "peer key too short",
            format!("set=1\nreplace_peers=true\npublic_key={}\n\n", &ka[..62]).into_bytes(),
            "errno=-22\n\n",
        ),
        (
            "peer key too long",
            format!("set=1\nreplace_peers=true\npublic_key={ka}00\n\n").into_bytes(),
            "errno=-22\n\n",
        ),
        (
            "bad prefix after good lines",
            format!("set=1\nreplace_peers=true\npublic_key={ka}\nallowed_ip=10.0.0.0/40\n\n")
                .into_bytes(),
            "errno=-22\n\n",
        ),
        ("no operation", b"frob=1\n\n".to_vec(), "errno=-71\n\n"),
        (
            "a line without =",
            b"set=1\nlisten_port\n\n".to_vec(),
            "errno=-71\n\n",
        ),
        (
            "truncated",
            format!("set=1\nreplace_peers=true\npublic_key={ka}\nallowed_ip=10.7").into_bytes(),
            "errno=-71\n\n",
        ),
        (
            "a line longer than any",
            long_line.into_bytes(),
            "errno=-90\n\n",
        ),
        ("a million lines after a bad one", million, "errno=-22\n\n"),
        (
            "not UTF-8",
            b"set=1\nlisten_port=\xff\xfe\n\n".to_vec(),
            "errno=-22\n\n",
        ),
    ];
    for (what, req, want) in cases {
        let r = raw(&sock, &req);
        assert_eq!(r, want, "{what}");
        assert!(w.alive(), "{what}: wgd died: {}", w.log());
        assert_eq!(get(&sock), before, "{what}: the state changed");
    }
    // wg(8) says so too, and the interface still answers it.
    let out = run(Command::new("wg").args(["set", &name, "peer", "bm90IGEga2V5", "remove"]));
    assert!(!out.status.success());
    assert_eq!(get(&sock), before);
    // Two requests on one connection: both answered, in order.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(b"set=1\nbogus=1\n\nget=1\n\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut both = String::new();
    s.read_to_string(&mut both).unwrap();
    assert_eq!(both, format!("errno=-22\n\n{before}"));
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn a_user_gets_eperm_on_set_and_no_keys_on_get() {
    let mut w = start("ua4");
    let name = create(&mut w, 4);
    let (private, _) = genkey();
    let (_, a) = genkey();
    let psk = wg(&["genpsk"]);
    let dir = common::dir_of(&w);
    std::fs::write(dir.join("k"), &private).unwrap();
    std::fs::write(dir.join("p"), psk.trim()).unwrap();
    wg(&[
        "set",
        &name,
        "listen-port",
        "0",
        "private-key",
        dir.join("k").to_str().unwrap(),
        "peer",
        &a,
        "preshared-key",
        dir.join("p").to_str().unwrap(),
        "allowed-ips",
        "10.1.0.0/24",
    ]);
    w.wgifconfig_ok(&[&name, "wgport", &format!("{}", 40000 + unit(4) % 20000)]);
    let before = get(&sock_of(&name));
    let user = TestUser::create("ua4");
    let out = run(user.command("wg").args(["show", &name]));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("listening port: {}", 40000 + unit(4) % 20000)),
        "{text}"
    );
    assert!(
        !text.contains("key") && !text.contains(&a),
        "a user saw keys:\n{text}"
    );
    let out = run(user.command("wg").args(["showconf", &name]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(private.trim()) && !text.contains(psk.trim()) && !text.contains(&a));
    let out = run(user.command("wg").args(["set", &name, "listen-port", "1"]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(user
        .command("wg")
        .args(["set", &name, "peer", &a, "remove"]));
    assert!(!out.status.success());
    assert_eq!(get(&sock_of(&name)), before, "a user changed the state");
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn stale_sockets_are_replaced_and_other_files_left_alone() {
    let mut w = start("ua5");
    // A socket nobody serves, as a killed daemon leaves it.
    let stale = format!("wg{}", unit(5));
    w.adopt_file(sock_of(&stale));
    let _ = std::fs::create_dir_all(RUN);
    drop(std::os::unix::net::UnixListener::bind(sock_of(&stale)).unwrap());
    assert!(sock_of(&stale).exists());
    w.wgifconfig_ok(&[&stale, "create"]);
    get(&sock_of(&stale));
    // A symlink and a plain file at the path are not touched.
    let target = common::dir_of(&w).join("target");
    std::fs::write(&target, "keep").unwrap();
    let linked = format!("wg{}", unit(6));
    w.adopt_file(sock_of(&linked));
    std::os::unix::fs::symlink(&target, sock_of(&linked)).unwrap();
    w.wgifconfig_ok(&[&linked, "create"]);
    assert!(std::fs::symlink_metadata(sock_of(&linked))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    // The log is written by wgd's logging thread: wait for the line.
    assert!(
        wait_for(Duration::from_secs(5), || w.log().contains("not a socket")),
        "{}",
        w.log()
    );
    // Removing the socket ends the interface, as it ends wireguard-go.
    let gone = format!("wg{}", unit(12));
    w.adopt_file(sock_of(&gone));
    w.wgifconfig_ok(&[&gone, "create"]);
    std::fs::remove_file(sock_of(&gone)).unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || !w
            .wgifconfig(&[&gone])
            .status
            .success()),
        "{}",
        w.log()
    );
    assert!(
        wait_for(Duration::from_secs(5), || w
            .log()
            .contains("configuration socket was removed")),
        "{}",
        w.log()
    );
    // The daemon's exit takes its sockets.
    w.stop().unwrap();
    assert!(!sock_of(&stale).exists());
    assert!(std::fs::symlink_metadata(sock_of(&linked)).is_ok());
}

/// Seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn wg_show_dump_agrees_with_wgifconfig_after_traffic() {
    let mut w = start("ua6");
    let (a, b) = (format!("wg{}", unit(7)), format!("wg{}", unit(8)));
    let (ka, kb) = (common::openssl_key(), common::openssl_key());
    let (pa, pb) = (7000 + unit(7) % 20000, 7000 + unit(8) % 20000);
    for (name, port, key, rd) in [(&a, pa, &ka, "1"), (&b, pb, &kb, "2")] {
        w.wgifconfig_ok(&[
            name,
            "create",
            "wgport",
            &port.to_string(),
            "wgkey",
            key,
            "rdomain",
            rd,
        ]);
        w.adopt_file(sock_of(name));
    }
    let (puba, pubb) = (w.pubkey(&a), w.pubkey(&b));
    w.wgifconfig_ok(&[
        &a,
        "wgpeer",
        &pubb,
        "wgendpoint",
        "127.0.0.1",
        &pb.to_string(),
        "wgaip",
        "192.168.5.2/32",
        "wgaip",
        "fd05::2/128",
    ]);
    w.wgifconfig_ok(&[
        &b,
        "wgpeer",
        &puba,
        "wgendpoint",
        "127.0.0.1",
        &pa.to_string(),
        "wgaip",
        "192.168.5.1/32",
    ]);
    w.wgifconfig_ok(&[&a, "192.168.5.1/24"]);
    w.wgifconfig_ok(&[&b, "192.168.5.2/24"]);
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"), "{}", w.log());
    ok(&mut Wgd::in_ns(
        &w.rd(1),
        &["ping", "-c", "3", "-i", "0.2", "192.168.5.2"],
    ));
    // Read while nothing flows: both views of one moment (wgifconfig twice around
    // the dump, the same both times).
    let (i1, dump, i2) = (
        w.wgifconfig_ok(&[&a]),
        wg(&["show", &a, "dump"]),
        w.wgifconfig_ok(&[&a]),
    );
    assert_eq!(i1, i2, "traffic flowed while reading");
    let t = now();
    let field = |prefix: &str| -> String {
        i1.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {i1}"))
            .to_string()
    };
    let rows: Vec<Vec<&str>> = dump.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{dump}");
    let (me, peer) = (&rows[0], &rows[1]);
    // The private key as stored: clamped (wg.4).
    let clamped = {
        use base64::Engine;
        let e = base64::engine::general_purpose::STANDARD;
        let mut k = e.decode(ka.trim()).unwrap();
        k[0] &= 248;
        k[31] = (k[31] & 127) | 64;
        e.encode(k)
    };
    assert_eq!(me[0], clamped, "private key");
    assert_eq!(me[1], field("wgpubkey "), "public key");
    assert_eq!(me[2], field("wgport "), "listen port");
    assert_eq!(me[3], "off", "fwmark");
    assert_eq!(peer[0], field("wgpeer "), "peer key");
    assert_eq!(peer[1], "(none)", "psk");
    assert!(!i1.contains("wgpsk"));
    let ep = field("wgendpoint ").replace(' ', ":");
    assert_eq!(peer[2], ep, "endpoint");
    let mut ifc_aips: Vec<String> = i1
        .lines()
        .filter_map(|l| l.trim().strip_prefix("wgaip "))
        .map(String::from)
        .collect();
    let mut dump_aips: Vec<String> = peer[3].split(',').map(String::from).collect();
    ifc_aips.sort();
    dump_aips.sort();
    assert_eq!(dump_aips, ifc_aips, "allowed ips");
    let ago: i64 = field("last handshake: ")
        .trim_end_matches(" seconds ago")
        .parse()
        .unwrap();
    let hs: i64 = peer[4].parse().unwrap();
    assert!(
        hs > 0 && (t - ago - hs).abs() <= 2,
        "handshake {hs} vs {ago} s ago at {t}"
    );
    let tx_rx = field("tx: ");
    let (tx, rx) = tx_rx.split_once(", rx: ").unwrap();
    assert_eq!(peer[5], rx, "transfer rx");
    assert_eq!(peer[6], tx, "transfer tx");
    assert!(tx.parse::<u64>().unwrap() > 0 && rx.parse::<u64>().unwrap() > 0);
    assert_eq!(peer[7], "off", "keepalive");
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn wg_quick_brings_up_a_tunnel_to_wireguard_go_and_down_removes_it() {
    common::require_tools(&["wg-quick", "wireguard-go", "wg"]);
    let mut w = start("ua7");
    let go_ns = w.add_ns("go");
    // UDP between the namespaces over a veth pair.
    let (v0, v1) = (format!("vu{}a", unit(9)), format!("vu{}b", unit(9)));
    ok(&mut w.in_daemon_ns(&[
        "ip", "link", "add", &v0, "type", "veth", "peer", "name", &v1,
    ]));
    ok(&mut w.in_daemon_ns(&["ip", "link", "set", &v1, "netns", &go_ns]));
    ok(&mut w.in_daemon_ns(&["ip", "addr", "add", "10.200.0.1/24", "dev", &v0]));
    ok(&mut w.in_daemon_ns(&["ip", "link", "set", &v0, "up"]));
    ok(&mut Wgd::in_ns(
        &go_ns,
        &["ip", "addr", "add", "10.200.0.2/24", "dev", &v1],
    ));
    ok(&mut Wgd::in_ns(&go_ns, &["ip", "link", "set", &v1, "up"]));

    let go = format!("wgo{}", unit(9));
    let child = Wgd::in_ns(&go_ns, &["wireguard-go", "-f", &go])
        .env("WG_PROCESS_FOREGROUND", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn wireguard-go");
    w.adopt(child);
    w.adopt_file(sock_of(&go));
    assert!(wait_for(Duration::from_secs(10), || {
        run(Command::new("wg").args(["show", &go])).status.success()
    }));
    let (go_priv, go_pub) = genkey();
    let (my_priv, my_pub) = genkey();
    let dir = common::dir_of(&w).to_path_buf();
    std::fs::write(dir.join("go.key"), &go_priv).unwrap();
    ok(Command::new("wg").args([
        "set",
        &go,
        "private-key",
        dir.join("go.key").to_str().unwrap(),
        "listen-port",
        "51902",
        "peer",
        &my_pub,
        "allowed-ips",
        "10.98.0.1/32",
        "endpoint",
        "10.200.0.1:51901",
    ]));
    ok(&mut Wgd::in_ns(
        &go_ns,
        &["ip", "addr", "add", "10.98.0.2/24", "dev", &go],
    ));
    ok(&mut Wgd::in_ns(&go_ns, &["ip", "link", "set", &go, "up"]));

    // wg-quick's userspace hook: the interface is made by wgifconfig.
    let name = format!("wg{}", unit(9));
    w.adopt_file(sock_of(&name));
    let hook = dir.join("wgd-create");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nexec {} \"$1\" create\n",
            env!("CARGO_BIN_EXE_wgifconfig")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "[Interface]\nPrivateKey = {my_priv}\nListenPort = 51901\nAddress = 10.98.0.1/24\n\n\
             [Peer]\nPublicKey = {go_pub}\nEndpoint = 10.200.0.2:51902\nAllowedIPs = 10.98.0.2/32\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let quick = |verb: &str| {
        let out = run(w
            .in_daemon_ns(&["wg-quick", verb, conf.to_str().unwrap()])
            .env("WG_QUICK_USERSPACE_IMPLEMENTATION", &hook)
            .env("WGD_SOCKET", &w.sock));
        assert!(
            out.status.success(),
            "wg-quick {verb}: {}{}\nwgd log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            w.log()
        );
    };
    quick("up");
    let ifc = w.wgifconfig_ok(&[&name]);
    assert!(ifc.contains("UP") && ifc.contains("wgport 51901"), "{ifc}");
    let pinged = wait_for(Duration::from_secs(10), || {
        w.in_daemon_ns(&["ping", "-c", "1", "-W", "1", "10.98.0.2"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(pinged, "no ping across\n{}", w.log());
    // ip link behind wgd's back: down, a new MTU, up again.
    let flags = |w: &Wgd| {
        w.wgifconfig_ok(&[&name])
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    ok(&mut w.in_daemon_ns(&["ip", "link", "set", &name, "down"]));
    assert!(
        wait_for(Duration::from_secs(5), || !flags(&w).contains("UP")),
        "{}",
        flags(&w)
    );
    ok(&mut w.in_daemon_ns(&["ip", "link", "set", &name, "mtu", "1380", "up"]));
    assert!(
        wait_for(Duration::from_secs(5), || {
            let f = flags(&w);
            f.contains("UP") && f.ends_with("mtu 1380")
        }),
        "{}",
        flags(&w)
    );
    assert!(
        wait_for(Duration::from_secs(10), || {
            w.in_daemon_ns(&["ping", "-c", "1", "-W", "1", "10.98.0.2"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        }),
        "no ping after down and up\n{}",
        w.log()
    );
    quick("down");
    let gone = wait_for(Duration::from_secs(5), || {
        !w.in_daemon_ns(&["ip", "link", "show", &name])
            .output()
            .unwrap()
            .status
            .success()
    });
    assert!(gone, "the interface outlived wg-quick down\n{}", w.log());
    let out = w.wgifconfig(&[&name]);
    assert!(
        !out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        w.log()
    );
    assert!(!sock_of(&name).exists());
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn an_unfinished_request_is_dropped_in_bounded_time() {
    let mut w = start("ua8");
    let name = create(&mut w, 10);
    let before = get(&sock_of(&name));
    let mut s = UnixStream::connect(sock_of(&name)).unwrap();
    s.write_all(b"set=1\nlisten_port=1234\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let t = std::time::Instant::now();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("{e} after {:?}", t.elapsed()),
        }
    }
    let took = t.elapsed();
    assert_eq!(
        got, b"errno=-110\n\n",
        "ETIMEDOUT, then the connection is closed"
    );
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(25),
        "{took:?}"
    );
    assert_eq!(get(&sock_of(&name)), before);
    assert!(w.alive());
}

/// The user's side of `a_user_is_bounded_like_on_the_control_socket`, run by it as
/// its test user (returns at once without its environment).
#[test]
#[ignore = "helper process: run as the test user by the test below (.config/nextest.toml leaves helper_ out)"]
fn helper_user_side() {
    let Ok(sock) = std::env::var("UAPI_USER_SOCK") else {
        return;
    };
    assert_ne!(nix::unistd::geteuid().as_raw(), 0);
    // Connections held open with an unfinished request, one more than a user may hold.
    let mut held = Vec::new();
    for _ in 0..17 {
        let mut s = UnixStream::connect(&sock).unwrap();
        let _ = s.write_all(b"get=1\n");
        held.push(s);
    }
    let mut last = held.pop().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut r = String::new();
    let _ = last.read_to_string(&mut r);
    println!("17th: {r:?}");
    drop(last);
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(300));
    // A set larger than a user's bound, then a small one.
    let mut big = b"set=1\n".to_vec();
    for _ in 0..1000 {
        big.extend_from_slice(b"listen_port=1\n");
    }
    big.push(b'\n');
    println!("big set: {:?}", raw(Path::new(&sock), &big));
    println!(
        "small set: {:?}",
        raw(Path::new(&sock), b"set=1\nlisten_port=1\n\n")
    );
    println!("get: {:?}", raw(Path::new(&sock), b"get=1\n\n"));
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wg(8), wireguard-go)"]
fn a_user_is_bounded_like_on_the_control_socket() {
    let mut w = start("ua9");
    let name = create(&mut w, 11);
    w.wgifconfig_ok(&[&name, "wgport", &format!("{}", 30000 + unit(11) % 20000)]);
    let user = TestUser::create("ua9");
    let out = run(user
        .command(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "helper_user_side",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("UAPI_USER_SOCK", sock_of(&name)));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |p: &str| {
        text.lines()
            .find_map(|l| l.split_once(p).map(|x| x.1))
            .unwrap_or_else(|| panic!("no {p} in {text}"))
            .to_string()
    };
    assert_eq!(
        line("17th: "),
        format!("{:?}", format!("errno=-{}\n\n", libc::EUSERS))
    );
    assert_eq!(line("big set: "), format!("{:?}", "errno=-1\n\n"));
    assert_eq!(line("small set: "), format!("{:?}", "errno=-1\n\n"));
    assert_eq!(
        line("get: "),
        format!(
            "{:?}",
            format!("listen_port={}\nerrno=0\n\n", 30000 + unit(11) % 20000)
        )
    );
    assert!(w.alive());
    // Root is served all along.
    get(&sock_of(&name));
}
