//! The parameter list after `wgifconfig wgN [inet|inet6]`, consumed left to right
//! as OpenBSD ifconfig(8) does: generic verbs are handed to the caller at once
//! (they act while parsing), wg verbs build one SIOCSWG request bound to the
//! latest `wgpeer`, and the address verbs build the SIOCDIFADDR/SIOCAIFADDR done
//! last. The first bad argument stops everything after it.

use super::addr::{classful_len, inet_net_pton4, mask_len, parse_aip, parse_v4};
use super::key::load_key;
use super::resolve::Resolve;
use super::strtonum::strtonum;
use crate::ioctl::codec;
use crate::ioctl::model::{cut_description, InterfaceIo, Key, PeerIo};
use crate::ioctl::request::{Inet4Addr, Inet6Addr};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The address family named after the interface (default `inet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Af {
    Inet,
    Inet6,
}

/// A verb that issues its request while the arguments are being read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GenericOp {
    /// SIOCIFDESTROY.
    Destroy,
    /// SIOCSIFFLAGS with IFF_UP set / cleared.
    Up,
    Down,
    /// SIOCSIFFLAGS with IFF_DEBUG set / cleared.
    Debug,
    NoDebug,
    /// SIOCSIFMTU.
    Mtu(u32),
    /// SIOCSIFRDOMAIN (`-rdomain` is 0).
    Rdomain(u32),
    /// SIOCSIFDESCR (`-description` is the empty string).
    Description(String),
    /// `-inet` / `-inet6`: SIOCIFAFDETACH, every address of the family goes.
    RemoveAf(Af),
}

/// The address requests issued after the SIOCSWG, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrOp {
    /// SIOCDIFADDR without an address: the interface's first inet address
    /// (replacing the primary address); "no address" is not an error.
    DelFirst4,
    /// SIOCDIFADDR of this address (`delete`).
    Del4(Ipv4Addr),
    /// SIOCDIFADDR_IN6 of this address.
    Del6(Ipv6Addr),
    /// SIOCAIFADDR.
    Add4(Inet4Addr),
    /// SIOCAIFADDR_IN6.
    Add6(Inet6Addr),
}

/// What is left to do once every argument was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// At least one parameter was given (no status is printed then).
    pub acted: bool,
    /// The SIOCSWG request, if any wg verb was given.
    pub wg: Option<InterfaceIo>,
    pub addr: Vec<AddrOp>,
}

#[derive(Default)]
struct AddrState {
    setaddr: u32,
    doalias: i8,
    clearaddr: bool,
    newaddr: bool,
    explicit_prefix: bool,
    addr: Option<std::net::IpAddr>,
    rid: Option<std::net::IpAddr>,
    prefix: Option<u8>,
    broadcast: Option<Ipv4Addr>,
    scope_id: u32,
}

struct State<'a> {
    af: Af,
    wg: Option<InterfaceIo>,
    peer: Option<usize>,
    /// The record of the current peer's `-wgaip` prefixes (WG_PEER_REMOVE_AIPS),
    /// after the peer's own record.
    removal: Option<usize>,
    a: AddrState,
    resolver: &'a dyn Resolve,
}

impl State<'_> {
    fn wg(&mut self) -> &mut InterfaceIo {
        self.wg.get_or_insert_with(InterfaceIo::default)
    }

    fn peer(&mut self, prefix: &str) -> Result<&mut PeerIo, String> {
        let Some(i) = self.peer else {
            return Err(format!("{prefix}: wgpeer not set"));
        };
        Ok(&mut self.wg().peers[i])
    }

    fn add_peer(&mut self, key: &str, remove: bool) -> Result<(), String> {
        let public = load_key("wgpeer", key)?;
        let wg = self.wg();
        wg.peers.push(PeerIo {
            public: Some(public),
            remove,
            ..PeerIo::default()
        });
        self.peer = Some(wg.peers.len() - 1);
        self.removal = None;
        Ok(())
    }

    /// `-wgaip`: the prefix goes to a second record of the current peer, flagged
    /// WG_PEER_REMOVE_AIPS and WG_PEER_UPDATE (wg.4): it is applied after the peer's
    /// own record and never creates the peer.
    fn remove_aip(&mut self, aip: crate::ioctl::model::AipIo) -> Result<(), String> {
        let i = self.peer.ok_or("-wgaip: wgpeer not set")?;
        let removal = self.removal;
        let wg = self.wg();
        let r = match removal {
            Some(r) => r,
            None => {
                let public = wg.peers[i].public.clone();
                wg.peers.push(PeerIo {
                    public,
                    update_only: true,
                    remove_aips: true,
                    ..PeerIo::default()
                });
                let r = wg.peers.len() - 1;
                self.removal = Some(r);
                r
            }
        };
        self.wg().peers[r].aips.push(aip);
        Ok(())
    }

    /// setifaddr / setifdstaddr: a word that is no keyword.
    fn address(&mut self, word: &str) -> Result<(), String> {
        match self.a.setaddr {
            0 => {
                self.a.setaddr += 1;
                if self.a.doalias >= 0 {
                    self.a.newaddr = true;
                }
                if self.a.doalias == 0 {
                    self.a.clearaddr = true;
                }
                let as_addr = self.a.doalias >= 0;
                self.getaddr(word, as_addr)
            }
            1 => {
                self.a.setaddr += 1;
                // The destination shares the broadcast slot of the request.
                match self.af {
                    Af::Inet => {
                        self.a.broadcast =
                            Some(parse_v4(word).ok_or(format!("{word}: bad value"))?);
                        Ok(())
                    }
                    Af::Inet6 => {
                        // Point-to-point destinations do not apply to wg.
                        let (a, _) = split_scope(word);
                        a.parse::<Ipv6Addr>()
                            .map(|_| ())
                            .map_err(|_| format!("{a}: no address associated with name"))
                    }
                }
            }
            _ => Err(format!("{word}: bad value")),
        }
    }

    /// in_getaddr / in6_getaddr for ADDR (`as_addr`) or RIDADDR.
    fn getaddr(&mut self, word: &str, as_addr: bool) -> Result<(), String> {
        match self.af {
            Af::Inet => {
                let a = if as_addr && word.contains('/') {
                    // in_getaddr: an address with a prefix goes through inet_net_pton.
                    let (a, n) = inet_net_pton4(word).ok_or(format!("{word}: bad value"))?;
                    self.a.prefix = Some(n);
                    self.a.explicit_prefix = true;
                    a
                } else {
                    parse_v4(word).ok_or(format!("{word}: bad value"))?
                };
                if as_addr {
                    self.a.addr = Some(a.into());
                } else {
                    self.a.rid = Some(a.into());
                }
                Ok(())
            }
            Af::Inet6 => {
                let mut s = word;
                if as_addr {
                    if let Some((a, len)) = word.split_once('/') {
                        let n = strtonum(len, 0, 128).map_err(|e| format!("prefix {len}: {e}"))?;
                        self.a.prefix = Some(n as u8);
                        self.a.explicit_prefix = true;
                        s = a;
                    }
                }
                let (a, scope) = split_scope(s);
                let a6: Ipv6Addr = a
                    .parse()
                    .map_err(|_| format!("{s}: no address associated with name"))?;
                if let Some(sc) = scope {
                    self.a.scope_id = sc
                        .parse()
                        .map_err(|_| format!("{s}: no address associated with name"))?;
                }
                if as_addr {
                    self.a.addr = Some(a6.into());
                } else {
                    self.a.rid = Some(a6.into());
                }
                Ok(())
            }
        }
    }

    fn notealias(&mut self, param: i8) {
        if self.a.setaddr > 0 && self.a.doalias == 0 && param < 0 {
            self.a.rid = self.a.addr;
        }
        self.a.doalias = param;
        if param < 0 {
            self.a.clearaddr = true;
            self.a.newaddr = false;
        } else {
            self.a.clearaddr = false;
        }
    }

    fn finish_addr(&mut self) -> Vec<AddrOp> {
        let mut ops = Vec::new();
        if self.af == Af::Inet6 && !self.a.explicit_prefix {
            self.a.prefix = Some(64);
        }
        if self.a.clearaddr {
            match (self.af, self.a.rid) {
                (Af::Inet, Some(std::net::IpAddr::V4(a))) => ops.push(AddrOp::Del4(a)),
                (Af::Inet, _) => ops.push(AddrOp::DelFirst4),
                (Af::Inet6, Some(std::net::IpAddr::V6(a))) => ops.push(AddrOp::Del6(a)),
                // An unspecified IPv6 address names no address: nothing to delete.
                (Af::Inet6, _) => {}
            }
        }
        if self.a.newaddr {
            match self.a.addr {
                Some(std::net::IpAddr::V4(a)) => ops.push(AddrOp::Add4(Inet4Addr {
                    addr: a,
                    prefixlen: self.a.prefix.unwrap_or_else(|| classful_len(a)),
                    broadcast: self.a.broadcast,
                    dest: None,
                })),
                Some(std::net::IpAddr::V6(a)) => ops.push(AddrOp::Add6(Inet6Addr {
                    addr: a,
                    prefixlen: self.a.prefix.unwrap_or(64),
                    scope_id: self.a.scope_id,
                })),
                None => {}
            }
        }
        ops
    }
}

fn split_scope(s: &str) -> (&str, Option<&str>) {
    match s.split_once('%') {
        Some((a, sc)) => (a, Some(sc)),
        None => (s, None),
    }
}

fn arg<'a>(args: &'a [String], i: usize, verb: &str) -> Result<&'a str, String> {
    args.get(i + 1)
        .map(String::as_str)
        .ok_or_else(|| format!("'{verb}' requires argument"))
}

/// Reads `args` (the parameters after the interface name and the optional address
/// family). Each generic verb is passed to `act` the moment it is read; an `Err`
/// from `act` stops the parse with that message. Errors are the text printed
/// after `wgifconfig: ` (exit status 1).
pub fn parse(
    args: &[String],
    af: Af,
    resolver: &dyn Resolve,
    act: &mut dyn FnMut(GenericOp) -> Result<(), String>,
) -> Result<Plan, String> {
    let mut st = State {
        af,
        wg: None,
        peer: None,
        removal: None,
        a: AddrState::default(),
        resolver,
    };
    let mut acted = false;
    let mut i = 0;
    while i < args.len() {
        let w = args[i].as_str();
        let mut consumed = 1;
        match w {
            "up" => act(GenericOp::Up)?,
            "down" => act(GenericOp::Down)?,
            "debug" => act(GenericOp::Debug)?,
            "-debug" => act(GenericOp::NoDebug)?,
            "destroy" => act(GenericOp::Destroy)?,
            "mtu" => {
                let v = arg(args, i, w)?;
                let n = strtonum(v, 0, i64::from(i32::MAX)).map_err(|e| format!("mtu {v}: {e}"))?;
                act(GenericOp::Mtu(n as u32))?;
                consumed = 2;
            }
            "rdomain" => {
                let v = arg(args, i, w)?;
                let n = strtonum(v, 0, 255).map_err(|e| format!("rdomain {v}: {e}"))?;
                act(GenericOp::Rdomain(n as u32))?;
                consumed = 2;
            }
            "-rdomain" => act(GenericOp::Rdomain(0))?,
            "description" | "descr" => {
                let v = arg(args, i, w)?;
                act(GenericOp::Description(v.to_string()))?;
                consumed = 2;
            }
            "-description" | "-descr" => act(GenericOp::Description(String::new()))?,
            "-inet" => act(GenericOp::RemoveAf(Af::Inet))?,
            "-inet6" => act(GenericOp::RemoveAf(Af::Inet6))?,
            "alias" => st.notealias(1),
            "-alias" | "delete" => st.notealias(-1),
            "netmask" => {
                let v = arg(args, i, w)?;
                if st.af != Af::Inet {
                    return Err(format!("{v}: bad value"));
                }
                let m = parse_v4(v).ok_or(format!("{v}: bad value"))?;
                // The request carries a prefix length; a mask with holes cannot be kept.
                let n = mask_len(m).ok_or(format!("{v}: bad value"))?;
                st.a.prefix = Some(n);
                st.a.explicit_prefix = true;
                consumed = 2;
            }
            "broadcast" => {
                let v = arg(args, i, w)?;
                if st.af != Af::Inet {
                    return Err(format!("{v}: bad value"));
                }
                st.a.broadcast = Some(parse_v4(v).ok_or(format!("{v}: bad value"))?);
                consumed = 2;
            }
            "prefixlen" => {
                let v = arg(args, i, w)?;
                let max = if st.af == Af::Inet { 32 } else { 128 };
                let n = strtonum(v, 0, max).map_err(|e| format!("prefix {v}: {e}"))?;
                st.a.prefix = Some(n as u8);
                st.a.explicit_prefix = true;
                consumed = 2;
            }
            "wgkey" => {
                let v = arg(args, i, w)?;
                let k = load_key("wgkey", v)?;
                st.wg().private = Some(k);
                consumed = 2;
            }
            "wgport" => {
                let v = arg(args, i, w)?;
                let n = strtonum(v, 0, 65535).map_err(|e| format!("wgport: {v}, {e}"))?;
                st.wg().port = Some(n as u16);
                consumed = 2;
            }
            "wgrtable" => {
                let v = arg(args, i, w)?;
                let n = strtonum(v, 0, 255).map_err(|e| format!("wgrtable {v}: {e}"))?;
                st.wg().rtable = Some(n as i32);
                consumed = 2;
            }
            "-wgpeerall" => st.wg().replace_peers = true,
            "wgpeer" | "-wgpeer" => {
                let v = arg(args, i, w)?;
                st.add_peer(v, w == "-wgpeer")?;
                consumed = 2;
            }
            "wgpsk" => {
                let v = arg(args, i, w)?;
                st.peer("wgpsk")?;
                let k = load_key("wgpsk", v)?;
                st.peer("wgpsk")?.psk = Some(k);
                consumed = 2;
            }
            "-wgpsk" => st.peer("wgpsk")?.psk = Some(Key::ZERO),
            "wgpka" => {
                let v = arg(args, i, w)?;
                st.peer("wgpka")?;
                let n = strtonum(v, 0, 43200).map_err(|e| format!("wgpka: {v}, {e}"))?;
                st.peer("wgpka")?.pka = Some(n as u16);
                consumed = 2;
            }
            "wgendpoint" => {
                if args.len() < i + 3 {
                    return Err(format!("'{w}' requires 2 arguments"));
                }
                st.peer("wgendpoint")?;
                let host = &args[i + 1];
                let ep = st.resolver.resolve(host, &args[i + 2])?;
                let p = st.peer("wgendpoint")?;
                p.endpoint = Some(ep);
                // A name (not an address literal) travels to wgd too, which resolves
                // it again when the peer stops answering (wg.4, WG_PEER_HAS_HOSTNAME).
                p.endpoint_host = (host.parse::<std::net::IpAddr>().is_err()
                    && codec::hostname_error(host).is_none())
                .then(|| host.to_string());
                consumed = 3;
            }
            "wgaip" => {
                let v = arg(args, i, w)?;
                st.peer("wgaip")?;
                let aip = parse_aip(v).ok_or_else(|| "wgaip: bad address".to_string())?;
                let p = st.peer("wgaip")?;
                p.replace_aips = true;
                p.aips.push(aip);
                consumed = 2;
            }
            "-wgaip" => {
                let v = arg(args, i, w)?;
                st.peer("-wgaip")?;
                let aip = parse_aip(v).ok_or_else(|| "-wgaip: bad address".to_string())?;
                st.remove_aip(aip)?;
                consumed = 2;
            }
            "wgdescr" | "wgdescription" => {
                let v = arg(args, i, w)?;
                st.peer("wgdescr")?.description = Some(cut_description(v).to_string());
                consumed = 2;
            }
            "-wgdescr" | "-wgdescription" => {
                st.peer("wgdescr")?.description = Some(String::new());
            }
            _ => st.address(w)?,
        }
        acted = true;
        i += consumed;
    }
    let addr = st.finish_addr();
    Ok(Plan {
        acted,
        wg: st.wg,
        addr,
    })
}

/// [`parse`] collecting the generic verbs instead of acting on them: the verbs
/// read before the end or the first error, and the outcome.
pub fn parse_collect(
    args: &[String],
    af: Af,
    resolver: &dyn Resolve,
) -> (Vec<GenericOp>, Result<Plan, String>) {
    let mut ops = Vec::new();
    let r = parse(args, af, resolver, &mut |op| {
        ops.push(op);
        Ok(())
    });
    (ops, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    struct NoDns;
    impl Resolve for NoDns {
        fn resolve(&self, host: &str, port: &str) -> Result<SocketAddr, String> {
            format!("{host}:{port}")
                .parse()
                .map_err(|_| "no address associated with name".into())
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(args in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("wgpeer".to_string()),
                proptest::strategy::Just("wgaip".to_string()),
                proptest::strategy::Just("-wgaip".to_string()),
                proptest::strategy::Just("wgendpoint".to_string()),
                proptest::strategy::Just("wgpka".to_string()),
                proptest::strategy::Just("netmask".to_string()),
                proptest::strategy::Just("delete".to_string()),
                "\\PC{0,12}",
            ], 0..8), six in proptest::bool::ANY) {
            let af = if six { Af::Inet6 } else { Af::Inet };
            let _ = parse_collect(&args, af, &NoDns);
        }
    }
}
