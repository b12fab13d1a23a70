//! TAI64N timestamps as carried in handshake initiations (spec §1): 8 bytes big-endian
//! seconds since 1970 plus 2^62 + 10, then 4 bytes big-endian nanoseconds, rounded down
//! to a multiple of 2^24 ns as the kernel and wireguard-go do (so a timestamp leaks
//! less about the sender's clock). Compared as 12-byte big-endian strings.

use std::time::{SystemTime, UNIX_EPOCH};

/// TAI64 label 2^62 plus the 10 s TAI−UTC offset of 1970.
const BASE: u64 = 0x4000_0000_0000_000a;
/// Nanoseconds are whitened to multiples of 2^24.
const WHITEN_MASK: u32 = !((1 << 24) - 1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tai64N([u8; 12]);

impl Tai64N {
    /// The timestamp of `wall`; times before 1970 count as 1970.
    pub fn from_system_time(wall: SystemTime) -> Tai64N {
        let d = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&(BASE + d.as_secs()).to_be_bytes());
        b[8..].copy_from_slice(&(d.subsec_nanos() & WHITEN_MASK).to_be_bytes());
        Tai64N(b)
    }

    pub fn from_bytes(b: [u8; 12]) -> Tai64N {
        Tai64N(b)
    }

    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn encodes_like_the_kernel() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let ts = Tai64N::from_system_time(t);
        let secs = 0x4000_0000_0000_000au64 + 1_700_000_000;
        assert_eq!(&ts.as_bytes()[..8], &secs.to_be_bytes());
        // 123456789 rounded down to a multiple of 16777216 = 7 * 16777216 = 117440512
        assert_eq!(&ts.as_bytes()[8..], &117_440_512u32.to_be_bytes());
    }

    #[test]
    fn orders_by_time_and_whitening_merges_close_times() {
        let a = Tai64N::from_system_time(UNIX_EPOCH + Duration::new(100, 0));
        let b = Tai64N::from_system_time(UNIX_EPOCH + Duration::new(100, 20_000_000));
        let c = Tai64N::from_system_time(UNIX_EPOCH + Duration::new(100, 1_000));
        assert!(a < b);
        assert_eq!(a, c);
        assert!(Tai64N::from_system_time(UNIX_EPOCH + Duration::new(99, 999_999_999)) < a);
        assert_eq!(Tai64N::from_bytes(*b.as_bytes()), b);
    }
}
