//! `wgconvert`: wg-quick(8) files to hostname.wgN files and back, through one
//! [`model::Config`] both describe. The hostname.if side is read with the same
//! parsers wgnetstart runs; nothing here talks to wgd.
//!
//! - [`model`]: the configuration, notes and line errors.
//! - [`wgquick_read`] / [`wgquick_write`]: the wg-quick format.
//! - [`hostname_read`] / [`hostname_write`]: the hostname.if format.
//! - [`cli`]: the command line.

pub mod cli;
pub mod hostname_read;
pub mod hostname_write;
pub mod model;
pub mod wgquick_read;
pub mod wgquick_write;
