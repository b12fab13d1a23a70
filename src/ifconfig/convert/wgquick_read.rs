//! Reading a wg-quick(8) file: `[Interface]` and `[Peer]` sections of `Key = value`
//! lines, keys case-insensitive, `#` starting a comment anywhere on a line, LF or
//! CRLF line ends. Keys wg-quick knows but hostname.if cannot say are returned as
//! notes; anything else that is wrong is an error naming the line.

use super::model::{description, normalize_text, Config, Endpoint, IfAddr, LineError, Note, Peer};
use crate::ifconfig::key::load_key;
use crate::ifconfig::strtonum::strtonum;
use crate::ioctl::model::{AipIo, Key};
use std::net::IpAddr;

/// wg-quick keys of `[Interface]` that hostname.if has no counterpart for.
const INTERFACE_ONLY_WG_QUICK: &[&str] = &[
    "DNS",
    "Table",
    "FwMark",
    "SaveConfig",
    "PreDown",
    "PostDown",
];
const INTERFACE_KEYS: &[&str] = &[
    "PrivateKey",
    "ListenPort",
    "Address",
    "MTU",
    "PreUp",
    "PostUp",
];
const PEER_KEYS: &[&str] = &[
    "PublicKey",
    "PresharedKey",
    "Endpoint",
    "AllowedIPs",
    "PersistentKeepalive",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Interface,
    Peer,
}

struct PeerDraft {
    line: usize,
    public: Option<Key>,
    peer: Peer,
    seen: Vec<(&'static str, usize)>,
}

/// The canonical spelling of `key` among `keys` (matched without regard to case).
fn canonical(keys: &[&'static str], key: &str) -> Option<&'static str> {
    keys.iter().copied().find(|k| k.eq_ignore_ascii_case(key))
}

/// Marks `key` as given on `line`; a key that takes one value may appear once.
fn once(
    seen: &mut Vec<(&'static str, usize)>,
    key: &'static str,
    line: usize,
) -> Result<(), LineError> {
    if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
        return Err(LineError::new(
            line,
            format!("{key} given twice (first on line {first})"),
        ));
    }
    seen.push((key, line));
    Ok(())
}

/// `ADDR[/LEN]` with a strict numeric address; no length means a host prefix.
pub fn parse_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match len {
        Some(l) => {
            if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u8 = l.parse().ok()?;
            if n > max {
                return None;
            }
            n
        }
        None => max,
    };
    Some((addr, prefix))
}

/// The comma-separated items of a list value, each trimmed; an empty item is an error.
fn list<'a>(key: &str, value: &'a str, line: usize) -> Result<Vec<&'a str>, LineError> {
    value
        .split(',')
        .map(|s| {
            let s = s.trim();
            if s.is_empty() {
                Err(LineError::new(line, format!("{key}: empty item in list")))
            } else {
                Ok(s)
            }
        })
        .collect()
}

/// A host name as a resolver would take it: letters, digits, `-`, `.` and `_`.
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// `Endpoint = HOST:PORT` or `[V6ADDR]:PORT`; the host is kept as written.
pub fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("Endpoint {s}: expected [ADDRESS]:PORT"))?;
        h.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("Endpoint {s}: {h} is not an IPv6 address"))?;
        (h, p)
    } else {
        let (h, p) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("Endpoint {s}: expected HOST:PORT"))?;
        if h.contains(':') {
            return Err(format!(
                "Endpoint {s}: an IPv6 address is written in brackets, [ADDRESS]:PORT"
            ));
        }
        if !is_host_name(h) {
            return Err(format!("Endpoint {s}: bad host {h:?}"));
        }
        (h, p)
    };
    let port = parse_port(port).map_err(|e| format!("Endpoint {s}: port {e}"))?;
    Ok(Endpoint {
        host: host.to_string(),
        port,
    })
}

/// A numeric UDP port of a peer, 1..=65535.
pub fn parse_port(p: &str) -> Result<u16, String> {
    strtonum(p, 1, 65535)
        .map(|n| n as u16)
        .map_err(|e| format!("{p}: {e}"))
}

/// A PreUp/PostUp command as a `!` line carries it: netstart splits the line into
/// words and joins them with one blank (a note says so when that changes it).
fn command(value: &str, line: usize, notes: &mut Vec<Note>) -> String {
    let c = normalize_text(value);
    if c != value {
        notes.push(Note {
            line,
            text: "runs of blanks in the command become one blank in a hostname.if `!` line".into(),
        });
    }
    let braced = brace_dollar_if(&c);
    if braced != c {
        notes.push(Note {
            line,
            text: "a shell variable whose name starts with `if` is written `${...}`: netstart \
                   replaces `$if` in a `!` line with the interface's name"
                .into(),
        });
    }
    braced
}

