//! wgd, the driver daemon: the only module doing IO.
//!
//! - [`daemon`]: the mio loop and request dispatch.
//! - [`link`]: the data path of one interface over tun/UDP traits.
//! - [`admit`]: whether a request may run (the caller's privilege, the arguments'
//!   ranges), before it touches anything.
//! - [`apply`]: SIOCSWG/SIOCGWG between the ioctl model and the protocol engine.
//! - [`control`]: one control-socket connection; [`uapi`]: the configuration
//!   protocol of wg(8) on each interface's own socket.
//! - [`wgif`]: the state of one wgN interface.
//! - [`options`], [`log`]: the command line and where messages go; [`errno`]: the
//!   errno a reply carries for an error.
//! - [`sys`]: the raw libc calls (the only `unsafe` in the crate).
//! - [`tun`], [`udp`], [`netns`], [`netlink`]: the OS objects an interface uses;
//!   [`routes`]: the routes through an interface, whose MTUs cap padding.
//! - [`offload`]: which kernel offloads are on (`wgd -O`); [`gso`], [`gro`],
//!   [`checksum`]: splitting tun super-packets and coalescing decrypted packets.
//! - [`reresolve`]: endpoint names kept per peer and the resolver thread that
//!   looks them up again.
//! - [`rng`]: the userspace CSPRNG; [`twin`]: in-memory twins of the IO seams.

pub mod admit;
pub mod apply;
pub mod checksum;
pub mod clock;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod errno;
pub mod gro;
pub mod gso;
pub mod handshakes;
pub mod link;
pub mod log;
pub mod netlink;
pub mod netns;
pub mod offload;
pub mod options;
pub mod outbox;
pub mod reresolve;
pub mod rng;
pub mod routes;
pub mod sequencer;
#[allow(unsafe_code)]
pub mod sys;
pub mod tun;
pub mod twin;
pub mod uapi;
pub mod udp;
pub mod wgif;
pub mod worker;

/// Entry point of `wgd`.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match options::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("wgd: {e}");
            }
            eprintln!("{}", options::USAGE);
            std::process::exit(1);
        }
    };
    if let Err(e) = daemon::run(opts) {
        eprintln!("wgd: {e}");
        std::process::exit(1);
    }
}
