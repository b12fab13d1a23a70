//! wgif: OpenBSD's wg(4) pseudo-device and its ifconfig(8) interface, on Linux.
//!
//! Layers and the direction of their dependencies (enforced by `tests/layering.rs`):
//!
//! ```text
//! bin/wgifconfig ──▶ ifconfig ──▶ ioctl
//! bin/wgd ─────────▶ driver ───┬─▶ proto
//!                              └─▶ ioctl
//! ```
//!
//! - [`proto`]: the WireGuard protocol, sans-IO (time and randomness are arguments).
//! - [`ioctl`]: the control plane's wire format (OpenBSD's `struct wg_data_io`), pure data.
//! - [`ifconfig`]: `wgifconfig`, OpenBSD ifconfig's grammar and status output; knows only `ioctl`.
//! - [`driver`]: `wgd`, the only module doing IO.
//!
//! `unsafe` is refused everywhere but in `driver::sys`, the one module of raw libc
//! calls (the compiler checks this; tests/layering.rs checks the sources too).

#![deny(unsafe_code)]

pub mod driver;
pub mod ifconfig;
pub mod ioctl;
pub mod proto;

/// The origin of the unit tests' simulated clocks. std can make an `Instant` only by
/// asking the OS; the sans-IO modules' tests take one from here and move it by hand.
#[cfg(test)]
pub(crate) fn test_origin() -> std::time::Instant {
    std::time::Instant::now()
}