/// `c` with every `$NAME` whose NAME starts with `if` written `${NAME}`: the same to
/// the shell, and no `$if` left for netstart to replace.
fn brace_dollar_if(c: &str) -> String {
    let mut out = String::with_capacity(c.len());
    let mut rest = c;
    while let Some(at) = rest.find("$if") {
        out.push_str(&rest[..at]);
        let name = &rest[at + 1..];
        let end = name
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .unwrap_or(name.len());
        out.push_str("${");
        out.push_str(&name[..end]);
        out.push('}');
        rest = &name[end..];
    }
    out.push_str(rest);
    out
}

/// Reads a wg-quick file. Returns the configuration and the notes about what it
/// cannot carry, or the first error.
pub fn read_wg_quick(text: &str) -> Result<(Config, Vec<Note>), LineError> {
    let mut cfg = Config::default();
    let mut notes = Vec::new();
    let mut section = Section::None;
    let mut interface_line: Option<usize> = None;
    let mut iface_seen: Vec<(&'static str, usize)> = Vec::new();
    let mut peers: Vec<PeerDraft> = Vec::new();
    // The comment line right above the current line, a candidate description.
    let mut comment_above: Option<(String, usize)> = None;
    // No key yet in the current section: its first comment may name it.
    let mut section_empty = false;
    // The line of the comment that named the current section from inside it.
    let mut named_by: Option<usize> = None;
    let mut line_no = 0;
    for raw in text.split('\n') {
        line_no += 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        // A comment with one would become a description that ends there on its way
        // to wgd (a C string); a hostname.if line with one is refused too.
        if line.contains('\0') {
            return Err(LineError::new(line_no, "NUL byte in the line"));
        }
        let t = line.trim();
        if t.is_empty() {
            comment_above = None;
            continue;
        }
        if let Some(c) = t.strip_prefix('#') {
            let c = normalize_text(c.trim_start_matches('#'));
            if section_empty && !c.is_empty() {
                let d = match section {
                    Section::Peer => peers.last_mut().map(|d| &mut d.peer.description),
                    Section::Interface => Some(&mut cfg.description),
                    Section::None => None,
                };
                if let Some(d @ None) = d {
                    *d = Some(description(&c, line_no, &mut notes));
                    named_by = Some(line_no);
                }
            }
            comment_above = if c.is_empty() {
                None
            } else {
                Some((c, line_no))
            };
            continue;
        }
        let stripped = t.split('#').next().unwrap_or("").trim();
        if let Some(name) = stripped.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| LineError::new(line_no, format!("bad section header {stripped}")))?
                .trim();
            let above = comment_above.take();
            // A comment right above a header names that section, not the one it is in.
            if above.is_some() && above.as_ref().map(|a| a.1) == named_by {
                match section {
                    Section::Peer => {
                        if let Some(d) = peers.last_mut() {
                            d.peer.description = None;
                        }
                    }
                    Section::Interface => cfg.description = None,
                    Section::None => {}
                }
            }
            named_by = None;
            let descr = above.map(|(c, l)| description(&c, l, &mut notes));
            if name.eq_ignore_ascii_case("Interface") {
                if let Some(first) = interface_line {
                    return Err(LineError::new(
                        line_no,
                        format!("a second [Interface] section (the first is on line {first})"),
                    ));
                }
                interface_line = Some(line_no);
                section = Section::Interface;
                cfg.description = descr;
            } else if name.eq_ignore_ascii_case("Peer") {
                section = Section::Peer;
                let mut peer = Peer::new(Key::ZERO);
                peer.description = descr;
                peers.push(PeerDraft {
                    line: line_no,
                    public: None,
                    peer,
                    seen: Vec::new(),
                });
            } else {
                return Err(LineError::new(
                    line_no,
                    format!("unknown section [{name}] (wg-quick has [Interface] and [Peer])"),
                ));
            }
            section_empty = true;
            continue;
        }
        comment_above = None;
        section_empty = false;
        let (key, value) = stripped
            .split_once('=')
            .ok_or_else(|| LineError::new(line_no, format!("expected Key = value: {stripped}")))?;
        let (key, value) = (key.trim(), value.trim());
        if value.is_empty() {
            return Err(LineError::new(line_no, format!("{key}: no value")));
        }
        let err = |text: String| LineError::new(line_no, text);
        match section {
            Section::None => {
                return Err(err(format!(
                    "{key} outside a section (before [Interface] or [Peer])"
                )))
            }
            Section::Interface => {
                if let Some(k) = canonical(INTERFACE_ONLY_WG_QUICK, key) {
                    notes.push(Note {
                        line: line_no,
                        text: format!(
                            "{k} = {value}: hostname.if has no counterpart, not converted"
                        ),
                    });
                    continue;
                }
                let Some(k) = canonical(INTERFACE_KEYS, key) else {
                    return Err(err(match canonical(PEER_KEYS, key) {
                        Some(k) => format!("{k} belongs in a [Peer] section, not [Interface]"),
                        None => format!("unknown key {key} in [Interface]"),
                    }));
                };
                match k {
                    "PrivateKey" => {
                        once(&mut iface_seen, k, line_no)?;
                        cfg.private = Some(load_key(k, value).map_err(err)?);
                    }
                    "ListenPort" => {
                        once(&mut iface_seen, k, line_no)?;
                        let n = strtonum(value, 0, 65535)
                            .map_err(|e| err(format!("ListenPort {value}: {e}")))?;
                        cfg.port = Some(n as u16);
                    }
                    "MTU" => {
                        once(&mut iface_seen, k, line_no)?;
                        let n = strtonum(value, 0, i64::from(i32::MAX))
                            .map_err(|e| err(format!("MTU {value}: {e}")))?;
                        cfg.mtu = Some(n as u32);
                    }
                    "Address" => {
                        for item in list(k, value, line_no)? {
                            let (addr, prefix) = parse_prefix(item)
                                .ok_or_else(|| err(format!("Address {item}: bad address")))?;
                            // An interface holds an address once (a second inet line
                            // for it would replace the first).
                            if cfg.addresses.iter().any(|a| a.addr == addr) {
                                return Err(err(format!("Address {addr} given twice")));
                            }
                            cfg.addresses.push(IfAddr { addr, prefix });
                        }
                    }
                    "PreUp" => cfg.pre_up.push(command(value, line_no, &mut notes)),
                    _ => cfg.post_up.push(command(value, line_no, &mut notes)),
                }
            }
            Section::Peer => {
                let Some(k) = canonical(PEER_KEYS, key) else {
                    return Err(err(
                        match canonical(INTERFACE_KEYS, key)
                            .or_else(|| canonical(INTERFACE_ONLY_WG_QUICK, key))
                        {
                            Some(k) => {
                                format!("{k} belongs in the [Interface] section, not [Peer]")
                            }
                            None => format!("unknown key {key} in [Peer]"),
                        },
                    ));
                };
                let d = peers.last_mut().expect("peer section");
                if k != "AllowedIPs" {
                    once(&mut d.seen, k, line_no)?;
                }
                match k {
                    "PublicKey" => d.public = Some(load_key(k, value).map_err(err)?),
                    "PresharedKey" => d.peer.psk = Some(load_key(k, value).map_err(err)?),
                    "Endpoint" => d.peer.endpoint = Some(parse_endpoint(value).map_err(err)?),
                    "PersistentKeepalive" => {
                        d.peer.keepalive = if value.eq_ignore_ascii_case("off") {
                            None
                        } else {
                            // OpenBSD's wgpka takes 0..=43200 seconds.
                            match strtonum(value, 0, 43200) {
                                Ok(0) => None,
                                Ok(n) => Some(n as u16),
                                Err(e) => {
                                    return Err(err(format!(
                                        "PersistentKeepalive {value}: {e} (wgpka takes 0 to 43200)"
                                    )))
                                }
                            }
                        };
                    }
                    _ => {
                        for item in list(k, value, line_no)? {
                            let (addr, cidr) = parse_prefix(item)
                                .ok_or_else(|| err(format!("AllowedIPs {item}: bad address")))?;
                            d.peer.allowed_ips.push(AipIo { addr, cidr });
                        }
                    }
                }
            }
        }
    }
    if interface_line.is_none() {
        return Err(LineError::new(1, "no [Interface] section"));
    }
    for d in peers {
        let Some(public) = d.public else {
            return Err(LineError::new(d.line, "[Peer] without PublicKey"));
        };
        if let Some(p) = cfg.peers.iter().position(|p| p.public == public) {
            return Err(LineError::new(
                d.line,
                format!(
                    "the same PublicKey as peer {} of the file (a peer is given once)",
                    p + 1
                ),
            ));
        }
        cfg.peers.push(Peer { public, ..d.peer });
    }
    Ok((cfg, notes))
}
