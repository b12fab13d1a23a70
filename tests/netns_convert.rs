//! A converted file carries traffic: two wg-quick files, one per end, as a user has
//! them. One end is wireguard-go configured from its file with `wg-quick strip` and
//! `wg setconf` (addresses with ip(8)); the other is the file converted by
//! `wgconvert to-hostname-if` and booted with `wgnetstart` against the test's wgd.
//!
//! Topology: wgd's namespace (rdomain 0, where wgnetstart puts wg1 and its UDP
//! socket) and a namespace of wireguard-go's own, joined by a veth pair
//! 10.96.0.1 ↔ 10.96.0.2; inside the tunnel 10.97.0.2 (wgd) ↔ 10.97.0.1 (go),
//! fd97::2 ↔ fd97::1.

mod common;
use common::{ok, wait_for, Wgd};
use std::process::{Command, Stdio};
use std::time::Duration;

fn genkey() -> (String, String) {
    common::wg_genkey()
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgnetstart, wireguard-go)"]
fn converted_file_booted_with_wgnetstart_talks_to_wireguard_go() {
    common::require_root_and_tools(&["wireguard-go", "wg", "wg-quick", "ping"]);
    let mut w = Wgd::start("cv");
    let go_ns = w.add_ns("go");
    ok(Command::new("ip").args([
        "link", "add", "vx", "netns", &w.ns, "type", "veth", "peer", "name", "vy", "netns", &go_ns,
    ]));
    ok(&mut w.in_daemon_ns(&["ip", "addr", "add", "10.96.0.1/24", "dev", "vx"]));
    ok(&mut w.in_daemon_ns(&["ip", "link", "set", "vx", "up"]));
    ok(&mut Wgd::in_ns(
        &go_ns,
        &["ip", "addr", "add", "10.96.0.2/24", "dev", "vy"],
    ));
    ok(&mut Wgd::in_ns(&go_ns, &["ip", "link", "set", "vy", "up"]));

    let (ka, pa) = genkey();
    let (kb, pb) = genkey();
    let (psk, _) = genkey();
    let marker = w.dir.join("postup");
    // wgd's end, as a wg-quick file (with keys wgconvert reports and leaves out).
    let a = format!(
        "# converted end\n[Interface]\nPrivateKey = {ka}\nListenPort = 7111\n\
         Address = 10.97.0.2/24, fd97::2/64\nMTU = 1380\nDNS = 10.97.0.1\nTable = off\n\
         PostUp = echo %i > {}\n\n# the wireguard-go end\n[Peer]\nPublicKey = {pb}\n\
         PresharedKey = {psk}\nEndpoint = 10.96.0.2:7222\n\
         AllowedIPs = 10.97.0.1/32, fd97::1/128\nPersistentKeepalive = 25\n",
        marker.display()
    );
    // wireguard-go's end.
    let b = format!(
        "[Interface]\nPrivateKey = {kb}\nListenPort = 7222\nAddress = 10.97.0.1/24, fd97::1/64\n\
         MTU = 1380\n\n[Peer]\nPublicKey = {pa}\nPresharedKey = {psk}\n\
         Endpoint = 10.96.0.1:7111\nAllowedIPs = 10.97.0.2/32, fd97::2/128\n"
    );
    let a_path = w.dir.join("wgcva.conf");
    let go_if = "wgocv";
    let b_path = w.dir.join(format!("{go_if}.conf"));
    std::fs::write(&a_path, &a).unwrap();
    std::fs::write(&b_path, &b).unwrap();

    // wgd's end: convert, boot.
    let conv = common::run(
        Command::new(env!("CARGO_BIN_EXE_wgconvert"))
            .arg("to-hostname-if")
            .arg(&a_path),
    );
    let err = String::from_utf8_lossy(&conv.stderr);
    assert!(conv.status.success(), "{err}");
    assert!(err.contains("wgcva.conf:7: DNS"), "{err}");
    assert!(err.contains("wgcva.conf:8: Table"), "{err}");
    let etc = w.dir.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("hostname.wg1"), &conv.stdout).unwrap();
    let boot = common::run(
        Command::new(env!("CARGO_BIN_EXE_wgnetstart"))
            .arg("-d")
            .arg(&etc)
            .arg("wg1")
            .env("WGD_SOCKET", &w.sock),
    );
    assert!(
        boot.status.success(),
        "wgnetstart: {}{}\n{}",
        String::from_utf8_lossy(&boot.stdout),
        String::from_utf8_lossy(&boot.stderr),
        String::from_utf8_lossy(&conv.stdout)
    );
    // PostUp ran, with the interface's name.
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "wg1");

    // wireguard-go's end, from its own wg-quick file.
    let child = Wgd::in_ns(&go_ns, &["wireguard-go", "-f", go_if])
        .env("WG_PROCESS_FOREGROUND", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn wireguard-go");
    w.adopt(child);
    w.adopt_file(format!("/var/run/wireguard/{go_if}.sock"));
    let ready = wait_for(Duration::from_secs(10), || {
        Wgd::in_ns(&go_ns, &["wg", "show", go_if])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(ready, "wireguard-go did not start");
    let stripped = ok(Command::new("wg-quick").arg("strip").arg(&b_path));
    let stripped_path = w.dir.join("go.setconf");
    std::fs::write(&stripped_path, stripped).unwrap();
    ok(&mut Wgd::in_ns(
        &go_ns,
        &["wg", "setconf", go_if, stripped_path.to_str().unwrap()],
    ));
    ok(&mut Wgd::in_ns(
        &go_ns,
        &["ip", "addr", "add", "10.97.0.1/24", "dev", go_if],
    ));
    ok(&mut Wgd::in_ns(
        &go_ns,
        &["ip", "addr", "add", "fd97::1/64", "dev", go_if, "nodad"],
    ));
    ok(&mut Wgd::in_ns(
        &go_ns,
        &["ip", "link", "set", go_if, "mtu", "1380", "up"],
    ));

    // Both families inside, both directions.
    assert!(Wgd::ping(&w.ns, "10.97.0.1"), "wgd → go\n{}", w.log());
    assert!(Wgd::ping(&go_ns, "10.97.0.2"), "go → wgd\n{}", w.log());
    assert!(
        wait_for(Duration::from_secs(10), || {
            w.in_daemon_ns(&["ping", "-6", "-c", "1", "-W", "1", "fd97::1"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        }),
        "IPv6 wgd → go\n{}",
        w.log()
    );
    // What the booted interface says it is.
    let st = w.wgifconfig_ok(&["wg1"]);
    for want in [
        "description: converted end",
        "wgport 7111",
        &format!("wgpeer {pb}"),
        "wgpsk (present)",
        "wgdescr: the wireguard-go end",
        "wgpka 25",
        "wgendpoint 10.96.0.2 7222",
        "wgaip 10.97.0.1/32",
        "wgaip fd97::1/128",
        "mtu 1380",
    ] {
        assert!(st.contains(want), "no {want:?} in\n{st}");
    }
    let go = ok(&mut Wgd::in_ns(&go_ns, &["wg", "show", go_if, "transfer"]));
    let rx: u64 = go
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(rx > 0, "wireguard-go received nothing: {go}");
}
