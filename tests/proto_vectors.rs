//! Vectors of spec §10.1–10.3 (expected values copied from the spec, into this file or
//! tests/vectors/handshake.txt), run against proto::{crypto, noise, cookie, keypair}.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;
use wgif::proto::cookie::{cookie_key, mac1_key, make_cookie, seal_reply, CookieMaker};
use wgif::proto::crypto::{self, PrivateKey, Secret32};
use wgif::proto::keypair::Keypair;
use wgif::proto::noise;
use wgif::proto::wire::{CookieReply, Initiation, Response};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

fn a32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

fn vectors() -> HashMap<String, Vec<u8>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/handshake.txt");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(" = ").unwrap();
            (k.to_string(), h(v.trim()))
        })
        .collect()
}

struct V(HashMap<String, Vec<u8>>);
impl V {
    fn get(&self, k: &str) -> Vec<u8> {
        self.0
            .get(k)
            .unwrap_or_else(|| panic!("missing vector {k}"))
            .clone()
    }
    fn k32(&self, k: &str) -> [u8; 32] {
        self.get(k).try_into().unwrap()
    }
}

#[test]
fn initial_constants() {
    assert_eq!(
        noise::initial_chain_key().to_vec(),
        h("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
    );
    assert_eq!(
        noise::initial_hash().to_vec(),
        h("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3")
    );
}

#[test]
fn primitives() {
    assert_eq!(
        crypto::hash(&[b""]).to_vec(),
        h("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9")
    );
    assert_eq!(
        crypto::hash(&[b"a", b"bc"]).to_vec(),
        h("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
    );
    let key: Vec<u8> = (0u8..32).collect();
    assert_eq!(
        crypto::mac(&key, &[b"abc"]).to_vec(),
        h("61ba5f165c194692e09d12520cc4c74a")
    );
    assert_ne!(
        crypto::mac(&key, &[b"abc"]).to_vec(),
        h("a281f725754969a702f6fe36fc591b7d")
    );
    assert_eq!(
        crypto::hmac(b"key", &[b"The quick brown fox jumps over the lazy dog"]).to_vec(),
        h("f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0")
    );
}

#[test]
fn kdf_vectors() {
    let rows = [
        (
            "746573742d6b6579",
            "746573742d696e707574",
            "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
            "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
            "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24",
        ),
        (
            "776972656775617264",
            "776972656775617264",
            "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
            "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
            "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160",
        ),
        (
            "",
            "",
            "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
            "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
            "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e",
        ),
    ];
    for (k, i, t1, t2, t3) in rows {
        let (k, i) = (h(k), h(i));
        assert_eq!(crypto::kdf1(&k, &i).0.to_vec(), h(t1));
        let (a, b) = crypto::kdf2(&k, &i);
        assert_eq!((a.0.to_vec(), b.0.to_vec()), (h(t1), h(t2)));
        let (a, b, c) = crypto::kdf3(&k, &i);
        assert_eq!(
            (a.0.to_vec(), b.0.to_vec(), c.0.to_vec()),
            (h(t1), h(t2), h(t3))
        );
    }
}

#[test]
fn xchacha20poly1305_draft_vector() {
    let key: [u8; 32] = a32("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce: [u8; 24] = h("404142434445464748494a4b4c4d4e4f5051525354555657")
        .try_into()
        .unwrap();
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let mut buf = pt.to_vec();
    buf.extend_from_slice(&[0u8; 16]);
    assert!(crypto::xaead_seal(&key, &nonce, &mut buf, &aad));
    let mut expect = h("bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e");
    expect.extend(h("c0875924c1c7987947deafd8780acf49"));
    assert_eq!(buf, expect);
    assert!(crypto::xaead_open(&key, &nonce, &mut buf, &aad));
    assert_eq!(&buf[..pt.len()], pt);
}

#[test]
fn x25519_vectors() {
    let alice = PrivateKey::from_bytes(&a32(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    ));
    let bob = PrivateKey::from_bytes(&a32(
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    ));
    assert_eq!(
        alice.public_key().to_vec(),
        h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    assert_eq!(
        bob.public_key().to_vec(),
        h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    );
    let shared = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(
        crypto::dh(&alice, &bob.public_key()).unwrap().0.to_vec(),
        shared
    );
    assert_eq!(
        crypto::dh(&bob, &alice.public_key()).unwrap().0.to_vec(),
        shared
    );
    assert!(crypto::dh(&alice, &[0u8; 32]).is_none());
}

fn run_handshake(sec: &str, psk: [u8; 32]) {
    let v = V(vectors());
    let now = Instant::now();
    let si = PrivateKey::from_bytes(&v.k32("inputs/Si_priv"));
    let sr = PrivateKey::from_bytes(&v.k32("inputs/Sr_priv"));
    let si_pub = v.k32("inputs/Si_pub");
    let sr_pub = v.k32("inputs/Sr_pub");
    assert_eq!(si.public_key(), si_pub);
    assert_eq!(sr.public_key(), sr_pub);
    let ts: [u8; 12] = v.get("inputs/timestamp(TAI64N)").try_into().unwrap();
    let i_idx = 0x11223344u32;
    let r_idx = 0xa1b2c3d4u32;
    let ss_i = crypto::dh(&si, &sr_pub).unwrap();
    assert_eq!(ss_i.0.to_vec(), v.get("A/DH(Si,Sr_pub) ss"));
    let psk = Secret32(psk);

    // e, es, s, ss, {t}
    let mut init = [0u8; 148];
    let ist = noise::create_initiation(
        &mut init,
        &si_pub,
        &sr_pub,
        &ss_i,
        PrivateKey::from_bytes(&v.k32("inputs/Ei_priv")),
        &ts,
        i_idx,
    )
    .unwrap();
    assert_eq!(ist.h.to_vec(), v.get("A/H after {t} (Hi)"));
    assert_eq!(ist.c.to_vec(), v.get("A/C after ss"));
    let mut maker_r = CookieMaker::new(&sr_pub);
    assert_eq!(
        mac1_key(&sr_pub).to_vec(),
        v.get("A/mac1_key HASH('mac1----'||Sr_pub)")
    );
    maker_r.add_macs(now, &mut init);
    assert_eq!(init.to_vec(), v.get("A/INITIATION (148 bytes)"));

    // Responder consumes.
    let msg = Initiation::new_checked(&init).unwrap();
    let partial = noise::consume_initiation_static(&msg, &sr, &sr_pub).unwrap();
    assert_eq!(partial.remote_static, si_pub);
    let ss_r = crypto::dh(&sr, &si_pub).unwrap();
    let (rst, got_ts) = noise::consume_initiation_finish(partial, &msg, &ss_r).unwrap();
    assert_eq!(got_ts, ts);
    assert_eq!(rst.remote_index, i_idx);

    // e, ee, se, psk, {}
    let mut resp = [0u8; 92];
    let c_r = noise::create_response(
        &mut resp,
        &rst,
        &si_pub,
        &psk,
        PrivateKey::from_bytes(&v.k32("inputs/Er_priv")),
        r_idx,
    )
    .unwrap();
    let mut maker_i = CookieMaker::new(&si_pub);
    maker_i.add_macs(now, &mut resp);
    assert_eq!(resp.to_vec(), v.get(&format!("{sec}/RESPONSE (92 bytes)")));

    let rmsg = Response::new_checked(&resp).unwrap();
    let c_i = noise::consume_response(&rmsg, &ist, &si, &psk).unwrap();
    assert_eq!(c_i.0, c_r.0);
    let (t1, t2) = noise::derive_transport_keys(&c_i);
    assert_eq!(t1.0.to_vec(), v.get(&format!("{sec}/T1")));
    assert_eq!(t2.0.to_vec(), v.get(&format!("{sec}/T2")));

    let ki = Keypair::new(&t1, &t2, true, now, i_idx, r_idx).unwrap();
    let kr = Keypair::new(&t1, &t2, false, now, r_idx, i_idx).unwrap();
    let inner = v.get("A/inner packet (28 bytes, IPv4/UDP)");
    let mut buf = vec![0u8; 16 + inner.len() + 32];
    buf[16..16 + inner.len()].copy_from_slice(&inner);
    let n = ki.seal(&mut buf, inner.len(), 1420).unwrap();
    let expect = v.get(&format!("{sec}/DATA initiator->responder ctr=0"));
    assert_eq!(buf[..n].to_vec(), expect);
    let mut ka = vec![0u8; 32];
    let n = ki.seal(&mut ka, 0, 1420).unwrap();
    assert_eq!(
        ka[..n].to_vec(),
        v.get(&format!("{sec}/KEEPALIVE initiator->responder ctr=1"))
    );
    let mut buf = vec![0u8; 16 + inner.len() + 32];
    buf[16..16 + inner.len()].copy_from_slice(&inner);
    let n = kr.seal(&mut buf, inner.len(), 1420).unwrap();
    assert_eq!(
        buf[..n].to_vec(),
        v.get(&format!("{sec}/DATA responder->initiator ctr=0"))
    );

    // Decrypt each DATA line; flipping any bit makes it fail.
    let mut d = expect.clone();
    let pt = kr.open(&mut d).unwrap();
    assert_eq!(&d[16..16 + inner.len()], &inner[..]);
    assert_eq!(pt, 32);
    for byte in 16..expect.len() {
        for bit in 0..8 {
            let kr2 = Keypair::new(&t1, &t2, false, now, r_idx, i_idx).unwrap();
            let mut d = expect.clone();
            d[byte] ^= 1 << bit;
            assert!(kr2.open(&mut d).is_none(), "flip {byte}.{bit} accepted");
        }
    }
}

#[test]
fn whole_handshake_vector_a() {
    run_handshake("A", [0u8; 32]);
}

#[test]
fn whole_handshake_vector_b_psk() {
    let psk: [u8; 32] = core::array::from_fn(|i| 0x20 + i as u8);
    run_handshake("B", psk);
}

#[test]
fn cookie_vector() {
    let v = V(vectors());
    let now = Instant::now();
    let sr_pub = v.k32("inputs/Sr_pub");
    let secret = v.k32("cookie/cookie secret Rchanging");
    let src: SocketAddr = "192.0.2.1:51820".parse().unwrap();
    let cookie = make_cookie(&secret, src);
    assert_eq!(cookie.to_vec(), v.get("cookie/cookie(kernel encoding)"));
    assert_eq!(cookie_key(&sr_pub).to_vec(), v.get("cookie/cookie key"));
    let nonce: [u8; 24] = v.get("cookie/nonce").try_into().unwrap();
    let mac1: [u8; 16] = v.get("A/initiation mac1").try_into().unwrap();
    let reply = seal_reply(&cookie_key(&sr_pub), &nonce, &cookie, &mac1, 0x11223344);
    assert_eq!(reply.to_vec(), v.get("cookie/COOKIE REPLY (64 bytes)"));

    // The initiator takes the cookie and its next mac2 matches.
    let mut init: [u8; 148] = v.get("A/INITIATION (148 bytes)").try_into().unwrap();
    let mut maker = CookieMaker::new(&sr_pub);
    maker.add_macs(now, &mut init);
    let r = CookieReply::new_checked(&reply).unwrap();
    assert!(maker.consume_reply(now, &r));
    assert!(
        !maker.consume_reply(now, &r),
        "second reply for the same mac1"
    );
    maker.add_macs(now, &mut init);
    assert_eq!(
        init[132..].to_vec(),
        v.get("cookie/initiation mac2 with that cookie")
    );
}
