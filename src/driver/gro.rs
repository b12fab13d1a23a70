//! Coalescing of decrypted packets into TCP/UDP super-packets for one tun write each
//! (the UDP → tun direction), the reverse of [`super::gso::split`]: the tun then hands
//! the kernel one large packet where it would otherwise process many small ones.
//!
//! Packets are recorded as ranges of the receive arena while a batch is decrypted and
//! copied out only at [`Coalescer::flush`]. Every packet belongs to a group, a lone
//! packet being a group of one, and groups are written in the order they were started,
//! so packets of one flow are never reordered.

use super::checksum;
use super::gso::{
    VnetHdr, F_DATA_VALID, F_NEEDS_CSUM, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, VNET_HDR_LEN,
};
use std::ops::Range;

const NIL: u32 = u32::MAX;
const MAX_IP_LEN: usize = 65535;
/// The kernel refuses a UDP_L4 super-packet of more segments than its UDP_MAX_SEGMENTS,
/// which is 64 in older kernels (128 since 6.x); the older value is safe everywhere.
const MAX_UDP_SEGMENTS: u32 = 64;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_URG: u8 = 0x20;
const TCP_CWR: u8 = 0x80;

/// A flow: addresses (IPv4 ones in the first 8 bytes), ports, family and protocol.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    addrs: [u8; 32],
    ports: [u8; 4],
    v6: bool,
    proto: u8,
}

impl FlowKey {
    fn hash(&self) -> u64 {
        let mut h = u64::from(self.proto) << 1 | u64::from(self.v6);
        let mut mix = |w: u64| h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
        for c in self.addrs.chunks_exact(8) {
            mix(u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])));
        }
        mix(u64::from(u32::from_ne_bytes(self.ports)));
        h ^ h >> 32
    }
}

#[derive(Clone, Copy)]
struct Packet {
    start: usize,
    end: usize,
    /// The IP packet's own length: the range may carry trailing padding.
    ip_len: usize,
    next: u32,
}

#[derive(Clone, Copy)]
struct Group {
    first: u32,
    last: u32,
    count: u32,
    /// Further packets of the flow may still join.
    open: bool,
    /// The flow table slot pointing here, NIL for packets that are no flow's group.
    slot: u32,
    key: FlowKey,
    iphl: usize,
    l4hl: usize,
    /// The segment size: the first packet's payload length.
    seg: usize,
    /// The merged IP packet's length so far.
    ip_len: usize,
    next_seq: u32,
    next_id: u16,
    psh: bool,
}

/// What the coalescer needs of one packet that belongs to a TCP or UDP flow.
struct Info {
    key: FlowKey,
    iphl: usize,
    l4hl: usize,
    ip_len: usize,
    /// May start or join a merged group (otherwise it only ends its flow's open group).
    mergeable: bool,
    seq: u32,
    id: u16,
    psh: bool,
}

impl Info {
    fn payload(&self) -> usize {
        self.ip_len - self.iphl - self.l4hl
    }
}

/// Gathers the packets decrypted between two flushes into tun writes.
pub struct Coalescer {
    tcp: bool,
    udp: bool,
    capacity: usize,
    packets: Vec<Packet>,
    groups: Vec<Group>,
    /// Open addressing, linear probing: flow → index of its newest group. At most
    /// `capacity` entries in at least twice as many slots, so probes end at an empty slot.
    table: Vec<u32>,
}

impl Coalescer {
    /// Room for `max_packets` packets between flushes (all storage allocated here).
    pub fn new(max_packets: usize) -> Coalescer {
        let capacity = max_packets.max(1);
        let slots = (capacity * 2).next_power_of_two().max(16);
        Coalescer {
            tcp: true,
            udp: false,
            capacity,
            packets: Vec::with_capacity(capacity),
            groups: Vec::with_capacity(capacity),
            table: vec![NIL; slots],
        }
    }

    /// Which kinds may be merged (UDP only when the tun accepted USO).
    pub fn set_kinds(&mut self, tcp: bool, udp: bool) {
        self.tcp = tcp;
        self.udp = udp;
    }

    /// No packet recorded since the last flush.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Records the IP packet `arena[range]`; false when full (the caller flushes, then
    /// pushes again). A range outside `arena` is dropped (and true returned).
    pub fn push(&mut self, arena: &[u8], range: Range<usize>) -> bool {
        if self.packets.len() >= self.capacity {
            return false;
        }
        let Some(p) = arena.get(range.clone()) else {
            return true;
        };
        let pi = self.packets.len() as u32;
        self.packets.push(Packet {
            start: range.start,
            end: range.end,
            ip_len: p.len(),
            next: NIL,
        });
        let Some(info) = parse(p, self.tcp, self.udp) else {
            self.start_group(pi, None, NIL);
            return true;
        };
        self.packets[pi as usize].ip_len = info.ip_len;
        let slot = self.find(&info.key);
        let gi = self.table[slot];
        if gi != NIL {
            if info.mergeable && self.can_join(gi as usize, pi, &info, arena) {
                self.join(gi as usize, pi, &info);
                return true;
            }
            // Whatever follows in this flow must not be written before this packet.
            self.groups[gi as usize].open = false;
        }
        if info.mergeable {
            let g = self.start_group(pi, Some(&info), slot as u32);
            self.table[slot] = g;
        } else {
            self.start_group(pi, None, NIL);
        }
        true
    }

    /// For each group, in the order the groups were started: builds virtio_net_hdr + IP
    /// packet in `scratch` (at least `VNET_HDR_LEN + 65535` bytes) and hands that slice to
    /// `write`; then empties. A packet that does not fit `scratch` is dropped.
    pub fn flush(&mut self, arena: &[u8], scratch: &mut [u8], mut write: impl FnMut(&[u8])) {
        for gi in 0..self.groups.len() {
            let g = self.groups[gi];
            let built = if g.count > 1 {
                self.build(&g, arena, scratch)
            } else {
                None
            };
            match built {
                Some(n) => write(&scratch[..n]),
                None => {
                    // A group of one, or a merge that could not be built: as received.
                    let mut pi = g.first;
                    while pi != NIL {
                        let p = self.packets[pi as usize];
                        if let Some(n) = lone(arena, p.start..p.end, scratch) {
                            write(&scratch[..n]);
                        }
                        pi = p.next;
                    }
                }
            }
            if g.slot != NIL {
                self.table[g.slot as usize] = NIL;
            }
        }
        self.groups.clear();
        self.packets.clear();
    }

