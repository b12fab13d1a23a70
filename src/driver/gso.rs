//! The virtio-net header that prefixes every tun read and write (IFF_VNET_HDR), and the
//! software segmentation of the TCP/UDP super-packets the kernel hands us when the tun
//! accepted TSO/USO: the tun → UDP direction, before encryption.
//!
//! Segmentation follows what the kernel's own GSO produces, so a peer sees the same
//! packets it would have seen without offloads.

use super::checksum;

/// Length of `struct virtio_net_hdr` (without the mergeable-buffers extension).
pub const VNET_HDR_LEN: usize = 10;

/// `flags`: the L4 checksum is partial: finish it from `csum_start`, store at `+csum_offset`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `flags`: the checksum has been verified (written to the tun: CHECKSUM_UNNECESSARY).
pub const F_DATA_VALID: u8 = 2;

/// `gso_type`: a single packet.
pub const GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4, segments of `gso_size` payload bytes.
pub const GSO_TCPV4: u8 = 1;
/// `gso_type`: legacy UFO (IP fragmentation of a UDP datagram): never enabled, rejected.
pub const GSO_UDP: u8 = 3;
/// `gso_type`: TCP over IPv6.
pub const GSO_TCPV6: u8 = 4;
/// `gso_type`: UDP segmentation (USO): one datagram per `gso_size` payload bytes.
pub const GSO_UDP_L4: u8 = 5;
/// `gso_type` bit: the super-packet has CWR set, which only its first segment keeps.
pub const GSO_ECN: u8 = 0x80;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// `struct virtio_net_hdr`. A tun not switched with TUNSETVNETLE/TUNSETVNETBE uses the
/// host's byte order for it, which is what the codec does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    /// The header at the start of `b`; None if `b` is shorter than [`VNET_HDR_LEN`].
    pub fn decode(b: &[u8]) -> Option<VnetHdr> {
        let b: &[u8; VNET_HDR_LEN] = b.get(..VNET_HDR_LEN)?.try_into().ok()?;
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    /// The header's bytes as the tun expects them in front of a written packet.
    pub fn encode(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }
}

/// Why [`split`] refused a packet (the caller drops it and counts the reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitError {
    /// The packet is shorter than its headers or the virtio header's offsets.
    Truncated,
    /// A `gso_type` we never enable (legacy UFO, unknown values).
    Unsupported,
    /// Inconsistent header: not IPv4/IPv6 as the GSO type says, not TCP/UDP, IPv6
    /// extension headers, `csum_start`/`csum_offset` not where the headers are,
    /// `gso_size` 0, or a segment length that no IP header can express.
    BadHeader,
    /// A segment does not fit in its slot (`stride - headroom`).
    TooSmall,
    /// More segments than `lens` or `out` have slots.
    TooManySegments,
}

