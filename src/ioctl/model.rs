//! The typed model of OpenBSD's `wg_interface_io` / `wg_peer_io` / `wg_aip_io`.
//!
//! `Option` fields stand for the `WG_*_HAS_*` flag bits; the action bits
//! (`REPLACE_PEERS`, `REMOVE`, `UPDATE`, `REPLACE_AIPS`) are plain booleans.
//! Keys live in [`Key`], which is zeroed on drop and redacted in `Debug`.
//! The codec (`codec.rs`) converts between this model and the packed buffer.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// `WG_KEY_LEN`.
pub const WG_KEY_LEN: usize = 32;

/// The longest peer description the interface keeps, in bytes: `IFDESCRSIZE` less the
/// NUL.
pub const PEER_DESCR_MAX: usize = super::abi::IFDESCRSIZE - 1;

/// `d` as the interface keeps it: at most [`PEER_DESCR_MAX`] bytes, cut on a character
/// boundary so that the text stays UTF-8.
pub fn cut_description(d: &str) -> &str {
    let mut end = d.len().min(PEER_DESCR_MAX);
    while !d.is_char_boundary(end) {
        end -= 1;
    }
    &d[..end]
}

/// A 32-byte Curve25519 key or pre-shared key; zeroed on drop, never printed by `Debug`,
/// compared in constant time (private keys and PSKs are secrets).
#[derive(Clone, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Key(pub [u8; WG_KEY_LEN]);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Key {
    /// The all-zero key (meaning "no key" for private keys and PSKs on SIOCSWG).
    pub const ZERO: Key = Key([0u8; WG_KEY_LEN]);

    pub fn is_zero(&self) -> bool {
        self.0.iter().fold(0u8, |acc, b| acc | b) == 0
    }

    pub fn as_bytes(&self) -> &[u8; WG_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// One allowed IP (`struct wg_aip_io`). The address is kept exactly as given:
/// host bits are not cleared (OpenBSD returns aips as they were set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AipIo {
    pub addr: IpAddr,
    /// `a_cidr`: 0..=32 for IPv4, 0..=128 for IPv6 (checked by the codec).
    pub cidr: u8,
}

/// Wall-clock time as OpenBSD's `struct timespec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

/// One peer record (`struct wg_peer_io`) and the aips that follow it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PeerIo {
    /// `p_protocol_version`: 0 (latest) or 1 are accepted by the driver.
    pub protocol_version: i32,
    /// `WG_PEER_HAS_PUBLIC` + `p_public`. A record without it is skipped on SIOCSWG.
    pub public: Option<Key>,
    /// `WG_PEER_HAS_PSK` + `p_psk` (all zero on set = remove the PSK).
    pub psk: Option<Key>,
    /// `WG_PEER_HAS_PKA` + `p_pka` (seconds, 0 disables).
    pub pka: Option<u16>,
    /// `WG_PEER_HAS_ENDPOINT` + `p_endpoint`.
    pub endpoint: Option<SocketAddr>,
    /// `WG_PEER_HAS_ENDPOINT` with an AF_UNSPEC `p_endpoint` (SIOCSWG only): the
    /// kernel copies the empty sockaddr, so the peer forgets its endpoint.
    pub clear_endpoint: bool,
    /// `WG_PEER_REPLACE_AIPS`.
    pub replace_aips: bool,
    /// `WG_PEER_REMOVE`.
    pub remove: bool,
    /// `WG_PEER_UPDATE`: do not create the peer if it does not exist.
    pub update_only: bool,
    /// `WG_PEER_REMOVE_AIPS` (wgif's extension, wg.4): the `aips` of this record
    /// are removed from the peer instead of added. OpenBSD defines no such bit, so
    /// no request its ifconfig builds sets it.
    pub remove_aips: bool,
    /// `WG_PEER_HAS_HOSTNAME` + a trailing `wg_hostname_io` record (wgif's
    /// extension, wg.4, SIOCSWG only): the host name `endpoint` was resolved from,
    /// which the driver keeps and resolves again. Needs `endpoint`. OpenBSD defines
    /// no such bit, so no request its ifconfig builds sets it.
    pub endpoint_host: Option<String>,
    /// `WG_PEER_SET_DESCRIPTION` + `p_description` (at most 63 bytes, no NUL).
    pub description: Option<String>,
    /// `p_txbytes` (SIOCGWG only).
    pub tx_bytes: u64,
    /// `p_rxbytes` (SIOCGWG only).
    pub rx_bytes: u64,
    /// `p_last_handshake` (SIOCGWG only; zero = never).
    pub last_handshake: Timespec,
    /// `p_aips[]`, in buffer order (on SIOCGWG: newest first).
    pub aips: Vec<AipIo>,
}

/// The interface header (`struct wg_interface_io`) and its peers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InterfaceIo {
    /// `WG_INTERFACE_HAS_PUBLIC` + `i_public` (ignored on set).
    pub public: Option<Key>,
    /// `WG_INTERFACE_HAS_PRIVATE` + `i_private`.
    pub private: Option<Key>,
    /// `WG_INTERFACE_HAS_PORT` + `i_port` (host order).
    pub port: Option<u16>,
    /// `WG_INTERFACE_HAS_RTABLE` + `i_rtable`.
    pub rtable: Option<i32>,
    /// `WG_INTERFACE_REPLACE_PEERS`.
    pub replace_peers: bool,
    pub peers: Vec<PeerIo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_cut_to_63_bytes_on_a_character_boundary() {
        assert_eq!(PEER_DESCR_MAX, 63);
        assert_eq!(cut_description("office"), "office");
        let exact = "a".repeat(63);
        assert_eq!(cut_description(&exact), exact);
        assert_eq!(cut_description(&"a".repeat(64)), exact);
        // 62 ASCII bytes then a 2-byte 'é' straddling byte 63: the 'é' goes whole.
        let straddling = format!("{}é", "a".repeat(62));
        assert_eq!(cut_description(&straddling), "a".repeat(62));
        // 21 three-byte characters are exactly 63 bytes and stay.
        let cjk = "語".repeat(21);
        assert_eq!(cut_description(&format!("{cjk}x")), cjk);
        assert_eq!(cut_description(""), "");
    }
}
