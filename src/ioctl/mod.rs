//! The control plane's wire format: OpenBSD's SIOCSWG/SIOCGWG ABI and the requests
//! `wgd` serves over its Unix control socket. Pure data: no IO, no protocol.

pub mod model;
pub mod request;
