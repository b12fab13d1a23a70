//! The primitives of spec §1: HASH, MAC, HMAC, KDF1–3, DH, AEAD (handshake), XAEAD (cookies)
//! and the key newtypes that zero themselves on drop. Transport-data AEAD lives in keypair.rs
//! (ring, in place).

use blake2::digest::consts::U16;
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2s256, Blake2sMac};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 32-byte secret (chaining key, symmetric key, preshared key) that zeroes on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Default)]
pub struct Secret32(pub [u8; 32]);

impl Secret32 {
    pub fn is_zero(&self) -> bool {
        self.0.ct_eq(&[0u8; 32]).into()
    }
}

impl std::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret32(..)")
    }
}

/// An X25519 private key, clamped, zeroed on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; 32]);

impl PrivateKey {
    /// Clamps as spec §1 DH_GENERATE / kernel `curve25519_clamp_secret`.
    pub fn from_bytes(b: &[u8; 32]) -> PrivateKey {
        let mut k = *b;
        k[0] &= 248;
        k[31] &= 127;
        k[31] |= 64;
        PrivateKey(k)
    }
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> PrivateKey {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        let k = PrivateKey::from_bytes(&b);
        b.zeroize();
        k
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// The public key, through the fixed-base table (Edwards form): several times cheaper
    /// than a Montgomery ladder over the base point, and every handshake derives one.
    pub fn public_key(&self) -> [u8; 32] {
        let secret = x25519_dalek::StaticSecret::from(self.0);
        x25519_dalek::PublicKey::from(&secret).to_bytes()
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

/// DH(priv, pub): X25519; None if the result is all zero (spec §1).
pub fn dh(private: &PrivateKey, public: &[u8; 32]) -> Option<Secret32> {
    let out = Secret32(x25519_dalek::x25519(private.0, *public));
    if out.is_zero() {
        None
    } else {
        Some(out)
    }
}

/// HASH(parts concatenated): BLAKE2s-256.
pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// MAC(key, parts): keyed BLAKE2s with outlen 16 (not a truncation; spec §1, §10.1).
pub fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // Keys are 16 or 32 bytes here, always valid for BLAKE2s (<= 32).
    let mut m = match <Blake2sMac<U16> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; 16],
    };
    for p in parts {
        Mac::update(&mut m, p);
    }
    m.finalize().into_bytes().into()
}

/// HMAC-BLAKE2s-256 (RFC 2104, B = 64).
pub fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&hash(&[key]));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let mut inner = Blake2s256::new();
    inner.update(ipad);
    for p in parts {
        inner.update(p);
    }
    let mut ih: [u8; 32] = inner.finalize().into();
    let out = hash(&[&opad, &ih]);
    k.zeroize();
    ipad.zeroize();
    opad.zeroize();
    ih.zeroize();
    out
}

/// KDF_n (spec §1): returns (t1, t2, t3); KDF1/KDF2 use a prefix.
fn kdf(key: &[u8], input: &[u8], n: usize) -> [Secret32; 3] {
    let mut t0 = hmac(key, &[input]);
    let t1 = hmac(&t0, &[&[1u8]]);
    let t2 = if n >= 2 {
        hmac(&t0, &[&t1, &[2u8]])
    } else {
        [0; 32]
    };
    let t3 = if n >= 3 {
        hmac(&t0, &[&t2, &[3u8]])
    } else {
        [0; 32]
    };
    t0.zeroize();
    [Secret32(t1), Secret32(t2), Secret32(t3)]
}

pub fn kdf1(key: &[u8], input: &[u8]) -> Secret32 {
    let [a, _, _] = kdf(key, input, 1);
    a
}

pub fn kdf2(key: &[u8], input: &[u8]) -> (Secret32, Secret32) {
    let [a, b, _] = kdf(key, input, 2);
    (a, b)
}

pub fn kdf3(key: &[u8], input: &[u8]) -> (Secret32, Secret32, Secret32) {
    let [a, b, c] = kdf(key, input, 3);
    (a, b, c)
}

fn nonce12(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// AEAD seal (handshake use): `buf[..len-16]` is the plaintext, the tag goes into the last 16.
/// Returns false only if `buf` is shorter than a tag.
pub fn aead_seal(key: &[u8; 32], counter: u64, buf: &mut [u8], aad: &[u8]) -> bool {
    if buf.len() < 16 {
        return false;
    }
    let (pt, tag_out) = buf.split_at_mut(buf.len() - 16);
    let c = ChaCha20Poly1305::new(key.into());
    match c.encrypt_in_place_detached(&nonce12(counter).into(), aad, pt) {
        Ok(tag) => {
            tag_out.copy_from_slice(&tag);
            true
        }
        Err(_) => false,
    }
}

/// AEAD open in place: `buf` = ciphertext || tag; on success `buf[..len-16]` is the plaintext.
pub fn aead_open(key: &[u8; 32], counter: u64, buf: &mut [u8], aad: &[u8]) -> bool {
    if buf.len() < 16 {
        return false;
    }
    let (ct, tag) = buf.split_at_mut(buf.len() - 16);
    let c = ChaCha20Poly1305::new(key.into());
    c.decrypt_in_place_detached(&nonce12(counter).into(), aad, ct, (&*tag).into())
        .is_ok()
}

/// XAEAD seal (cookie replies): `buf` = plaintext || 16 bytes for the tag.
pub fn xaead_seal(key: &[u8; 32], nonce: &[u8; 24], buf: &mut [u8], aad: &[u8]) -> bool {
    if buf.len() < 16 {
        return false;
    }
    let (pt, tag_out) = buf.split_at_mut(buf.len() - 16);
    let c = XChaCha20Poly1305::new(key.into());
    match c.encrypt_in_place_detached(nonce.into(), aad, pt) {
        Ok(tag) => {
            tag_out.copy_from_slice(&tag);
            true
        }
        Err(_) => false,
    }
}

/// XAEAD open in place: `buf` = ciphertext || tag.
pub fn xaead_open(key: &[u8; 32], nonce: &[u8; 24], buf: &mut [u8], aad: &[u8]) -> bool {
    if buf.len() < 16 {
        return false;
    }
    let (ct, tag) = buf.split_at_mut(buf.len() - 16);
    let c = XChaCha20Poly1305::new(key.into());
    c.decrypt_in_place_detached(nonce.into(), aad, ct, (&*tag).into())
        .is_ok()
}

/// Constant-time equality of two byte strings of equal length.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn mac_is_not_truncation() {
        let key: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            mac(&key, &[b"abc"]).to_vec(),
            h("61ba5f165c194692e09d12520cc4c74a")
        );
    }

    #[test]
    fn aead_roundtrip_and_tamper() {
        let k = [7u8; 32];
        let mut b = *b"hello world.....\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
        assert!(aead_seal(&k, 3, &mut b, b"ad"));
        let mut c = b;
        assert!(aead_open(&k, 3, &mut c, b"ad"));
        assert_eq!(&c[..16], b"hello world.....");
        b[0] ^= 1;
        assert!(!aead_open(&k, 3, &mut b, b"ad"));
        assert!(!aead_open(&k, 3, &mut [0u8; 4], b""));
    }

    #[test]
    fn dh_rejects_zero_point() {
        let k = PrivateKey::from_bytes(&[1u8; 32]);
        assert!(dh(&k, &[0u8; 32]).is_none());
    }
}
