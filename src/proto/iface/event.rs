//! The debug messages of OpenBSD's if_wg.c r1.47 (openbsd-wg-interface spec §5.3),
//! one variant each, and how an endpoint is printed in them.

use super::super::PeerId;
use std::fmt;
use std::net::IpAddr;

/// A peer's endpoint in a debug message, printed as OpenBSD's sockaddr_ntop prints it:
/// the address without the port, "bad sa" if unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEndpoint(pub Option<IpAddr>);

impl fmt::Display for LogEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("bad sa"),
        }
    }
}

/// One variant per OpenBSD r1.47 debug message (openbsd-wg-interface spec §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PeerCreated(PeerId),
    PeerDestroyed(PeerId),
    HandshakeRetry {
        peer: PeerId,
        ep: LogEndpoint,
        secs: u64,
        attempt: u32,
    },
    HandshakeGaveUp {
        peer: PeerId,
        ep: LogEndpoint,
        retries: u32,
    },
    StoppedHearing {
        peer: PeerId,
        ep: LogEndpoint,
        secs: u64,
    },
    ZeroingKeys {
        peer: PeerId,
        ep: LogEndpoint,
    },
    SendingInitiation {
        peer: PeerId,
        ep: LogEndpoint,
    },
    SendingResponse {
        peer: PeerId,
        ep: LogEndpoint,
    },
    SendingCookie,
    InvalidInitiationMac {
        from: IpAddr,
    },
    Ratelimited {
        from: IpAddr,
    },
    InvalidInitiation {
        from: IpAddr,
    },
    ReceivingInitiation {
        peer: PeerId,
        from: IpAddr,
    },
    InvalidResponseMac {
        from: IpAddr,
    },
    UnknownResponse {
        from: IpAddr,
    },
    InvalidResponse {
        from: IpAddr,
    },
    ReceivingResponse {
        peer: PeerId,
        from: IpAddr,
    },
    UnknownCookieIndex {
        from: IpAddr,
    },
    CookieDecryptFailed {
        from: IpAddr,
    },
    ReceivingCookie {
        from: IpAddr,
    },
    SendingKeepalive {
        peer: PeerId,
        ep: LogEndpoint,
    },
    ReceivingKeepalive {
        peer: PeerId,
        ep: LogEndpoint,
    },
    NotIp {
        peer: PeerId,
        ep: LogEndpoint,
    },
    UnallowedSource {
        peer: PeerId,
        ep: LogEndpoint,
    },
    DroppingHandshakePacket {
        from: IpAddr,
    },
    NoEndpoint {
        peer: PeerId,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Event::*;
        match self {
            PeerCreated(p) => write!(f, "Peer {p} created"),
            PeerDestroyed(p) => write!(f, "Peer {p} destroyed"),
            HandshakeRetry { peer, ep, secs, attempt } => write!(
                f,
                "Handshake for peer {peer} ({ep}) did not complete after {secs} seconds, retrying (try {attempt})"
            ),
            HandshakeGaveUp { peer, ep, retries } => write!(
                f,
                "Handshake for peer {peer} ({ep}) did not complete after {retries} retries, giving up"
            ),
            StoppedHearing { peer, ep, secs } => write!(
                f,
                "Retrying handshake with peer {peer} ({ep}) because we stopped hearing back after {secs} seconds"
            ),
            ZeroingKeys { peer, ep } => write!(f, "Zeroing out keys for peer {peer} ({ep})"),
            SendingInitiation { peer, ep } => {
                write!(f, "Sending handshake initiation to peer {peer} ({ep})")
            }
            SendingResponse { peer, ep } => {
                write!(f, "Sending handshake response to peer {peer} ({ep})")
            }
            SendingCookie => write!(f, "Sending cookie response for denied handshake message"),
            InvalidInitiationMac { from } => write!(f, "Invalid initiation MAC from {from}"),
            Ratelimited { from } => write!(f, "Handshake ratelimited from {from}"),
            InvalidInitiation { from } => write!(f, "Invalid handshake initiation from {from}"),
            ReceivingInitiation { peer, from } => {
                write!(f, "Receiving handshake initiation from peer {peer} ({from})")
            }
            InvalidResponseMac { from } => write!(f, "Invalid response MAC from {from}"),
            UnknownResponse { from } => write!(f, "Unknown handshake response from {from}"),
            InvalidResponse { from } => write!(f, "Invalid handshake response from {from}"),
            ReceivingResponse { peer, from } => {
                write!(f, "Receiving handshake response from peer {peer} ({from})")
            }
            UnknownCookieIndex { from } => write!(f, "Unknown cookie index from {from}"),
            CookieDecryptFailed { from } => {
                write!(f, "Could not decrypt cookie response from {from}")
            }
            ReceivingCookie { from } => write!(f, "Receiving cookie response from {from}"),
            SendingKeepalive { peer, ep } => {
                write!(f, "Sending keepalive packet to peer {peer} ({ep})")
            }
            ReceivingKeepalive { peer, ep } => {
                write!(f, "Receiving keepalive packet from peer {peer} ({ep})")
            }
            NotIp { peer, ep } => {
                write!(f, "Packet is neither IPv4 nor IPv6 from peer {peer} ({ep})")
            }
            UnallowedSource { peer, ep } => {
                write!(f, "Packet has unallowed source IP from peer {peer} ({ep})")
            }
            DroppingHandshakePacket { from } => write!(f, "Dropping handshakepacket from {from}"),
            NoEndpoint { peer } => write!(
                f,
                "No valid endpoint has been configured or discovered for peer {peer}"
            ),
        }
    }
}
