//! Interop with wireguard-go (the reference userspace implementation, configured
//! with wg(8)), roaming, and hostile control input while traffic flows.
//!
//! Topology: wgd and wireguard-go share the test's namespace (UDP over its loopback,
//! 127.0.0.1 or ::1); wgd's wg1 sits in rdomain 1, wireguard-go's tun in the test
//! namespace itself, so inner traffic from rdomain 1 must cross the tunnel.

mod common;
use common::{ok, wait_for, Wgd};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

struct Go {
    ifname: String,
    pubkey: String,
}

fn start_go(w: &mut Wgd, ifname: &str) -> Go {
    common::require_root_and_tools(&["iperf3"]);
    // The name carries the PID: UAPI sockets are shared by every namespace.
    let ifname = format!("{ifname}{}", std::process::id());
    let pubkey = w.start_go(&ifname);
    Go { ifname, pubkey }
}

/// wgd's wg1 ↔ wireguard-go, `outer` = "127.0.0.1" or "::1".
fn interop(tag: &str, outer: &str, psk: bool, wgd_initiates: bool) {
    let mut w = Wgd::start(tag);
    let go = start_go(&mut w, &format!("wgo{tag}"));
    let k1 = common::openssl_key();
    w.wgifconfig_ok(&[
        "wg1", "create", "wgport", "7111", "wgkey", &k1, "rdomain", "1",
    ]);
    let p1 = w.pubkey("wg1");
    let psk_b64 = common::openssl_key();
    let mut args = vec![
        "wg1",
        "wgpeer",
        &go.pubkey,
        "wgendpoint",
        outer,
        "7222",
        "wgaip",
        "10.99.0.1/32",
        "wgaip",
        "fd99::1/128",
    ];
    if psk {
        args.extend(["wgpsk", &psk_b64]);
    }
    w.wgifconfig_ok(&args);
    w.wgifconfig_ok(&["wg1", "10.99.0.2/24"]);
    w.wgifconfig_ok(&["wg1", "inet6", "fd99::2", "prefixlen", "64"]);
    let ep = if outer.contains(':') {
        format!("[{outer}]:7111")
    } else {
        format!("{outer}:7111")
    };
    let pskfile = w.dir.join("psk");
    std::fs::write(&pskfile, &psk_b64).unwrap();
    let mut set = vec![
        "wg",
        "set",
        &go.ifname,
        "listen-port",
        "7222",
        "peer",
        &p1,
        "allowed-ips",
        "10.99.0.2/32,fd99::2/128",
        "endpoint",
        &ep,
    ];
    let pskpath = pskfile.to_str().unwrap().to_string();
    if psk {
        set.extend(["preshared-key", &pskpath]);
    }
    ok(&mut w.in_daemon_ns(&set));
    ok(&mut w.in_daemon_ns(&["ip", "addr", "add", "10.99.0.1/24", "dev", &go.ifname]));
    ok(&mut w.in_daemon_ns(&[
        "ip",
        "addr",
        "add",
        "fd99::1/64",
        "dev",
        &go.ifname,
        "nodad",
    ]));
    ok(&mut w.in_daemon_ns(&["ip", "link", "set", &go.ifname, "up"]));
    let rd1 = w.rd(1);
    if wgd_initiates {
        assert!(
            Wgd::ping(&rd1, "10.99.0.1"),
            "ping from wgd's side failed\n{}",
            w.log()
        );
    } else {
        let pinged = wait_for(Duration::from_secs(10), || {
            w.in_daemon_ns(&["ping", "-c", "1", "-W", "1", "10.99.0.2"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        });
        assert!(pinged, "ping from wireguard-go's side failed\n{}", w.log());
    }
    // Inner IPv6 (wait for DAD on wgd's side).
    let v6 = wait_for(Duration::from_secs(10), || {
        Wgd::in_ns(&rd1, &["ping", "-6", "-c", "1", "-W", "1", "fd99::1"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(v6, "inner IPv6 ping failed\n{}", w.log());
    // A bounded TCP run through the tunnel. The server serves until dropped, so a
    // failed try does not leave the next one without it; each try is bounded by
    // a connect timeout and by timeout(1).
    let server = w
        .in_daemon_ns(&["iperf3", "-s", "-B", "10.99.0.1"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    w.adopt(server);
    let ran = wait_for(Duration::from_secs(10), || {
        Wgd::in_ns(
            &rd1,
            &[
                "timeout",
                "15",
                "iperf3",
                "-c",
                "10.99.0.1",
                "-t",
                "2",
                "--connect-timeout",
                "2000",
                "-J",
            ],
        )
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    });
    assert!(ran, "iperf3 through the tunnel failed\n{}", w.log());
    let dump = ok(&mut w.in_daemon_ns(&["wg", "show", &go.ifname, "latest-handshakes"]));
    assert!(
        !dump.trim().ends_with("\t0"),
        "wireguard-go saw no handshake: {dump}"
    );
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn interop_v4_outer_wgd_initiates() {
    interop("i4", "127.0.0.1", false, true);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn interop_v4_outer_go_initiates_with_psk() {
    interop("g4", "127.0.0.1", true, false);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn interop_v6_outer_wgd_initiates_with_psk() {
    interop("i6", "::1", true, true);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn interop_v6_outer_go_initiates() {
    interop("g6", "::1", false, false);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn roaming_follows_the_peer() {
    let mut w = Wgd::start("ro");
    let go = start_go(&mut w, "wgoro");
    let k1 = common::openssl_key();
    w.wgifconfig_ok(&[
        "wg1", "create", "wgport", "7111", "wgkey", &k1, "rdomain", "1",
    ]);
    let p1 = w.pubkey("wg1");
    w.wgifconfig_ok(&[
        "wg1",
        "wgpeer",
        &go.pubkey,
        "wgendpoint",
        "127.0.0.1",
        "7222",
        "wgaip",
        "10.98.0.1/32",
    ]);
    w.wgifconfig_ok(&["wg1", "10.98.0.2/24"]);
    ok(&mut w.in_daemon_ns(&[
        "wg",
        "set",
        &go.ifname,
        "listen-port",
        "7222",
        "peer",
        &p1,
        "allowed-ips",
        "10.98.0.2/32",
        "endpoint",
        "127.0.0.1:7111",
    ]));
    ok(&mut w.in_daemon_ns(&["ip", "addr", "add", "10.98.0.1/24", "dev", &go.ifname]));
    ok(&mut w.in_daemon_ns(&["ip", "link", "set", &go.ifname, "up"]));
    assert!(Wgd::ping(&w.rd(1), "10.98.0.1"), "{}", w.log());
    assert!(w
        .wgifconfig_ok(&["wg1"])
        .contains("\t\twgendpoint 127.0.0.1 7222\n"));
    // The peer moves to another port and talks first.
    ok(&mut w.in_daemon_ns(&["wg", "set", &go.ifname, "listen-port", "7333"]));
    let moved = wait_for(Duration::from_secs(10), || {
        let _ = w
            .in_daemon_ns(&["ping", "-c", "1", "-W", "1", "10.98.0.2"])
            .output();
        w.wgifconfig_ok(&["wg1"])
            .contains("\t\twgendpoint 127.0.0.1 7333\n")
    });
    assert!(
        moved,
        "endpoint did not follow: {}",
        w.wgifconfig_ok(&["wg1"])
    );
    assert!(Wgd::ping(&w.rd(1), "10.98.0.1"));
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wireguard-go)"]
fn hostile_control_input_while_traffic_flows() {
    use std::os::unix::net::UnixStream;
    let w = Wgd::start("ho");
    w.example();
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"));
    let before = w.wgifconfig_ok(&["wg1"]);
    // -w: ping ends on its own within 15 s, even if this test panics.
    let pinger = Wgd::in_ns(
        &w.rd(1),
        &[
            "ping",
            "-i",
            "0.2",
            "-c",
            "20",
            "-W",
            "1",
            "-w",
            "15",
            "192.168.5.2",
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let sock = w.sock.clone();
    let connects = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let attackers: Vec<_> = (0..6)
        .map(|i| {
            let sock = sock.clone();
            let connects = connects.clone();
            std::thread::spawn(move || {
                for round in 0..20u32 {
                    let Ok(mut s) = UnixStream::connect(&sock) else {
                        continue;
                    };
                    connects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let frame: Vec<u8> = match (i + round) % 5 {
                        0 => vec![0xff, 0xff, 0xff, 0x7f],  // oversized length
                        1 => vec![20, 0, 0, 0, b'w', b'g'], // truncated, then hang up
                        2 => {
                            // A SIOCSWG whose buffer lies about its peer count.
                            let mut data = vec![0u8; 80];
                            data[72] = 200;
                            let body = wgif::ioctl::frame::RequestBody {
                                ifname: "wg1".into(),
                                request: wgif::ioctl::request::Request::SetWg { data },
                            };
                            wgif::ioctl::frame::encode(&body)
                        }
                        3 => {
                            let mut f = vec![40, 0, 0, 0];
                            f.extend((0..40).map(|b| (b * 37 + round) as u8));
                            f
                        }
                        _ => Vec::new(), // connect and say nothing
                    };
                    let _ = s.write_all(&frame);
                    let _ = std::io::Read::read(&mut s, &mut [0u8; 64]);
                }
            })
        })
        .collect();
    for a in attackers {
        a.join().unwrap();
    }
    // Every attacker got through to the daemon: the attack happened.
    assert_eq!(connects.load(std::sync::atomic::Ordering::Relaxed), 120);
    let out = pinger.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("20 packets transmitted, 20 received"),
        "ping was disturbed:\n{text}"
    );
    let after = w.wgifconfig_ok(&["wg1"]);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("tx:") && !l.contains("last handshake"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&before), strip(&after), "configuration changed");
}
