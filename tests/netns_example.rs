//! The wg(4) EXAMPLES scenario through wgifconfig against a real wgd, plus the
//! acceptance scenarios (docs/design/netns-scenarios.md, and the generic requests of
//! openbsd-wg-interface spec §2.4) that need only wgd on both ends (root, namespaces).

mod common;
use common::{wait_for, Wgd};
use std::process::Command;
use std::time::Duration;

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn example_two_rdomains_ping() {
    let w = Wgd::start("ex");
    w.example();
    w.wgifconfig_ok(&["wg1", "debug"]);
    assert!(
        Wgd::ping(&w.rd(1), "192.168.5.2"),
        "ping across the tunnel failed\n{}",
        w.log()
    );
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(
        s.starts_with(
            "wg1: flags=80c7<UP,BROADCAST,DEBUG,RUNNING,NOARP,MULTICAST> rdomain 1 mtu 1420\n"
        ),
        "{s}"
    );
    assert!(s.contains("\twgport 7111\n"), "{s}");
    assert!(s.contains("\t\twgendpoint 127.0.0.1 7222\n"), "{s}");
    assert!(s.contains("\t\twgaip 192.168.5.2/32\n"), "{s}");
    assert!(
        s.contains("\tinet 192.168.5.1 netmask 0xffffff00 broadcast 192.168.5.255\n"),
        "{s}"
    );
    let tx = s.lines().find(|l| l.starts_with("\t\ttx: ")).unwrap();
    assert!(!tx.contains("tx: 0,") && !tx.ends_with("rx: 0"), "{tx}");
    assert!(s.contains("\t\tlast handshake: "), "{s}");
    assert!(
        w.log()
            .contains("wg1: Sending handshake initiation to peer 0 (127.0.0.1)"),
        "{}",
        w.log()
    );
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn unallowed_source_is_dropped_and_logged() {
    let w = Wgd::start("rp");
    w.example();
    w.wgifconfig_ok(&["wg2", "debug"]);
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"));
    // A second address on wg1 that wg2 does not allow for its peer.
    w.wgifconfig_ok(&["wg1", "inet", "192.168.5.9/24", "alias"]);
    let out = Wgd::in_ns(
        &w.rd(1),
        &[
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "-I",
            "192.168.5.9",
            "192.168.5.2",
        ],
    )
    .output()
    .unwrap();
    assert!(
        !out.status.success(),
        "a packet from an unallowed source got through"
    );
    let want = "wg2: Packet has unallowed source IP from peer 1 (127.0.0.1)";
    assert!(
        wait_for(Duration::from_secs(5), || w.log().contains(want)),
        "{}",
        w.log()
    );
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn unreachable_peer_retries_with_try_numbers() {
    let w = Wgd::start("ur");
    let k = common::openssl_key();
    let peer = common::openssl_key();
    w.wgifconfig_ok(&[
        "wg1",
        "create",
        "wgkey",
        &k,
        "wgpeer",
        &peer,
        "wgendpoint",
        "127.0.0.1",
        "9",
        "wgaip",
        "10.9.0.2/32",
    ]);
    w.wgifconfig_ok(&["wg1", "10.9.0.1/24", "debug"]);
    let _ = Wgd::in_daemon_ns(&w, &["ping", "-c", "1", "-W", "1", "10.9.0.2"]).output();
    let want = "did not complete after 5 seconds, retrying (try 2)";
    assert!(
        wait_for(Duration::from_secs(15), || w.log().contains(want)),
        "{}",
        w.log()
    );
    assert!(w.log().contains(
        "wg1: Handshake for peer 0 (127.0.0.1) did not complete after 5 seconds, retrying (try 2)"
    ));
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn persistent_keepalive_reaches_the_peer() {
    let w = Wgd::start("pk");
    w.example();
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"));
    let p2 = w.pubkey("wg2");
    w.wgifconfig_ok(&["wg1", "wgpeer", &p2, "wgpka", "1"]);
    let rx = |w: &Wgd| -> u64 {
        let s = w.wgifconfig_ok(&["wg2"]);
        let l = s
            .lines()
            .find(|l| l.starts_with("\t\ttx: "))
            .unwrap()
            .to_string();
        l.rsplit("rx: ").next().unwrap().parse().unwrap()
    };
    let before = rx(&w);
    // Two keepalives (32 bytes each) at a one-second interval, with no traffic.
    assert!(
        wait_for(Duration::from_secs(6), || rx(&w) >= before + 64),
        "rx stayed at {before}"
    );
    assert!(w.wgifconfig_ok(&["wg1"]).contains("\t\twgpka 1 (sec)\n"));
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn non_root_sees_port_only_and_cannot_set() {
    let w = Wgd::start("nr");
    w.example();
    let as_nobody = |args: &[&str]| {
        common::run(
            std::process::Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_wgifconfig"))
                .args(args)
                .env("WGD_SOCKET", &w.sock),
        )
    };
    let s = String::from_utf8_lossy(&as_nobody(&["wg1"]).stdout).into_owned();
    assert!(s.contains("\twgport 7111\n"), "{s}");
    assert!(!s.contains("wgpubkey") && !s.contains("wgpeer"), "{s}");
    let before = w.wgifconfig_ok(&["wg1"]);
    let out = as_nobody(&["wg1", "wgport", "9999"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "wgifconfig: wg1: SIOCSWG: Operation not permitted"
    );
    let after = w.wgifconfig_ok(&["wg1"]);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("last handshake"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&before), strip(&after));
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn wgrtable_puts_the_udp_sockets_in_another_domain() {
    let w = Wgd::start("rt");
    // Routing domain 3 exists once an interface has been put there.
    w.wgifconfig_ok(&["wg3", "create", "rdomain", "3"]);
    w.example_with(&["wgrtable", "3"]);
    assert!(w.wgifconfig_ok(&["wg1"]).contains("\twgrtable 3\n"));
    // The sockets are in domain 3, not in the daemon's namespace.
    let ss = |ns: Option<&str>| {
        let mut c = match ns {
            Some(ns) => Wgd::in_ns(ns, &["ss", "-uln"]),
            None => w.in_daemon_ns(&["ss", "-uln"]),
        };
        common::ok(&mut c)
    };
    assert!(
        ss(Some(&w.rd(3))).contains(":7111"),
        "{}",
        ss(Some(&w.rd(3)))
    );
    assert!(!ss(None).contains(":7111"));
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"), "{}", w.log());
    // A routing table that does not exist is refused and the old one kept.
    let out = w.wgifconfig(&["wg1", "wgrtable", "9"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "wgifconfig: wg1: SIOCSWG: Invalid argument"
    );
    assert!(w.wgifconfig_ok(&["wg1"]).contains("\twgrtable 3\n"));
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn refuses_a_second_daemon_on_the_same_socket() {
    let w = Wgd::start("dup");
    let out = common::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_wgd"))
            .args(["-s", w.sock.to_str().unwrap()]),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another wgd is running on"), "{err}");
    // The first one still answers.
    w.wgifconfig_ok(&["-a"]);
    let nobody = common::run(
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_wgd"))
            .args(["-s", "/nonexistent/x.sock"]),
    );
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("must be run as root"));
    // A file at the socket path that is not a socket is the user's: left alone.
    let file = w.dir.join("not-a-socket");
    std::fs::write(&file, "keep me").unwrap();
    let out = common::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_wgd")).args(["-s", file.to_str().unwrap()]),
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "wgd: {} exists and is not a socket; not replacing it\n",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// SIGHUP (say, the terminal wgd ran in closed) ends it as cleanly as SIGTERM.
#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn sighup_cleans_up_too() {
    let mut w = Wgd::start("hup");
    w.wgifconfig_ok(&["wg1", "create", "rdomain", "1", "10.9.1.1/24"]);
    let rd1 = w.rd(1);
    assert!(Wgd::netns_exists(&rd1));
    let status = w
        .stop_with(nix::sys::signal::Signal::SIGHUP)
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    assert!(status.success(), "{status:?}\n{}", w.log());
    assert!(!w.sock.exists(), "the socket is removed");
    assert!(
        !Wgd::netns_exists(&rd1),
        "the rdomain it created is removed"
    );
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn destroy_and_exit_leave_nothing_behind() {
    let mut w = Wgd::start("gone");
    // rdomain 5 exists before wgd: it is the user's, and stays.
    let theirs = w.rd(5);
    common::ok(Command::new("ip").args(["netns", "add", &theirs]));
    w.wgifconfig_ok(&[
        "wg1",
        "create",
        "rdomain",
        "1",
        "10.9.1.1/24",
        "wgport",
        "0",
    ]);
    w.wgifconfig_ok(&["wg2", "create", "rdomain", "2", "up"]);
    w.wgifconfig_ok(&["wg3", "create", "10.9.3.1/24"]);
    w.wgifconfig_ok(&["wg5", "create", "rdomain", "5"]);
    let link_in = |ns: &str, dev: &str| {
        Wgd::in_ns(ns, &["ip", "link", "show", dev])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(link_in(&w.rd(1), "wg1") && link_in(&w.rd(2), "wg2") && link_in(&w.ns, "wg3"));
    let udp_in = |ns: &str| {
        String::from_utf8_lossy(&Wgd::in_ns(ns, &["ss", "-Hanu"]).output().unwrap().stdout)
            .lines()
            .count()
    };
    assert!(
        udp_in(&w.ns) >= 2,
        "wg1 and wg3 are up: their sockets are bound"
    );

    w.wgifconfig_ok(&["wg2", "destroy"]);
    assert!(!link_in(&w.rd(2), "wg2"), "destroy removes the tun device");
    let gone = w.wgifconfig(&["wg2"]);
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr),
        "wg2: no such interface\n"
    );

    let status = w.stop().unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    assert!(status.success(), "SIGTERM: exit 0, got {status}");
    assert!(!w.sock.exists(), "the socket is removed");
    assert!(!link_in(&w.ns, "wg3"), "no tun device is left");
    assert_eq!(udp_in(&w.ns), 0, "no UDP socket is left");
    for n in [1, 2] {
        assert!(!Wgd::netns_exists(&w.rd(n)), "{} is removed", w.rd(n));
    }
    assert!(
        Wgd::netns_exists(&theirs),
        "a namespace wgd did not create stays"
    );
    assert!(!link_in(&theirs, "wg5"), "but wgd's tun in it is gone");
}

/// As on OpenBSD, a wg interface has an IPv6 link-local address only once an inet6
/// address has been configured: not merely for being up, not after a namespace move
/// or an MTU that took IPv6 away and gave it back, and not after -inet6.
#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn link_local_only_with_inet6() {
    let w = Wgd::start("ll");
    let inet6 = |ifname: &str| -> Vec<String> {
        w.wgifconfig_ok(&[ifname])
            .lines()
            .filter(|l| l.starts_with("\tinet6 "))
            .map(str::to_string)
            .collect()
    };
    w.wgifconfig_ok(&["wg1", "create", "10.1.0.1/24"]);
    assert!(w.wgifconfig_ok(&["wg1"]).contains("<UP,"));
    assert_eq!(inet6("wg1"), Vec::<String>::new());

    w.wgifconfig_ok(&["wg1", "inet6", "fd00::1/64"]);
    w.wgifconfig_ok(&["wg1", "inet6", "fd00::2/64"]);
    // OpenBSD's order: the link-local address (made first), then the others as added.
    let check = |lines: Vec<String>| {
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("\tinet6 fe80::"), "{lines:?}");
        assert!(
            lines[0].contains("%wg1 prefixlen 64 scopeid 0x"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "\tinet6 fd00::1 prefixlen 64");
        assert_eq!(lines[2], "\tinet6 fd00::2 prefixlen 64");
    };
    check(inet6("wg1"));
    w.wgifconfig_ok(&["wg1", "rdomain", "1"]);
    check(inet6("wg1"));
    w.wgifconfig_ok(&["wg1", "-inet6"]);
    w.wgifconfig_ok(&["wg1", "down"]);
    w.wgifconfig_ok(&["wg1", "up"]);
    assert_eq!(inet6("wg1"), Vec::<String>::new());

    w.wgifconfig_ok(&["wg2", "create", "mtu", "1000", "10.2.0.1/24"]);
    w.wgifconfig_ok(&["wg2", "mtu", "1420"]);
    assert_eq!(inet6("wg2"), Vec::<String>::new());
    w.wgifconfig_ok(&["wg2", "rdomain", "2"]);
    assert_eq!(inet6("wg2"), Vec::<String>::new());
}

/// Generic requests on a real wgd, with openbsd-wg-interface spec §2.4's messages: a port in use makes
/// `up` fail (fatal), an MTU outside 1..9000 is a warning and changes nothing, and
/// `-rdomain` brings the interface back without its addresses.
#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn generic_requests_on_a_real_wgd() {
    let w = Wgd::start("gr");
    w.wgifconfig_ok(&["wg1", "create", "wgport", "7111", "up"]);
    w.wgifconfig_ok(&["wg2", "create", "wgport", "7111"]);
    let o = w.wgifconfig(&["wg2", "up"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "wgifconfig: wg2: SIOCSIFFLAGS: Address already in use\n"
    );
    let s = w.wgifconfig_ok(&["wg2"]);
    assert!(
        s.starts_with("wg2: flags=8082<BROADCAST,NOARP,MULTICAST> mtu 1420\n"),
        "{s}"
    );

    for bad in ["9001", "0"] {
        let o = w.wgifconfig(&["wg1", "mtu", bad]);
        assert_eq!(o.status.code(), Some(0), "mtu {bad}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "wgifconfig: SIOCSIFMTU: Invalid argument\n",
            "mtu {bad}"
        );
    }
    assert!(w.wgifconfig_ok(&["wg1"]).contains(" mtu 1420\n"));
    w.wgifconfig_ok(&["wg1", "mtu", "9000"]);
    assert!(w.wgifconfig_ok(&["wg1"]).contains(" mtu 9000\n"));

    w.wgifconfig_ok(&["wg1", "rdomain", "1", "10.5.0.1/24"]);
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(s.contains(" rdomain 1 mtu 9000\n"), "{s}");
    assert!(s.contains("\tinet 10.5.0.1 netmask 0xffffff00"), "{s}");
    w.wgifconfig_ok(&["wg1", "-rdomain"]);
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(!s.contains("rdomain"), "{s}");
    assert!(!s.contains("\tinet"), "{s}");
    // The tun device is back in the daemon's namespace.
    let back = Wgd::in_ns(&w.ns, &["ip", "link", "show", "wg1"])
        .output()
        .unwrap();
    assert!(back.status.success());
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn the_tun_queue_holds_a_thousand_packets() {
    let w = Wgd::start("qlen");
    w.wgifconfig_ok(&["wg1", "create"]);
    let show = common::ok(&mut w.in_daemon_ns(&["ip", "link", "show", "wg1"]));
    assert!(show.contains(" qlen 1000"), "{show}");
}
