//! `wgconvert to-hostname-if FILE | to-wg-quick FILE`: wg-quick(8) files to
//! /etc/hostname.wgN files and back.

#![deny(unsafe_code)]

fn main() {
    std::process::exit(wgif::ifconfig::convert_main())
}
