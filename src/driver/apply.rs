//! SIOCSWG and SIOCGWG: the one place that translates between the ioctl model and
//! the protocol engine, with if_wg.c's semantics (spec openbsd-wg-interface §1.8–1.9).

use super::netns::NetnsManager;
use super::wgif::{bind_in, WgIf};
use crate::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo, Timespec};
use crate::proto::{ConfigError, PeerId};
use std::io;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use zeroize::Zeroize;

/// OpenBSD's protocol version for `p_protocol_version` (0 = latest).
const WG_PROTOCOL_VERSION: i32 = 1;

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Applies one SIOCSWG. Not atomic, like OpenBSD: an error stops processing and
/// earlier changes stay. Returns whether the UDP sockets were replaced (the caller
/// registers the new ones with its poller).
pub fn set_wg(
    wg: &mut WgIf,
    req: &InterfaceIo,
    next_peer_id: &mut PeerId,
    namespaces: &NetnsManager,
    now: Instant,
    wall: SystemTime,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<bool, i32> {
    if req.replace_peers {
        wg.proto.remove_all_peers();
    }
    if let Some(key) = &req.private {
        let mut current = wg.proto.private_key();
        let differs = match &current {
            None => true,
            Some(c) => {
                let mut clamped = key.0;
                clamp(&mut clamped);
                let d = *c != clamped;
                clamped.zeroize();
                d
            }
        };
        current.zeroize();
        if differs {
            let k = if key.is_zero() { None } else { Some(&key.0) };
            wg.proto.set_private_key(k, now);
        }
    }
    let mut rebound = false;
    let port = req.port.unwrap_or(wg.port);
    let rtable = match req.rtable {
        Some(r) if !(0..=255).contains(&r) => return Err(libc::EINVAL),
        Some(r) => r as u32,
        None => wg.rtable,
    };
    if port != wg.port || rtable != wg.rtable {
        wg.proto.clear_src_cache();
        if wg.up {
            let socks = bind_in(namespaces, rtable, port).map_err(|e| errno_of(&e))?;
            wg.udp = Some(socks);
            rebound = true;
        }
        wg.port = port;
        wg.rtable = rtable;
    }
    let own = wg.proto.public_key();
    for p in &req.peers {
        let Some(public) = &p.public else { continue };
        if p.protocol_version > WG_PROTOCOL_VERSION || p.protocol_version < 0 {
            return Err(libc::EPFNOSUPPORT);
        }
        if own.as_ref() == Some(&public.0) {
            continue;
        }
        let id = match wg.proto.peer_by_public(&public.0) {
            Some(id) => id,
            None if p.remove || p.update_only => continue,
            None => {
                let id = *next_peer_id;
                wg.proto.add_peer(id, &public.0, now).map_err(|e| match e {
                    ConfigError::TooManyPeers => libc::ENOMEM,
                    _ => libc::EINVAL,
                })?;
                *next_peer_id += 1;
                id
            }
        };
        if p.remove {
            wg.proto.remove_peer(id);
            continue;
        }
        if let Some(ep) = p.endpoint {
            wg.proto.set_endpoint(id, Some(ep));
        }
        if let Some(psk) = &p.psk {
            wg.proto
                .set_psk(id, if psk.is_zero() { None } else { Some(&psk.0) });
        }
        if let Some(pka) = p.pka {
            wg.proto
                .set_persistent_keepalive_and_send(id, pka, now, wall, rng);
        }
        if p.replace_aips {
            wg.proto.replace_aips(id);
        }
        if let Some(d) = &p.description {
            wg.proto.set_description(id, d);
        }
        for a in &p.aips {
            wg.proto
                .add_aip(id, a.addr, a.cidr)
                .map_err(|_| libc::EINVAL)?;
        }
    }
    Ok(rebound)
}

fn clamp(k: &mut [u8; 32]) {
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
}

/// The SIOCGWG view of an interface for a privileged caller (the caller trims it
/// for others with `codec::get_reply`).
pub fn get_wg(wg: &WgIf) -> InterfaceIo {
    let private = wg.proto.private_key().map(Key);
    let public = wg.proto.public_key().filter(|_| private.is_some()).map(Key);
    let bound_port = wg.udp.as_ref().map(|u| u.local_port()).unwrap_or(wg.port);
    InterfaceIo {
        public,
        private,
        port: (bound_port != 0).then_some(bound_port),
        rtable: (wg.rtable != 0).then_some(wg.rtable as i32),
        replace_peers: false,
        peers: wg
            .proto
            .peer_ids()
            .into_iter()
            .filter_map(|id| wg.proto.peer_info(id))
            .map(|info| PeerIo {
                protocol_version: WG_PROTOCOL_VERSION,
                public: Some(Key(info.public)),
                // The engine does not hand the PSK out; OpenBSD only signals its presence
                // to ifconfig, which prints "wgpsk (present)". The bytes are never sent back.
                psk: info.has_psk.then(|| Key([0xff; 32])),
                pka: (info.pka > 0).then_some(info.pka),
                endpoint: info.endpoint,
                tx_bytes: info.tx_bytes,
                rx_bytes: info.rx_bytes,
                last_handshake: info
                    .last_handshake
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| Timespec {
                        sec: d.as_secs() as i64,
                        nsec: d.subsec_nanos() as i64,
                    })
                    .unwrap_or_default(),
                description: (!info.description.is_empty()).then_some(info.description),
                aips: info
                    .aips
                    .into_iter()
                    .map(|(addr, cidr)| AipIo { addr, cidr })
                    .collect(),
                ..PeerIo::default()
            })
            .collect(),
    }
}
