//! The WireGuard protocol, sans-IO: bytes in, bytes out; `now`, the wall clock and an
//! RNG are arguments. No sockets, file descriptors, clocks or OS randomness here
//! (enforced by tests/layering.rs).
//!
//! Engine: [`iface`] (the `Interface` the driver drives), [`peer`] (per-peer state).
//! Protocol: [`consts`], [`wire`] (message views), [`crypto`] (primitives), [`noise`]
//! (Noise_IKpsk2), [`cookie`] (mac1/mac2, cookie replies), [`keypair`] (transport keys).
//! Tables and timers: [`replay`] (anti-replay window), [`allowedips`] (cryptokey
//! routing), [`routemtu`] (route MTUs that cap padding), [`ratelimit`] (handshake
//! rate limiter), [`index`] (receiver indices),
//! [`tai64n`] (handshake timestamps), [`timers`] (per-peer deadlines).

pub mod allowedips;
pub mod consts;
pub mod cookie;
pub mod crypto;
pub mod deadlines;
pub mod fasthash;
pub mod iface;
pub mod index;
pub mod keypair;
pub mod noise;
pub mod peer;
pub mod ratelimit;
pub mod replay;
pub mod routemtu;
pub mod tai64n;
pub mod timers;
pub mod wire;

pub use iface::{
    prepare_initiation, ConfigError, DataKey, DropReason, Event, Identity, Interface, LogEndpoint,
    PacketBuf, PeerInfo, Planned, Prepared, RecvOutcome, SendGrant, SendOutcome, Transmit, TxKind,
};

/// Peer identifier, assigned by the caller (wgd keeps one global counter, as OpenBSD).
pub type PeerId = u64;
/// Transport header bytes reserved before an outbound payload.
pub const HEADROOM: usize = consts::DATA_HEADER_LEN;
/// Room after the payload for padding (<= 15) and the 16-byte tag.
pub const TAILROOM: usize = 32;
