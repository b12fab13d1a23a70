//! The virtio-net header and GSO splitting (driver/gso.rs) over any tun read: the
//! header decodes and encodes back; `split` either refuses the packet or writes
//! segments that fit their slots, each a well-formed IP packet whose lengths and
//! checksums verify and whose payloads, in order, are the super-packet's payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgif::driver::checksum::{fold, sum};
use wgif::driver::gso::{
    max_segment_len, split, VnetHdr, GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4,
    VNET_HDR_LEN,
};
use wgif_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let raw: [u8; VNET_HDR_LEN] = input.array();
    let mut hdr = VnetHdr::decode(&raw).expect("ten bytes make a header");
    assert_eq!(hdr.encode(), raw, "the header encodes back to its bytes");
    let fix = input.u8();
    let stride = 64 + input.u16() as usize % 4096;
    let headroom = input.u8() as usize % 64;
    let slots = 1 + input.u8() as usize % 64;
    let mut pkt = input.rest().to_vec();

    // Half the inputs get a header consistent with the packet, so the fuzzer spends
    // its time past the consistency checks as well as on them.
    if fix & 1 == 1 && !pkt.is_empty() {
        let v6 = pkt[0] >> 4 == 6;
        let ihl = if v6 {
            40
        } else {
            usize::from(pkt[0] & 0x0f) * 4
        };
        let tcp = fix & 2 == 0;
        hdr.csum_start = ihl as u16;
        hdr.csum_offset = if tcp { 16 } else { 6 };
        hdr.gso_type = match (tcp, v6) {
            (true, false) => GSO_TCPV4,
            (true, true) => GSO_TCPV6,
            (false, _) => GSO_UDP_L4,
        } | if fix & 4 == 4 { GSO_ECN } else { 0 };
        if hdr.gso_size == 0 {
            hdr.gso_size = 1 + u16::from(fix >> 3) * 8;
        }
        if let Some(p) = pkt.get_mut(if v6 { 6 } else { 9 }) {
            *p = if tcp { 6 } else { 17 };
        }
    }

    let original = pkt.clone();
    let max_seg = max_segment_len(&hdr, &pkt);
    assert!(max_seg <= pkt.len());
    let mut out = vec![0u8; stride * slots];
    let mut lens = vec![0usize; slots];
    let Ok(n) = split(&hdr, &mut pkt, &mut out, stride, headroom, &mut lens) else {
        return;
    };
    assert!(n >= 1 && n <= slots, "{n} segments for {slots} slots");
    let segs: Vec<&[u8]> = (0..n)
        .map(|i| {
            assert!(
                headroom + lens[i] <= stride,
                "segment {i} overflows its slot"
            );
            &out[i * stride + headroom..][..lens[i]]
        })
        .collect();

    if hdr.gso_type == GSO_NONE {
        assert_eq!(n, 1);
        assert_eq!(segs[0].len(), original.len());
        return;
    }
    let v6 = original[0] >> 4 == 6;
    let tcp = hdr.gso_type & !GSO_ECN != GSO_UDP_L4;
    let iphl = usize::from(hdr.csum_start);
    let l4hl = if tcp {
        usize::from(original[iphl + 12] >> 4) * 4
    } else {
        8
    };
    let hl = iphl + l4hl;
    let mut payload = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        assert!(
            seg.len() <= max_seg.max(hl),
            "segment {i} longer than max_segment_len"
        );
        if v6 {
            assert_eq!(
                usize::from(u16::from_be_bytes([seg[4], seg[5]])),
                seg.len() - 40
            );
        } else {
            assert_eq!(usize::from(u16::from_be_bytes([seg[2], seg[3]])), seg.len());
            assert_eq!(
                fold(sum(&seg[..iphl], 0)),
                0xffff,
                "IPv4 header checksum of {i}"
            );
        }
        let (src, dst) = if v6 {
            (&seg[8..24], &seg[24..40])
        } else {
            (&seg[12..16], &seg[16..20])
        };
        let l4 = &seg[iphl..];
        let mut ph = Vec::new();
        ph.extend_from_slice(src);
        ph.extend_from_slice(dst);
        ph.extend_from_slice(&[0, if tcp { 6 } else { 17 }]);
        ph.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        assert_eq!(
            fold(sum(l4, sum(&ph, 0))),
            0xffff,
            "L4 checksum of segment {i}"
        );
        if tcp {
            let seq0 = u32::from_be_bytes(original[iphl + 4..iphl + 8].try_into().unwrap());
            let seq = u32::from_be_bytes(l4[4..8].try_into().unwrap());
            assert_eq!(
                seq,
                seq0.wrapping_add(payload.len() as u32),
                "sequence of {i}"
            );
        }
        payload.extend_from_slice(&seg[hl..]);
    }
    assert_eq!(
        payload,
        original[hl..],
        "the segments carry the payload, in order"
    );
});
