//! The Internet checksum (RFC 1071) for the data path: accumulation over packet bytes,
//! folding, the IPv4/IPv6 pseudo-header, and the IPv4 header checksum.
//!
//! Sums are kept unfolded in a `u64` so partial sums over separate pieces (pseudo-header,
//! headers, payload) can be added before one final [`fold`].

/// One's-complement accumulation of `data` as big-endian 16-bit words (an odd trailing
/// byte is the high half of a zero-padded word), added to `initial`. Not folded.
///
/// Only the value modulo 0xffff is meaningful, plus the fact that the result is zero
/// exactly when `initial` and all words are zero (so [`fold`] gives 0 rather than 0xffff
/// in the same cases a 16-bit accumulation would).
pub fn sum(data: &[u8], initial: u64) -> u64 {
    // 2^64 ≡ 1 (mod 0xffff) because 64 is a multiple of 16, so adding big-endian 64-bit
    // words with an end-around carry is congruent to adding their four 16-bit words, at a
    // quarter of the additions. Two independent accumulators let the additions overlap.
    let mut a = initial;
    let mut b = 0u64;
    let mut carries = 0u64;
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        let (x, y) = c.split_at(8);
        let (s, o) = a.overflowing_add(u64::from_be_bytes(x.try_into().unwrap_or([0; 8])));
        a = s;
        carries += u64::from(o);
        let (s, o) = b.overflowing_add(u64::from_be_bytes(y.try_into().unwrap_or([0; 8])));
        b = s;
        carries += u64::from(o);
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 16];
    tail[..rest.len()].copy_from_slice(rest);
    let (x, y) = tail.split_at(8);
    let mut acc = add_carry(a, b);
    acc = add_carry(acc, u64::from_be_bytes(x.try_into().unwrap_or([0; 8])));
    acc = add_carry(acc, u64::from_be_bytes(y.try_into().unwrap_or([0; 8])));
    add_carry(acc, carries)
}

/// End-around-carry addition: congruent modulo 2^64 - 1 (hence modulo 0xffff), and never
/// zero unless both operands are. An unfolded sum may be anywhere up to `u64::MAX`, so
/// anything added to one goes through here: a plain `+` overflows (a panic in debug
/// builds, a checksum off by one in release builds).
pub fn add_carry(a: u64, b: u64) -> u64 {
    let (s, o) = a.overflowing_add(b);
    s + u64::from(o)
}

