//! `wgnetstart [-n] [-d dir] [wgN ...]`: configure wg interfaces from
//! /etc/hostname.wgN at boot, like OpenBSD's netstart(8).

#![deny(unsafe_code)]

fn main() {
    std::process::exit(wgif::ifconfig::netstart_main())
}
