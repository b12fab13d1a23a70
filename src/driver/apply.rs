//! SIOCSWG and SIOCGWG: the one place that translates between the ioctl model and
//! the protocol engine, with if_wg.c's semantics (spec openbsd-wg-interface §1.8–1.9).

use super::errno;
use super::link::{Clock, Env};
use super::reresolve::EndpointNames;
use crate::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo, Timespec};
use crate::ioctl::{abi, codec};
use crate::proto::crypto::{ct_eq, PrivateKey};
use crate::proto::{ConfigError, Interface, PeerId};
use rand_core::CryptoRngCore;
use std::io;
use std::time::UNIX_EPOCH;
use zeroize::Zeroize;
use zeroize::Zeroizing;

/// OpenBSD's protocol version for `p_protocol_version` (0 = latest).
const WG_PROTOCOL_VERSION: i32 = 1;

/// The socket side of an interface's wg configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketConf {
    /// The port: as configured, or the one the kernel chose when 0 was bound
    /// (wg_bind writes it back, so it stays across down and up).
    pub port: u16,
    /// wgrtable: the rdomain the UDP sockets live in.
    pub rtable: u32,
}

/// An SIOCSWG's `wg_interface_io` buffer decoded and checked (ioctl/codec.rs), with
/// the errno wgd answers for a bad one: EAFNOSUPPORT for an allowed IP of a family
/// wg_aip_add does not know, EINVAL for anything else. The buffer holds keys, so it is
/// taken and zeroed; the model's keys zero themselves.
pub fn decode_set_wg(mut data: Vec<u8>) -> Result<InterfaceIo, i32> {
    let model = codec::decode(&data, codec::Dir::Set);
    data.zeroize();
    model.map_err(|e| match e {
        codec::DecodeError::UnknownFamily { .. } => libc::EAFNOSUPPORT,
        _ => libc::EINVAL,
    })
}

/// Applies one SIOCSWG. Not atomic, like OpenBSD: an error in a peer record stops
/// processing and earlier changes stay; an rtable out of range is refused before
/// anything changes. When the port or rtable changes, `rebind(rtable, port)` is
/// called first (it binds new sockets if the interface is up and returns the port
/// they got, else returns `port`); its error is returned and leaves both unchanged.
pub fn set_wg<C: Clock, R: CryptoRngCore, L>(
    proto: &mut Interface,
    sock: &mut SocketConf,
    names: &mut EndpointNames,
    req: &InterfaceIo,
    next_peer_id: &mut PeerId,
    rebind: impl FnOnce(u32, u16) -> io::Result<u16>,
    env: &mut Env<C, R, L>,
) -> Result<(), i32> {
    set_wg_interface(proto, sock, names, req, rebind, env)?;
    set_wg_peers(proto, names, &req.peers, next_peer_id, env)
}

/// The interface part of an SIOCSWG (rtable check, REPLACE_PEERS, key, port and
/// rtable); [`set_wg_peers`] does the peer records after it, all at once or in slices
/// (wgd serves a large SIOCSWG in slices between packets).
pub fn set_wg_interface<C: Clock, R: CryptoRngCore, L>(
    proto: &mut Interface,
    sock: &mut SocketConf,
    names: &mut EndpointNames,
    req: &InterfaceIo,
    rebind: impl FnOnce(u32, u16) -> io::Result<u16>,
    env: &mut Env<C, R, L>,
) -> Result<(), i32> {
    let now = env.clock.now();
    // Checked before anything changes: a bad rtable leaves the peers and the key.
    let rtable = match req.rtable {
        Some(r) if !(0..=abi::RT_TABLEID_MAX).contains(&r) => return Err(libc::EINVAL),
        Some(r) => r as u32,
        None => sock.rtable,
    };
    if req.replace_peers {
        proto.remove_all_peers();
        names.clear();
    }
    if let Some(key) = &req.private {
        let mut current = proto.private_key();
        // The stored key is clamped: compare with the given one clamped the same way.
        let differs = !current
            .as_ref()
            .is_some_and(|c| ct_eq(c, PrivateKey::from_bytes(&key.0).as_bytes()));
        current.zeroize();
        if differs {
            let k = if key.is_zero() { None } else { Some(&key.0) };
            proto.set_private_key(k, now);
        }
    }
    let port = req.port.unwrap_or(sock.port);
    if port != sock.port || rtable != sock.rtable {
        // if_wg.c forgets the cached sources first, whether or not the bind works.
        proto.clear_src_cache();
        let port = rebind(rtable, port).map_err(|e| errno::of(&e))?;
        *sock = SocketConf { port, rtable };
    }
    Ok(())
}

