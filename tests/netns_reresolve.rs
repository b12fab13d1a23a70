//! Endpoint names that re-resolve (wg.4 WG_PEER_HAS_HOSTNAME, wgd.8 --hosts and
//! --reresolve): the name a peer's endpoint was given by changes its answer
//! mid-test, the old address goes away, and the tunnel comes back by itself.

mod common;
use common::{ok, wait_for, Wgd};
use std::process::Command;
use std::time::Duration;

const NAME: &str = "wgpeer.wgtest";

/// Writes the hosts file the test controls (a new file renamed over the old one,
/// so a reader never sees half of it).
fn write_hosts(path: &std::path::Path, addr: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, format!("127.0.0.1 localhost\n{addr} {NAME}\n")).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `wgifconfig ARGS` with `hosts` as its /etc/hosts (a private mount namespace), so
/// its getaddrinfo answers the test's name without touching the machine's file.
fn wgifconfig_with_hosts(w: &Wgd, hosts: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
        ])
        .arg(hosts)
        .arg(env!("CARGO_BIN_EXE_wgifconfig"))
        .args(args)
        .env("WGD_SOCKET", &w.sock)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wgifconfig {args:?}: {}{}\nwgd log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        w.log()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn named_endpoint_follows_a_changed_answer() {
    common::require_root_and_tools(&["ip", "nsenter", "unshare", "mount", "ping"]);
    let hosts = std::env::temp_dir().join(format!("wgt-rr-hosts-{}", std::process::id()));
    write_hosts(&hosts, "10.9.0.1");
    let mut w = Wgd::start_with(
        "rr",
        &["--hosts", hosts.to_str().unwrap(), "--reresolve", "2"],
    );
    w.adopt_file(&hosts);
    // Two addresses the name will give in turn; only one exists at a time.
    ok(&mut w.in_daemon_ns(&["ip", "addr", "add", "10.9.0.1/32", "dev", "lo"]));

    let (k1, k2) = (common::openssl_key(), common::openssl_key());
    w.wgifconfig_ok(&[
        "wg1", "create", "wgport", "7111", "wgkey", &k1, "rdomain", "1",
    ]);
    w.wgifconfig_ok(&[
        "wg2", "create", "wgport", "7222", "wgkey", &k2, "rdomain", "2",
    ]);
    let (p1, p2) = (w.pubkey("wg1"), w.pubkey("wg2"));
    // wg1 knows wg2 by name; wg2 learns wg1's endpoint from its packets only, so
    // nothing but wg1's own re-resolution can bring the tunnel back.
    wgifconfig_with_hosts(
        &w,
        &hosts,
        &[
            "wg1",
            "wgpeer",
            &p2,
            "wgendpoint",
            NAME,
            "7222",
            "wgaip",
            "192.168.5.2/32",
        ],
    );
    w.wgifconfig_ok(&["wg2", "wgpeer", &p1, "wgaip", "192.168.5.1/32"]);
    w.wgifconfig_ok(&["wg1", "192.168.5.1/24", "debug"]);
    w.wgifconfig_ok(&["wg2", "192.168.5.2/24"]);

    assert!(
        Wgd::ping(&w.rd(1), "192.168.5.2"),
        "no traffic before the change\n{}",
        w.log()
    );
    let s = w.wgifconfig_ok(&["wg1"]);
    // The status shows the address the name gave, as OpenBSD's would.
    assert!(s.contains("\t\twgendpoint 10.9.0.1 7222\n"), "{s}");

    // The name now answers 10.9.0.2, where wg2 is reachable; 10.9.0.1 is gone.
    ok(&mut w.in_daemon_ns(&["ip", "addr", "add", "10.9.0.2/32", "dev", "lo"]));
    ok(&mut w.in_daemon_ns(&["ip", "addr", "del", "10.9.0.1/32", "dev", "lo"]));
    write_hosts(&hosts, "10.9.0.2");

    let one_ping = || {
        Wgd::in_ns(&w.rd(1), &["ping", "-c", "1", "-W", "1", "192.168.5.2"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    // Bounded: the 2 s interval, one more for the check, and the handshake.
    assert!(
        wait_for(Duration::from_secs(30), one_ping),
        "the tunnel did not come back\n{}",
        w.log()
    );
    let want = format!("wg1: Peer 0 endpoint {NAME} changed to 10.9.0.2");
    assert!(
        wait_for(Duration::from_secs(5), || w.log().contains(&want)),
        "no '{want}' in\n{}",
        w.log()
    );
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(s.contains("\t\twgendpoint 10.9.0.2 7222\n"), "{s}");
    // No reconfiguration happened: wg2 still has no endpoint of its own making
    // but the one it learned.
    let s2 = w.wgifconfig_ok(&["wg2"]);
    assert!(s2.contains("\t\twgendpoint 10.9.0.2 7111\n"), "{s2}");
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn an_address_endpoint_forgets_the_name() {
    common::require_root_and_tools(&["ip", "nsenter", "unshare", "mount"]);
    let hosts = std::env::temp_dir().join(format!("wgt-rf-hosts-{}", std::process::id()));
    write_hosts(&hosts, "10.9.1.1");
    let mut w = Wgd::start_with(
        "rf",
        &["--hosts", hosts.to_str().unwrap(), "--reresolve", "1"],
    );
    w.adopt_file(&hosts);
    let k1 = common::openssl_key();
    // Public keys are any 32 bytes; private keys serve as two here.
    let (forgets, keeps) = (common::openssl_key(), common::openssl_key());
    w.wgifconfig_ok(&["wg1", "create", "wgkey", &k1, "debug"]);
    for peer in [&forgets, &keeps] {
        wgifconfig_with_hosts(
            &w,
            &hosts,
            &["wg1", "wgpeer", peer, "wgendpoint", NAME, "9"],
        );
    }
    // Then one of them by address: OpenBSD's request, which must drop the name.
    w.wgifconfig_ok(&["wg1", "wgpeer", &forgets, "wgendpoint", "10.9.1.5", "9"]);
    write_hosts(&hosts, "10.9.1.2");
    // Neither peer ever handshakes: the named one moves within a few intervals.
    let want = format!("wg1: Peer 1 endpoint {NAME} changed to 10.9.1.2");
    assert!(
        wait_for(Duration::from_secs(10), || w.log().contains(&want)),
        "no '{want}' in\n{}",
        w.log()
    );
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(
        s.contains("\t\twgendpoint 10.9.1.5 9\n"),
        "{s}\n{}",
        w.log()
    );
    assert!(
        s.contains("\t\twgendpoint 10.9.1.2 9\n"),
        "{s}\n{}",
        w.log()
    );
    assert!(!w.log().contains("Peer 0 endpoint"), "{}", w.log());
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn a_bad_host_name_record_is_refused_and_changes_nothing() {
    use wgif::ioctl::client::{CallError, Client};
    use wgif::ioctl::codec::{self, Dir};
    use wgif::ioctl::model::{InterfaceIo, Key, PeerIo};
    use wgif::ioctl::request::Request;
    let w = Wgd::start("rb");
    w.wgifconfig_ok(&["wg1", "create"]);
    let request = |host: &str| InterfaceIo {
        peers: vec![PeerIo {
            public: Some(Key([9u8; 32])),
            endpoint: Some("192.0.2.1:51820".parse().unwrap()),
            endpoint_host: Some(host.to_string()),
            ..PeerIo::default()
        }],
        ..InterfaceIo::default()
    };
    let mut c = Client::connect(&w.sock).unwrap();
    // The encoder writes what it is given: a name with a space, and a record cut
    // short, each reach wgd as a bad buffer.
    let spaced = codec::encode(&request("bad name"), Dir::Set).to_vec();
    let mut cut = codec::encode(&request("ok.name"), Dir::Set).to_vec();
    cut.truncate(cut.len() - 1);
    for data in [spaced, cut] {
        match c.call("wg1", Request::SetWg { data }) {
            Err(CallError::Errno(e)) => assert_eq!(e, 22, "EINVAL"),
            other => panic!("{other:?}\n{}", w.log()),
        }
    }
    assert!(c.get_wg("wg1").unwrap().peers.is_empty());
    // The same request with a good name is taken, and the status shows the address.
    c.set_wg("wg1", &request("ok.name")).unwrap();
    let got = c.get_wg("wg1").unwrap();
    assert_eq!(got.peers.len(), 1);
    assert_eq!(
        got.peers[0].endpoint,
        Some("192.0.2.1:51820".parse().unwrap())
    );
    assert_eq!(got.peers[0].endpoint_host, None);
}
