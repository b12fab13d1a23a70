//! Reading a hostname.wgN file for `wgconvert to-wg-quick`: each line goes through
//! the same code wgnetstart runs ([`parse_hostname_if`], [`shell_words`] and the
//! ifconfig parameter parser), and the requests it would send are applied to a
//! [`Config`] instead of a wgd. Endpoints are recorded as written, never resolved.

use super::model::{description, Config, Endpoint, IfAddr, LineError, Note, Peer};
use super::wgquick_read::{is_host_name, parse_port};
use crate::ifconfig::hostname_if::{parse_hostname_if, shell_words, HnCommand};
use crate::ifconfig::parse::{parse_collect, AddrOp, Af, GenericOp};
use crate::ifconfig::resolve::Resolve;
use crate::ioctl::model::PeerIo;
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A resolver that checks and records `wgendpoint HOST PORT` and answers with the
/// record's index in the port of an unspecified address.
#[derive(Default)]
struct Recorder {
    seen: RefCell<Vec<Endpoint>>,
}

impl Resolve for Recorder {
    fn resolve(&self, host: &str, port: &str) -> Result<SocketAddr, String> {
        if host.parse::<IpAddr>().is_err() && !is_host_name(host) {
            return Err(format!("wgendpoint: bad host {host:?}"));
        }
        let port = parse_port(port).map_err(|e| format!("wgendpoint: port {e}"))?;
        let mut seen = self.seen.borrow_mut();
        let idx = u16::try_from(seen.len()).map_err(|_| "too many endpoints".to_string())?;
        seen.push(Endpoint {
            host: host.to_string(),
            port,
        });
        Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), idx))
    }
}

fn note(notes: &mut Vec<Note>, line: usize, text: String) {
    notes.push(Note { line, text });
}

fn apply_peer(
    cfg: &mut Config,
    p: &PeerIo,
    endpoints: &[Endpoint],
    line: usize,
    notes: &mut Vec<Note>,
) {
    let Some(public) = p.public.clone() else {
        return;
    };
    if p.remove {
        cfg.peers.retain(|q| q.public != public);
        return;
    }
    let i = match cfg.peers.iter().position(|q| q.public == public) {
        Some(i) => i,
        None => {
            cfg.peers.push(Peer::new(public));
            cfg.peers.len() - 1
        }
    };
    let q = &mut cfg.peers[i];
    if let Some(k) = &p.psk {
        q.psk = if k.is_zero() { None } else { Some(k.clone()) };
    }
    if let Some(n) = p.pka {
        q.keepalive = if n == 0 { None } else { Some(n) };
    }
    if let Some(ep) = p.endpoint {
        q.endpoint = endpoints.get(usize::from(ep.port())).cloned();
    }
    if p.replace_aips {
        q.allowed_ips = p.aips.clone();
    }
    if let Some(d) = &p.description {
        let d = description(d, line, notes);
        q.description = if d.is_empty() { None } else { Some(d) };
    }
}

fn apply_addr(cfg: &mut Config, op: &AddrOp, line: usize, notes: &mut Vec<Note>) {
    let addrs = &mut cfg.addresses;
    match op {
        AddrOp::DelFirst4 => {
            if let Some(i) = addrs.iter().position(|a| a.addr.is_ipv4()) {
                addrs.remove(i);
            }
        }
        AddrOp::Del4(a) => addrs.retain(|x| x.addr != IpAddr::V4(*a)),
        AddrOp::Del6(a) => addrs.retain(|x| x.addr != IpAddr::V6(*a)),
        AddrOp::Add4(a) => {
            if let Some(b) = a.broadcast {
                note(
                    notes,
                    line,
                    format!("broadcast {b}: wg-quick has no counterpart, not converted"),
                );
            }
            let new = IfAddr {
                addr: IpAddr::V4(a.addr),
                prefix: a.prefixlen,
            };
            match addrs.iter_mut().find(|x| x.addr == new.addr) {
                Some(x) => *x = new,
                None => addrs.push(new),
            }
        }
        AddrOp::Add6(a) => {
            if a.scope_id != 0 {
                note(
                    notes,
                    line,
                    format!(
                        "scope %{}: wg-quick has no counterpart, not converted",
                        a.scope_id
                    ),
                );
            }
            let new = IfAddr {
                addr: IpAddr::V6(a.addr),
                prefix: a.prefixlen,
            };
            match addrs.iter_mut().find(|x| x.addr == new.addr) {
                Some(x) => *x = new,
                None => addrs.push(new),
            }
        }
    }
}

