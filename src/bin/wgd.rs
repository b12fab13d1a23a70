//! `wgd`: the daemon that plays wg(4)'s kernel part (wgd.8); all of it is in
//! `wgif::driver`.

#![deny(unsafe_code)]

fn main() {
    wgif::driver::main()
}
