//! `wgnetstart [-n] [-d dir] [wgN ...]`: configure wg interfaces from
//! /etc/hostname.wgN at boot, like OpenBSD's netstart(8).
fn main() {
    std::process::exit(wgif::ifconfig::netstart_main())
}
