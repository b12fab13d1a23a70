//! `wgifconfig`: OpenBSD's ifconfig(8) for wg interfaces (wgifconfig.8); all of it is in
//! `wgif::ifconfig`.

#![deny(unsafe_code)]

fn main() {
    std::process::exit(wgif::ifconfig::main())
}