    fn start_group(&mut self, pi: u32, info: Option<&Info>, slot: u32) -> u32 {
        let gi = self.groups.len() as u32;
        let mut g = Group {
            first: pi,
            last: pi,
            count: 1,
            open: false,
            slot,
            key: FlowKey {
                addrs: [0; 32],
                ports: [0; 4],
                v6: false,
                proto: 0,
            },
            iphl: 0,
            l4hl: 0,
            seg: 0,
            ip_len: 0,
            next_seq: 0,
            next_id: 0,
            psh: false,
        };
        if let Some(i) = info {
            let seg = i.payload();
            g.open = !i.psh;
            g.key = i.key;
            g.iphl = i.iphl;
            g.l4hl = i.l4hl;
            g.seg = seg;
            g.ip_len = i.ip_len;
            g.next_seq = i.seq.wrapping_add(seg as u32);
            g.next_id = i.id.wrapping_add(1);
            g.psh = i.psh;
        }
        self.groups.push(g);
        gi
    }

    /// The slot holding `key`'s entry, or the empty slot where it would go.
    fn find(&self, key: &FlowKey) -> usize {
        let mask = self.table.len() - 1;
        let mut s = key.hash() as usize & mask;
        loop {
            let gi = self.table[s];
            if gi == NIL || self.groups[gi as usize].key == *key {
                return s;
            }
            s = (s + 1) & mask;
        }
    }

    fn can_join(&self, gi: usize, pi: u32, info: &Info, arena: &[u8]) -> bool {
        let g = &self.groups[gi];
        let payload = info.payload();
        if !g.open
            || info.iphl != g.iphl
            || info.l4hl != g.l4hl
            || payload > g.seg
            || g.ip_len + payload > MAX_IP_LEN
        {
            return false;
        }
        let hl = g.iphl + g.l4hl;
        let first = self.packets[g.first as usize];
        let this = self.packets[pi as usize];
        let (Some(f), Some(p)) = (
            arena.get(first.start..first.start + hl),
            arena.get(this.start..this.start + hl),
        ) else {
            return false;
        };
        let ip_ok = if info.key.v6 {
            // Version, traffic class and flow label; hop limit.
            f[..4] == p[..4] && f[7] == p[7]
        } else {
            // TOS; DF; TTL; consecutive IDs (what the sender's stack or GSO produces).
            f[1] == p[1] && (f[6] ^ p[6]) & 0x40 == 0 && f[8] == p[8] && info.id == g.next_id
        };
        if !ip_ok {
            return false;
        }
        let (f, p) = (&f[g.iphl..], &p[g.iphl..]);
        if info.key.proto == PROTO_TCP {
            // Ack, data offset, window, urgent pointer and options as the first's; the
            // flags too except PSH (the first's has none, or its group would be closed).
            info.seq == g.next_seq
                && f[8..13] == p[8..13]
                && f[13] == p[13] & !TCP_PSH
                && f[14..16] == p[14..16]
                && f[18..] == p[18..]
        } else {
            g.count < MAX_UDP_SEGMENTS
        }
    }

    fn join(&mut self, gi: usize, pi: u32, info: &Info) {
        let last = self.groups[gi].last as usize;
        self.packets[last].next = pi;
        let g = &mut self.groups[gi];
        let payload = info.payload();
        g.last = pi;
        g.count += 1;
        g.ip_len += payload;
        g.next_seq = g.next_seq.wrapping_add(payload as u32);
        g.next_id = g.next_id.wrapping_add(1);
        g.psh |= info.psh;
        // A short segment is the end of what the sender's GSO produced in one go, so
        // nothing may follow it in one super-packet; nor after a PSH.
        if payload < g.seg
            || info.psh
            || (info.key.proto == PROTO_UDP && g.count >= MAX_UDP_SEGMENTS)
        {
            g.open = false;
        }
    }

    /// Writes the merged group into `scratch`; its length, or None if it cannot be built.
    fn build(&self, g: &Group, arena: &[u8], scratch: &mut [u8]) -> Option<usize> {
        let total = VNET_HDR_LEN + g.ip_len;
        let out = scratch.get_mut(VNET_HDR_LEN..total)?;
        let hl = g.iphl + g.l4hl;
        let first = self.packets[g.first as usize];
        out[..hl].copy_from_slice(arena.get(first.start..first.start + hl)?);
        let mut at = hl;
        let mut pi = g.first;
        while pi != NIL {
            let p = self.packets[pi as usize];
            let data = arena.get(p.start + hl..p.start + p.ip_len)?;
            out.get_mut(at..at + data.len())?.copy_from_slice(data);
            at += data.len();
            pi = p.next;
        }
        if at != g.ip_len {
            return None;
        }
        let l4len = g.ip_len - g.iphl;
        let v6 = g.key.v6;
        let proto = g.key.proto;
        if v6 {
            out[4..6].copy_from_slice(&(l4len as u16).to_be_bytes());
        } else {
            out[2..4].copy_from_slice(&(g.ip_len as u16).to_be_bytes());
            checksum::ipv4_header(&mut out[..g.iphl]);
        }
        let addrs = if v6 { 8..40 } else { 12..20 };
        let ph = checksum::fold(checksum::add_carry(
            checksum::sum(&out[addrs], 0),
            u64::from(proto) + l4len as u64,
        ));
        let l4 = &mut out[g.iphl..];
        let (gso_type, csum_offset) = if proto == PROTO_TCP {
            if g.psh {
                l4[13] |= TCP_PSH;
            }
            (if v6 { GSO_TCPV6 } else { GSO_TCPV4 }, 16)
        } else {
            l4[4..6].copy_from_slice(&(l4len as u16).to_be_bytes());
            (GSO_UDP_L4, 6)
        };
        // CHECKSUM_PARTIAL: the field holds the pseudo-header's sum, not complemented;
        // whoever finishes the checksum adds the rest from csum_start.
        l4[csum_offset..csum_offset + 2].copy_from_slice(&ph.to_be_bytes());
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type,
            hdr_len: hl as u16,
            gso_size: g.seg as u16,
            csum_start: g.iphl as u16,
            csum_offset: csum_offset as u16,
        };
        scratch[..VNET_HDR_LEN].copy_from_slice(&hdr.encode());
        Some(total)
    }
}

