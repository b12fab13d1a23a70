//! Every protocol constant, each with its source (spec = docs/spec/wireguard-protocol.md).

use std::time::Duration;

/// Noise construction name (spec §2; kernel noise.c `handshake_name`).
pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// Prologue (spec §2; kernel noise.c `identifier_name`).
pub const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
/// mac1 key label (spec §2; kernel cookie.c `mac1_key_label`).
pub const LABEL_MAC1: &[u8] = b"mac1----";
/// Cookie key label (spec §2; kernel cookie.c `cookie_key_label`).
pub const LABEL_COOKIE: &[u8] = b"cookie--";

/// Message type words (spec §3; kernel messages.h `MESSAGE_*`).
pub const MSG_INITIATION: u32 = 1;
pub const MSG_RESPONSE: u32 = 2;
pub const MSG_COOKIE: u32 = 3;
pub const MSG_DATA: u32 = 4;

/// Exact message sizes (spec §3.1–3.4).
pub const INITIATION_LEN: usize = 148;
pub const RESPONSE_LEN: usize = 92;
pub const COOKIE_LEN: usize = 64;
/// Transport header (type, receiver, counter) (spec §3.4).
pub const DATA_HEADER_LEN: usize = 16;
/// Poly1305 tag (RFC 8439; spec §1).
pub const TAG_LEN: usize = 16;
/// Smallest transport message = keepalive (spec §3.4, §6.2).
pub const DATA_MIN_LEN: usize = DATA_HEADER_LEN + TAG_LEN;
/// Plaintext padding multiple (spec §6.3; kernel `MESSAGE_PADDING_MULTIPLE`).
pub const PADDING_MULTIPLE: usize = 16;

/// REKEY_AFTER_MESSAGES = 2^60 (spec §6.6).
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// REJECT_AFTER_MESSAGES = 2^64 − 2^13 − 1 (spec §6.6, §11 recommendation).
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// REKEY_AFTER_TIME (spec §7.1).
pub const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);
/// REJECT_AFTER_TIME (spec §7.1).
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);
/// REKEY_TIMEOUT (spec §7.1).
pub const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
/// KEEPALIVE_TIMEOUT (spec §7.1).
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Initiator's last-minute rekey on receive: REJECT − KEEPALIVE − REKEY_TIMEOUT = 165 s (spec §7.3).
pub const REKEY_ON_RECEIVE_AGE: Duration = Duration::from_secs(165);
/// Cookie secret lifetime COOKIE_SECRET_MAX_AGE (spec §5.2, kernel messages.h).
pub const COOKIE_SECRET_MAX_AGE: Duration = Duration::from_secs(120);
/// COOKIE_SECRET_LATENCY; a held cookie is used for 120 − 5 = 115 s (spec §5.1, §11).
pub const COOKIE_SECRET_LATENCY: Duration = Duration::from_secs(5);
/// Per-peer spacing of consumed initiations, 1 s / 50 (spec §4.2 step 7).
pub const INITIATION_SPACING: Duration = Duration::from_millis(20);
/// Staged packets per peer (spec §7.1; kernel `MAX_STAGED_PACKETS`).
pub const MAX_STAGED_PACKETS: usize = 128;
/// Peers per interface (OpenBSD `MAX_PEERS_PER_IFACE` = 2^20, openbsd-wg-interface spec §1.9).
pub const MAX_PEERS: usize = 1 << 20;
/// Retries before giving up (spec §7.2: MAX_TIMER_HANDSHAKES = 90/5 = 18; 20 initiations in all).
pub const MAX_TIMER_HANDSHAKES: u32 = 18;
/// Key material is zeroed REJECT_AFTER_TIME × 3 after the last session was derived (spec §7.2).
pub const ZERO_KEY_MATERIAL_AFTER: Duration = Duration::from_secs(540);
/// Jitter added to retransmits and new-handshake timers: 0..333 ms (spec §7.1).
pub const MAX_JITTER_MS: u32 = 334;
/// Largest UDP payload (spec §3).
pub const MAX_UDP_PAYLOAD: usize = 65535;