/// Applies SIOCSWG peer records, in order; the first error stops it. An endpoint
/// with `WG_PEER_HAS_HOSTNAME` keeps its name in `names` (driver state, not the
/// engine's); any other endpoint, and the peer's removal, forgets it.
pub fn set_wg_peers<C: Clock, R: CryptoRngCore, L>(
    proto: &mut Interface,
    names: &mut EndpointNames,
    peers: &[PeerIo],
    next_peer_id: &mut PeerId,
    env: &mut Env<C, R, L>,
) -> Result<(), i32> {
    let (now, wall) = (env.clock.now(), env.clock.wall());
    let own = proto.public_key();
    for p in peers {
        let Some(public) = &p.public else { continue };
        // Only a version above ours is refused (if_wg.c compares with `> 1`).
        if p.protocol_version > WG_PROTOCOL_VERSION {
            return Err(libc::EPFNOSUPPORT);
        }
        if own.as_ref() == Some(&public.0) {
            continue;
        }
        let id = match proto.peer_by_public(&public.0) {
            Some(id) => id,
            None if p.remove || p.update_only => continue,
            None => {
                let id = *next_peer_id;
                proto.add_peer(id, &public.0, now).map_err(|e| match e {
                    ConfigError::TooManyPeers => libc::ENOMEM,
                    _ => libc::EINVAL,
                })?;
                *next_peer_id += 1;
                id
            }
        };
        if p.remove {
            proto.remove_peer(id);
            names.remove(id);
            continue;
        }
        if let Some(ep) = p.endpoint {
            proto.set_endpoint(id, Some(ep));
            names.set(id, p.endpoint_host.as_deref(), ep.port());
        } else if p.clear_endpoint {
            proto.set_endpoint(id, None);
            names.remove(id);
        }
        if let Some(psk) = &p.psk {
            proto.set_psk(id, if psk.is_zero() { None } else { Some(&psk.0) });
        }
        if let Some(pka) = p.pka {
            proto.set_persistent_keepalive_and_send(id, pka, now, wall, env.rng);
        }
        if p.replace_aips {
            proto.replace_aips(id);
        }
        if let Some(d) = &p.description {
            proto.set_description(id, d);
        }
        for a in &p.aips {
            if p.remove_aips {
                proto.remove_aip(id, a.addr, a.cidr)
            } else {
                proto.add_aip(id, a.addr, a.cidr)
            }
            .map_err(|_| libc::EINVAL)?;
        }
    }
    Ok(())
}

/// SIOCGWG's answer to a caller offering `capacity` bytes: the size the full answer
/// needs, and the buffer when it fits. A caller other than root sees port and rtable
/// only, built without looking at the peers; root's size query is counted from the
/// peers without building the model.
pub fn get_wg_reply(
    proto: &Interface,
    sock: SocketConf,
    bound_port: Option<u16>,
    capacity: u64,
    privileged: bool,
) -> (u64, Option<Zeroizing<Vec<u8>>>) {
    if !privileged {
        let bound_port = bound_port.unwrap_or(sock.port);
        let view = InterfaceIo {
            port: (bound_port != 0).then_some(bound_port),
            rtable: (sock.rtable != 0).then_some(sock.rtable as i32),
            ..InterfaceIo::default()
        };
        return codec::get_reply(&view, capacity, true);
    }
    let need = get_wg_size(proto);
    if capacity < need {
        return (need, None);
    }
    codec::get_reply(&get_wg(proto, sock, bound_port), capacity, false)
}

/// What the configuration protocol's `get=1` reports: root's SIOCGWG view; anyone
/// else the port alone (the port the sockets are bound to while up).
pub fn uapi_get(
    proto: &Interface,
    sock: SocketConf,
    bound_port: Option<u16>,
    privileged: bool,
) -> InterfaceIo {
    if privileged {
        return get_wg(proto, sock, bound_port);
    }
    let port = bound_port.unwrap_or(sock.port);
    InterfaceIo {
        port: (port != 0).then_some(port),
        ..InterfaceIo::default()
    }
}

/// The size of root's SIOCGWG answer, counted from the peers without building it.
pub fn get_wg_size(proto: &Interface) -> u64 {
    let (peers, aips) = proto.config_counts();
    (abi::INTERFACE_IO_SIZE + peers * abi::PEER_IO_SIZE + aips * abi::AIP_IO_SIZE) as u64
}

/// The SIOCGWG view of an interface for a privileged caller (the caller trims it
/// for others with `codec::get_reply`).
/// `bound_port` is the port the sockets have while the interface is up.
pub fn get_wg(proto: &Interface, sock: SocketConf, bound_port: Option<u16>) -> InterfaceIo {
    InterfaceIo {
        peers: proto
            .peer_ids()
            .into_iter()
            .filter_map(|id| get_wg_peer(proto, id))
            .collect(),
        ..get_wg_header(proto, sock, bound_port)
    }
}

