//! Address syntax of the command line: inet_net_pton(3) for `wgaip` and
//! `A.B.C.D/len`, netmasks, and inet6 addresses with an optional `/len`.

use crate::ioctl::model::AipIo;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// inet_net_pton(AF_INET, …): dotted decimal with 1–4 octets and an optional
/// `/bits`; without bits the classful guess widened to the octets given.
pub fn inet_net_pton4(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, bits) = match s.split_once('/') {
        Some((a, b)) => {
            if b.is_empty() || b.len() > 2 || !b.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let n: u8 = b.parse().ok()?;
            if n > 32 {
                return None;
            }
            (a, Some(n))
        }
        None => (s, None),
    };
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in a.split('.') {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        octets[n] = part.parse::<u16>().ok().filter(|v| *v <= 255)? as u8;
        n += 1;
    }
    let bits = match bits {
        Some(b) => b,
        None => {
            let first = octets[0];
            let mut b: u8 = if first >= 240 {
                32
            } else if first >= 224 {
                8
            } else if first >= 192 {
                24
            } else if first >= 128 {
                16
            } else {
                8
            };
            if usize::from(b) < n * 8 {
                b = (n * 8) as u8;
            }
            if b == 8 && first == 224 {
                b = 4;
            }
            b
        }
    };
    Some((Ipv4Addr::from(octets), bits))
}

/// inet_net_pton(AF_INET6, …): an IPv6 address with an optional `/bits` (0..=128).
pub fn inet_net_pton6(s: &str) -> Option<(Ipv6Addr, u8)> {
    let (a, bits) = match s.split_once('/') {
        Some((a, b)) => {
            if b.is_empty() || b.len() > 3 || !b.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let n: u16 = b.parse().ok()?;
            if n > 128 {
                return None;
            }
            (a, n as u8)
        }
        None => (s, 128),
    };
    Some((a.parse().ok()?, bits))
}

/// `wgaip ADDR[/len]`: IPv4 first, then IPv6, host bits kept.
pub fn parse_aip(s: &str) -> Option<AipIo> {
    if let Some((a, cidr)) = inet_net_pton4(s) {
        return Some(AipIo {
            addr: IpAddr::V4(a),
            cidr,
        });
    }
    inet_net_pton6(s).map(|(a, cidr)| AipIo {
        addr: IpAddr::V6(a),
        cidr,
    })
}

/// inet_aton(3)'s forms used for addresses and masks here: dotted quad, or one
/// `0x` hex number (netmasks are often written `0xffffff00`).
pub fn parse_v4(s: &str) -> Option<Ipv4Addr> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 8 {
            return None;
        }
        return u32::from_str_radix(h, 16).ok().map(Ipv4Addr::from);
    }
    s.parse().ok()
}

/// The prefix length of a contiguous netmask.
pub fn mask_len(m: Ipv4Addr) -> Option<u8> {
    let v = u32::from(m);
    let ones = v.leading_ones();
    if v.checked_shl(ones).unwrap_or(0) != 0 {
        return None;
    }
    Some(ones as u8)
}

/// A prefix length as a netmask.
pub fn len_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

/// The classful default netmask the kernel applies when none is given.
pub fn classful_len(a: Ipv4Addr) -> u8 {
    let first = a.octets()[0];
    if first < 128 {
        8
    } else if first < 192 {
        16
    } else if first < 224 {
        24
    } else {
        32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_pton4() {
        let cases: &[(&str, Option<(&str, u8)>)] = &[
            ("10.0.0.2", Some(("10.0.0.2", 32))),
            ("10.0.0.0/8", Some(("10.0.0.0", 8))),
            ("10.0.0.1/8", Some(("10.0.0.1", 8))),
            ("10/8", Some(("10.0.0.0", 8))),
            ("10.1", Some(("10.1.0.0", 16))),
            ("192.168.5", Some(("192.168.5.0", 24))),
            ("0.0.0.0/0", Some(("0.0.0.0", 0))),
            ("10.0.0.0/33", None),
            ("10.0.0.256", None),
            ("10.0.0.1.1", None),
            ("10..1", None),
            ("10.0.0.0/", None),
            ("fd00::1", None),
        ];
        for (s, want) in cases {
            let want = want.map(|(a, b)| (a.parse().unwrap(), b));
            assert_eq!(inet_net_pton4(s), want, "{s}");
        }
    }

    #[test]
    fn aips() {
        assert_eq!(
            parse_aip("fd00::/64"),
            Some(AipIo {
                addr: "fd00::".parse().unwrap(),
                cidr: 64
            })
        );
        assert_eq!(parse_aip("fd00::2").unwrap().cidr, 128);
        assert_eq!(parse_aip("fd00::/129"), None);
        assert_eq!(parse_aip("bogus"), None);
    }

    #[test]
    fn masks() {
        assert_eq!(mask_len("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(mask_len("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(mask_len("255.255.255.255".parse().unwrap()), Some(32));
        assert_eq!(mask_len("255.0.255.0".parse().unwrap()), None);
        assert_eq!(
            parse_v4("0xffffff00"),
            Some("255.255.255.0".parse().unwrap())
        );
        assert_eq!(len_mask(24), 0xffffff00);
        assert_eq!(len_mask(0), 0);
        assert_eq!(len_mask(32), 0xffffffff);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,50}") {
            let _ = parse_aip(&s);
            let _ = parse_v4(&s);
        }
    }
}
