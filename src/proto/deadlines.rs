//! The interface's next timer deadline in O(log peers): a min-heap of (deadline, peer)
//! entries, kept lazily. Invariant: a peer whose timers have a next deadline `t` has an
//! entry `(s, peer)` in the heap with `s <= t`; `Queued` (kept in the peer) is the
//! earliest such `s`. An entry may be stale (the deadline moved later, was cancelled,
//! or the peer is gone): popping it costs one look at the peer, which re-queues what
//! it really has. So arming a later deadline is free, an earlier one is one push, and
//! finding the next deadline is a peek.

use super::PeerId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// The earliest deadline a peer has in the heap (None: no entry it can rely on).
pub type Queued = Option<Instant>;

#[derive(Default)]
pub struct DeadlineQueue {
    heap: BinaryHeap<Reverse<(Instant, PeerId)>>,
}

impl DeadlineQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores the invariant for one peer after its timers changed: `next` is its
    /// timers' next deadline, `queued` its field.
    pub fn note(&mut self, id: PeerId, queued: &mut Queued, next: Option<Instant>) {
        if let Some(t) = next {
            if queued.map_or(true, |s| t < s) {
                self.heap.push(Reverse((t, id)));
                *queued = Some(t);
            }
        }
    }

    /// The earliest entry; never later than any peer's real next deadline.
    pub fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Takes the next entry due at `now`. The caller resets the peer's `Queued` to None
    /// (its other entries, if any, are later and may be stale), handles its expired
    /// timers and calls [`DeadlineQueue::note`] again.
    pub fn pop_due(&mut self, now: Instant) -> Option<PeerId> {
        match self.heap.peek() {
            Some(Reverse((t, _))) if *t <= now => self.heap.pop().map(|Reverse((_, id))| id),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Forgets every entry; the caller re-notes every live peer with `Queued` reset.
    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earlier_deadlines_push_later_ones_do_not() {
        let t0 = crate::test_origin();
        let s = Duration::from_secs;
        let mut q = DeadlineQueue::new();
        let mut a: Queued = None;
        q.note(1, &mut a, Some(t0 + s(10)));
        q.note(1, &mut a, Some(t0 + s(20)));
        assert_eq!(q.len(), 1);
        assert_eq!(q.peek(), Some(t0 + s(10)));
        q.note(1, &mut a, Some(t0 + s(5)));
        assert_eq!(q.len(), 2);
        assert_eq!(q.peek(), Some(t0 + s(5)));
        assert_eq!(q.pop_due(t0 + s(4)), None);
        assert_eq!(q.pop_due(t0 + s(5)), Some(1));
        let mut b: Queued = None;
        q.note(2, &mut b, None);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(t0 + s(30)), Some(1));
        assert!(q.is_empty());
    }
}
