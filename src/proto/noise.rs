//! Noise_IKpsk2 (spec §4): building and consuming handshake messages 1 and 2, and the
//! transport key split. Pure functions over explicit state; MACs (mac1/mac2) are added by
//! cookie.rs, index allocation and timers by iface.rs.

use super::consts::*;
use super::crypto::{aead_open, aead_seal, dh, hash, kdf1, kdf2, kdf3, PrivateKey, Secret32};
use super::wire::{put_type, Initiation, Response};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// C0 = HASH(CONSTRUCTION) (spec §2).
pub fn initial_chain_key() -> [u8; 32] {
    hash(&[CONSTRUCTION])
}

/// H0 = HASH(C0 || IDENTIFIER) (spec §2).
pub fn initial_hash() -> [u8; 32] {
    hash(&[&initial_chain_key(), IDENTIFIER])
}

/// State kept by the initiator between messages 1 and 2 (INITIATION_CREATED).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct InitiatorState {
    pub c: [u8; 32],
    pub h: [u8; 32],
    #[zeroize(skip)]
    pub ephemeral: PrivateKey,
    pub local_index: u32,
}

/// State of a consumed initiation (INITIATION_CONSUMED).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ResponderState {
    pub c: [u8; 32],
    pub h: [u8; 32],
    pub remote_ephemeral: [u8; 32],
    pub remote_index: u32,
}

/// First half of consuming message 1: who claims to be sending it.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct PartialInitiation {
    c: [u8; 32],
    h: [u8; 32],
    pub remote_static: [u8; 32],
    remote_ephemeral: [u8; 32],
    remote_index: u32,
}

/// Builds message 1 except mac1/mac2 (spec §4.1). None if a DH result is zero.
#[allow(clippy::too_many_arguments)]
pub fn create_initiation(
    msg: &mut [u8; INITIATION_LEN],
    local_public: &[u8; 32],
    remote_public: &[u8; 32],
    ss: &Secret32,
    ephemeral: PrivateKey,
    timestamp: &[u8; 12],
    sender: u32,
) -> Option<InitiatorState> {
    msg.fill(0);
    put_type(msg, MSG_INITIATION);
    msg[4..8].copy_from_slice(&sender.to_le_bytes());
    let mut h = hash(&[&initial_hash(), remote_public]);
    // e
    let e_pub = ephemeral.public_key();
    msg[Initiation::EPHEMERAL..Initiation::EPHEMERAL + 32].copy_from_slice(&e_pub);
    let c = kdf1(&initial_chain_key(), &e_pub);
    h = hash(&[&h, &e_pub]);
    // es
    let es = dh(&ephemeral, remote_public)?;
    let (c, k) = kdf2(&c.0, &es.0);
    // s
    let st = &mut msg[Initiation::STATIC..Initiation::STATIC + 48];
    st[..32].copy_from_slice(local_public);
    aead_seal(&k.0, 0, st, &h);
    h = hash(&[&h, st]);
    // ss
    if ss.is_zero() {
        return None;
    }
    let (c, k) = kdf2(&c.0, &ss.0);
    // {t}
    let ts = &mut msg[Initiation::TIMESTAMP..Initiation::TIMESTAMP + 28];
    ts[..12].copy_from_slice(timestamp);
    aead_seal(&k.0, 0, ts, &h);
    h = hash(&[&h, ts]);
    Some(InitiatorState {
        c: c.0,
        h,
        ephemeral,
        local_index: sender,
    })
}

/// Consumes message 1 up to the decrypted initiator static key (spec §4.2 step 4).
pub fn consume_initiation_static(
    msg: &Initiation<'_>,
    local: &PrivateKey,
    local_public: &[u8; 32],
) -> Option<PartialInitiation> {
    let mut h = hash(&[&initial_hash(), local_public]);
    // e
    let e = msg.ephemeral();
    let c = kdf1(&initial_chain_key(), &e);
    h = hash(&[&h, &e]);
    // es
    let es = dh(local, &e)?;
    let (c, k) = kdf2(&c.0, &es.0);
    // s
    let mut st = msg.encrypted_static();
    if !aead_open(&k.0, 0, &mut st, &h) {
        return None;
    }
    h = hash(&[&h, &msg.encrypted_static()]);
    let mut remote_static = [0u8; 32];
    remote_static.copy_from_slice(&st[..32]);
    st.zeroize();
    Some(PartialInitiation {
        c: c.0,
        h,
        remote_static,
        remote_ephemeral: e,
        remote_index: msg.sender(),
    })
}

