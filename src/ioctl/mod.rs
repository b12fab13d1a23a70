//! The control plane's wire format: OpenBSD's SIOCSWG/SIOCGWG ABI and the requests
//! `wgd` serves over its Unix control socket.
//!
//! - [`abi`]: OpenBSD's `wg_data_io` family of structures, offsets and flags (amd64).
//! - [`model`]: the typed values those structures carry.
//! - [`codec`]: the checked conversion between the two.
//! - [`request`]: the requests (SIOCSWG, SIOCGWG and the generic interface ioctls).
//! - [`frame`]: length-prefixed, versioned, postcard-encoded frames on the socket.
//! - [`client`]: the blocking client (the only IO in this module).
//!
//! Everything but `client` is pure data and knows nothing of the protocol engine.

pub mod abi;
pub mod client;
pub mod codec;
pub mod frame;
pub mod model;
pub mod request;
