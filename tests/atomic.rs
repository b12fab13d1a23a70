//! Failed requests change nothing (ARCHITECTURE.md, apply.rs): an SIOCSWG with an
//! rtable out of range keeps the peers and the key it also asked to replace; an
//! SIOCSIFFLAGS whose bind fails sets neither UP nor DEBUG.

mod common;

use common::Wgd;
use wgif::ioctl::client::{CallError, Client};
use wgif::ioctl::model::{InterfaceIo, Key};
use wgif::ioctl::request::iff;

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn bad_rtable_keeps_peers_and_key() {
    let w = Wgd::start("atrt");
    w.example();
    let before = w.wgifconfig_ok(&["wg1"]);
    assert!(before.contains("wgpeer"), "{before}");
    let mut c = Client::connect(&w.sock).unwrap();
    for rtable in [256, -1] {
        let r = c.set_wg(
            "wg1",
            &InterfaceIo {
                replace_peers: true,
                private: Some(Key([3u8; 32])),
                rtable: Some(rtable),
                ..InterfaceIo::default()
            },
        );
        assert!(
            matches!(r, Err(CallError::Errno(libc::EINVAL))),
            "rtable {rtable}: {r:?}"
        );
        assert_eq!(w.wgifconfig_ok(&["wg1"]), before, "rtable {rtable}");
    }
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"), "the tunnel still works");
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn failed_up_sets_no_flag() {
    let w = Wgd::start("atfl");
    w.example();
    // wg1 holds port 7111: wg5 cannot bind it.
    w.wgifconfig_ok(&["wg5", "create", "wgport", "7111"]);
    let mut c = Client::connect(&w.sock).unwrap();
    let r = c.set_flags("wg5", iff::UP | iff::DEBUG);
    assert!(
        matches!(r, Err(CallError::Errno(libc::EADDRINUSE))),
        "{r:?}"
    );
    let info = c.get_info("wg5").unwrap();
    assert_eq!(
        info.flags & (iff::UP | iff::DEBUG),
        0,
        "flags {:#x}",
        info.flags
    );
    // The same request without the conflict works and sets both.
    w.wgifconfig_ok(&["wg5", "wgport", "7555"]);
    c.set_flags("wg5", iff::UP | iff::DEBUG).unwrap();
    let info = c.get_info("wg5").unwrap();
    assert_eq!(info.flags & (iff::UP | iff::DEBUG), iff::UP | iff::DEBUG);
}