/// Reads a hostname.wgN file. Returns the configuration and the notes about what
/// wg-quick cannot carry, or the first error.
pub fn read_hostname_if(text: &str) -> Result<(Config, Vec<Note>), LineError> {
    let mut cfg = Config::default();
    let mut notes = Vec::new();
    let mut configured = false;
    // PostUp commands read before a configuration line (they move to the end).
    let mut moved: Vec<usize> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // Neither sh nor wgd's C strings carry one (shell_words refuses it as well).
        if t.contains('\0') {
            return Err(LineError::new(line_no, "NUL byte in the line"));
        }
        let first = t.split_whitespace().next().unwrap_or("");
        if first == "dest" {
            note(
                &mut notes,
                line_no,
                "dest: wg-quick has no counterpart, not converted".into(),
            );
            continue;
        }
        let err = |text: String| LineError::new(line_no, text);
        // The interface name stays `$if` (netstart's spelling), later wg-quick's `%i`.
        let cmds = parse_hostname_if("$if", line);
        if cmds.is_empty() {
            note(
                &mut notes,
                line_no,
                format!("{first} without an address: netstart does nothing with this line"),
            );
        }
        for cmd in cmds {
            match cmd {
                HnCommand::Shell(c) => {
                    let c = c.trim().replace("$if", "%i");
                    if c.contains('#') {
                        note(
                            &mut notes,
                            line_no,
                            "a command with '#' cannot be written in wg-quick (it begins a comment there), not converted".into(),
                        );
                    } else if c.is_empty() {
                        note(&mut notes, line_no, "empty command, not converted".into());
                    } else if configured {
                        moved.push(line_no);
                        cfg.post_up.push(c);
                    } else {
                        cfg.pre_up.push(c);
                    }
                }
                HnCommand::Ifconfig(s) => {
                    let words = shell_words(&s).map_err(err)?;
                    let (af, args) = match words.first().map(String::as_str) {
                        Some("inet") => (Af::Inet, &words[1..]),
                        Some("inet6") => (Af::Inet6, &words[1..]),
                        _ => (Af::Inet, &words[..]),
                    };
                    let rec = Recorder::default();
                    let (ops, plan) = parse_collect(args, af, &rec);
                    let plan = plan.map_err(err)?;
                    let only_up = ops.iter().all(|o| *o == GenericOp::Up) && plan.wg.is_none();
                    configured = true;
                    if !only_up {
                        for m in moved.drain(..) {
                            note(
                                &mut notes,
                                m,
                                "runs after the whole configuration in wg-quick (PostUp), not before the lines that follow it".into(),
                            );
                        }
                    }
                    for op in ops {
                        match op {
                            GenericOp::Up => {}
                            GenericOp::Mtu(n) => cfg.mtu = Some(n),
                            GenericOp::Description(d) => {
                                let d = description(&d, line_no, &mut notes);
                                cfg.description = if d.is_empty() { None } else { Some(d) };
                            }
                            GenericOp::RemoveAf(af) => cfg.addresses.retain(|a| match af {
                                Af::Inet => !a.addr.is_ipv4(),
                                Af::Inet6 => !a.addr.is_ipv6(),
                            }),
                            GenericOp::Rdomain(n) => note(
                                &mut notes,
                                line_no,
                                format!("rdomain {n}: wg-quick has no counterpart (run it in a network namespace), not converted"),
                            ),
                            GenericOp::Down => note(
                                &mut notes,
                                line_no,
                                "down: wg-quick always brings the interface up, not converted".into(),
                            ),
                            GenericOp::Debug | GenericOp::NoDebug => note(
                                &mut notes,
                                line_no,
                                "debug: wg-quick has no counterpart, not converted".into(),
                            ),
                            GenericOp::Destroy => note(
                                &mut notes,
                                line_no,
                                "destroy: wg-quick has no counterpart, not converted".into(),
                            ),
                        }
                    }
                    let endpoints = rec.seen.into_inner();
                    if let Some(wg) = plan.wg {
                        if let Some(k) = wg.private {
                            cfg.private = if k.is_zero() { None } else { Some(k) };
                        }
                        if let Some(p) = wg.port {
                            cfg.port = Some(p);
                        }
                        if let Some(t) = wg.rtable {
                            note(
                                &mut notes,
                                line_no,
                                format!("wgrtable {t}: wg-quick has no counterpart (FwMark is not a routing domain), not converted"),
                            );
                        }
                        if wg.replace_peers {
                            cfg.peers.clear();
                        }
                        for p in &wg.peers {
                            apply_peer(&mut cfg, p, &endpoints, line_no, &mut notes);
                        }
                    }
                    for op in &plan.addr {
                        apply_addr(&mut cfg, op, line_no, &mut notes);
                    }
                }
            }
        }
    }
    Ok((cfg, notes))
}