/// Finishes consuming message 1 with the peer's precomputed SS (spec §4.2 step 6). Returns
/// the state and the decrypted TAI64N timestamp; replay/flood checks are the caller's.
pub fn consume_initiation_finish(
    p: PartialInitiation,
    msg: &Initiation<'_>,
    ss: &Secret32,
) -> Option<(ResponderState, [u8; 12])> {
    if ss.is_zero() {
        return None;
    }
    // ss
    let (c, k) = kdf2(&p.c, &ss.0);
    // {t}
    let mut ts = msg.encrypted_timestamp();
    if !aead_open(&k.0, 0, &mut ts, &p.h) {
        return None;
    }
    let h = hash(&[&p.h, &msg.encrypted_timestamp()]);
    let mut t = [0u8; 12];
    t.copy_from_slice(&ts[..12]);
    Some((
        ResponderState {
            c: c.0,
            h,
            remote_ephemeral: p.remote_ephemeral,
            remote_index: p.remote_index,
        },
        t,
    ))
}

/// Builds message 2 except MACs (spec §4.3); returns the final chaining key for spec §4.5.
pub fn create_response(
    msg: &mut [u8; RESPONSE_LEN],
    st: &ResponderState,
    remote_static: &[u8; 32],
    psk: &Secret32,
    ephemeral: PrivateKey,
    sender: u32,
) -> Option<Secret32> {
    msg.fill(0);
    put_type(msg, MSG_RESPONSE);
    msg[4..8].copy_from_slice(&sender.to_le_bytes());
    msg[8..12].copy_from_slice(&st.remote_index.to_le_bytes());
    // e
    let e_pub = ephemeral.public_key();
    msg[Response::EPHEMERAL..Response::EPHEMERAL + 32].copy_from_slice(&e_pub);
    let c = kdf1(&st.c, &e_pub);
    let h = hash(&[&st.h, &e_pub]);
    // ee
    let ee = dh(&ephemeral, &st.remote_ephemeral)?;
    let c = kdf1(&c.0, &ee.0);
    // se
    let se = dh(&ephemeral, remote_static)?;
    let c = kdf1(&c.0, &se.0);
    // psk
    let (c, tau, k) = kdf3(&c.0, &psk.0);
    let h = hash(&[&h, &tau.0]);
    // {}
    let empty = &mut msg[Response::EMPTY..Response::EMPTY + 16];
    aead_seal(&k.0, 0, empty, &h);
    let _h = hash(&[&h, empty]);
    Some(c)
}

/// Consumes message 2 (spec §4.4 step 4); returns the final chaining key.
pub fn consume_response(
    msg: &Response<'_>,
    st: &InitiatorState,
    local: &PrivateKey,
    psk: &Secret32,
) -> Option<Secret32> {
    // e
    let e = msg.ephemeral();
    let c = kdf1(&st.c, &e);
    let h = hash(&[&st.h, &e]);
    // ee
    let ee = dh(&st.ephemeral, &e)?;
    let c = kdf1(&c.0, &ee.0);
    // se
    let se = dh(local, &e)?;
    let c = kdf1(&c.0, &se.0);
    // psk
    let (c, tau, k) = kdf3(&c.0, &psk.0);
    let h = hash(&[&h, &tau.0]);
    // {}
    let mut empty = msg.encrypted_nothing();
    if !aead_open(&k.0, 0, &mut empty, &h) {
        return None;
    }
    Some(c)
}

/// Split (spec §4.5): (T1, T2) = KDF2(C, ε). Initiator sends with T1, responder with T2.
pub fn derive_transport_keys(c: &Secret32) -> (Secret32, Secret32) {
    kdf2(&c.0, &[])
}
