//! Transport keys do not outlive their session in freed memory: a global allocator
//! that, on this test's thread, looks through every block as it is freed for the
//! bytes of a known key. Sessions rotated out (a new handshake), destroyed as the
//! responder (a newer one) and cleared (peer removed, 540 s zero_key_material) drop
//! their keypairs, whose memory must by then hold none of their key bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;
use wgif::proto::crypto::Secret32;
use wgif::proto::keypair::{Keypair, Sessions};

/// The two transport keys of the test: distinct, no zero byte, no repeated run.
fn secret(seed: u8) -> [u8; 32] {
    std::array::from_fn(|i| seed.wrapping_add(7 * i as u8) | 1)
}

struct Scanning;

thread_local! {
    static WATCH: Cell<Option<[[u8; 32]; 2]>> = const { Cell::new(None) };
    static FOUND: Cell<usize> = const { Cell::new(0) };
    static FREED: Cell<usize> = const { Cell::new(0) };
}

fn scan(block: &[u8]) {
    let Some(needles) = WATCH.try_with(Cell::get).ok().flatten() else {
        return;
    };
    let _ = FREED.try_with(|c| c.set(c.get() + 1));
    // A keypair keeps its keys as their bytes; ring's ChaCha20 key, eight little-endian
    // words of the same bytes, is the same 32 bytes in memory on this machine.
    let hit = block
        .windows(32)
        .any(|w| needles.iter().any(|n| w == n.as_slice()));
    if hit {
        let _ = FOUND.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every call is passed through to System unchanged; dealloc reads the block
// it is given, which stays allocated (and was zero-filled when allocated, so every
// byte has been written) until System.dealloc frees it just after.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        System.alloc_zeroed(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        scan(std::slice::from_raw_parts(p, l.size()));
        System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOC: Scanning = Scanning;

/// Runs `f` with the scan on for `keys`: how many freed blocks were looked at, and how
/// many still held a key.
fn freed_with_keys(keys: [[u8; 32]; 2], f: impl FnOnce()) -> (usize, usize) {
    FOUND.with(|c| c.set(0));
    FREED.with(|c| c.set(0));
    WATCH.with(|c| c.set(Some(keys)));
    f();
    WATCH.with(|c| c.set(None));
    (FREED.with(Cell::get), FOUND.with(Cell::get))
}

fn keypair(t1: [u8; 32], t2: [u8; 32], initiator: bool, index: u32) -> Arc<Keypair> {
    let now = Instant::now();
    Arc::new(Keypair::new(&Secret32(t1), &Secret32(t2), initiator, now, index, 0).unwrap())
}

#[test]
fn the_scan_sees_a_key_left_in_a_freed_block() {
    // Guard against a test that cannot fail: a plain copy of the key, freed.
    let k = secret(1);
    let (freed, found) =
        freed_with_keys([k, k], || drop(std::hint::black_box(Box::new(secret(1)))));
    assert_eq!((freed, found), (1, 1));
}

#[test]
fn dropped_keypairs_leave_no_key_in_freed_memory() {
    let (t1, t2) = (secret(11), secret(101));
    let (freed, found) = freed_with_keys([t1, t2], || {
        let mut s = Sessions::default();
        // Initiator: 1 current, then 2 (1 previous), then 3 (1 destroyed).
        s.install(keypair(t1, t2, true, 1));
        s.install(keypair(t1, t2, true, 2));
        assert_eq!(s.install(keypair(t1, t2, true, 3)), vec![1]);
        // Responder: 4 next (previous 2 destroyed), then 5 (4 destroyed).
        assert_eq!(s.install(keypair(t1, t2, false, 4)), vec![2]);
        assert_eq!(s.install(keypair(t1, t2, false, 5)), vec![4]);
        // A keypair still in use by a sender (another Arc) is wiped when the last goes.
        let held = s.find(3).cloned().unwrap();
        let mut cleared = s.clear();
        cleared.sort();
        assert_eq!(cleared, vec![3, 5]);
        let mut buf = vec![0u8; 16 + 32 + 16];
        assert!(held.seal(&mut buf, 32, 0).is_some(), "usable until dropped");
        drop(held);
    });
    assert!(
        freed >= 5,
        "the five keypairs' blocks were scanned: {freed}"
    );
    assert_eq!(found, 0, "freed blocks holding a transport key");
}

#[test]
fn dropped_secrets_leave_nothing_in_freed_memory() {
    let k = secret(55);
    let (freed, found) = freed_with_keys([k, k], || {
        drop(std::hint::black_box(Box::new(Secret32(secret(55)))))
    });
    assert_eq!((freed, found), (1, 0));
}
