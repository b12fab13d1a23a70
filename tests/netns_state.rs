//! Routing-domain namespaces that change under wgd (wgd.8, Routing domains): a
//! namespace deleted under a live interface stays that interface's rdomain and gets its
//! name back when the rdomain is used again; names left by a wgd killed
//! with SIGKILL are taken over by the next one and removed when it exits.
//!
//! ```text
//!   netns <prefix>1: wg1 192.168.5.1 ── UDP 127.0.0.1:7111 ⇄ :7222 ── wg2 192.168.5.2 :netns <prefix>2
//! ```

mod common;

use common::{ok, Wgd};
use std::process::Command;

fn link_in(ns: &str, ifname: &str) -> bool {
    Wgd::in_ns(ns, &["ip", "link", "show", ifname])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn a_deleted_rdomain_name_comes_back_with_its_interface() {
    let w = Wgd::start("nsdl");
    w.example();
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"));
    ok(Command::new("ip").args(["netns", "del", &w.rd(1)]));
    assert!(!Wgd::netns_exists(&w.rd(1)));
    // wg1 is still in rdomain 1: a new interface there joins it, and the name
    // names that namespace again.
    w.wgifconfig_ok(&["wg6", "create", "rdomain", "1"]);
    assert!(Wgd::netns_exists(&w.rd(1)));
    assert!(link_in(&w.rd(1), "wg1"), "rdomain 1 is wg1's namespace");
    assert!(link_in(&w.rd(1), "wg6"));
    let s = w.wgifconfig_ok(&["wg1"]);
    assert!(s.contains("rdomain 1"), "{s}");
    assert!(
        Wgd::ping(&w.rd(1), "192.168.5.2"),
        "the tunnel works from it"
    );
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn a_name_taken_by_another_namespace_is_refused() {
    let w = Wgd::start("nstk");
    w.example();
    ok(Command::new("ip").args(["netns", "del", &w.rd(1)]));
    ok(Command::new("ip").args(["netns", "add", &w.rd(1)]));
    // ifconfig warns about a failed SIOCSIFRDOMAIN and goes on (exit status 0).
    let out = w.wgifconfig(&["wg6", "create", "rdomain", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("busy"), "{err}");
    assert!(!link_in(&w.rd(1), "wg6"), "not moved into the stranger");
    // wg1 is where it was, and works.
    assert!(w.wgifconfig_ok(&["wg1"]).contains("rdomain 1"));
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn names_left_by_a_killed_wgd_are_taken_over() {
    let mut w = Wgd::start("nskl");
    w.example();
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"));
    w.stop_with(nix::sys::signal::SIGKILL).unwrap();
    // Its tun devices died with it; the names stay, empty.
    assert!(Wgd::netns_exists(&w.rd(1)) && Wgd::netns_exists(&w.rd(2)));
    assert!(!link_in(&w.rd(1), "wg1"));
    // A dangling name (its mount gone) is cleaned up too.
    let dangling = format!("/run/netns/{}", w.rd(7));
    std::fs::write(&dangling, b"").unwrap();
    w.restart();
    assert!(!std::path::Path::new(&dangling).exists());
    w.example();
    assert!(
        Wgd::ping(&w.rd(1), "192.168.5.2"),
        "the same setup works again"
    );
    w.stop().unwrap();
    assert!(
        !Wgd::netns_exists(&w.rd(1)) && !Wgd::netns_exists(&w.rd(2)),
        "the names it took over are removed at exit"
    );
}
