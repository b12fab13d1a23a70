//! A connection's pending reply bytes (control socket and configuration protocol
//! alike): written as far as the socket takes them, zeroed once out or dropped
//! (replies to root carry keys), and never kept large after a large reply.

use std::io::{self, Write};
use zeroize::Zeroize;

/// Capacity kept between replies; a larger buffer is given back once it is out.
const KEEP: usize = 64 << 10;

#[derive(Default)]
pub struct Outbox {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    sent: usize,
}

impl Outbox {
    /// The bytes still to write, to append a reply to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Writes what `w` takes; `Ok(true)` when everything is out.
    pub fn flush(&mut self, w: &mut impl Write) -> io::Result<bool> {
        while self.sent < self.buf.len() {
            match w.write(&self.buf[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.zeroize();
        self.sent = 0;
        if self.buf.capacity() > KEEP {
            self.buf = Vec::new();
        }
        Ok(true)
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `n` bytes per call, then would block.
    struct Slow {
        got: Vec<u8>,
        per_call: usize,
        calls_left: usize,
    }

    impl Write for Slow {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.calls_left == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.calls_left -= 1;
            let n = b.len().min(self.per_call);
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_what_the_socket_takes_then_the_rest() {
        let mut o = Outbox::default();
        o.buf().extend_from_slice(&[7u8; 100]);
        let mut w = Slow {
            got: Vec::new(),
            per_call: 30,
            calls_left: 2,
        };
        assert!(!o.flush(&mut w).unwrap(), "60 of 100 out");
        w.calls_left = 10;
        assert!(o.flush(&mut w).unwrap());
        assert_eq!(w.got, vec![7u8; 100]);
        assert!(o.buf().is_empty());
    }

    #[test]
    fn a_large_buffer_is_given_back_once_out() {
        let mut o = Outbox::default();
        o.buf().resize(KEEP * 2, 1);
        let mut w = Slow {
            got: Vec::new(),
            per_call: usize::MAX,
            calls_left: 1,
        };
        assert!(o.flush(&mut w).unwrap());
        assert_eq!(o.capacity(), 0);
    }
}
