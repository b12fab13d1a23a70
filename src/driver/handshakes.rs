//! The queue of received handshake messages (initiations, responses, cookie
//! replies) between the data workers, which read them with the data, and the
//! control thread, which does the public-key work: bounded, as the kernel's
//! MAX_QUEUED_INCOMING_HANDSHAKES, so a flood of initiations costs the workers a
//! copy each and cannot stall data. What does not fit is dropped. While the interface
//! is under load, the workers let in only what passed the gate (mac2 and the
//! per-source rate limit); they answer the rest with cookie replies themselves.

use crate::proto::consts::INITIATION_LEN;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

/// Messages held at most per interface (if_wg.c and the kernel: 4096).
pub const MAX_QUEUED_HANDSHAKES: usize = 4096;

/// One handshake message (the largest, an initiation, is 148 bytes).
#[derive(Clone, Copy)]
pub struct HandshakeMsg {
    pub data: [u8; INITIATION_LEN],
    pub len: usize,
    pub from: SocketAddr,
    pub local: Option<IpAddr>,
}

#[derive(Default)]
pub struct HandshakeQueue {
    q: Mutex<VecDeque<HandshakeMsg>>,
}

impl HandshakeQueue {
    /// Queues a copy of `pkt`; false if the queue is full or `pkt` is no handshake
    /// message's size.
    pub fn push(&self, pkt: &[u8], from: SocketAddr, local: Option<IpAddr>) -> bool {
        if pkt.len() > INITIATION_LEN {
            return false;
        }
        let mut q = self.q.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= MAX_QUEUED_HANDSHAKES {
            return false;
        }
        let mut m = HandshakeMsg {
            data: [0; INITIATION_LEN],
            len: pkt.len(),
            from,
            local,
        };
        m.data[..pkt.len()].copy_from_slice(pkt);
        q.push_back(m);
        true
    }

    pub fn pop(&self) -> Option<HandshakeMsg> {
        self.q.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }

    pub fn len(&self) -> usize {
        self.q.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_in_order() {
        let q = HandshakeQueue::default();
        let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for i in 0..MAX_QUEUED_HANDSHAKES {
            assert!(q.push(&[i as u8; 92], from, None));
        }
        assert!(!q.push(&[0; 92], from, None), "full");
        assert!(!q.push(&[0; 149], from, None), "too long");
        assert_eq!(q.len(), MAX_QUEUED_HANDSHAKES);
        for i in 0..3 {
            let m = q.pop().unwrap();
            assert_eq!((m.len, m.data[0]), (92, i as u8));
        }
    }
}
