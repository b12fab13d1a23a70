//! GRO coalescing (driver/gro.rs) over any batch of decrypted packets: every packet
//! pushed is written exactly once, alone (as received, behind a DATA_VALID header)
//! or inside a merged super-packet whose virtio-net header is one the kernel takes:
//! `gso::split` cuts it back into as many segments as packets were merged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgif::driver::gro::Coalescer;
use wgif::driver::gso::{split, VnetHdr, F_DATA_VALID, GSO_NONE, VNET_HDR_LEN};
use wgif_fuzz::Input;

/// The next segment of the flow `prev` belongs to, as a sender's GSO would cut it:
/// same headers, IPv4 ID + 1, TCP sequence advanced by the previous payload.
fn follow(prev: &[u8], payload: &[u8]) -> Option<Vec<u8>> {
    let v6 = prev.first()? >> 4 == 6;
    let iphl = if v6 {
        40
    } else {
        usize::from(prev[0] & 0x0f) * 4
    };
    let proto = *prev.get(if v6 { 6 } else { 9 })?;
    let l4hl = match proto {
        6 => usize::from(prev.get(iphl + 12)? >> 4) * 4,
        17 => 8,
        _ => return None,
    };
    if iphl < 20 || l4hl < 8 {
        return None;
    }
    let hl = iphl + l4hl;
    let prev_payload = prev.len().checked_sub(hl)?;
    let mut p = prev.get(..hl)?.to_vec();
    p.extend_from_slice(payload);
    let len = p.len();
    if v6 {
        p[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    } else {
        p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        let id = u16::from_be_bytes([p[4], p[5]]).wrapping_add(1);
        p[4..6].copy_from_slice(&id.to_be_bytes());
    }
    if proto == 6 {
        let seq = u32::from_be_bytes(p[iphl + 4..iphl + 8].try_into().ok()?);
        p[iphl + 4..iphl + 8].copy_from_slice(&seq.wrapping_add(prev_payload as u32).to_be_bytes());
    } else {
        p[iphl + 4..iphl + 6].copy_from_slice(&((len - iphl) as u16).to_be_bytes());
    }
    Some(p)
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let kinds = input.u8();
    let capacity = 1 + input.u8() as usize % 64;
    let mut c = Coalescer::new(capacity);
    c.set_kinds(kinds & 1 == 1, kinds & 2 == 2);

    // The arena: packets back to back with gaps, as decryption in place leaves them.
    let mut arena = Vec::new();
    let mut ranges = Vec::new();
    let mut prev: Vec<u8> = Vec::new();
    while !input.is_empty() && ranges.len() < 256 {
        let op = input.u8();
        let gap = usize::from(op >> 4);
        let pkt = match op & 3 {
            0 | 1 => input.bytes(2048).to_vec(),
            _ => {
                let n = input.u16() as usize % 1500;
                let payload = input.take(n);
                follow(&prev, payload).unwrap_or_else(|| payload.to_vec())
            }
        };
        // Padding after the IP packet inside its range (op bit 2).
        let pad = if op & 4 == 4 { 3 } else { 0 };
        arena.extend(std::iter::repeat_n(0xaa, gap));
        let start = arena.len();
        arena.extend_from_slice(&pkt);
        arena.extend(std::iter::repeat_n(0xbb, pad));
        ranges.push(start..arena.len());
        prev = pkt;
    }

    let mut pushed = 0usize;
    let mut written = 0usize;
    let mut scratch = vec![0u8; VNET_HDR_LEN + 65535];
    let mut check = |b: &[u8]| {
        let hdr = VnetHdr::decode(b).expect("every write starts with a virtio-net header");
        let pkt = &b[VNET_HDR_LEN..];
        if hdr.gso_type == GSO_NONE {
            assert_eq!(
                hdr.flags, F_DATA_VALID,
                "a lone packet is marked DATA_VALID"
            );
            written += 1;
            return;
        }
        // A merged packet: the kernel must be able to segment it again.
        let mut copy = pkt.to_vec();
        let slots = 1 + pkt.len() / usize::from(hdr.gso_size.max(1));
        let stride = usize::from(hdr.hdr_len) + usize::from(hdr.gso_size) + 60;
        let mut out = vec![0u8; stride * slots];
        let mut lens = vec![0usize; slots];
        match split(&hdr, &mut copy, &mut out, stride, 0, &mut lens) {
            Ok(n) => {
                assert!(n >= 2, "a merge of one packet");
                written += n;
            }
            Err(e) => panic!("coalesced packet cannot be segmented: {e:?} ({hdr:?})"),
        }
    };
    for r in ranges {
        if !c.push(&arena, r.clone()) {
            c.flush(&arena, &mut scratch, &mut check);
            assert!(c.is_empty());
            assert!(c.push(&arena, r), "an empty coalescer takes a packet");
        }
        pushed += 1;
    }
    c.flush(&arena, &mut scratch, &mut check);
    assert!(c.is_empty());
    assert_eq!(written, pushed, "packets in, packets out");
});
