//! mac1/mac2 and cookie replies (spec §5): a `CookieMaker` per peer (adds MACs to our
//! handshake messages, stores cookies the peer sends us) and a `CookieChecker` per interface
//! (checks incoming MACs, makes cookies under a secret rotated every 120 s).

use super::consts::*;
use super::crypto::{ct_eq, hash, mac, xaead_open, xaead_seal, Secret32};
use super::wire::{put_type, CookieReply};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use zeroize::Zeroize;

/// K_mac1(X) = HASH("mac1----" || X) (spec §2).
pub fn mac1_key(public: &[u8; 32]) -> [u8; 32] {
    hash(&[LABEL_MAC1, public])
}

/// K_cookie(X) = HASH("cookie--" || X) (spec §2).
/// Whether `msg` (a type-1 or type-2 message) carries a valid mac1 for `mac1_key`.
pub fn mac1_ok(mac1_key: &[u8; 32], msg: &[u8]) -> bool {
    mac_offsets(msg).is_some_and(|(m1, m2)| ct_eq(&mac(mac1_key, &[&msg[..m1]]), &msg[m1..m2]))
}

pub fn cookie_key(public: &[u8; 32]) -> [u8; 32] {
    hash(&[LABEL_COOKIE, public])
}

/// cookie = MAC(R_changing, A) with the kernel's encoding of A: ip || port BE (spec §5.2).
pub fn make_cookie(secret: &[u8; 32], src: SocketAddr) -> [u8; 16] {
    let port = src.port().to_be_bytes();
    match src.ip() {
        IpAddr::V4(a) => mac(secret, &[&a.octets(), &port]),
        IpAddr::V6(a) => mac(secret, &[&a.octets(), &port]),
    }
}

/// Builds a 64-byte cookie reply (spec §5.3).
pub fn seal_reply(
    key: &[u8; 32],
    nonce: &[u8; 24],
    cookie: &[u8; 16],
    aad_mac1: &[u8; 16],
    receiver: u32,
) -> [u8; COOKIE_LEN] {
    let mut out = [0u8; COOKIE_LEN];
    put_type(&mut out, MSG_COOKIE);
    out[4..8].copy_from_slice(&receiver.to_le_bytes());
    out[8..32].copy_from_slice(nonce);
    out[32..48].copy_from_slice(cookie);
    xaead_seal(key, nonce, &mut out[32..64], aad_mac1);
    out
}

fn mac_offsets(msg: &[u8]) -> Option<(usize, usize)> {
    if msg.len() < 32 {
        return None;
    }
    Some((msg.len() - 32, msg.len() - 16))
}

/// Result of the MAC checks on an incoming type-1/2 message.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum MacCheck {
    BadMac1,
    /// mac1 fine, mac2 missing or wrong.
    Mac1Only,
    Both,
}

/// Per-interface checker.
#[derive(Default)]
pub struct CookieChecker {
    mac1_key: [u8; 32],
    cookie_key: Secret32,
    secret: Secret32,
    secret_birth: Option<Instant>,
}

impl CookieChecker {
    pub fn new() -> CookieChecker {
        CookieChecker::default()
    }

    /// Re-derives the keys from our public key (None = no identity: nothing validates).
    pub fn set_identity(&mut self, public: Option<&[u8; 32]>) {
        match public {
            Some(p) => {
                self.mac1_key = mac1_key(p);
                self.cookie_key = Secret32(cookie_key(p));
            }
            None => {
                self.mac1_key = [0; 32];
                self.cookie_key = Secret32::default();
            }
        }
    }

    fn secret_fresh(&self, now: Instant) -> bool {
        self.secret_birth
            .is_some_and(|b| now.saturating_duration_since(b) < COOKIE_SECRET_MAX_AGE)
    }

