//! wgd, the driver daemon: the only module doing IO.
//!
//! - [`sys`]: the raw libc calls (the only `unsafe` in the crate).
//! - [`tun`]: the tun device of one interface.
//! - [`netns`]: rdomains as network namespaces.
//! - [`netlink`]: rtnetlink for link state, MTU, namespace moves, addresses.

pub mod netlink;
pub mod netns;
pub mod sys;
pub mod tun;
pub mod udp;

/// Entry point of `wgd`.
pub fn main() {
    eprintln!("wgd: not built yet");
    std::process::exit(1);
}
