//! The kernel offloads the data path uses, each with a switch (`wgd -O name,...`
//! turns them off) because some kernels mishandle them; a kernel that refuses one
//! gets the fallback without being told twice.
//!
//! - `tun-tso`: the tun hands over TCP super-packets (IFF_VNET_HDR + TUNSETOFFLOAD
//!   TSO4/TSO6), split here into MTU-sized packets.
//! - `tun-uso`: the same for UDP (USO4/USO6, Linux 6.2), and coalesced UDP writes.
//! - `tun-gro`: decrypted TCP segments of one flow go to the tun as one write.
//! - `udp-gso`: a run of equal-sized datagrams to one endpoint is one send (UDP_SEGMENT).
//! - `udp-gro`: such runs arrive as one receive (UDP_GRO).
//! - `mmsg`: many datagrams per system call (recvmmsg/sendmmsg); off, one per call.

/// Which offloads may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offloads {
    pub tun_tso: bool,
    pub tun_uso: bool,
    pub tun_gro: bool,
    pub udp_gso: bool,
    pub udp_gro: bool,
    pub mmsg: bool,
}

/// The switches' names, in `Offloads` order.
pub const NAMES: [&str; 6] = [
    "tun-tso", "tun-uso", "tun-gro", "udp-gso", "udp-gro", "mmsg",
];

impl Default for Offloads {
    fn default() -> Self {
        Offloads::ALL
    }
}

impl Offloads {
    pub const ALL: Offloads = Offloads {
        tun_tso: true,
        tun_uso: true,
        tun_gro: true,
        udp_gso: true,
        udp_gro: true,
        mmsg: true,
    };
    pub const NONE: Offloads = Offloads {
        tun_tso: false,
        tun_uso: false,
        tun_gro: false,
        udp_gso: false,
        udp_gro: false,
        mmsg: false,
    };

    /// Whether the tun needs its virtio-net header at all.
    pub fn vnet_hdr(&self) -> bool {
        self.tun_tso || self.tun_uso || self.tun_gro
    }

    fn switch(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "tun-tso" => &mut self.tun_tso,
            "tun-uso" => &mut self.tun_uso,
            "tun-gro" => &mut self.tun_gro,
            "udp-gso" => &mut self.udp_gso,
            "udp-gro" => &mut self.udp_gro,
            "mmsg" => &mut self.mmsg,
            _ => return None,
        })
    }

    /// Turns off each offload named in the comma-separated `list` (`all`: every one).
    pub fn disable(&mut self, list: &str) -> Result<(), String> {
        for name in list.split(',') {
            if name == "all" {
                *self = Offloads::NONE;
                continue;
            }
            match self.switch(name) {
                Some(b) => *b = false,
                None => {
                    return Err(format!(
                        "-O {list}: unknown offload {name:?} (one of all, {})",
                        NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(())
    }

    /// The names of the offloads that are on, for the log.
    pub fn describe(&self) -> String {
        let on = [
            self.tun_tso,
            self.tun_uso,
            self.tun_gro,
            self.udp_gso,
            self.udp_gro,
            self.mmsg,
        ];
        let names: Vec<&str> = NAMES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(",")
        }
    }

    /// Every combination of the six switches (for tests).
    pub fn every_combination() -> impl Iterator<Item = Offloads> {
        (0u32..64).map(|bits| {
            let b = |i: u32| bits & (1 << i) != 0;
            Offloads {
                tun_tso: b(0),
                tun_uso: b(1),
                tun_gro: b(2),
                udp_gso: b(3),
                udp_gro: b(4),
                mmsg: b(5),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_by_name() {
        let mut o = Offloads::ALL;
        o.disable("tun-tso,udp-gro").unwrap();
        assert!(!o.tun_tso && !o.udp_gro && o.tun_uso && o.tun_gro && o.udp_gso && o.mmsg);
        assert_eq!(o.describe(), "tun-uso,tun-gro,udp-gso,mmsg");
        o.disable("all").unwrap();
        assert_eq!(o, Offloads::NONE);
        assert_eq!(o.describe(), "none");
        assert!(!o.vnet_hdr());
        let e = Offloads::default().disable("tso").unwrap_err();
        assert!(e.contains("unknown offload \"tso\""), "{e}");
        assert!(Offloads::default().disable("").is_err());
        for n in NAMES {
            let mut o = Offloads::ALL;
            o.disable(n).unwrap();
            assert_ne!(o, Offloads::ALL, "{n}");
        }
        assert_eq!(Offloads::every_combination().count(), 64);
    }
}
