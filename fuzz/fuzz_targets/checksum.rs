//! The Internet checksum (driver/checksum.rs) against its definition: `sum` + `fold`
//! over any bytes and any initial sum equal the word-by-word one's-complement sum;
//! sums of pieces add up; `ipv4_header` leaves a header that checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgif::driver::checksum::{fold, ipv4_header, pseudo_header, sum};
use wgif_fuzz::Input;

/// RFC 1071 by the letter: big-endian 16-bit words, end-around carry at every step.
fn naive(data: &[u8], initial: u64) -> u16 {
    let mut s: u64 = 0;
    let mut add = |w: u64| {
        s += w;
        s = (s & 0xffff) + (s >> 16);
    };
    for i in 0..4 {
        add((initial >> (16 * i)) & 0xffff);
    }
    for w in data.chunks(2) {
        add(u64::from(w[0]) << 8 | w.get(1).map_or(0, |&b| u64::from(b)));
    }
    s as u16
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let initial = u64::from(input.u32()) << 16 | u64::from(input.u16());
    let cut = input.u16() as usize;
    let rest = input.rest();

    assert_eq!(fold(sum(rest, initial)), naive(rest, initial), "sum/fold");

    // A sum over two pieces, the first of even length, is the sum over both.
    let cut = (cut % (rest.len() + 1)) & !1;
    let (a, b) = rest.split_at(cut);
    assert_eq!(
        fold(sum(b, sum(a, initial))),
        fold(sum(rest, initial)),
        "pieces"
    );

    // The pseudo-header as the RFCs lay it out, summed by the definition.
    if rest.len() >= 32 {
        let (src, dst) = (&rest[..16], &rest[16..32]);
        let proto = rest.get(32).copied().unwrap_or(0);
        let l4 = u32::from(rest.get(33).copied().unwrap_or(0)) << 16 | cut as u32;
        for n in [4, 16] {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&src[..n]);
            bytes.extend_from_slice(&dst[..n]);
            bytes.extend_from_slice(&l4.to_be_bytes());
            bytes.extend_from_slice(&[0, 0, 0, proto]);
            assert_eq!(
                fold(pseudo_header(&src[..n], &dst[..n], proto, l4)),
                naive(&bytes, 0)
            );
        }
    }

    // A recomputed IPv4 header checksum makes the header sum to all ones.
    let mut hdr = rest.to_vec();
    ipv4_header(&mut hdr);
    let ihl = hdr.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    if ihl >= 20 && hdr.len() >= ihl {
        assert_eq!(fold(sum(&hdr[..ihl], 0)), 0xffff, "IPv4 header checksum");
        assert_eq!(hdr[ihl..], rest[ihl..], "only the header changes");
    } else {
        assert_eq!(hdr, rest, "an invalid header is left alone");
    }
});