/// Writes a packet as received behind a DATA_VALID header: the AEAD authenticated it,
/// which is why the kernel's own wireguard marks decrypted packets
/// CHECKSUM_UNNECESSARY. None if it does not fit `scratch`.
fn lone(arena: &[u8], range: Range<usize>, scratch: &mut [u8]) -> Option<usize> {
    let p = arena.get(range)?;
    let total = VNET_HDR_LEN + p.len();
    let hdr = VnetHdr {
        flags: F_DATA_VALID,
        gso_type: GSO_NONE,
        ..VnetHdr::default()
    };
    scratch
        .get_mut(..VNET_HDR_LEN)?
        .copy_from_slice(&hdr.encode());
    scratch.get_mut(VNET_HDR_LEN..total)?.copy_from_slice(p);
    Some(total)
}

fn be16(p: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([p[at], p[at + 1]])
}

/// The flow of `p` if it is a TCP (when `tcp`) or UDP (when `udp`) packet whose ports
/// can be read, and whether it may be merged. None for anything else, which is then
/// written alone and orders nothing.
fn parse(p: &[u8], tcp: bool, udp: bool) -> Option<Info> {
    let mut key = FlowKey {
        addrs: [0; 32],
        ports: [0; 4],
        v6: false,
        proto: 0,
    };
    let (iphl, ip_len, mut mergeable, id);
    match p.first()? >> 4 {
        4 if p.len() >= 20 => {
            iphl = usize::from(p[0] & 0x0f) * 4;
            ip_len = usize::from(be16(p, 2));
            if iphl < 20 || ip_len < iphl || ip_len > p.len() {
                return None;
            }
            let frag = be16(p, 6);
            // Only a first fragment (or none) starts with the ports; merging wants none,
            // and no IP options, so that every member's IP header is the first's.
            if frag & 0x1fff != 0 {
                return None;
            }
            mergeable = iphl == 20 && frag & 0x2000 == 0;
            key.proto = p[9];
            key.addrs[..8].copy_from_slice(&p[12..20]);
            id = be16(p, 4);
        }
        6 if p.len() >= 40 => {
            iphl = 40;
            ip_len = 40 + usize::from(be16(p, 4));
            if ip_len > p.len() {
                return None;
            }
            // Extension headers (and with them fragments) are not walked.
            mergeable = true;
            key.v6 = true;
            key.proto = p[6];
            key.addrs.copy_from_slice(&p[8..40]);
            id = 0;
        }
        _ => return None,
    }
    let l4 = &p[iphl..ip_len];
    let (l4hl, seq, psh);
    match key.proto {
        PROTO_TCP if tcp && l4.len() >= 20 => {
            l4hl = usize::from(l4[12] >> 4) * 4;
            if l4hl < 20 || l4hl > l4.len() {
                return None;
            }
            let f = l4[13];
            mergeable &= f & TCP_ACK != 0
                && f & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG | TCP_CWR) == 0
                && l4.len() > l4hl;
            seq = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]);
            psh = f & TCP_PSH != 0;
        }
        // A datagram its sender left without a checksum (zero) is not given one by a
        // merge, and a length field disagreeing with the IP length has no defined merge.
        PROTO_UDP if udp && l4.len() >= 8 => {
            l4hl = 8;
            mergeable &= be16(l4, 6) != 0 && usize::from(be16(l4, 4)) == l4.len() && l4.len() > 8;
            seq = 0;
            psh = false;
        }
        _ => return None,
    }
    key.ports.copy_from_slice(&l4[..4]);
    Some(Info {
        key,
        iphl,
        l4hl,
        ip_len,
        mergeable,
        seq,
        id,
        psh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::gso::tests::*;
    use crate::driver::gso::{split, SplitError};
    use proptest::prelude::*;

    /// Lays `pkts` out in one arena with gaps (as decryption in place leaves them),
    /// pushes them all and flushes; returns each write split into header and packet.
    fn run(c: &mut Coalescer, pkts: &[Vec<u8>]) -> Vec<(VnetHdr, Vec<u8>)> {
        let mut arena = vec![0xaa; 13];
        let mut ranges = Vec::new();
        for p in pkts {
            let start = arena.len();
            arena.extend_from_slice(p);
            ranges.push(start..arena.len());
            arena.extend_from_slice(&[0xbb; 32]);
        }
        for r in ranges {
            assert!(c.push(&arena, r));
        }
        let mut out = Vec::new();
        let mut scratch = vec![0u8; VNET_HDR_LEN + 65535];
        c.flush(&arena, &mut scratch, |b| {
            out.push((VnetHdr::decode(b).unwrap(), b[VNET_HDR_LEN..].to_vec()))
        });
        assert!(c.is_empty());
        out
    }

    fn coalesce(tcp: bool, udp: bool, pkts: &[Vec<u8>]) -> Vec<(VnetHdr, Vec<u8>)> {
        let mut c = Coalescer::new(pkts.len().max(1));
        c.set_kinds(tcp, udp);
        run(&mut c, pkts)
    }

    fn be16(p: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([p[at], p[at + 1]])
    }
    fn be32(p: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
    }

    fn lone_hdr() -> VnetHdr {
        VnetHdr {
            flags: F_DATA_VALID,
            ..VnetHdr::default()
        }
    }

    /// `out` is `members` merged: every field of the header and the packet.
    fn assert_merged(out: &(VnetHdr, Vec<u8>), members: &[Vec<u8>]) {
        let (h, p) = out;
        let f = &members[0];
        let v6 = f[0] >> 4 == 6;
        let iphl = if v6 { 40 } else { 20 };
        let tcp = f[if v6 { 6 } else { 9 }] == 6;
        let l4hl = if tcp {
            usize::from(f[iphl + 12] >> 4) * 4
        } else {
            8
        };
        let hl = iphl + l4hl;
        let mut payload = Vec::new();
        for m in members {
            payload.extend_from_slice(&m[hl..]);
        }
        assert_eq!(p.len(), hl + payload.len());
        assert_eq!(&p[hl..], &payload[..]);
        let want = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: match (tcp, v6) {
                (true, false) => GSO_TCPV4,
                (true, true) => GSO_TCPV6,
                _ => GSO_UDP_L4,
            },
            hdr_len: hl as u16,
            gso_size: (f.len() - hl) as u16,
            csum_start: iphl as u16,
            csum_offset: if tcp { 16 } else { 6 },
        };
        assert_eq!(*h, want);
        if v6 {
            assert_eq!(usize::from(be16(p, 4)), p.len() - 40);
            assert_eq!(&p[..4], &f[..4]);
            assert_eq!(&p[6..40], &f[6..40]);
        } else {
            assert_eq!(usize::from(be16(p, 2)), p.len());
            assert_eq!(naive(&p[..20]), 0xffff);
            assert_eq!(&p[..2], &f[..2]);
            assert_eq!(&p[4..10], &f[4..10]);
            assert_eq!(&p[12..20], &f[12..20]);
        }
        let l4 = &p[iphl..];
        let fl4 = &f[iphl..];
        let at = if tcp { 16 } else { 6 };
        assert_eq!(
            be16(l4, at),
            naive(&pseudo_bytes(p, l4.len())),
            "partial checksum"
        );
        if tcp {
            let psh = members.iter().any(|m| m[iphl + 13] & PSH != 0);
            assert_eq!(l4[13], fl4[13] | if psh { PSH } else { 0 });
            assert_eq!(&l4[..13], &fl4[..13]);
            assert_eq!(&l4[14..16], &fl4[14..16]);
            assert_eq!(&l4[18..l4hl], &fl4[18..l4hl]);
        } else {
            assert_eq!(usize::from(be16(l4, 4)), l4.len());
            assert_eq!(&l4[..4], &fl4[..4]);
        }
        // Finishing the partial checksum as the kernel would yields a valid packet.
        let mut done = p.clone();
        let c = !naive(&done[iphl..]);
        done[iphl + at..iphl + at + 2].copy_from_slice(&c.to_be_bytes());
        assert_checksums(&done);
    }

    /// A TCP flow's segments: `sizes` payload bytes each, consecutive seq and IPv4 ID.
    fn tcp_flow(ip: &Ip, tcp: &Tcp, sizes: &[usize]) -> Vec<Vec<u8>> {
        let mut ip = ip.clone();
        let mut tcp = tcp.clone();
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let p = tcp_packet(&ip, &tcp, &payload(n, i as u8));
                ip.id = ip.id.wrapping_add(1);
                tcp.seq = tcp.seq.wrapping_add(n as u32);
                p
            })
            .collect()
    }

    fn udp_flow(ip: &Ip, sizes: &[usize]) -> Vec<Vec<u8>> {
        let mut ip = ip.clone();
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let p = udp_packet(&ip, 4433, 50000, &payload(n, i as u8));
                ip.id = ip.id.wrapping_add(1);
                p
            })
            .collect()
    }

    /// Checks that `out` are exactly the groups `groups` of `pkts` (by index), merged
    /// where a group has more than one member, as received where it has one.
    fn assert_groups(out: &[(VnetHdr, Vec<u8>)], pkts: &[Vec<u8>], groups: &[&[usize]]) {
        assert_eq!(out.len(), groups.len(), "number of writes");
        for (o, g) in out.iter().zip(groups) {
            if g.len() == 1 {
                assert_eq!(o.0, lone_hdr());
                assert_eq!(o.1, pkts[g[0]]);
            } else {
                let members: Vec<Vec<u8>> = g.iter().map(|&i| pkts[i].clone()).collect();
                assert_merged(o, &members);
            }
        }
    }

    #[test]
    fn tcp_v4_consecutive_segments_merge() {
        let pkts = tcp_flow(&Ip::v4(), &Tcp::new(1000), &[1000, 1000, 1000, 400]);
        let out = coalesce(true, false, &pkts);
        assert_groups(&out, &pkts, &[&[0, 1, 2, 3]]);
        assert_eq!(out[0].1.len(), 20 + 32 + 3400);
        assert_eq!(be32(&out[0].1, 24), 1000);
    }

    #[test]
    fn tcp_v6_consecutive_segments_merge() {
        let mut tcp = Tcp::new(0xffff_f000);
        tcp.options.clear();
        let pkts = tcp_flow(&Ip::v6(), &tcp, &[1440; 5]);
        let out = coalesce(true, false, &pkts);
        assert_groups(&out, &pkts, &[&[0, 1, 2, 3, 4]]);
    }

    #[test]
    fn seq_gap_and_id_gap_split() {
        let mut pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 4]);
        // A lost segment between 1 and 2: 2 and 3 carry on after the gap.
        pkts.remove(2);
        let out = coalesce(true, false, &pkts);
        assert_groups(&out, &pkts, &[&[0, 1], &[2]]);

        let mut pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 4]);
        let mut ip = Ip::v4();
        ip.id = 0x1234 + 7;
        let mut tcp = Tcp::new(1 + 1000);
        pkts[2] = tcp_packet(&ip, &tcp, &payload(500, 2));
        ip.id += 1;
        tcp.seq += 500;
        pkts[3] = tcp_packet(&ip, &tcp, &payload(500, 3));
        let out = coalesce(true, false, &pkts);
        assert_groups(&out, &pkts, &[&[0, 1], &[2, 3]]);
    }

    #[test]
    fn addresses_summing_near_the_top() {
        // Found by fuzzing (fuzz/, target gso_split): the pseudo-header sum of these
        // addresses is close to u64::MAX, and adding protocol and length overflowed.
        let mut ip = Ip::v6();
        ip.src = [0xff; 16];
        ip.dst = [0xff; 16];
        let pkts = udp_flow(&ip, &[1000, 1000, 300]);
        assert_groups(&coalesce(false, true, &pkts), &pkts, &[&[0, 1, 2]]);
        let pkts = tcp_flow(&ip, &Tcp::new(1), &[500; 3]);
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0, 1, 2]]);
    }

    #[test]
    fn ipv4_id_wraps() {
        let mut ip = Ip::v4();
        ip.id = 0xffff;
        let pkts = tcp_flow(&ip, &Tcp::new(1), &[500; 3]);
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0, 1, 2]]);
    }

    #[test]
    fn ipv4_options_fragments_and_padding() {
        let mut ip = Ip::v4();
        ip.options = vec![1, 1, 1, 0];
        let pkts = tcp_flow(&ip, &Tcp::new(1), &[500; 3]);
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0], &[1], &[2]]);

        // First fragments (MF) and later fragments are left alone.
        let mut pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 4]);
        pkts[1][6] |= 0x20;
        pkts[1][10..12].fill(0);
        checksum::ipv4_header(&mut pkts[1]);
        pkts[3][7] = 1;
        pkts[3][10..12].fill(0);
        checksum::ipv4_header(&mut pkts[3]);
        assert_groups(
            &coalesce(true, false, &pkts),
            &pkts,
            &[&[0], &[1], &[2], &[3]],
        );

        // WireGuard pads plaintext to 16 bytes: a merge uses the IP length, a lone packet
        // is written as it was handed over.
        let pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500, 500, 3]);
        let mut padded = pkts.clone();
        for p in &mut padded {
            p.extend_from_slice(&[0; 11]);
        }
        let out = coalesce(true, false, &padded);
        assert_groups(&out, &pkts, &[&[0, 1, 2]]);
        let out = coalesce(true, false, &padded[..1]);
        assert_groups(&out, &padded, &[&[0]]);
    }

    #[test]
    fn different_addressing_or_ip_fields_do_not_merge() {
        let base = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 3]);
        let variants: [fn(&mut Ip, &mut Tcp); 7] = [
            |_, t| t.sport += 1,
            |_, t| t.dport += 1,
            |i, _| i.src[3] += 1,
            |i, _| i.dst[3] += 1,
            |i, _| i.ttl -= 1,
            |i, _| i.tos = 0x10,
            |i, _| i.df = false,
        ];
        for (n, change) in variants.iter().enumerate() {
            let mut ip = Ip::v4();
            ip.id += 2;
            let mut tcp = Tcp::new(1001);
            change(&mut ip, &mut tcp);
            let mut pkts = base.clone();
            pkts[2] = tcp_packet(&ip, &tcp, &payload(500, 2));
            let out = coalesce(true, false, &pkts);
            assert_eq!(out.len(), 2, "variant {n}");
            assert_groups(&out, &pkts, &[&[0, 1], &[2]]);
        }
        let base6 = tcp_flow(&Ip::v6(), &Tcp::new(1), &[500; 3]);
        let variants6: [fn(&mut Ip); 4] = [
            |i| i.ttl += 1,
            |i| i.tos = 4,
            |i| i.flow ^= 1,
            |i| i.src[0] ^= 1,
        ];
        for change in &variants6 {
            let mut ip = Ip::v6();
            change(&mut ip);
            let mut pkts = base6.clone();
            pkts[2] = tcp_packet(&ip, &Tcp::new(1001), &payload(500, 2));
            assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0, 1], &[2]]);
        }
    }

    #[test]
    fn tcp_flags_end_groups_and_keep_order() {
        for flag in [FIN, SYN, RST, URG, CWR] {
            let mut pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 4]);
            let mut ip = Ip::v4();
            ip.id += 2;
            let mut tcp = Tcp::new(1001);
            tcp.flags |= flag;
            pkts[2] = tcp_packet(&ip, &tcp, &payload(500, 2));
            // 3 continues 2's sequence; it must not join the group written before 2.
            let out = coalesce(true, false, &pkts);
            assert_groups(&out, &pkts, &[&[0, 1], &[2], &[3]]);
        }
        // Without ACK.
        let mut pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 2]);
        pkts[1][33] = 0;
        pkts[1] = crate::driver::gso::tests::finish(pkts[1].clone());
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0], &[1]]);
    }

    #[test]
    fn ece_merges_only_when_equal() {
        let mut tcp = Tcp::new(1);
        tcp.flags |= ECE;
        let pkts = tcp_flow(&Ip::v4(), &tcp, &[500; 3]);
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0, 1, 2]]);
        let mut mixed = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 3]);
        mixed[2] = pkts[2].clone();
        assert_groups(&coalesce(true, false, &mixed), &mixed, &[&[0, 1], &[2]]);
    }

    #[test]
    fn tcp_header_differences_do_not_merge() {
        let variants: [fn(&mut Tcp); 5] = [
            |t| t.ack += 1,
            |t| t.window += 1,
            |t| t.options[11] += 1,
            |t| t.options.clear(),
            |t| t.options.extend_from_slice(&[1, 1, 1, 1]),
        ];
        for change in &variants {
            let mut pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 3]);
            let mut ip = Ip::v4();
            ip.id += 2;
            let mut tcp = Tcp::new(1001);
            change(&mut tcp);
            pkts[2] = tcp_packet(&ip, &tcp, &payload(500, 2));
            assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0, 1], &[2]]);
        }
    }

    #[test]
    fn psh_and_short_segments_close_the_group() {
        let mut pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 4]);
        let mut ip = Ip::v4();
        ip.id += 1;
        let mut tcp = Tcp::new(501);
        tcp.flags |= PSH;
        pkts[1] = tcp_packet(&ip, &tcp, &payload(500, 1));
        let out = coalesce(true, false, &pkts);
        assert_groups(&out, &pkts, &[&[0, 1], &[2, 3]]);
        assert_eq!(out[0].1[33], ACK | PSH);
        assert_eq!(out[1].1[33], ACK);

        // A PSH on the first packet: a group of one.
        let mut tcp = Tcp::new(1);
        tcp.flags |= PSH;
        let pkts = tcp_flow(&Ip::v4(), &tcp, &[500; 2]);
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0], &[1]]);

        let pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500, 300, 300, 300]);
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0, 1], &[2, 3]]);
        // A longer one than the group's segment size cannot join.
        let pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500, 500, 600, 600]);
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0, 1], &[2, 3]]);
    }

    #[test]
    fn empty_payload_is_alone() {
        let pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[0, 500, 500]);
        // A pure ACK orders the flow but merges with nothing; the ID gap after it is fine
        // because the data packets carry consecutive IDs.
        assert_groups(&coalesce(true, false, &pkts), &pkts, &[&[0], &[1, 2]]);
    }

    #[test]
    fn merged_length_limit() {
        let pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[1400; 50]);
        let out = coalesce(true, false, &pkts);
        // (65535 - 52) / 1400 = 46 segments fit.
        let first: Vec<usize> = (0..46).collect();
        let second: Vec<usize> = (46..50).collect();
        assert_groups(&out, &pkts, &[&first, &second]);
        assert!(out[0].1.len() <= 65535);

        // IPv6 counts its fixed header too.
        let pkts = tcp_flow(&Ip::v6(), &Tcp::new(1), &[1000; 66]);
        let out = coalesce(true, false, &pkts);
        let first: Vec<usize> = (0..65).collect();
        assert_groups(&out, &pkts, &[&first, &[65]]);
        assert_eq!(out[0].1.len(), 40 + 32 + 65000);
    }

    #[test]
    fn interleaved_flows_each_merge_in_order() {
        let a = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 3]);
        let mut tb = Tcp::new(77);
        tb.sport = 1;
        let b = tcp_flow(&Ip::v4(), &tb, &[700; 3]);
        let c = udp_flow(&Ip::v6(), &[100; 3]);
        let mut pkts = Vec::new();
        for i in 0..3 {
            pkts.push(b[i].clone());
            pkts.push(a[i].clone());
            pkts.push(c[i].clone());
        }
        let junk = vec![0x45, 0, 0, 3];
        pkts.insert(4, junk);
        let out = coalesce(true, true, &pkts);
        assert_groups(&out, &pkts, &[&[0, 3, 7], &[1, 5, 8], &[2, 6, 9], &[4]]);
    }

    #[test]
    fn many_flows_use_the_table() {
        // 200 flows open at once, so lookups probe past colliding slots; each second
        // segment must still find its own flow's group.
        let mut pkts = Vec::new();
        let mut flows = Vec::new();
        for f in 0..200u16 {
            let mut t = Tcp::new(u32::from(f) * 1000);
            t.sport = f;
            flows.push(tcp_flow(&Ip::v4(), &t, &[100, 100]));
        }
        for flow in &flows {
            pkts.push(flow[0].clone());
        }
        for flow in &flows {
            pkts.push(flow[1].clone());
        }
        let out = coalesce(true, false, &pkts);
        let groups: Vec<Vec<usize>> = (0..200).map(|f| vec![f, f + 200]).collect();
        let refs: Vec<&[usize]> = groups.iter().map(|g| &g[..]).collect();
        assert_groups(&out, &pkts, &refs);
    }

    #[test]
    fn udp_merges_only_when_enabled() {
        for ip in [Ip::v4(), Ip::v6()] {
            let pkts = udp_flow(&ip, &[1200, 1200, 1200, 800, 1200]);
            assert_groups(
                &coalesce(true, false, &pkts),
                &pkts,
                &[&[0], &[1], &[2], &[3], &[4]],
            );
            assert_groups(&coalesce(true, true, &pkts), &pkts, &[&[0, 1, 2, 3], &[4]]);
            let pkts = udp_flow(&ip, &[1200, 1300, 1300]);
            assert_groups(&coalesce(true, true, &pkts), &pkts, &[&[0], &[1, 2]]);
        }
        // TCP disabled: TCP alone, UDP still merges.
        let mut pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[500; 2]);
        pkts.extend(udp_flow(&Ip::v4(), &[100; 2]));
        assert_groups(&coalesce(false, true, &pkts), &pkts, &[&[0], &[1], &[2, 3]]);
    }

    #[test]
    fn udp_refusals() {
        // A zero checksum; a UDP length that disagrees; an ID gap; an empty datagram.
        let mut pkts = udp_flow(&Ip::v4(), &[100; 3]);
        pkts[1][26..28].fill(0);
        assert_groups(&coalesce(true, true, &pkts), &pkts, &[&[0], &[1], &[2]]);
        let mut pkts = udp_flow(&Ip::v4(), &[100; 3]);
        pkts[2][25] -= 1;
        assert_groups(&coalesce(true, true, &pkts), &pkts, &[&[0, 1], &[2]]);
        let mut pkts = udp_flow(&Ip::v4(), &[100; 3]);
        pkts[2][5] += 1;
        pkts[2][10..12].fill(0);
        checksum::ipv4_header(&mut pkts[2]);
        assert_groups(&coalesce(true, true, &pkts), &pkts, &[&[0, 1], &[2]]);
        let pkts = udp_flow(&Ip::v4(), &[0, 100, 100]);
        assert_groups(&coalesce(true, true, &pkts), &pkts, &[&[0], &[1, 2]]);
    }

    #[test]
    fn udp_segment_count_limit() {
        let pkts = udp_flow(&Ip::v4(), &[100; 70]);
        let first: Vec<usize> = (0..64).collect();
        let second: Vec<usize> = (64..70).collect();
        assert_groups(&coalesce(true, true, &pkts), &pkts, &[&first, &second]);
    }

    #[test]
    fn lone_packets_are_byte_identical() {
        let mut icmp = Ip::v4().packet(1, &[8, 0, 0, 0, 1, 2, 3, 4]);
        icmp.push(0);
        let pkts = vec![
            tcp_packet(&Ip::v4(), &Tcp::new(1), &payload(10, 0)),
            icmp,
            vec![],
            vec![0x60; 39],
            vec![0xff; 100],
            udp_packet(&Ip::v6(), 1, 2, &payload(10, 0)),
        ];
        let out = coalesce(true, true, &pkts);
        assert_groups(&out, &pkts, &[&[0], &[1], &[2], &[3], &[4], &[5]]);
    }

    /// The packets back to back in one arena, as decrypted datagrams lie in the
    /// receive buffer, with each one's range.
    fn laid_out(pkts: &[Vec<u8>]) -> (Vec<u8>, Vec<Range<usize>>) {
        let mut arena = Vec::new();
        let mut ranges = Vec::new();
        for p in pkts {
            ranges.push(arena.len()..arena.len() + p.len());
            arena.extend_from_slice(p);
        }
        (arena, ranges)
    }

    #[test]
    fn full_then_flush_then_again() {
        let pkts = tcp_flow(&Ip::v4(), &Tcp::new(1), &[100; 5]);
        let (arena, ranges) = laid_out(&pkts);
        let mut c = Coalescer::new(3);
        assert!(c.is_empty());
        assert!(c.push(&arena, ranges[0].clone()));
        assert!(!c.is_empty());
        assert!(c.push(&arena, ranges[1].clone()));
        assert!(c.push(&arena, ranges[2].clone()));
        assert!(!c.push(&arena, ranges[3].clone()));
        let mut scratch = vec![0u8; VNET_HDR_LEN + 65535];
        let mut n = 0;
        c.flush(&arena, &mut scratch, |b| {
            n += 1;
            assert_merged(
                &(VnetHdr::decode(b).unwrap(), b[VNET_HDR_LEN..].to_vec()),
                &pkts[..3],
            );
        });
        assert_eq!(n, 1);
        assert!(c.is_empty());
        // The table was cleared: the next packets start afresh.
        assert!(c.push(&arena, ranges[3].clone()));
        assert!(c.push(&arena, ranges[4].clone()));
        let mut outs = Vec::new();
        c.flush(&arena, &mut scratch, |b| outs.push(b.to_vec()));
        assert_eq!(outs.len(), 1);
        // Out-of-arena ranges are dropped; flushing nothing writes nothing.
        assert!(c.push(&arena, 0..arena.len() + 1));
        assert!(c.is_empty());
        c.flush(&arena, &mut scratch, |_| panic!("nothing to write"));
        // A scratch too small for a merge writes the members as received.
        for r in &ranges[..3] {
            assert!(c.push(&arena, r.clone()));
        }
        let mut small = vec![0u8; VNET_HDR_LEN + 200];
        let mut outs = Vec::new();
        c.flush(&arena, &mut small, |b| {
            outs.push(b[VNET_HDR_LEN..].to_vec())
        });
        assert_eq!(outs, pkts[..3].to_vec());
        // Zero capacity still takes one packet at a time.
        let mut c = Coalescer::new(0);
        assert!(c.push(&arena, ranges[0].clone()));
        assert!(!c.push(&arena, ranges[1].clone()));
    }

    /// Splits `orig` (as the kernel hands it to a tun reader) and coalesces the segments.
    fn round_trip(orig: Vec<u8>, gso_type: u8, mss: u16) {
        let (h, partial) = make_partial(orig, gso_type, mss);
        let stride = 2048;
        let mut out = vec![0u8; 64 * stride];
        let mut lens = [0usize; 64];
        let mut p = partial.clone();
        let n = split(&h, &mut p, &mut out, stride, 0, &mut lens).unwrap();
        assert!(n > 1);
        let mut c = Coalescer::new(64);
        c.set_kinds(true, true);
        for (i, &len) in lens[..n].iter().enumerate() {
            assert!(c.push(&out, i * stride..i * stride + len));
        }
        let mut writes = Vec::new();
        let mut scratch = vec![0u8; VNET_HDR_LEN + 65535];
        c.flush(&out, &mut scratch, |b| writes.push(b.to_vec()));
        assert_eq!(writes.len(), 1);
        assert_eq!(VnetHdr::decode(&writes[0]), Some(h));
        // The same bytes the kernel gave us, partial checksum included.
        assert_eq!(writes[0][VNET_HDR_LEN..], partial[..]);
    }

    #[test]
    fn split_then_coalesce_restores_the_super_packet() {
        let mut tcp = Tcp::new(0xffff_ff00);
        tcp.flags |= PSH;
        let mut ip = Ip::v4();
        ip.id = 0xfffe;
        round_trip(tcp_packet(&ip, &tcp, &payload(10_000, 5)), GSO_TCPV4, 1448);
        round_trip(
            tcp_packet(&Ip::v6(), &tcp, &payload(60_000, 6)),
            GSO_TCPV6,
            1428,
        );
        round_trip(
            udp_packet(&Ip::v4(), 443, 5555, &payload(9_999, 7)),
            GSO_UDP_L4,
            1200,
        );
        round_trip(
            udp_packet(&Ip::v6(), 443, 5555, &payload(4_800, 8)),
            GSO_UDP_L4,
            1200,
        );
    }

    #[test]
    fn split_rejects_what_coalesce_never_builds() {
        // Sanity link between the two modules' limits: a merged UDP super-packet stays
        // within the segment count the split side (and the kernel) accept.
        let pkts = udp_flow(&Ip::v4(), &[10; 64]);
        let out = coalesce(true, true, &pkts);
        let (h, mut p) = out[0].clone();
        let mut buf = vec![0u8; 64 * 128];
        let mut lens = [0usize; 64];
        assert_eq!(split(&h, &mut p, &mut buf, 128, 0, &mut lens), Ok(64));
        let mut lens = [0usize; 63];
        assert_eq!(
            split(&h, &mut p, &mut buf, 128, 0, &mut lens),
            Err(SplitError::TooManySegments)
        );
    }

    /// A flow for the interleaving property: its packets, each with the flow's index.
    fn prop_flow(f: usize, udp: bool, v6: bool, sizes: &[(usize, bool)]) -> Vec<Vec<u8>> {
        let mut ip = if v6 { Ip::v6() } else { Ip::v4() };
        ip.id = (f as u16).wrapping_mul(0x3001);
        let mut tcp = Tcp::new((f as u32).wrapping_mul(0x9e37_79b9));
        tcp.sport = f as u16;
        sizes
            .iter()
            .map(|&(n, psh)| {
                let data = payload(n, n as u8);
                let p = if udp {
                    udp_packet(&ip, f as u16, 9, &data)
                } else {
                    let mut t = tcp.clone();
                    if psh {
                        t.flags |= PSH;
                    }
                    tcp_packet(&ip, &t, &data)
                };
                ip.id = ip.id.wrapping_add(1);
                tcp.seq = tcp.seq.wrapping_add(n as u32);
                p
            })
            .collect()
    }

    proptest! {
        /// Coalescing then splitting gives every flow's packets back, byte for byte and in
        /// order: merges keep payloads, headers and checksums, and nothing is reordered.
        #[test]
        fn coalesce_then_split_is_identity_per_flow(
            flows in proptest::collection::vec(
                (any::<bool>(), any::<bool>(), proptest::collection::vec(
                    (prop_oneof![Just(500usize), Just(500), Just(500), 1usize..600], proptest::bool::weighted(0.1)),
                    1..30,
                )),
                1..4,
            ),
            order in proptest::collection::vec(any::<u8>(), 0..120),
            cap in 1usize..40,
        ) {
            let flows: Vec<Vec<Vec<u8>>> = flows
                .iter()
                .enumerate()
                .map(|(f, (udp, v6, sizes))| prop_flow(f, *udp, *v6, sizes))
                .collect();
            // Interleave the flows as `order` says, each flow's packets in their order.
            let mut next = vec![0; flows.len()];
            let mut pkts = Vec::new();
            let mut o = order.iter().cycle();
            while pkts.len() < flows.iter().map(Vec::len).sum() {
                let mut f = usize::from(*o.next().unwrap_or(&0)) % flows.len();
                while next[f] == flows[f].len() {
                    f = (f + 1) % flows.len();
                }
                pkts.push(flows[f][next[f]].clone());
                next[f] += 1;
            }
            let (arena, ranges) = laid_out(&pkts);
            let mut c = Coalescer::new(cap);
            c.set_kinds(true, true);
            let mut scratch = vec![0u8; VNET_HDR_LEN + 65535];
            let mut writes = Vec::new();
            for r in ranges {
                if !c.push(&arena, r.clone()) {
                    c.flush(&arena, &mut scratch, |b| writes.push(b.to_vec()));
                    prop_assert!(c.push(&arena, r));
                }
            }
            c.flush(&arena, &mut scratch, |b| writes.push(b.to_vec()));
            let stride = 2048;
            let mut buf = vec![0u8; 64 * stride];
            let mut lens = [0usize; 64];
            let mut back = Vec::new();
            for w in &writes {
                let h = VnetHdr::decode(w).unwrap();
                let mut p = w[VNET_HDR_LEN..].to_vec();
                let n = split(&h, &mut p, &mut buf, stride, 0, &mut lens).unwrap();
                for i in 0..n {
                    back.push(buf[i * stride..][..lens[i]].to_vec());
                }
            }
            prop_assert_eq!(back.len(), pkts.len());
            for flow in &flows {
                let got: Vec<&Vec<u8>> = back.iter().filter(|p| flow.contains(p)).collect();
                let want: Vec<&Vec<u8>> = flow.iter().collect();
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn random_packets_never_panic(
            pkts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..20),
            tcp in any::<bool>(),
            udp in any::<bool>(),
            cap in 0usize..8,
        ) {
            let (arena, ranges) = laid_out(&pkts);
            let mut c = Coalescer::new(cap);
            c.set_kinds(tcp, udp);
            let mut scratch = vec![0u8; VNET_HDR_LEN + 65535];
            let mut written = 0;
            for r in ranges {
                if !c.push(&arena, r.clone()) {
                    c.flush(&arena, &mut scratch, |_| written += 1);
                    prop_assert!(c.push(&arena, r));
                }
            }
            c.flush(&arena, &mut scratch, |_| written += 1);
            prop_assert!(written <= pkts.len());
        }

        #[test]
        fn mutated_flows_never_panic_and_keep_every_payload_byte(
            v6 in any::<bool>(),
            udp in any::<bool>(),
            sizes in proptest::collection::vec(1usize..300, 1..12),
            mutations in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 0..4),
        ) {
            let ip = if v6 { Ip::v6() } else { Ip::v4() };
            let mut pkts = if udp { udp_flow(&ip, &sizes) } else { tcp_flow(&ip, &Tcp::new(9), &sizes) };
            for (which, at, x) in mutations {
                let n = pkts.len();
                let p = &mut pkts[which % n];
                let l = p.len();
                p[at % l] ^= x;
            }
            let out = coalesce(true, true, &pkts);
            prop_assert!(out.len() <= pkts.len());
            // Lone writes are the packets themselves; merged writes are well formed.
            for (h, p) in &out {
                if h.gso_type == GSO_NONE {
                    prop_assert_eq!(h.flags, F_DATA_VALID);
                    prop_assert!(pkts.contains(p));
                } else {
                    prop_assert_eq!(h.flags, F_NEEDS_CSUM);
                    prop_assert!(p.len() <= 65535);
                    let mut q = p.clone();
                    let mut buf = vec![0u8; 64 * 512];
                    let mut lens = [0usize; 64];
                    prop_assert!(split(h, &mut q, &mut buf, 512, 0, &mut lens).is_ok());
                }
            }
        }
    }
}