    /// Checks mac1 and, when the secret is fresh, mac2 for the source `src`.
    pub fn check(&self, now: Instant, msg: &[u8], src: SocketAddr) -> MacCheck {
        let Some((m1, m2)) = mac_offsets(msg) else {
            return MacCheck::BadMac1;
        };
        if !ct_eq(&mac(&self.mac1_key, &[&msg[..m1]]), &msg[m1..m2]) {
            return MacCheck::BadMac1;
        }
        // No cookie yet (mac2 all zero, as every sender without one writes it): no
        // need to compute the cookie and the MAC that would not match it. mac2 is
        // the sender's bytes, so the branch tells nothing secret.
        let no_cookie = msg[m2..].iter().all(|&b| b == 0);
        if no_cookie || !self.secret_fresh(now) {
            return MacCheck::Mac1Only;
        }
        let cookie = make_cookie(&self.secret.0, src);
        if ct_eq(&mac(&cookie, &[&msg[..m2]]), &msg[m2..]) {
            MacCheck::Both
        } else {
            MacCheck::Mac1Only
        }
    }

    /// Builds the cookie reply for `msg` (a type-1 or type-2 message) from `src`.
    pub fn create_reply(
        &mut self,
        now: Instant,
        rng: &mut impl rand_core::CryptoRngCore,
        msg: &[u8],
        src: SocketAddr,
    ) -> Option<[u8; COOKIE_LEN]> {
        let (m1, m2) = mac_offsets(msg)?;
        if !self.secret_fresh(now) {
            rng.fill_bytes(&mut self.secret.0);
            self.secret_birth = Some(now);
        }
        let mut cookie = make_cookie(&self.secret.0, src);
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        let mut m = [0u8; 16];
        m.copy_from_slice(&msg[m1..m2]);
        let mut r = [0u8; 4];
        r.copy_from_slice(&msg[4..8]);
        let out = seal_reply(
            &self.cookie_key.0,
            &nonce,
            &cookie,
            &m,
            u32::from_le_bytes(r),
        );
        cookie.zeroize();
        Some(out)
    }
}

/// Per-peer MAC producer and cookie holder.
#[derive(Default)]
pub struct CookieMaker {
    mac1_key: [u8; 32],
    cookie_key: [u8; 32],
    cookie: Option<([u8; 16], Instant)>,
    last_mac1: Option<[u8; 16]>,
}

impl Drop for CookieMaker {
    fn drop(&mut self) {
        if let Some((c, _)) = &mut self.cookie {
            c.zeroize();
        }
    }
}

impl CookieMaker {
    /// For a peer with public key `peer_public`.
    pub fn new(peer_public: &[u8; 32]) -> CookieMaker {
        CookieMaker {
            mac1_key: mac1_key(peer_public),
            cookie_key: cookie_key(peer_public),
            cookie: None,
            last_mac1: None,
        }
    }

    /// Fills mac1 and mac2 of an outgoing type-1/2 message (spec §5.1).
    pub fn add_macs(&mut self, now: Instant, msg: &mut [u8]) {
        let Some((m1, m2)) = mac_offsets(msg) else {
            return;
        };
        let m = mac(&self.mac1_key, &[&msg[..m1]]);
        msg[m1..m2].copy_from_slice(&m);
        self.last_mac1 = Some(m);
        let fresh = COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY;
        let mac2 = match &self.cookie {
            Some((c, t)) if now.saturating_duration_since(*t) < fresh => mac(c, &[&msg[..m2]]),
            _ => [0u8; 16],
        };
        msg[m2..].copy_from_slice(&mac2);
    }

    /// Consumes a cookie reply addressed to this peer (spec §5.3). False if it does not
    /// decrypt or no mac1 was sent.
    pub fn consume_reply(&mut self, now: Instant, reply: &CookieReply<'_>) -> bool {
        let Some(aad) = self.last_mac1 else {
            return false;
        };
        let mut c = reply.encrypted_cookie();
        if !xaead_open(&self.cookie_key, &reply.nonce(), &mut c, &aad) {
            return false;
        }
        let mut cookie = [0u8; 16];
        cookie.copy_from_slice(&c[..16]);
        c.zeroize();
        self.cookie = Some((cookie, now));
        self.last_mac1 = None;
        true
    }
}