/// Splits `pkt` (the IP packet that followed `hdr` in one tun read) into segments:
/// segment i is written at `out[i*stride + headroom ..][..lens[i]]` and `lens[i]` set.
/// Without GSO the one packet is copied to slot 0, its checksum completed first when
/// NEEDS_CSUM is set. Returns the number of segments. `pkt` may be used as scratch.
pub fn split(
    hdr: &VnetHdr,
    pkt: &mut [u8],
    out: &mut [u8],
    stride: usize,
    headroom: usize,
    lens: &mut [usize],
) -> Result<usize, SplitError> {
    let slots = match out.len().checked_div(stride) {
        Some(n) => n.min(lens.len()),
        None => 0,
    };
    let room = stride.checked_sub(headroom).ok_or(SplitError::TooSmall)?;
    if hdr.gso_type == GSO_NONE {
        return split_none(hdr, pkt, out, room, headroom, slots, lens);
    }
    let (v6, proto) = match hdr.gso_type & !GSO_ECN {
        GSO_TCPV4 => (Some(false), PROTO_TCP),
        GSO_TCPV6 => (Some(true), PROTO_TCP),
        GSO_UDP_L4 => (None, PROTO_UDP),
        _ => return Err(SplitError::Unsupported),
    };
    // ECN describes CWR on a TCP super-packet; UDP has nothing it could mean.
    if proto == PROTO_UDP && hdr.gso_type != GSO_UDP_L4 {
        return Err(SplitError::Unsupported);
    }
    let ip = ip_header(pkt, proto)?;
    if v6.is_some_and(|v6| v6 != ip.v6) {
        return Err(SplitError::BadHeader);
    }
    let iphl = ip.hl;
    // The virtio header's csum_start must point at the transport header we found. Its
    // hdr_len is not the headers' length in general (the kernel reports the length of
    // the skb's linear part), so the header length is taken from the packet itself.
    let csum_offset = if proto == PROTO_TCP { 16 } else { 6 };
    if usize::from(hdr.csum_start) != iphl || hdr.csum_offset != csum_offset {
        return Err(SplitError::BadHeader);
    }
    let l4hl = if proto == PROTO_TCP {
        let off = pkt.get(iphl + 12).ok_or(SplitError::Truncated)?;
        let thl = usize::from(off >> 4) * 4;
        if thl < 20 {
            return Err(SplitError::BadHeader);
        }
        thl
    } else {
        8
    };
    let hl = iphl + l4hl;
    if pkt.len() < hl {
        return Err(SplitError::Truncated);
    }
    let mss = usize::from(hdr.gso_size);
    if mss == 0 {
        return Err(SplitError::BadHeader);
    }
    let payload = pkt.len() - hl;
    // A super-packet that fits one segment still goes out as one, with its checksum done.
    let n = payload.div_ceil(mss).max(1);
    if n > slots {
        return Err(SplitError::TooManySegments);
    }
    if hl + payload.min(mss) > room {
        return Err(SplitError::TooSmall);
    }
    // The largest segment's lengths must fit the 16-bit IP length fields.
    let max_l3 = hl + payload.min(mss) - if ip.v6 { 40 } else { 0 };
    if max_l3 > 0xffff {
        return Err(SplitError::BadHeader);
    }

    let (headers, data) = pkt.split_at(hl);
    let id0 = u16::from_be_bytes([headers[4], headers[5]]);
    let (seq0, flags0) = if proto == PROTO_TCP {
        let t = &headers[iphl..];
        (u32::from_be_bytes([t[4], t[5], t[6], t[7]]), t[13])
    } else {
        (0, 0)
    };
    // Source and destination are adjacent in both IP headers, and summed once for all.
    let addrs = if ip.v6 { 8..40 } else { 12..20 };
    let ph_addrs = checksum::sum(&headers[addrs], 0);

    for i in 0..n {
        let chunk = &data[(i * mss).min(payload)..((i + 1) * mss).min(payload)];
        let len = hl + chunk.len();
        let seg = &mut out[i * stride + headroom..][..len];
        seg[..hl].copy_from_slice(headers);
        seg[hl..].copy_from_slice(chunk);
        if ip.v6 {
            seg[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
        } else {
            seg[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            seg[4..6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
            checksum::ipv4_header(&mut seg[..iphl]);
        }
        let l4len = len - iphl;
        let l4 = &mut seg[iphl..];
        if proto == PROTO_TCP {
            let seq = seq0.wrapping_add((i as u32).wrapping_mul(mss as u32));
            l4[4..8].copy_from_slice(&seq.to_be_bytes());
            let mut f = flags0;
            if i + 1 < n {
                f &= !(TCP_FIN | TCP_PSH);
            }
            if i > 0 {
                f &= !TCP_CWR;
            }
            l4[13] = f;
        } else {
            l4[4..6].copy_from_slice(&(l4len as u16).to_be_bytes());
        }
        l4[csum_offset as usize..][..2].fill(0);
        let ph = checksum::add_carry(ph_addrs, u64::from(proto) + l4len as u64);
        let mut c = !checksum::fold(checksum::sum(l4, ph));
        if proto == PROTO_UDP && c == 0 {
            // RFC 768: a transmitted zero means "no checksum"; its one's-complement twin is sent.
            c = 0xffff;
        }
        l4[csum_offset as usize..][..2].copy_from_slice(&c.to_be_bytes());
        lens[i] = len;
    }
    Ok(n)
}

fn split_none(
    hdr: &VnetHdr,
    pkt: &mut [u8],
    out: &mut [u8],
    room: usize,
    headroom: usize,
    slots: usize,
    lens: &mut [usize],
) -> Result<usize, SplitError> {
    if pkt.is_empty() {
        return Err(SplitError::Truncated);
    }
    if slots == 0 {
        return Err(SplitError::TooManySegments);
    }
    if pkt.len() > room {
        return Err(SplitError::TooSmall);
    }
    if hdr.flags & F_NEEDS_CSUM != 0 {
        let start = usize::from(hdr.csum_start);
        let at = start + usize::from(hdr.csum_offset);
        if at + 2 > pkt.len() {
            return Err(SplitError::BadHeader);
        }
        // The field holds the pseudo-header's folded sum, so it is part of the data summed.
        let mut c = !checksum::fold(checksum::sum(&pkt[start..], 0));
        if c == 0 {
            // As the kernel's skb_checksum_help does: for UDP a zero would mean "none", and
            // for TCP 0xffff is the same value.
            c = 0xffff;
        }
        pkt[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    out[headroom..][..pkt.len()].copy_from_slice(pkt);
    lens[0] = pkt.len();
    Ok(1)
}

struct IpHeader {
    v6: bool,
    hl: usize,
}

/// The IP header of a super-packet carrying `proto`, checked far enough to rewrite it.
fn ip_header(pkt: &[u8], proto: u8) -> Result<IpHeader, SplitError> {
    let b0 = *pkt.first().ok_or(SplitError::Truncated)?;
    match b0 >> 4 {
        4 => {
            if pkt.len() < 20 {
                return Err(SplitError::Truncated);
            }
            let hl = usize::from(b0 & 0x0f) * 4;
            if hl < 20 {
                return Err(SplitError::BadHeader);
            }
            if pkt.len() < hl {
                return Err(SplitError::Truncated);
            }
            // A fragment cannot be segmented: its transport header is elsewhere or incomplete.
            if pkt[9] != proto || u16::from_be_bytes([pkt[6], pkt[7]]) & 0x3fff != 0 {
                return Err(SplitError::BadHeader);
            }
            Ok(IpHeader { v6: false, hl })
        }
        6 => {
            if pkt.len() < 40 {
                return Err(SplitError::Truncated);
            }
            // Extension headers would have to be walked; the kernel's TSO/USO output on a
            // tun does not produce them, so they are refused rather than parsed.
            if pkt[6] != proto {
                return Err(SplitError::BadHeader);
            }
            Ok(IpHeader { v6: true, hl: 40 })
        }
        _ => Err(SplitError::BadHeader),
    }
}

/// The largest segment `hdr` cuts `pkt` into (the whole packet without GSO), from
/// the packet's own header lengths rather than the header's `hdr_len`.
pub fn max_segment_len(hdr: &VnetHdr, pkt: &[u8]) -> usize {
    let cs = hdr.csum_start as usize;
    let gso = hdr.gso_size as usize;
    let l4 = match hdr.gso_type & !GSO_ECN {
        GSO_TCPV4 | GSO_TCPV6 => match pkt.get(cs + 12) {
            Some(b) => (b >> 4) as usize * 4,
            None => return pkt.len(),
        },
        GSO_UDP_L4 => 8,
        _ => return pkt.len(),
    };
    (cs + l4 + gso).min(pkt.len())
}

#[cfg(test)]
pub(crate) mod tests {
    //! Also the packet builders and the naive checksum reference of the `gro` tests.

    use super::*;
    use proptest::prelude::*;

    /// The checksum's definition, word by word.
    pub(crate) fn naive(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for w in data.chunks(2) {
            s += u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0));
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The IP addresses, protocol and L4 bytes of an IPv4 or IPv6 packet.
    fn l4_parts(p: &[u8]) -> (Vec<u8>, u8, &[u8]) {
        if p[0] >> 4 == 4 {
            let ihl = usize::from(p[0] & 15) * 4;
            (p[12..20].to_vec(), p[9], &p[ihl..])
        } else {
            (p[8..40].to_vec(), p[6], &p[40..])
        }
    }

    /// The pseudo-header as bytes (RFC 793 / RFC 8200 layout), for the naive reference.
    pub(crate) fn pseudo_bytes(p: &[u8], l4_len: usize) -> Vec<u8> {
        let (addrs, proto, _) = l4_parts(p);
        let mut ph = addrs;
        if p[0] >> 4 == 4 {
            ph.extend_from_slice(&[0, proto]);
            ph.extend_from_slice(&(l4_len as u16).to_be_bytes());
        } else {
            ph.extend_from_slice(&(l4_len as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, proto]);
        }
        ph
    }

    /// The complete L4 checksum of `p` verifies (and, for IPv4, the header checksum).
    pub(crate) fn assert_checksums(p: &[u8]) {
        if p[0] >> 4 == 4 {
            let ihl = usize::from(p[0] & 15) * 4;
            assert_eq!(naive(&p[..ihl]), 0xffff, "IPv4 header checksum");
        }
        let (_, _, l4) = l4_parts(p);
        let mut all = pseudo_bytes(p, l4.len());
        all.extend_from_slice(l4);
        assert_eq!(naive(&all), 0xffff, "L4 checksum");
    }

    #[derive(Clone)]
    pub(crate) struct Ip {
        pub v6: bool,
        pub src: [u8; 16],
        pub dst: [u8; 16],
        pub id: u16,
        pub ttl: u8,
        pub tos: u8,
        pub df: bool,
        pub flow: u32,
        pub options: Vec<u8>,
    }

    impl Ip {
        pub(crate) fn v4() -> Ip {
            let mut src = [0; 16];
            let mut dst = [0; 16];
            src[..4].copy_from_slice(&[10, 0, 0, 1]);
            dst[..4].copy_from_slice(&[10, 0, 0, 2]);
            Ip {
                v6: false,
                src,
                dst,
                id: 0x1234,
                ttl: 64,
                tos: 0,
                df: true,
                flow: 0,
                options: vec![],
            }
        }
        pub(crate) fn v6() -> Ip {
            let mut src = [0; 16];
            let mut dst = [0; 16];
            src[..2].copy_from_slice(&[0xfd, 0]);
            src[15] = 1;
            dst[..2].copy_from_slice(&[0xfd, 0]);
            dst[15] = 2;
            Ip {
                v6: true,
                src,
                dst,
                id: 0,
                ttl: 64,
                tos: 0,
                df: false,
                flow: 0x12345,
                options: vec![],
            }
        }

        /// An IP packet around `l4` with correct lengths and IPv4 header checksum; the L4
        /// checksum is left as `l4` has it.
        pub(crate) fn packet(&self, proto: u8, l4: &[u8]) -> Vec<u8> {
            let mut p = Vec::new();
            if self.v6 {
                let w = 6 << 28 | u32::from(self.tos) << 20 | (self.flow & 0xfffff);
                p.extend_from_slice(&w.to_be_bytes());
                p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
                p.extend_from_slice(&[proto, self.ttl]);
                p.extend_from_slice(&self.src);
                p.extend_from_slice(&self.dst);
            } else {
                assert_eq!(self.options.len() % 4, 0);
                let ihl = 20 + self.options.len();
                p.push(0x40 | (ihl / 4) as u8);
                p.push(self.tos);
                p.extend_from_slice(&((ihl + l4.len()) as u16).to_be_bytes());
                p.extend_from_slice(&self.id.to_be_bytes());
                p.extend_from_slice(&(if self.df { 0x4000u16 } else { 0 }).to_be_bytes());
                p.extend_from_slice(&[self.ttl, proto, 0, 0]);
                p.extend_from_slice(&self.src[..4]);
                p.extend_from_slice(&self.dst[..4]);
                p.extend_from_slice(&self.options);
                let c = !naive(&p);
                p[10..12].copy_from_slice(&c.to_be_bytes());
            }
            p.extend_from_slice(l4);
            p
        }
    }

    #[derive(Clone)]
    pub(crate) struct Tcp {
        pub sport: u16,
        pub dport: u16,
        pub seq: u32,
        pub ack: u32,
        pub flags: u8,
        pub window: u16,
        pub options: Vec<u8>,
    }

    pub(crate) const ACK: u8 = 0x10;
    pub(crate) const PSH: u8 = 0x08;
    pub(crate) const FIN: u8 = 0x01;
    pub(crate) const SYN: u8 = 0x02;
    pub(crate) const RST: u8 = 0x04;
    pub(crate) const URG: u8 = 0x20;
    pub(crate) const ECE: u8 = 0x40;
    pub(crate) const CWR: u8 = 0x80;

    impl Tcp {
        pub(crate) fn new(seq: u32) -> Tcp {
            // NOP NOP timestamp: what a Linux sender puts on every data segment.
            let options = vec![1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0];
            Tcp {
                sport: 40000,
                dport: 443,
                seq,
                ack: 0xa0b0c0d0,
                flags: ACK,
                window: 501,
                options,
            }
        }
        pub(crate) fn header(&self) -> Vec<u8> {
            let thl = 20 + self.options.len();
            let mut h = Vec::new();
            h.extend_from_slice(&self.sport.to_be_bytes());
            h.extend_from_slice(&self.dport.to_be_bytes());
            h.extend_from_slice(&self.seq.to_be_bytes());
            h.extend_from_slice(&self.ack.to_be_bytes());
            h.push(((thl / 4) as u8) << 4);
            h.push(self.flags);
            h.extend_from_slice(&self.window.to_be_bytes());
            h.extend_from_slice(&[0, 0, 0, 0]);
            h.extend_from_slice(&self.options);
            h
        }
    }

    pub(crate) fn udp_header(sport: u16, dport: u16) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&sport.to_be_bytes());
        h.extend_from_slice(&dport.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]);
        h
    }

    pub(crate) fn payload(len: usize, salt: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
            .collect()
    }

    /// Fills in the UDP length (UDP only) and a complete L4 checksum: a packet as it
    /// arrives from a peer.
    pub(crate) fn finish(mut p: Vec<u8>) -> Vec<u8> {
        let (iphl, proto) = if p[0] >> 4 == 4 {
            (usize::from(p[0] & 15) * 4, p[9])
        } else {
            (40, p[6])
        };
        let l4len = p.len() - iphl;
        let at = if proto == 6 { iphl + 16 } else { iphl + 6 };
        if proto == 17 {
            p[iphl + 4..iphl + 6].copy_from_slice(&(l4len as u16).to_be_bytes());
        }
        p[at..at + 2].fill(0);
        let mut all = pseudo_bytes(&p, l4len);
        all.extend_from_slice(&p[iphl..]);
        let mut c = !naive(&all);
        if proto == 17 && c == 0 {
            c = 0xffff;
        }
        p[at..at + 2].copy_from_slice(&c.to_be_bytes());
        p
    }

    pub(crate) fn tcp_packet(ip: &Ip, tcp: &Tcp, data: &[u8]) -> Vec<u8> {
        let mut l4 = tcp.header();
        l4.extend_from_slice(data);
        finish(ip.packet(6, &l4))
    }

    pub(crate) fn udp_packet(ip: &Ip, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
        let mut l4 = udp_header(sport, dport);
        l4.extend_from_slice(data);
        finish(ip.packet(17, &l4))
    }

    /// Turns a finished packet into what the kernel hands a tun reader for a GSO
    /// super-packet: the L4 checksum field holds the folded pseudo-header sum.
    pub(crate) fn make_partial(mut p: Vec<u8>, gso_type: u8, gso_size: u16) -> (VnetHdr, Vec<u8>) {
        let (iphl, proto) = if p[0] >> 4 == 4 {
            (usize::from(p[0] & 15) * 4, p[9])
        } else {
            (40, p[6])
        };
        let off: u16 = if proto == 6 { 16 } else { 6 };
        let l4hl = if proto == 6 {
            usize::from(p[iphl + 12] >> 4) * 4
        } else {
            8
        };
        let ph = naive(&pseudo_bytes(&p, p.len() - iphl));
        p[iphl + usize::from(off)..][..2].copy_from_slice(&ph.to_be_bytes());
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type,
            hdr_len: (iphl + l4hl) as u16,
            gso_size,
            csum_start: iphl as u16,
            csum_offset: off,
        };
        (h, p)
    }

    const STRIDE: usize = 2048;
    const HEADROOM: usize = 16;

    struct Out {
        buf: Vec<u8>,
        lens: Vec<usize>,
    }

    impl Out {
        fn new(slots: usize) -> Out {
            Out {
                buf: vec![0xee; slots * STRIDE],
                lens: vec![0; slots],
            }
        }
        fn split(&mut self, h: &VnetHdr, p: &[u8]) -> Result<Vec<Vec<u8>>, SplitError> {
            let mut p = p.to_vec();
            let n = split(h, &mut p, &mut self.buf, STRIDE, HEADROOM, &mut self.lens)?;
            Ok((0..n)
                .map(|i| self.buf[i * STRIDE + HEADROOM..][..self.lens[i]].to_vec())
                .collect())
        }
    }

    fn be16(p: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([p[at], p[at + 1]])
    }
    fn be32(p: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
    }

    #[test]
    fn vnet_hdr_codec() {
        let h = VnetHdr {
            flags: 1,
            gso_type: 0x84,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 40,
            csum_offset: 16,
        };
        let b = h.encode();
        assert_eq!(b[0], 1);
        assert_eq!(b[1], 0x84);
        assert_eq!(&b[4..6], &1448u16.to_ne_bytes());
        assert_eq!(VnetHdr::decode(&b), Some(h));
        let mut longer = b.to_vec();
        longer.extend_from_slice(&[0x45, 0]);
        assert_eq!(VnetHdr::decode(&longer), Some(h));
        assert_eq!(VnetHdr::decode(&b[..9]), None);
        assert_eq!(VnetHdr::decode(&[]), None);
    }

    #[test]
    fn none_is_copied() {
        let p = tcp_packet(&Ip::v4(), &Tcp::new(7), &payload(100, 1));
        let mut o = Out::new(4);
        let segs = o.split(&VnetHdr::default(), &p).unwrap();
        assert_eq!(segs, vec![p.clone()]);
        // The headroom and the rest of the slot are left alone.
        assert!(o.buf[..HEADROOM].iter().all(|&b| b == 0xee));
        assert_eq!(o.buf[HEADROOM + p.len()], 0xee);
    }

    #[test]
    fn none_needs_csum_completes_checksum() {
        for ip in [Ip::v4(), Ip::v6()] {
            for udp in [false, true] {
                let full = if udp {
                    udp_packet(&ip, 5000, 53, &payload(301, 3))
                } else {
                    tcp_packet(&ip, &Tcp::new(99), &payload(301, 3))
                };
                let (mut h, partial) = make_partial(full.clone(), GSO_NONE, 0);
                h.gso_size = 0;
                assert_ne!(partial, full);
                let segs = Out::new(1).split(&h, &partial).unwrap();
                assert_eq!(segs.len(), 1);
                assert_checksums(&segs[0]);
                assert_eq!(segs[0], full);
            }
        }
    }

    #[test]
    fn none_needs_csum_bad_offsets() {
        let p = udp_packet(&Ip::v4(), 1, 2, &payload(10, 0));
        let mut o = Out::new(1);
        let h = |start, off| VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: start,
            csum_offset: off,
            ..Default::default()
        };
        assert_eq!(o.split(&h(20, 6), &p).map(|s| s.len()), Ok(1));
        assert_eq!(o.split(&h(20, 17), &p), Err(SplitError::BadHeader));
        assert_eq!(o.split(&h(37, 0), &p), Err(SplitError::BadHeader));
        assert_eq!(
            o.split(&h(u16::MAX, u16::MAX), &p),
            Err(SplitError::BadHeader)
        );
        assert_eq!(o.split(&h(36, 0), &p).map(|s| s.len()), Ok(1));
    }

    #[test]
    fn none_errors() {
        let p = payload(100, 0);
        let h = VnetHdr::default();
        assert_eq!(Out::new(0).split(&h, &p), Err(SplitError::TooManySegments));
        assert_eq!(Out::new(1).split(&h, &[]), Err(SplitError::Truncated));
        let mut buf = [0u8; 100];
        let mut lens = [0usize; 1];
        let mut pk = p.clone();
        assert_eq!(
            split(&h, &mut pk, &mut buf, 100, 1, &mut lens),
            Err(SplitError::TooSmall)
        );
        assert_eq!(split(&h, &mut pk, &mut buf, 100, 0, &mut lens), Ok(1));
        assert_eq!(
            split(&h, &mut pk, &mut buf, 100, 101, &mut lens),
            Err(SplitError::TooSmall)
        );
        assert_eq!(
            split(&h, &mut pk, &mut buf, 0, 0, &mut lens),
            Err(SplitError::TooManySegments)
        );
    }

    /// Checks the segments of a TCP super-packet against the super-packet `orig` (as
    /// built, with a full checksum) split at `mss`.
    fn check_tcp_segments(orig: &[u8], segs: &[Vec<u8>], mss: usize) {
        let v6 = orig[0] >> 4 == 6;
        let iphl = if v6 {
            40
        } else {
            usize::from(orig[0] & 15) * 4
        };
        let hl = iphl + usize::from(orig[iphl + 12] >> 4) * 4;
        let data = &orig[hl..];
        assert_eq!(segs.len(), data.len().div_ceil(mss).max(1));
        let flags0 = orig[iphl + 13];
        let mut got = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            assert_eq!(s.len(), hl + if last { data.len() - i * mss } else { mss });
            assert_checksums(s);
            if v6 {
                assert_eq!(usize::from(be16(s, 4)), s.len() - 40);
                assert_eq!(&s[..4], &orig[..4]);
                assert_eq!(&s[6..40], &orig[6..40]);
            } else {
                assert_eq!(usize::from(be16(s, 2)), s.len());
                assert_eq!(be16(s, 4), be16(orig, 4).wrapping_add(i as u16));
                assert_eq!(&s[6..10], &orig[6..10]);
                assert_eq!(&s[12..iphl], &orig[12..iphl]);
            }
            let t = &s[iphl..];
            let o = &orig[iphl..];
            assert_eq!(be32(t, 4), be32(o, 4).wrapping_add((i * mss) as u32));
            let mut want = flags0;
            if !last {
                want &= !(FIN | PSH);
            }
            if i > 0 {
                want &= !CWR;
            }
            assert_eq!(t[13], want, "flags of segment {i}");
            assert_eq!(&t[..4], &o[..4]);
            assert_eq!(&t[8..13], &o[8..13]);
            assert_eq!(&t[14..16], &o[14..16]);
            assert_eq!(&t[18..hl - iphl], &o[18..hl - iphl]);
            got.extend_from_slice(&s[hl..]);
        }
        assert_eq!(got, data);
    }

    #[test]
    fn tcp_v4_with_ip_options() {
        let mut ip = Ip::v4();
        ip.options = vec![0x94, 4, 0, 0, 1, 1, 1, 0]; // router alert, NOPs, end
        let mut tcp = Tcp::new(1000);
        tcp.flags = ACK | PSH | FIN | CWR | ECE;
        let orig = tcp_packet(&ip, &tcp, &payload(3500, 9));
        let (h, partial) = make_partial(orig.clone(), GSO_TCPV4 | GSO_ECN, 1000);
        assert_eq!(h.csum_start, 28);
        let segs = Out::new(8).split(&h, &partial).unwrap();
        assert_eq!(segs.len(), 4);
        assert_eq!(segs[3].len(), 28 + 32 + 500);
        check_tcp_segments(&orig, &segs, 1000);
        assert_eq!(segs[0][28 + 13], ACK | CWR | ECE);
        assert_eq!(segs[1][28 + 13], ACK | ECE);
        assert_eq!(segs[3][28 + 13], ACK | PSH | FIN | ECE);
    }

    #[test]
    fn tcp_v6_exact_multiple() {
        let ip = Ip::v6();
        let mut tcp = Tcp::new(5);
        tcp.flags = ACK | PSH;
        let orig = tcp_packet(&ip, &tcp, &payload(3 * 1208, 4));
        let (h, partial) = make_partial(orig.clone(), GSO_TCPV6, 1208);
        let segs = Out::new(3).split(&h, &partial).unwrap();
        assert_eq!(segs.len(), 3);
        assert!(segs.iter().all(|s| s.len() == 40 + 32 + 1208));
        check_tcp_segments(&orig, &segs, 1208);
    }

    #[test]
    fn addresses_summing_near_the_top() {
        // Found by fuzzing (fuzz/, target gso_split): addresses whose sum is close to
        // u64::MAX overflowed the pseudo-header sum (a panic in debug builds, a
        // checksum off by one in release builds).
        let mut ip = Ip::v6();
        ip.src = [0xff; 16];
        ip.dst = [0xff; 16];
        let orig = udp_packet(&ip, 4433, 50000, &payload(3000, 1));
        let (h, partial) = make_partial(orig, GSO_UDP_L4, 1200);
        let segs = Out::new(3).split(&h, &partial).unwrap();
        assert_eq!(segs.len(), 3);
        segs.iter().for_each(|s| assert_checksums(s));
        let mut ip = Ip::v4();
        ip.src[..4].fill(0xff);
        ip.dst[..4].fill(0xff);
        let orig = tcp_packet(&ip, &Tcp::new(9), &payload(2000, 2));
        let (h, partial) = make_partial(orig, GSO_TCPV4, 1000);
        let segs = Out::new(2).split(&h, &partial).unwrap();
        segs.iter().for_each(|s| assert_checksums(s));
    }

    #[test]
    fn tcp_single_segment_and_header_only() {
        let ip = Ip::v4();
        let orig = tcp_packet(&ip, &Tcp::new(5), &payload(700, 4));
        let (h, partial) = make_partial(orig.clone(), GSO_TCPV4, 1448);
        let segs = Out::new(1).split(&h, &partial).unwrap();
        assert_eq!(segs, vec![orig]);
        // No payload at all: still one segment, checksummed.
        let orig = tcp_packet(&ip, &Tcp::new(5), &[]);
        let (h, partial) = make_partial(orig.clone(), GSO_TCPV4, 1448);
        assert_eq!(Out::new(1).split(&h, &partial).unwrap(), vec![orig]);
    }

    #[test]
    fn id_and_seq_wrap() {
        let mut ip = Ip::v4();
        ip.id = 0xfffe;
        let tcp = Tcp::new(0xffff_fa00);
        let orig = tcp_packet(&ip, &tcp, &payload(4000, 1));
        let (h, partial) = make_partial(orig.clone(), GSO_TCPV4, 1000);
        let segs = Out::new(4).split(&h, &partial).unwrap();
        check_tcp_segments(&orig, &segs, 1000);
        let ids: Vec<u16> = segs.iter().map(|s| be16(s, 4)).collect();
        assert_eq!(ids, vec![0xfffe, 0xffff, 0, 1]);
        let seqs: Vec<u32> = segs.iter().map(|s| be32(s, 24)).collect();
        assert_eq!(seqs, vec![0xffff_fa00, 0xffff_fde8, 0x1d0, 0x5b8]);
    }

    fn check_udp_segments(orig: &[u8], segs: &[Vec<u8>], mss: usize) {
        let v6 = orig[0] >> 4 == 6;
        let iphl = if v6 {
            40
        } else {
            usize::from(orig[0] & 15) * 4
        };
        let data = &orig[iphl + 8..];
        assert_eq!(segs.len(), data.len().div_ceil(mss).max(1));
        let mut got = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            assert_eq!(
                s.len(),
                iphl + 8 + if last { data.len() - i * mss } else { mss }
            );
            assert_checksums(s);
            assert_ne!(be16(s, iphl + 6), 0);
            assert_eq!(usize::from(be16(s, iphl + 4)), s.len() - iphl);
            assert_eq!(&s[iphl..iphl + 4], &orig[iphl..iphl + 4]);
            if v6 {
                assert_eq!(usize::from(be16(s, 4)), s.len() - 40);
            } else {
                assert_eq!(usize::from(be16(s, 2)), s.len());
                assert_eq!(be16(s, 4), be16(orig, 4).wrapping_add(i as u16));
            }
            got.extend_from_slice(&s[iphl + 8..]);
        }
        assert_eq!(got, data);
    }

    #[test]
    fn udp_v4_and_v6() {
        for ip in [Ip::v4(), Ip::v6()] {
            let orig = udp_packet(&ip, 4433, 51820, &payload(5 * 1200 + 17, 2));
            let (h, partial) = make_partial(orig.clone(), GSO_UDP_L4, 1200);
            let segs = Out::new(6).split(&h, &partial).unwrap();
            assert_eq!(segs.len(), 6);
            check_udp_segments(&orig, &segs, 1200);
        }
    }

    #[test]
    fn udp_zero_checksum_is_sent_as_ffff() {
        // One segment whose payload's last word is chosen so the checksum computes to 0.
        let ip = Ip::v4();
        let mut p = udp_packet(&ip, 1, 2, &payload(64, 0));
        let n = p.len();
        p[n - 2..].fill(0);
        p[26..28].fill(0);
        let mut all = pseudo_bytes(&p, n - 20);
        all.extend_from_slice(&p[20..]);
        let w = 0xffff - naive(&all);
        p[n - 2..].copy_from_slice(&w.to_be_bytes());
        let (h, partial) = make_partial(p, GSO_UDP_L4, 100);
        let segs = Out::new(1).split(&h, &partial).unwrap();
        assert_eq!(be16(&segs[0], 26), 0xffff);
        assert_checksums(&segs[0]);
    }

    #[test]
    fn errors() {
        let ip = Ip::v4();
        let orig = tcp_packet(&ip, &Tcp::new(1), &payload(3000, 0));
        let (h, p) = make_partial(orig, GSO_TCPV4, 1000);
        let mut o = Out::new(3);
        assert_eq!(o.split(&h, &p).map(|s| s.len()), Ok(3));
        // hdr_len is not relied on.
        assert_eq!(o.split(&VnetHdr { hdr_len: 0, ..h }, &p), o.split(&h, &p));
        assert_eq!(
            o.split(&VnetHdr { gso_size: 0, ..h }, &p),
            Err(SplitError::BadHeader)
        );
        assert_eq!(Out::new(2).split(&h, &p), Err(SplitError::TooManySegments));
        // Slots limited by `out` rather than `lens`.
        let mut lens = [0usize; 8];
        let mut buf = vec![0u8; 2 * STRIDE + 100];
        let mut pk = p.clone();
        assert_eq!(
            split(&h, &mut pk, &mut buf, STRIDE, 0, &mut lens),
            Err(SplitError::TooManySegments)
        );
        // A segment of 20 + 32 + 1000 bytes does not fit 1051 bytes of room.
        let mut buf = vec![0u8; 8 * 1100];
        assert_eq!(
            split(&h, &mut pk, &mut buf, 1100, 49, &mut lens),
            Err(SplitError::TooSmall)
        );
        assert_eq!(split(&h, &mut pk, &mut buf, 1100, 48, &mut lens), Ok(3));
        // csum_start / csum_offset not at the TCP header's checksum.
        assert_eq!(
            o.split(
                &VnetHdr {
                    csum_start: 24,
                    ..h
                },
                &p
            ),
            Err(SplitError::BadHeader)
        );
        assert_eq!(
            o.split(
                &VnetHdr {
                    csum_offset: 6,
                    ..h
                },
                &p
            ),
            Err(SplitError::BadHeader)
        );
        // Truncated: inside the IP header, inside the TCP header.
        assert_eq!(o.split(&h, &p[..19]), Err(SplitError::Truncated));
        assert_eq!(o.split(&h, &p[..40]), Err(SplitError::Truncated));
        assert_eq!(o.split(&h, &p[..25]), Err(SplitError::Truncated));
        // Wrong family or protocol for the GSO type; legacy UFO; unknown types.
        assert_eq!(
            o.split(
                &VnetHdr {
                    gso_type: GSO_TCPV6,
                    ..h
                },
                &p
            ),
            Err(SplitError::BadHeader)
        );
        assert_eq!(
            o.split(
                &VnetHdr {
                    gso_type: GSO_UDP_L4,
                    csum_offset: 6,
                    ..h
                },
                &p
            ),
            Err(SplitError::BadHeader)
        );
        assert_eq!(
            o.split(
                &VnetHdr {
                    gso_type: GSO_UDP,
                    ..h
                },
                &p
            ),
            Err(SplitError::Unsupported)
        );
        assert_eq!(
            o.split(
                &VnetHdr {
                    gso_type: GSO_ECN,
                    ..h
                },
                &p
            ),
            Err(SplitError::Unsupported)
        );
        assert_eq!(
            o.split(&VnetHdr { gso_type: 2, ..h }, &p),
            Err(SplitError::Unsupported)
        );
        assert_eq!(
            o.split(
                &VnetHdr {
                    gso_type: GSO_UDP_L4 | GSO_ECN,
                    csum_offset: 6,
                    ..h
                },
                &p
            ),
            Err(SplitError::Unsupported)
        );
        // A TCP data offset below 5, an IHL below 5, a fragment.
        let mut bad = p.clone();
        bad[32] = 0x40;
        assert_eq!(o.split(&h, &bad), Err(SplitError::BadHeader));
        let mut bad = p.clone();
        bad[0] = 0x44;
        assert_eq!(o.split(&h, &bad), Err(SplitError::BadHeader));
        let mut bad = p.clone();
        bad[6] = 0x20;
        assert_eq!(o.split(&h, &bad), Err(SplitError::BadHeader));
        // Not IP at all.
        let mut bad = p.clone();
        bad[0] = 0x55;
        assert_eq!(o.split(&h, &bad), Err(SplitError::BadHeader));
    }

    #[test]
    fn ipv6_extension_header_refused() {
        let ip = Ip::v6();
        let orig = tcp_packet(&ip, &Tcp::new(1), &payload(3000, 0));
        let (h, mut p) = make_partial(orig, GSO_TCPV6, 1000);
        p[6] = 0; // hop-by-hop options
        assert_eq!(Out::new(4).split(&h, &p), Err(SplitError::BadHeader));
        assert_eq!(Out::new(4).split(&h, &p[..39]), Err(SplitError::Truncated));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            stride in 0usize..400,
            headroom in 0usize..64,
            nlens in 0usize..6,
        ) {
            let h = VnetHdr::decode(&bytes).unwrap_or_default();
            let mut pkt = bytes.get(VNET_HDR_LEN..).unwrap_or(&[]).to_vec();
            let mut out = vec![0u8; 1500];
            let mut lens = vec![0usize; nlens];
            if let Ok(n) = split(&h, &mut pkt, &mut out, stride, headroom, &mut lens) {
                prop_assert!((1..=nlens).contains(&n));
                prop_assert!(lens[..n].iter().all(|&l| l + headroom <= stride));
            }
        }

        #[test]
        fn plausible_headers_never_panic(
            v6 in any::<bool>(),
            udp in any::<bool>(),
            len in 0usize..3000,
            gso_type in prop_oneof![Just(0u8), Just(1), Just(3), Just(4), Just(5), Just(0x81), any::<u8>()],
            gso_size in prop_oneof![Just(0u16), 1u16..100, any::<u16>()],
            csum_start in prop_oneof![Just(20u16), Just(40), any::<u16>()],
            csum_offset in prop_oneof![Just(6u16), Just(16), any::<u16>()],
            flags in any::<u8>(),
            cut in any::<usize>(),
            noise in any::<u64>(),
        ) {
            let ip = if v6 { Ip::v6() } else { Ip::v4() };
            let mut p = if udp { udp_packet(&ip, 1, 2, &payload(len, 0)) } else { tcp_packet(&ip, &Tcp::new(3), &payload(len, 0)) };
            // Mostly whole packets, sometimes missing a tail; one header byte flipped.
            p.truncate(p.len().saturating_sub(cut % 64));
            if let Some(b) = p.get_mut((noise % 64) as usize) {
                *b ^= (noise >> 8) as u8;
            }
            let h = VnetHdr { flags, gso_type, hdr_len: 0, gso_size, csum_start, csum_offset };
            let mut out = vec![0u8; 8 * 512];
            let mut lens = [0usize; 8];
            if let Ok(n) = split(&h, &mut p, &mut out, 512, 8, &mut lens) {
                prop_assert!((1..=8).contains(&n));
            }
        }

        #[test]
        fn random_valid_super_packets_split_correctly(
            v6 in any::<bool>(),
            udp in any::<bool>(),
            len in 0usize..6000,
            mss in 1u16..1400,
            seq in any::<u32>(),
            id in any::<u16>(),
        ) {
            let mut ip = if v6 { Ip::v6() } else { Ip::v4() };
            ip.id = id;
            let orig = if udp {
                udp_packet(&ip, 1, 2, &payload(len, 7))
            } else {
                tcp_packet(&ip, &Tcp::new(seq), &payload(len, 7))
            };
            let t = match (udp, v6) { (true, _) => GSO_UDP_L4, (false, false) => GSO_TCPV4, (false, true) => GSO_TCPV6 };
            let (h, p) = make_partial(orig.clone(), t, mss);
            let need = len.div_ceil(usize::from(mss)).max(1);
            let mut o = Out::new(need.min(64));
            match o.split(&h, &p) {
                Ok(segs) => {
                    if udp { check_udp_segments(&orig, &segs, mss.into()) } else { check_tcp_segments(&orig, &segs, mss.into()) }
                }
                Err(e) => prop_assert_eq!(e, SplitError::TooManySegments),
            }
        }
    }
}