/// [`get_wg`] without the peers (root's view of the interface part).
pub fn get_wg_header(proto: &Interface, sock: SocketConf, bound_port: Option<u16>) -> InterfaceIo {
    let private = proto.private_key().map(Key);
    let public = proto.public_key().filter(|_| private.is_some()).map(Key);
    let bound_port = bound_port.unwrap_or(sock.port);
    InterfaceIo {
        public,
        private,
        port: (bound_port != 0).then_some(bound_port),
        rtable: (sock.rtable != 0).then_some(sock.rtable as i32),
        replace_peers: false,
        peers: Vec::new(),
    }
}

/// The SIOCGWG record of one peer.
pub fn get_wg_peer(proto: &Interface, id: PeerId) -> Option<PeerIo> {
    proto.peer_info(id).map(|info| PeerIo {
        protocol_version: WG_PROTOCOL_VERSION,
        public: Some(Key(info.public)),
        // As if_wg.c: the PSK is copied out (ifconfig prints only its presence).
        psk: proto.psk(info.id).map(Key),
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
}

#[cfg(test)]
mod tests {
    //! SIOCSWG/SIOCGWG semantics on a bare engine, with the socket rebind observed
    //! through the closure: no root, devices or sockets.
    use super::*;
    use crate::driver::link::SystemClock;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::time::Instant;

    struct If {
        proto: Interface,
        sock: SocketConf,
        names: EndpointNames,
        rebinds: Vec<(u32, u16)>,
    }

    fn key(b: u8) -> Key {
        Key([b; 32])
    }

    fn public_of(b: u8) -> Key {
        let mut p = Interface::new(Instant::now(), &mut StdRng::seed_from_u64(0));
        p.set_private_key(Some(&[b; 32]), Instant::now());
        Key(p.public_key().unwrap())
    }

    fn peer(public: Key) -> PeerIo {
        PeerIo {
            public: Some(public),
            ..PeerIo::default()
        }
    }

    fn aip(a: [u8; 4], cidr: u8) -> AipIo {
        AipIo {
            addr: IpAddr::V4(Ipv4Addr::from(a)),
            cidr,
        }
    }

    fn with_peers(peers: Vec<PeerIo>) -> InterfaceIo {
        InterfaceIo {
            peers,
            ..InterfaceIo::default()
        }
    }

    impl If {
        fn new() -> If {
            If {
                proto: Interface::new(Instant::now(), &mut StdRng::seed_from_u64(1)),
                sock: SocketConf::default(),
                names: EndpointNames::default(),
                rebinds: Vec::new(),
            }
        }

        /// Applies `req`; `bind_error` makes the rebind fail with that errno.
        fn set(&mut self, req: &InterfaceIo, ids: &mut PeerId, bind_error: Option<i32>) -> i32 {
            let rebinds = &mut self.rebinds;
            let r = set_wg(
                &mut self.proto,
                &mut self.sock,
                &mut self.names,
                req,
                ids,
                |rtable, port| {
                    rebinds.push((rtable, port));
                    // Port 0: the twin kernel picks 40000.
                    let got = if port == 0 { 40000 } else { port };
                    bind_error.map_or(Ok(got), |e| Err(io::Error::from_raw_os_error(e)))
                },
                &mut Env {
                    clock: &SystemClock,
                    rng: &mut StdRng::seed_from_u64(2),
                    log: &(),
                },
            );
            r.err().unwrap_or(0)
        }

        fn get(&self) -> InterfaceIo {
            get_wg(&self.proto, self.sock, None)
        }

        fn publics(&self) -> Vec<Key> {
            self.get()
                .peers
                .into_iter()
                .map(|p| p.public.unwrap())
                .collect()
        }
    }

    #[test]
    fn peer_fields_round_trip_through_get() {
        let mut w = If::new();
        let mut ids = 1;
        let mut p = peer(public_of(2));
        p.psk = Some(key(9));
        p.pka = Some(25);
        p.endpoint = Some("192.0.2.1:7111".parse().unwrap());
        p.description = Some("office".into());
        p.aips = vec![aip([10, 0, 0, 0], 24), aip([10, 1, 2, 3], 32)];
        let req = InterfaceIo {
            private: Some(key(1)),
            port: Some(7111),
            peers: vec![p],
            ..InterfaceIo::default()
        };
        assert_eq!(w.set(&req, &mut ids, None), 0);
        assert_eq!(w.rebinds, vec![(0, 7111)]);
        let got = w.get();
        assert_eq!(got.port, Some(7111));
        assert_eq!(got.rtable, None);
        // Clamped (spec §1): low 3 bits of byte 0 clear, byte 31 = 0b01xxxxxx.
        let mut clamped = [1u8; 32];
        (clamped[0], clamped[31]) = (0x00, 0x41);
        assert_eq!(got.private, Some(Key(clamped)));
        assert_eq!(got.public, Some(public_of(1)));
        let g = &got.peers[0];
        assert_eq!(g.protocol_version, 1);
        assert_eq!(g.psk, Some(key(9)));
        assert_eq!(g.pka, Some(25));
        assert_eq!(g.endpoint, req.peers[0].endpoint);
        assert_eq!(g.description.as_deref(), Some("office"));
        // Newest first, as the kernel's head-inserted list.
        assert_eq!(g.aips, vec![aip([10, 1, 2, 3], 32), aip([10, 0, 0, 0], 24)]);
        assert_eq!(ids, 2, "one id taken from the global counter");
    }

    #[test]
    fn get_reply_matches_the_full_model_for_root_and_others() {
        let mut w = If::new();
        let mut ids = 1;
        let mut peers = Vec::new();
        for b in 2..6u8 {
            let mut p = peer(public_of(b));
            p.psk = Some(key(b));
            p.aips = (0..b).map(|k| aip([10, b, k, 0], 24)).collect();
            peers.push(p);
        }
        let req = InterfaceIo {
            private: Some(key(1)),
            port: Some(7111),
            rtable: Some(3),
            peers,
            ..InterfaceIo::default()
        };
        assert_eq!(w.set(&req, &mut ids, None), 0);
        let full = get_wg(&w.proto, w.sock, None);
        // Built a peer at a time, as wgd does for a large interface: the same bytes.
        let need = get_wg_size(&w.proto) as usize;
        let mut sliced = codec::encode_header_start(
            &get_wg_header(&w.proto, w.sock, None),
            full.peers.len(),
            need,
        );
        for id in w.proto.peer_ids() {
            codec::encode_peer_append(
                &mut sliced,
                &get_wg_peer(&w.proto, id).unwrap(),
                codec::Dir::Get,
            );
        }
        assert_eq!(sliced.len(), need);
        assert_eq!(&sliced[..], &codec::encode(&full, codec::Dir::Get)[..]);
        for privileged in [true, false] {
            for cap in [0, 80, 100, codec::needed_size(&full) as u64, 1 << 20] {
                let want = codec::get_reply(&full, cap, !privileged);
                let got = get_wg_reply(&w.proto, w.sock, None, cap, privileged);
                assert_eq!(got.0, want.0, "size, privileged {privileged} cap {cap}");
                assert_eq!(
                    got.1.as_deref(),
                    want.1.as_deref(),
                    "data, privileged {privileged} cap {cap}"
                );
            }
        }
    }

    /// wgd's errno for a bad SIOCSWG buffer: an allowed IP of a family wg_aip_add
    /// does not know is EAFNOSUPPORT, anything else EINVAL; a good buffer decodes
    /// to the model that was encoded.
    #[test]
    fn decode_set_wg_answers_wgds_errnos() {
        let mut p = peer(public_of(2));
        p.aips = vec![aip([10, 0, 0, 0], 8)];
        let req = InterfaceIo {
            port: Some(7111),
            peers: vec![p],
            ..InterfaceIo::default()
        };
        let good = codec::encode(&req, codec::Dir::Set).to_vec();
        assert!(decode_set_wg(good.clone()) == Ok(req));
        let aip0 = abi::INTERFACE_IO_SIZE + abi::PEER_IO_SIZE;
        let mut family = good.clone();
        family[aip0 + abi::aip_io::AF] = 10; // Linux's AF_INET6 is not OpenBSD's
        assert!(decode_set_wg(family) == Err(libc::EAFNOSUPPORT));
        let mut cidr = good.clone();
        cidr[aip0 + abi::aip_io::CIDR] = 33;
        assert!(decode_set_wg(cidr) == Err(libc::EINVAL));
        assert!(decode_set_wg(good[..40].to_vec()) == Err(libc::EINVAL));
        assert!(decode_set_wg(Vec::new()) == Err(libc::EINVAL));
    }

    /// A caller other than root is admitted to SIOCGWG (driver/admit.rs) and
    /// answered the port and rtable alone: no key, no peer, whatever the capacity.
    #[test]
    fn siocgwg_for_others_holds_no_key_and_no_peer() {
        let mut w = If::new();
        let mut ids = 1;
        let mut p = peer(public_of(2));
        p.psk = Some(key(9));
        p.aips = vec![aip([10, 0, 0, 0], 8)];
        let req = InterfaceIo {
            private: Some(key(1)),
            port: Some(7111),
            rtable: Some(3),
            peers: vec![p],
            ..InterfaceIo::default()
        };
        assert_eq!(w.set(&req, &mut ids, None), 0);
        for cap in [80, 1 << 20] {
            let (size, data) = get_wg_reply(&w.proto, w.sock, None, cap, false);
            assert_eq!(size, abi::INTERFACE_IO_SIZE as u64, "cap {cap}");
            let m = codec::decode(&data.unwrap(), codec::Dir::Get).unwrap();
            assert!(m.private.is_none() && m.public.is_none(), "cap {cap}");
            assert!(m.peers.is_empty(), "cap {cap}");
            assert_eq!((m.port, m.rtable), (Some(7111), Some(3)));
        }
        // The configuration protocol's get: the port alone for others.
        let view = uapi_get(&w.proto, w.sock, Some(7222), false);
        assert!(
            view == InterfaceIo {
                port: Some(7222),
                ..InterfaceIo::default()
            }
        );
        assert!(uapi_get(&w.proto, w.sock, None, false).port == Some(7111));
        let root = uapi_get(&w.proto, w.sock, None, true);
        assert!(root.private.is_some() && root.peers.len() == 1);
    }

    #[test]
    fn a_bad_rtable_changes_nothing() {
        let mut w = If::new();
        let mut ids = 1;
        let req = InterfaceIo {
            private: Some(key(1)),
            peers: vec![peer(public_of(2))],
            ..InterfaceIo::default()
        };
        assert_eq!(w.set(&req, &mut ids, None), 0);
        let before = w.get();
        for rtable in [256, -1, i32::MAX] {
            let bad = InterfaceIo {
                private: Some(key(9)),
                replace_peers: true,
                port: Some(9999),
                rtable: Some(rtable),
                ..InterfaceIo::default()
            };
            assert_eq!(w.set(&bad, &mut ids, None), libc::EINVAL);
            assert_eq!(w.get(), before, "rtable {rtable}");
        }
        assert_eq!(w.rebinds, vec![], "no bind was tried");
    }

    #[test]
    fn zero_psk_and_zero_pka_remove_them() {
        let mut w = If::new();
        let mut ids = 1;
        let mut p = peer(public_of(2));
        p.psk = Some(key(9));
        p.pka = Some(25);
        w.set(&with_peers(vec![p.clone()]), &mut ids, None);
        p.psk = Some(Key::ZERO);
        p.pka = Some(0);
        w.set(&with_peers(vec![p]), &mut ids, None);
        let g = &w.get().peers[0];
        assert_eq!((g.psk.clone(), g.pka), (None, None));
    }

    #[test]
    fn replace_peers_remove_and_update_only() {
        let mut w = If::new();
        let mut ids = 1;
        let req = |peers| InterfaceIo {
            peers,
            ..Default::default()
        };
        w.set(
            &req(vec![peer(public_of(2)), peer(public_of(3))]),
            &mut ids,
            None,
        );
        assert_eq!(w.publics(), vec![public_of(2), public_of(3)]);
        let mut gone = peer(public_of(2));
        gone.remove = true;
        let mut only = peer(public_of(4));
        only.update_only = true;
        w.set(&req(vec![gone, only]), &mut ids, None);
        assert_eq!(
            w.publics(),
            vec![public_of(3)],
            "removed; update-only made nothing"
        );
        let mut r = req(vec![peer(public_of(5))]);
        r.replace_peers = true;
        w.set(&r, &mut ids, None);
        assert_eq!(w.publics(), vec![public_of(5)]);
        assert_eq!(ids, 4, "ids are never reused");
    }

    #[test]
    fn own_key_as_peer_is_ignored_and_new_key_evicts_matching_peer() {
        let mut w = If::new();
        let mut ids = 1;
        let req = InterfaceIo {
            private: Some(key(1)),
            peers: vec![peer(public_of(1)), peer(public_of(2))],
            ..Default::default()
        };
        w.set(&req, &mut ids, None);
        assert_eq!(w.publics(), vec![public_of(2)]);
        let now_mine = InterfaceIo {
            private: Some(key(2)),
            ..Default::default()
        };
        w.set(&now_mine, &mut ids, None);
        assert!(w.publics().is_empty());
    }

    #[test]
    fn replace_aips_keeps_only_the_new_ones() {
        let mut w = If::new();
        let mut ids = 1;
        let mut p = peer(public_of(2));
        p.aips = vec![aip([10, 0, 0, 1], 32)];
        w.set(&with_peers(vec![p.clone()]), &mut ids, None);
        p.replace_aips = true;
        p.aips = vec![aip([10, 0, 0, 2], 32)];
        w.set(&with_peers(vec![p]), &mut ids, None);
        assert_eq!(w.get().peers[0].aips, vec![aip([10, 0, 0, 2], 32)]);
    }

    #[test]
    fn the_port_the_kernel_chose_is_kept() {
        let mut w = If::new();
        let mut ids = 1;
        w.sock.port = 7111;
        let to_zero = InterfaceIo {
            port: Some(0),
            ..Default::default()
        };
        assert_eq!(w.set(&to_zero, &mut ids, None), 0);
        assert_eq!(w.sock.port, 40000);
        assert_eq!(w.get().port, Some(40000));
        // Asking for the port it has is no change: no rebind.
        let same = InterfaceIo {
            port: Some(40000),
            ..Default::default()
        };
        assert_eq!(w.set(&same, &mut ids, None), 0);
        assert_eq!(w.rebinds, vec![(0, 0)]);
    }

    #[test]
    fn a_removal_record_takes_one_prefix_and_creates_nothing() {
        let mut w = If::new();
        let mut ids = 1;
        let mut p = peer(public_of(2));
        p.aips = vec![
            aip([10, 0, 0, 0], 24),
            aip([10, 1, 0, 0], 24),
            aip([10, 2, 0, 0], 24),
        ];
        let mut q = peer(public_of(3));
        q.aips = vec![aip([10, 9, 0, 0], 16)];
        w.set(&with_peers(vec![p, q]), &mut ids, None);
        let removal = |public, aips| PeerIo {
            update_only: true,
            remove_aips: true,
            aips,
            ..peer(public)
        };
        let req = with_peers(vec![
            // Host bits ignored; another peer's prefix is not taken through this one.
            removal(
                public_of(2),
                vec![aip([10, 1, 0, 9], 24), aip([10, 9, 0, 0], 16)],
            ),
            // Not a peer: nothing is created.
            removal(public_of(4), vec![aip([10, 0, 0, 0], 24)]),
        ]);
        assert_eq!(w.set(&req, &mut ids, None), 0);
        let g = w.get();
        assert_eq!(g.peers.len(), 2);
        assert_eq!(
            g.peers[0].aips,
            vec![aip([10, 2, 0, 0], 24), aip([10, 0, 0, 0], 24)]
        );
        assert_eq!(g.peers[1].aips, vec![aip([10, 9, 0, 0], 16)]);
    }

    #[test]
    fn an_unspecified_endpoint_clears_it() {
        let mut w = If::new();
        let mut ids = 1;
        let mut p = peer(public_of(2));
        p.endpoint = Some("192.0.2.1:7111".parse().unwrap());
        w.set(&with_peers(vec![p.clone()]), &mut ids, None);
        assert_eq!(w.get().peers[0].endpoint, p.endpoint);
        // Without HAS_ENDPOINT nothing changes; with it and AF_UNSPEC, it is gone.
        p.endpoint = None;
        w.set(&with_peers(vec![p.clone()]), &mut ids, None);
        assert!(w.get().peers[0].endpoint.is_some());
        p.clear_endpoint = true;
        w.set(&with_peers(vec![p]), &mut ids, None);
        assert_eq!(w.get().peers[0].endpoint, None);
    }

    /// openbsd-wg-interface spec §1.9's HAS_PKA quirk: a peer that existed when the interface went down
    /// keeps its interval until up; a peer created since takes a new one.
    #[test]
    fn pka_is_ignored_for_peers_that_were_there_at_down() {
        let mut w = If::new();
        let mut ids = 1;
        let now = Instant::now();
        let mut old = peer(public_of(2));
        old.pka = Some(10);
        w.set(&with_peers(vec![old.clone()]), &mut ids, None);
        w.proto.up(now);
        w.proto.down(now);
        old.pka = Some(25);
        let mut new = peer(public_of(3));
        new.pka = Some(25);
        w.set(&with_peers(vec![old.clone(), new]), &mut ids, None);
        let pkas: Vec<_> = w.get().peers.iter().map(|p| p.pka).collect();
        assert_eq!(pkas, vec![Some(10), Some(25)]);
        w.proto.up(now);
        w.set(&with_peers(vec![old]), &mut ids, None);
        assert_eq!(w.get().peers[0].pka, Some(25));
    }

    #[test]
    fn versions_up_to_ours_are_accepted_even_negative_ones() {
        // if_wg.c refuses only `> 1`: 1 (ours), 0 (latest) and negative ones pass.
        for (i, v) in [1, 0, -1].into_iter().enumerate() {
            let mut w = If::new();
            let mut ids = 1;
            let mut p = peer(public_of(2 + i as u8));
            p.protocol_version = v;
            assert_eq!(
                w.set(&with_peers(vec![p]), &mut ids, None),
                0,
                "version {v}"
            );
            assert_eq!(w.publics(), vec![public_of(2 + i as u8)], "version {v}");
        }
    }

    #[test]
    fn removing_an_unknown_peer_creates_nothing() {
        let mut w = If::new();
        let mut ids = 1;
        w.set(&with_peers(vec![peer(public_of(2))]), &mut ids, None);
        let next = ids;
        let gone = PeerIo {
            remove: true,
            ..peer(public_of(3))
        };
        assert_eq!(w.set(&with_peers(vec![gone]), &mut ids, None), 0);
        assert_eq!(w.publics(), vec![public_of(2)]);
        // Not even for a moment: no peer id was used up (OpenBSD's counter).
        assert_eq!(ids, next);
        let gone = PeerIo {
            remove: true,
            ..peer(public_of(2))
        };
        assert_eq!(w.set(&with_peers(vec![gone]), &mut ids, None), 0);
        assert!(w.publics().is_empty());
    }

    #[test]
    fn a_prefix_moves_to_its_new_peer_with_the_bytes_first_given() {
        let mut w = If::new();
        let mut ids = 1;
        let mut a = peer(public_of(2));
        a.aips = vec![aip([10, 6, 0, 7], 24), aip([10, 9, 0, 1], 32)];
        w.set(&with_peers(vec![a]), &mut ids, None);
        let mut b = peer(public_of(3));
        b.aips = vec![aip([10, 6, 0, 0], 24)];
        w.set(&with_peers(vec![b]), &mut ids, None);
        let g = w.get();
        assert_eq!(g.peers[0].aips, vec![aip([10, 9, 0, 1], 32)]);
        assert_eq!(g.peers[1].aips, vec![aip([10, 6, 0, 7], 24)]);
    }

    #[test]
    fn errors_stop_processing_and_keep_earlier_changes() {
        let mut w = If::new();
        let mut ids = 1;
        let mut bad = peer(public_of(3));
        bad.protocol_version = 2;
        let req = InterfaceIo {
            peers: vec![peer(public_of(2)), bad, peer(public_of(4))],
            ..Default::default()
        };
        assert_eq!(w.set(&req, &mut ids, None), libc::EPFNOSUPPORT);
        assert_eq!(w.publics(), vec![public_of(2)], "like if_wg.c: not atomic");

        let mut bad_aip = peer(public_of(5));
        bad_aip.aips = vec![aip([10, 0, 0, 0], 33)];
        let req = InterfaceIo {
            peers: vec![bad_aip],
            ..Default::default()
        };
        assert_eq!(w.set(&req, &mut ids, None), libc::EINVAL);
    }

    #[test]
    fn port_and_rtable_rebind_only_on_change_and_failures_keep_them() {
        let mut w = If::new();
        let mut ids = 1;
        let port = |p| InterfaceIo {
            port: Some(p),
            ..Default::default()
        };
        assert_eq!(w.set(&port(7111), &mut ids, None), 0);
        assert_eq!(w.set(&port(7111), &mut ids, None), 0);
        assert_eq!(w.rebinds, vec![(0, 7111)], "no rebind without a change");
        let in_use = InterfaceIo {
            port: Some(7222),
            peers: vec![peer(public_of(2))],
            ..Default::default()
        };
        assert_eq!(
            w.set(&in_use, &mut ids, Some(libc::EADDRINUSE)),
            libc::EADDRINUSE
        );
        assert_eq!(w.sock.port, 7111);
        assert!(w.publics().is_empty(), "nothing after the failed bind");
        let rt = InterfaceIo {
            rtable: Some(256),
            ..Default::default()
        };
        assert_eq!(w.set(&rt, &mut ids, None), libc::EINVAL);
        let rt = InterfaceIo {
            rtable: Some(3),
            ..Default::default()
        };
        assert_eq!(w.set(&rt, &mut ids, None), 0);
        assert_eq!(
            w.sock,
            SocketConf {
                port: 7111,
                rtable: 3
            }
        );
        assert_eq!(w.get().rtable, Some(3));
        assert_eq!(get_wg(&w.proto, w.sock, Some(40000)).port, Some(40000));
    }

    mod random_requests {
        use super::*;
        use crate::proto::allowedips::masked;
        use proptest::prelude::*;

        /// Peer records over a small key space, so that requests meet the same peers,
        /// the interface's own key and each other's prefixes.
        fn arb_peer() -> impl Strategy<Value = PeerIo> {
            (
                (1u8..6, -1i32..3, any::<(bool, bool, bool, bool)>()),
                (
                    proptest::option::of(0u16..3),
                    proptest::option::of(0u8..2),
                    proptest::option::of("[a-z]{0,70}"),
                ),
                proptest::collection::vec((0u8..4, 0u8..=32), 0..4),
            )
                .prop_map(
                    |((k, version, (remove, update, replace, clear)), (pka, psk, d), aips)| {
                        PeerIo {
                            protocol_version: version,
                            public: Some(public_of(k)),
                            psk: psk.map(key),
                            pka,
                            clear_endpoint: clear,
                            replace_aips: replace,
                            remove,
                            update_only: update,
                            description: d,
                            aips: aips
                                .into_iter()
                                .map(|(b, cidr)| aip([10, b, 0, b], cidr))
                                .collect(),
                            ..PeerIo::default()
                        }
                    },
                )
        }

        fn arb_request() -> impl Strategy<Value = InterfaceIo> {
            (
                // 0: the all-zero key, which clears the identity.
                proptest::option::of(0u8..6),
                any::<bool>(),
                proptest::collection::vec(arb_peer(), 0..4),
            )
                .prop_map(|(private, replace_peers, peers)| InterfaceIo {
                    private: private.map(key),
                    replace_peers,
                    peers,
                    ..InterfaceIo::default()
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            /// Any sequence of SIOCSWG requests: an errno the spec names or success,
            /// and a state SIOCGWG can describe: distinct peers, never our own key,
            /// every prefix owned by one peer only.
            #[test]
            fn any_requests_keep_a_consistent_state(reqs in proptest::collection::vec(arb_request(), 1..6)) {
                let mut w = If::new();
                let mut ids = 1;
                for r in &reqs {
                    let e = w.set(r, &mut ids, None);
                    prop_assert!([0, libc::EPFNOSUPPORT].contains(&e), "errno {e}");
                    let g = w.get();
                    let publics: Vec<Key> = g.peers.iter().map(|p| p.public.clone().unwrap()).collect();
                    let mut unique = publics.clone();
                    unique.sort_by_key(|k| k.0);
                    unique.dedup_by_key(|k| k.0);
                    prop_assert_eq!(unique.len(), publics.len());
                    if let Some(own) = &g.public {
                        prop_assert!(!publics.iter().any(|k| k.0 == own.0));
                    }
                    let mut prefixes: Vec<(IpAddr, u8)> = g
                        .peers
                        .iter()
                        .flat_map(|p| p.aips.iter().map(|a| (masked(a.addr, a.cidr), a.cidr)))
                        .collect();
                    let n = prefixes.len();
                    prefixes.sort();
                    prefixes.dedup();
                    prop_assert_eq!(prefixes.len(), n, "a prefix owned twice");
                }
            }
        }
    }

    #[test]
    fn endpoint_names_follow_the_endpoint_and_the_peer() {
        let mut f = If::new();
        let mut ids = 0;
        let ep: SocketAddr = "192.0.2.1:51820".parse().unwrap();
        let named = PeerIo {
            endpoint: Some(ep),
            endpoint_host: Some("peer.test".into()),
            ..peer(key(1))
        };
        assert_eq!(f.set(&with_peers(vec![named.clone()]), &mut ids, None), 0);
        let n = f.names.get(0).expect("the name is kept");
        assert_eq!((n.host.as_str(), n.port), ("peer.test", 51820));
        // The status shows the address only (OpenBSD has no field for a name).
        assert_eq!(f.get().peers[0].endpoint, Some(ep));
        assert_eq!(f.get().peers[0].endpoint_host, None);
        // A record without an endpoint leaves the name.
        let pka = PeerIo {
            pka: Some(25),
            ..peer(key(1))
        };
        assert_eq!(f.set(&with_peers(vec![pka]), &mut ids, None), 0);
        assert!(f.names.get(0).is_some());
        // An endpoint by address (OpenBSD's request) forgets it.
        let numeric = PeerIo {
            endpoint: Some(ep),
            ..peer(key(1))
        };
        assert_eq!(f.set(&with_peers(vec![numeric]), &mut ids, None), 0);
        assert!(f.names.get(0).is_none());
        // So do the peer's removal and REPLACE_PEERS.
        assert_eq!(f.set(&with_peers(vec![named.clone()]), &mut ids, None), 0);
        let gone = PeerIo {
            remove: true,
            ..peer(key(1))
        };
        assert_eq!(f.set(&with_peers(vec![gone]), &mut ids, None), 0);
        assert!(f.names.is_empty());
        assert_eq!(f.set(&with_peers(vec![named]), &mut ids, None), 0);
        assert!(!f.names.is_empty());
        let replace = InterfaceIo {
            replace_peers: true,
            ..InterfaceIo::default()
        };
        assert_eq!(f.set(&replace, &mut ids, None), 0);
        assert!(f.names.is_empty());
    }
}
