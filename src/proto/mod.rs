//! The WireGuard protocol, sans-IO: bytes in, bytes out; `now`, the wall clock and an
//! RNG are arguments. No sockets, file descriptors, clocks or OS randomness here
//! (enforced by tests/layering.rs).
//!
//! Tables and timers: [`replay`] (anti-replay window), [`allowedips`] (cryptokey
//! routing), [`ratelimit`] (handshake rate limiter), [`index`] (receiver indices),
//! [`tai64n`] (handshake timestamps), [`timers`] (per-peer deadlines).

pub mod allowedips;
pub mod index;
pub mod ratelimit;
pub mod replay;
pub mod tai64n;
pub mod timers;
