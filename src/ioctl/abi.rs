//! OpenBSD's wg(4) ioctl ABI (sys/net/if_wg.h r1.7, amd64): sizes, field offsets and
//! flag bits of `wg_data_io`, `wg_interface_io`, `wg_peer_io` and `wg_aip_io`.
//! Spec: openbsd-wg-interface.md §1.1–1.7. All integers are little-endian (amd64);
//! `i_port` is in host order, `sin_port` inside a sockaddr in network order.

use bitflags::bitflags;

/// `WG_KEY_LEN`.
pub const WG_KEY_LEN: usize = 32;
/// `SIOCSWG` = `_IOWR('i', 210, struct wg_data_io)` on amd64.
pub const SIOCSWG: u32 = 0xC020_69D2;
/// `SIOCGWG` = `_IOWR('i', 211, struct wg_data_io)` on amd64.
pub const SIOCGWG: u32 = 0xC020_69D3;
/// `IFNAMSIZ`.
pub const IFNAMSIZ: usize = 16;
/// `IFDESCRSIZE` (sys/net/if.h): the description buffer, NUL included.
pub const IFDESCRSIZE: usize = 64;
/// `RT_TABLEID_MAX`.
pub const RT_TABLEID_MAX: i32 = 255;

/// OpenBSD address family numbers (sys/sys/socket.h).
pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 24;

/// `sizeof(struct wg_data_io)`.
pub const DATA_IO_SIZE: usize = 32;
/// `sizeof(struct wg_interface_io)` (without the flexible peer array).
pub const INTERFACE_IO_SIZE: usize = 80;
/// `sizeof(struct wg_peer_io)` (without the flexible aip array).
pub const PEER_IO_SIZE: usize = 208;
/// `sizeof(struct wg_aip_io)`.
pub const AIP_IO_SIZE: usize = 24;
/// Size of wgif's `wg_hostname_io` record (wg.4): a NUL-terminated host name,
/// zero-padded; it follows a peer's aips when `WG_PEER_HAS_HOSTNAME` is set.
pub const HOSTNAME_IO_SIZE: usize = 256;
/// Longest host name the record carries (a DNS name's limit, RFC 1035).
pub const HOSTNAME_MAX: usize = 253;
/// `sizeof(struct sockaddr_in)` and `sizeof(struct sockaddr_in6)`.
pub const SOCKADDR_IN_SIZE: u8 = 16;
pub const SOCKADDR_IN6_SIZE: u8 = 28;

/// `wg_data_io` field offsets.
pub mod data_io {
    pub const NAME: usize = 0;
    pub const SIZE: usize = 16;
    pub const INTERFACE: usize = 24;
}

/// `wg_interface_io` field offsets.
pub mod interface_io {
    pub const FLAGS: usize = 0;
    pub const PORT: usize = 2;
    pub const RTABLE: usize = 4;
    pub const PUBLIC: usize = 8;
    pub const PRIVATE: usize = 40;
    pub const PEERS_COUNT: usize = 72;
}

/// `wg_peer_io` field offsets.
pub mod peer_io {
    pub const FLAGS: usize = 0;
    pub const PROTOCOL_VERSION: usize = 4;
    pub const PUBLIC: usize = 8;
    pub const PSK: usize = 40;
    pub const PKA: usize = 72;
    pub const ENDPOINT: usize = 76;
    /// The endpoint union is as large as `sockaddr_in6`.
    pub const ENDPOINT_SIZE: usize = 28;
    pub const TXBYTES: usize = 104;
    pub const RXBYTES: usize = 112;
    pub const LAST_HANDSHAKE: usize = 120;
    pub const DESCRIPTION: usize = 136;
    pub const AIPS_COUNT: usize = 200;
}

/// `wg_aip_io` field offsets.
pub mod aip_io {
    pub const AF: usize = 0;
    pub const CIDR: usize = 4;
    pub const ADDR: usize = 8;
}

bitflags! {
    /// `p_flags` bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PeerFlags: u32 {
        const HAS_PUBLIC = 1 << 0;
        const HAS_PSK = 1 << 1;
        const HAS_PKA = 1 << 2;
        const HAS_ENDPOINT = 1 << 3;
        const REPLACE_AIPS = 1 << 4;
        const REMOVE = 1 << 5;
        const UPDATE = 1 << 6;
        const SET_DESCRIPTION = 1 << 7;
        /// wgif's extension (wg.4): this record's aips are removed, not added.
        /// Not an OpenBSD bit: no request OpenBSD's ifconfig builds has it.
        const REMOVE_AIPS = 1 << 8;
        /// wgif's extension (wg.4): a `wg_hostname_io` record (the endpoint's host
        /// name) follows this peer's aips, and the driver re-resolves that name.
        /// Not an OpenBSD bit: no request OpenBSD's ifconfig builds has it.
        const HAS_HOSTNAME = 1 << 9;
    }
}

bitflags! {
    /// `i_flags` bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct InterfaceFlags: u8 {
        const HAS_PUBLIC = 1 << 0;
        const HAS_PRIVATE = 1 << 1;
        const HAS_PORT = 1 << 2;
        const HAS_RTABLE = 1 << 3;
        const REPLACE_PEERS = 1 << 4;
    }
}

/// Most allowed IPs one buffer may carry: room for 1M in one request (100k peers x 10,
/// wgd.8, Large configurations), with a margin.
pub const MAX_AIPS: usize = 1 << 21;
/// Most peers one buffer may carry (OpenBSD's per-interface limit, 2^20).
pub const MAX_PEERS: usize = 1 << 20;
/// Largest buffer the codec accepts: every peer with no aips plus `MAX_AIPS` aips
/// would exceed what a control frame carries, so the bound is set on bytes.
pub const MAX_BUFFER: usize = 256 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_encode_the_struct_size() {
        // IOC_INOUT | (sizeof & 0x1fff) << 16 | 'i' << 8 | nr
        let enc = |nr: u32| {
            0xC000_0000 | ((DATA_IO_SIZE as u32 & 0x1fff) << 16) | ((b'i' as u32) << 8) | nr
        };
        assert_eq!(enc(210), SIOCSWG);
        assert_eq!(enc(211), SIOCGWG);
        assert_eq!(SIOCSWG, 3223349714);
    }

    #[test]
    fn layout_is_consistent() {
        assert_eq!(peer_io::ENDPOINT + peer_io::ENDPOINT_SIZE, peer_io::TXBYTES);
        assert_eq!(peer_io::DESCRIPTION + IFDESCRSIZE, peer_io::AIPS_COUNT);
        assert_eq!(peer_io::AIPS_COUNT + 8, PEER_IO_SIZE);
        assert_eq!(interface_io::PEERS_COUNT + 8, INTERFACE_IO_SIZE);
        assert_eq!(aip_io::ADDR + 16, AIP_IO_SIZE);
    }
}
