//! strtonum(3): a bounded decimal integer or one of its three error strings.

/// Parses `s` like OpenBSD's `strtonum(s, min, max, &errstr)`; the error is the
/// errstr text: `invalid`, `too small` or `too large`.
pub fn strtonum(s: &str, min: i64, max: i64) -> Result<i64, &'static str> {
    if min > max {
        return Err("invalid");
    }
    // strtoll(3): leading white space, an optional sign, then at least one digit,
    // and strtonum wants nothing after the digits.
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = v * 10 + i128::from(b - b'0');
        if v > i128::from(i64::MAX) + 1 {
            // strtoll saturates with ERANGE; strtonum reports the side.
            return Err(if neg { "too small" } else { "too large" });
        }
    }
    let v = if neg { -v } else { v };
    if v > i128::from(i64::MAX) {
        return Err("too large");
    }
    if v < i128::from(min) {
        return Err("too small");
    }
    if v > i128::from(max) {
        return Err("too large");
    }
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Result<i64, &str>)] = &[
            ("0", Ok(0)),
            ("65535", Ok(65535)),
            ("65536", Err("too large")),
            ("-1", Err("too small")),
            ("+7", Ok(7)),
            ("  12", Ok(12)),
            ("12 ", Err("invalid")),
            ("", Err("invalid")),
            ("x", Err("invalid")),
            ("0x10", Err("invalid")),
            ("99999999999999999999999", Err("too large")),
            ("-99999999999999999999999", Err("too small")),
        ];
        for (s, want) in cases {
            assert_eq!(strtonum(s, 0, 65535), *want, "{s:?}");
        }
    }
}
