//! The four WireGuard messages (spec §3) as checked views over byte slices. `classify` looks
//! at the whole 32-bit type word and the exact length; after a successful check no accessor
//! can panic.

use super::consts::*;

/// Which message a datagram is, by exact length and the whole LE32 type word (spec §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Initiation,
    Response,
    Cookie,
    Data,
}

fn le32(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(w)
}

/// Classify a UDP payload; None for anything that is not exactly one of the four messages.
pub fn classify(b: &[u8]) -> Option<Kind> {
    if b.len() < 4 || b.len() > MAX_UDP_PAYLOAD {
        return None;
    }
    match (le32(b, 0), b.len()) {
        (MSG_INITIATION, INITIATION_LEN) => Some(Kind::Initiation),
        (MSG_RESPONSE, RESPONSE_LEN) => Some(Kind::Response),
        (MSG_COOKIE, COOKIE_LEN) => Some(Kind::Cookie),
        (MSG_DATA, n) if n >= DATA_MIN_LEN => Some(Kind::Data),
        _ => None,
    }
}

fn arr<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[off..off + N]);
    a
}

/// Handshake initiation, type 1, 148 bytes (spec §3.1).
pub struct Initiation<'a>(&'a [u8]);
impl<'a> Initiation<'a> {
    pub const SENDER: usize = 4;
    pub const EPHEMERAL: usize = 8;
    pub const STATIC: usize = 40;
    pub const TIMESTAMP: usize = 88;
    pub const MAC1: usize = 116;
    pub const MAC2: usize = 132;
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        (classify(b) == Some(Kind::Initiation)).then_some(Initiation(b))
    }
    pub fn sender(&self) -> u32 {
        le32(self.0, Self::SENDER)
    }
    pub fn ephemeral(&self) -> [u8; 32] {
        arr(self.0, Self::EPHEMERAL)
    }
    pub fn encrypted_static(&self) -> [u8; 48] {
        arr(self.0, Self::STATIC)
    }
    pub fn encrypted_timestamp(&self) -> [u8; 28] {
        arr(self.0, Self::TIMESTAMP)
    }
    pub fn mac1(&self) -> [u8; 16] {
        arr(self.0, Self::MAC1)
    }
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// Handshake response, type 2, 92 bytes (spec §3.2).
pub struct Response<'a>(&'a [u8]);
impl<'a> Response<'a> {
    pub const SENDER: usize = 4;
    pub const RECEIVER: usize = 8;
    pub const EPHEMERAL: usize = 12;
    pub const EMPTY: usize = 44;
    pub const MAC1: usize = 60;
    pub const MAC2: usize = 76;
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        (classify(b) == Some(Kind::Response)).then_some(Response(b))
    }
    pub fn sender(&self) -> u32 {
        le32(self.0, Self::SENDER)
    }
    pub fn receiver(&self) -> u32 {
        le32(self.0, Self::RECEIVER)
    }
    pub fn ephemeral(&self) -> [u8; 32] {
        arr(self.0, Self::EPHEMERAL)
    }
    pub fn encrypted_nothing(&self) -> [u8; 16] {
        arr(self.0, Self::EMPTY)
    }
    pub fn mac1(&self) -> [u8; 16] {
        arr(self.0, Self::MAC1)
    }
}

/// Cookie reply, type 3, 64 bytes (spec §3.3).
pub struct CookieReply<'a>(&'a [u8]);
impl<'a> CookieReply<'a> {
    pub const RECEIVER: usize = 4;
    pub const NONCE: usize = 8;
    pub const COOKIE: usize = 32;
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        (classify(b) == Some(Kind::Cookie)).then_some(CookieReply(b))
    }
    pub fn receiver(&self) -> u32 {
        le32(self.0, Self::RECEIVER)
    }
    pub fn nonce(&self) -> [u8; 24] {
        arr(self.0, Self::NONCE)
    }
    pub fn encrypted_cookie(&self) -> [u8; 32] {
        arr(self.0, Self::COOKIE)
    }
}

/// Transport data header view, type 4, >= 32 bytes (spec §3.4).
pub struct Data<'a>(&'a [u8]);
impl<'a> Data<'a> {
    pub const RECEIVER: usize = 4;
    pub const COUNTER: usize = 8;
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        (classify(b) == Some(Kind::Data)).then_some(Data(b))
    }
    pub fn receiver(&self) -> u32 {
        le32(self.0, Self::RECEIVER)
    }
    pub fn counter(&self) -> u64 {
        u64::from_le_bytes(arr(self.0, Self::COUNTER))
    }
}

/// Writes a message header: the LE32 type word (reserved bytes zero).
pub fn put_type(b: &mut [u8], t: u32) {
    b[..4].copy_from_slice(&t.to_le_bytes());
}

/// Bytes a transport data message carrying an inner packet of `len` bytes takes
/// under tunnel MTU `mtu`: header, padded plaintext, tag.
pub fn sealed_len(len: usize, mtu: usize) -> usize {
    DATA_HEADER_LEN + padded_len(len, mtu) + TAG_LEN
}

/// Plaintext length after padding an inner packet of `len` bytes (spec §6.3; mtu 0 = no cap).
/// Never less than `len`: only the last MTU-sized segment of an oversized packet is padded.
pub fn padded_len(len: usize, mtu: usize) -> usize {
    let round = |n: usize| n.div_ceil(PADDING_MULTIPLE) * PADDING_MULTIPLE;
    if mtu == 0 {
        return round(len);
    }
    let last = if len <= mtu { len } else { len % mtu };
    len + round(last).min(mtu).saturating_sub(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_exact() {
        let mut b = [0u8; 148];
        b[0] = 1;
        assert_eq!(classify(&b), Some(Kind::Initiation));
        assert_eq!(classify(&b[..147]), None);
        b[1] = 1;
        assert_eq!(classify(&b), None);
        let mut d = [0u8; 32];
        d[0] = 4;
        assert_eq!(classify(&d), Some(Kind::Data));
        assert_eq!(classify(&d[..31]), None);
        d[3] = 0x80;
        assert_eq!(classify(&d), None);
        assert_eq!(classify(&[]), None);
    }

    #[test]
    fn padding() {
        assert_eq!(padded_len(0, 1420), 0);
        assert_eq!(padded_len(28, 1420), 32);
        assert_eq!(padded_len(1419, 1420), 1420);
        assert_eq!(padded_len(51, 0), 64);
        assert_eq!(padded_len(1420, 1420), 1420);
        assert_eq!(padded_len(1500, 1420), 1500);
        assert_eq!(padded_len(1430, 1420), 1436);
        assert_eq!(padded_len(1425, 1422), 1438);
        for mtu in [0usize, 1, 17, 1280, 1420] {
            for len in 0..3000 {
                let p = padded_len(len, mtu);
                assert!(p >= len && p - len < PADDING_MULTIPLE, "{len} {mtu} {p}");
            }
        }
    }

    #[test]
    fn classify_never_panics_on_random_input() {
        let mut x: u32 = 12345;
        for n in 0..400 {
            let v: Vec<u8> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    (x >> 16) as u8 % 5
                })
                .collect();
            let _ = classify(&v);
            let _ = Initiation::new_checked(&v).map(|m| m.sender());
            let _ = Data::new_checked(&v).map(|m| m.counter());
        }
    }
}
