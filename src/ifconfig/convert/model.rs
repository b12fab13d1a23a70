//! The configuration both file formats describe, as `wgconvert` carries it from one to
//! the other: interface keys, port, addresses, MTU, description and hooks, and the
//! peers. Two files convert into each other when they read back to equal values.

use crate::ioctl::model::PEER_DESCR_MAX;
use crate::ioctl::model::{AipIo, Key};
use std::net::IpAddr;

/// One interface address with its prefix length (`Address = 10.0.0.1/24`,
/// `inet 10.0.0.1 255.255.255.0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// A peer endpoint as written: the host (an address or a name, never resolved)
/// and the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// One `[Peer]` / `wgpeer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub public: Key,
    pub psk: Option<Key>,
    pub endpoint: Option<Endpoint>,
    pub allowed_ips: Vec<AipIo>,
    /// Seconds; `None` is off (0 and `off` read as `None`).
    pub keepalive: Option<u16>,
    /// `wgdescr`; in a wg-quick file, the comment that names the peer.
    pub description: Option<String>,
}

impl Peer {
    pub fn new(public: Key) -> Peer {
        Peer {
            public,
            psk: None,
            endpoint: None,
            allowed_ips: Vec::new(),
            keepalive: None,
            description: None,
        }
    }
}

/// One interface: what wg-quick's `[Interface]` and a hostname.wgN both say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `description`; in a wg-quick file, the comment that names the interface.
    pub description: Option<String>,
    pub private: Option<Key>,
    pub port: Option<u16>,
    pub mtu: Option<u32>,
    pub addresses: Vec<IfAddr>,
    /// Commands run before the interface is configured (`PreUp`, a `!` line first
    /// in the file), with the interface name written `%i`.
    pub pre_up: Vec<String>,
    /// Commands run once it is configured (`PostUp`, a `!` line after the others).
    pub post_up: Vec<String>,
    pub peers: Vec<Peer>,
}

/// Something of the input that the output cannot say, reported on stderr with
/// its line: `FILE:LINE: TEXT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub line: usize,
    pub text: String,
}

/// A conversion error: the line (1-based) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub text: String,
}

impl LineError {
    pub fn new(line: usize, text: impl Into<String>) -> LineError {
        LineError {
            line,
            text: text.into(),
        }
    }
}

/// The text of a description or comment as both formats keep it: blanks collapsed
/// (a hostname.if line is split into words and joined with single spaces).
pub fn normalize_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A description as both formats can carry it: blanks collapsed (a wg-quick comment
/// is read that way, and netstart joins a hostname.if line's words with one blank),
/// and at most [`PEER_DESCR_MAX`] bytes, as the interface keeps it; a longer one is
/// cut, without the blank the cut may leave at its end, and noted at `line`.
pub fn description(text: &str, line: usize, notes: &mut Vec<Note>) -> String {
    let mut c = normalize_text(text);
    if c != text {
        notes.push(Note {
            line,
            text: "blanks at the ends of the description or in runs cannot be kept (wg-quick keeps it as a comment), collapsed".into(),
        });
    }
    if c.len() > PEER_DESCR_MAX {
        let mut end = PEER_DESCR_MAX;
        while !c.is_char_boundary(end) {
            end -= 1;
        }
        c.truncate(end);
        c.truncate(c.trim_end().len());
        notes.push(Note {
            line,
            text: format!("description longer than {PEER_DESCR_MAX} bytes, cut"),
        });
    }
    c
}
