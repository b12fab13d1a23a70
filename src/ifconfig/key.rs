//! WireGuard keys on the command line: OpenBSD's `WG_LOAD_KEY` (exact length check,
//! then b64_pton(3) into 32 bytes) and b64_ntop(3) for printing public keys.

use crate::ioctl::model::{Key, WG_KEY_LEN};
use base64::Engine;
use zeroize::Zeroize;

/// `WG_BASE64_KEY_LEN`: 4 * ((32 + 2) / 3).
pub const WG_BASE64_KEY_LEN: usize = 4 * WG_KEY_LEN.div_ceil(3);

/// Parses a base64 key for `verb` (`wgkey`, `wgpeer` or `wgpsk`); the error is the
/// message after the program name, e.g. `wgkey (key): invalid length`.
pub fn load_key(verb: &str, s: &str) -> Result<Key, String> {
    if s.len() != WG_BASE64_KEY_LEN {
        return Err(format!("{verb} (key): invalid length"));
    }
    let mut buf = [0u8; WG_KEY_LEN];
    let n = b64_pton(s, &mut buf);
    if n != WG_KEY_LEN as i64 {
        buf.zeroize();
        return Err(format!("{verb} (key): invalid base64 {n}/{WG_KEY_LEN}"));
    }
    let key = Key(buf);
    buf.zeroize();
    Ok(key)
}

/// b64_ntop(3) of a key: 44 characters with padding.
pub fn format_key(key: &Key) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// OpenBSD's b64_pton(3) into `target`: the number of bytes decoded, or -1 for
/// bad input, overflow of `target`, or non-zero bits left over after the padding.
pub fn b64_pton(src: &str, target: &mut [u8]) -> i64 {
    let src = src.as_bytes();
    let mut i = 0;
    let mut state = 0;
    let mut tarindex = 0usize;
    let size = target.len();
    let mut ch = None;
    while i < src.len() {
        let c = src[i];
        i += 1;
        if is_space(c) {
            continue;
        }
        if c == b'=' {
            ch = Some(c);
            break;
        }
        let Some(pos) = b64_value(c) else {
            return -1;
        };
        match state {
            0 => {
                if tarindex >= size {
                    return -1;
                }
                target[tarindex] = pos << 2;
                state = 1;
            }
            1 => {
                if tarindex >= size {
                    return -1;
                }
                target[tarindex] |= pos >> 4;
                let next = (pos & 0x0f) << 4;
                if tarindex + 1 < size {
                    target[tarindex + 1] = next;
                } else if next != 0 {
                    return -1;
                }
                tarindex += 1;
                state = 2;
            }
            2 => {
                if tarindex >= size {
                    return -1;
                }
                target[tarindex] |= pos >> 2;
                let next = (pos & 0x03) << 6;
                if tarindex + 1 < size {
                    target[tarindex + 1] = next;
                } else if next != 0 {
                    return -1;
                }
                tarindex += 1;
                state = 3;
            }
            _ => {
                if tarindex >= size {
                    return -1;
                }
                target[tarindex] |= pos;
                tarindex += 1;
                state = 0;
            }
        }
    }
    if ch == Some(b'=') {
        // A pad: only legal in the third or fourth place of a quantum.
        match state {
            0 | 1 => return -1,
            2 => {
                // Skip white space, then a second '=' must follow.
                while i < src.len() && is_space(src[i]) {
                    i += 1;
                }
                if i >= src.len() || src[i] != b'=' {
                    return -1;
                }
                i += 1;
                while i < src.len() {
                    if !is_space(src[i]) {
                        return -1;
                    }
                    i += 1;
                }
            }
            _ => {
                while i < src.len() {
                    if !is_space(src[i]) {
                        return -1;
                    }
                    i += 1;
                }
            }
        }
        // The bits after the last full byte must be zero.
        if tarindex < size && target[tarindex] != 0 {
            return -1;
        }
    } else if state != 0 {
        return -1;
    }
    tarindex as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let k = Key([7u8; 32]);
        let s = format_key(&k);
        assert_eq!(s.len(), 44);
        assert_eq!(load_key("wgkey", &s).unwrap(), k);
    }

    #[test]
    fn errors() {
        assert_eq!(
            load_key("wgkey", "abc").unwrap_err(),
            "wgkey (key): invalid length"
        );
        // 44 characters of data without padding: 33 bytes, overflow.
        let s = "A".repeat(44);
        assert_eq!(
            load_key("wgpeer", &s).unwrap_err(),
            "wgpeer (key): invalid base64 -1/32"
        );
        // Two pads: 31 bytes.
        let s = format!("{}==", "A".repeat(42));
        assert_eq!(
            load_key("wgpsk", &s).unwrap_err(),
            "wgpsk (key): invalid base64 31/32"
        );
        // Bad character.
        let s = format!("{}!=", "A".repeat(42));
        assert_eq!(
            load_key("wgkey", &s).unwrap_err(),
            "wgkey (key): invalid base64 -1/32"
        );
        // Leftover bits before the pad.
        let s = format!("{}B=", "A".repeat(42));
        assert_eq!(
            load_key("wgkey", &s).unwrap_err(),
            "wgkey (key): invalid base64 -1/32"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let mut b = [0u8; 32];
            let n = b64_pton(&s, &mut b);
            proptest::prop_assert!((-1..=32).contains(&n));
            let _ = load_key("wgkey", &s);
        }
    }
}