/// Folds an unfolded sum to 16 bits (not complemented): 0 only for a zero sum.
pub fn fold(sum: u64) -> u16 {
    let mut s = (sum & 0xffff_ffff) + (sum >> 32);
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The unfolded sum of the TCP/UDP pseudo-header. `src` and `dst` are both 4 bytes
/// (IPv4, RFC 793/768) or both 16 bytes (IPv6, RFC 8200 §8.1); `l4_len` is the length of
/// the transport header plus payload. The field order of the two layouts does not matter
/// to a one's-complement sum, so one function serves both.
pub fn pseudo_header(src: &[u8], dst: &[u8], proto: u8, l4_len: u32) -> u64 {
    let s = sum(dst, sum(src, 0));
    add_carry(
        s,
        u64::from(proto) + u64::from(l4_len >> 16) + u64::from(l4_len & 0xffff),
    )
}

/// Recomputes the IPv4 header checksum of `hdr` in place over its IHL-sized header.
/// Leaves `hdr` untouched when it is shorter than its IHL says or the IHL is below 5,
/// because callers only pass headers they have already validated.
pub fn ipv4_header(hdr: &mut [u8]) {
    let Some(&b0) = hdr.first() else { return };
    let ihl = usize::from(b0 & 0x0f) * 4;
    if ihl < 20 || hdr.len() < ihl {
        return;
    }
    hdr[10] = 0;
    hdr[11] = 0;
    let c = !fold(sum(&hdr[..ihl], 0));
    hdr[10..12].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, word by word, folded as it goes.
    fn naive(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = u32::from(data[i]) << 8;
            let lo = data.get(i + 1).map_or(0, |&b| u32::from(b));
            s += hi | lo;
            s = (s & 0xffff) + (s >> 16);
            i += 2;
        }
        s as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d, 0)), 0xddf2);
        assert_eq!(naive(&d), 0xddf2);
        // Byte-order independence (RFC 1071 §2(B)): the swapped data sums to the swapped sum.
        let swapped = [0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6];
        assert_eq!(fold(sum(&swapped, 0)), 0xf2dd);
    }

    #[test]
    fn ipv4_header_known_value() {
        // A commonly cited example header whose checksum is 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x12, 0x34, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        ipv4_header(&mut h);
        assert_eq!(&h[10..12], &[0xb8, 0x61]);
        assert_eq!(fold(sum(&h, 0)), 0xffff);
    }

    #[test]
    fn ipv4_header_with_options_and_bad_input() {
        let mut h = [0u8; 28];
        h[0] = 0x47; // IHL 7: 28 bytes
        h[8] = 64;
        h[9] = 6;
        h[20..28].copy_from_slice(&[1, 1, 1, 1, 0x44, 4, 5, 0]);
        let mut t = h;
        ipv4_header(&mut t);
        assert_eq!(naive(&t), 0xffff);
        // Shorter than the IHL, or an IHL below 5: untouched, no panic.
        let mut short = h;
        short[10] = 0xaa;
        ipv4_header(&mut short[..24]);
        assert_eq!(short[10], 0xaa);
        let mut low = h;
        low[0] = 0x44;
        low[10] = 0xaa;
        ipv4_header(&mut low);
        assert_eq!(low[10], 0xaa);
        ipv4_header(&mut []);
    }

    #[test]
    fn fold_edges() {
        assert_eq!(fold(0), 0);
        assert_eq!(fold(0xffff), 0xffff);
        assert_eq!(fold(0x1_0000), 1);
        assert_eq!(fold(u64::MAX), 0xffff);
        assert_eq!(fold(0x1_fffe), 0xffff);
        // A zero sum and an all-ones sum stay distinct, as with 16-bit accumulation.
        assert_eq!(fold(sum(&[0; 40], 0)), 0);
        assert_eq!(fold(sum(&[0xff; 40], 0)), 0xffff);
    }

    #[test]
    fn pseudo_headers() {
        let src = [10, 0, 0, 1];
        let dst = [10, 0, 0, 2];
        let mut ph = Vec::new();
        ph.extend_from_slice(&src);
        ph.extend_from_slice(&dst);
        ph.extend_from_slice(&[0, 6, 0x05, 0xdc]);
        assert_eq!(fold(pseudo_header(&src, &dst, 6, 1500)), naive(&ph));

        let src6: Vec<u8> = (0..16).collect();
        let dst6: Vec<u8> = (100..116).collect();
        let mut ph6 = Vec::new();
        ph6.extend_from_slice(&src6);
        ph6.extend_from_slice(&dst6);
        ph6.extend_from_slice(&0x0001_2345u32.to_be_bytes());
        ph6.extend_from_slice(&[0, 0, 0, 17]);
        assert_eq!(
            fold(pseudo_header(&src6, &dst6, 17, 0x0001_2345)),
            naive(&ph6)
        );
    }

    #[test]
    fn pseudo_header_of_addresses_summing_near_the_top() {
        // Found by fuzzing (fuzz/, target checksum): these addresses sum to nearly
        // u64::MAX, and adding the protocol and length overflowed the accumulator.
        for (src, dst) in [
            (vec![0xff; 16], vec![0xff; 16]),
            (vec![0xff; 4], vec![0xff; 4]),
            ([vec![0xff; 8], vec![0xfe; 8]].concat(), vec![0xff; 16]),
        ] {
            let mut ph = Vec::new();
            ph.extend_from_slice(&src);
            ph.extend_from_slice(&dst);
            ph.extend_from_slice(&0x0001_ffffu32.to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, 17]);
            assert_eq!(fold(pseudo_header(&src, &dst, 17, 0x0001_ffff)), naive(&ph));
        }
        assert_eq!(fold(add_carry(u64::MAX, 0xffff)), naive(&[0xff, 0xff]));
    }

    #[test]
    fn every_alignment_and_length() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
        for start in 0..17 {
            for end in start..data.len() {
                let d = &data[start..end];
                assert_eq!(fold(sum(d, 0)), naive(d), "{start}..{end}");
            }
        }
    }

    #[test]
    fn large_and_saturated_inputs() {
        let ones = vec![0xffu8; 65536 + 7];
        assert_eq!(fold(sum(&ones, 0)), naive(&ones));
        assert_eq!(fold(sum(&ones[..65536], u64::MAX)), 0xffff);
        assert_eq!(fold(sum(&ones, u64::MAX)), 0xff00);
        let d: Vec<u8> = (0..65535u32).map(|i| (i ^ (i >> 8)) as u8).collect();
        assert_eq!(fold(sum(&d, 0)), naive(&d));
    }

    proptest! {
        #[test]
        fn matches_naive(data in proptest::collection::vec(any::<u8>(), 0..2000), init in any::<u64>()) {
            // The initial value enters as its four 16-bit words.
            let mut with_init = init.to_be_bytes().to_vec();
            with_init.extend_from_slice(&data);
            prop_assert_eq!(fold(sum(&data, init)), naive(&with_init));
            prop_assert_eq!(fold(sum(&data, 0)), naive(&data));
        }

        #[test]
        fn split_sums_add(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..300) {
            // Sums of even-length pieces compose; this is how headers and payloads are summed apart.
            let cut = (cut.min(data.len())) & !1;
            let (a, b) = data.split_at(cut);
            prop_assert_eq!(fold(sum(b, sum(a, 0))), fold(sum(&data, 0)));
        }
    }
}
