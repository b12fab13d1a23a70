//! Two protocol engines, A and B, on a simulated clock, joined by a network that moves a
//! datagram only when the test says so: the harness of tests/proto_pair.rs and
//! tests/proto_tamper.rs. Everything is deterministic from the seed.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wgif::proto::crypto::PrivateKey;
use wgif::proto::{Interface, RecvOutcome, SendOutcome, HEADROOM, TAILROOM};

/// One side: its engine, its UDP address, what it wrote to its tun and the log lines
/// it emitted (both collected by `drain` and `deliver`).
pub struct Node {
    pub iface: Interface,
    pub addr: SocketAddr,
    pub tun: Vec<Vec<u8>>,
    pub events: Vec<String>,
}

/// A and B, peers of each other, on one simulated clock and one seeded RNG; datagrams
/// move only when a test moves them.
pub struct Pair {
    pub a: Node,
    pub b: Node,
    pub now: Instant,
    pub wall: SystemTime,
    pub rng: StdRng,
    pub a_id: u64,
    pub b_id: u64,
}

/// A's and B's tunnel addresses: each side's allowed IP for the other is /32 of these.
pub const A_IP: [u8; 4] = [10, 0, 0, 1];
pub const B_IP: [u8; 4] = [10, 0, 0, 2];

/// An IPv4/UDP packet from `src` to `dst` carrying `payload` (header checksum left zero:
/// the engine reads only the version, length and addresses).
pub fn ipv4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20 + payload.len()];
    p[0] = 0x45;
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[20..].copy_from_slice(payload);
    p
}

impl Pair {
    /// A (peer id 1 on B) and B (peer id 2 on A); endpoints configured per flags.
    pub fn new(seed: u64, a_knows_b: bool, b_knows_a: bool) -> Pair {
        let mut rng = StdRng::seed_from_u64(seed);
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut ka = [0u8; 32];
        let mut kb = [0u8; 32];
        rng.fill_bytes(&mut ka);
        rng.fill_bytes(&mut kb);
        let pa = PrivateKey::from_bytes(&ka).public_key();
        let pb = PrivateKey::from_bytes(&kb).public_key();
        let a_addr: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let b_addr: SocketAddr = "127.0.0.2:1002".parse().unwrap();
        let mut a = Interface::new(now, &mut rng);
        let mut b = Interface::new(now, &mut rng);
        a.set_private_key(Some(&ka), now);
        b.set_private_key(Some(&kb), now);
        a.add_peer(2, &pb, now).unwrap();
        b.add_peer(1, &pa, now).unwrap();
        a.add_aip(2, IpAddr::V4(Ipv4Addr::from(B_IP)), 32).unwrap();
        b.add_aip(1, IpAddr::V4(Ipv4Addr::from(A_IP)), 32).unwrap();
        if a_knows_b {
            a.set_endpoint(2, Some(b_addr));
        }
        if b_knows_a {
            b.set_endpoint(1, Some(a_addr));
        }
        a.up(now);
        b.up(now);
        let node = |iface, addr| Node {
            iface,
            addr,
            tun: Vec::new(),
            events: Vec::new(),
        };
        Pair {
            a: node(a, a_addr),
            b: node(b, b_addr),
            now,
            wall,
            rng,
            a_id: 1,
            b_id: 2,
        }
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.wall += d;
    }

    /// Sends an inner packet from `from_a ? A : B` to the other side.
    pub fn send(&mut self, from_a: bool, payload: &[u8]) -> (SendOutcome, Vec<u8>) {
        let (src, dst) = if from_a { (A_IP, B_IP) } else { (B_IP, A_IP) };
        let pkt = ipv4(src, dst, payload);
        let mut buf = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
        let node = if from_a { &mut self.a } else { &mut self.b };
        let o = node
            .iface
            .encapsulate(self.now, self.wall, &mut self.rng, &mut buf, pkt.len());
        if let SendOutcome::Send { range, .. } = &o {
            buf = buf[range.clone()].to_vec();
        }
        (o, buf)
    }

    /// Drains one side's queued datagrams, returning them.
    pub fn drain(&mut self, from_a: bool) -> Vec<Vec<u8>> {
        let node = if from_a { &mut self.a } else { &mut self.b };
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Some(t) = node.iface.poll_transmit(&mut buf) {
            out.push(buf[..t.len].to_vec());
        }
        while let Some(e) = node.iface.poll_event() {
            node.events.push(e.to_string());
        }
        out
    }

    /// Delivers one datagram to a side, not under load.
    pub fn deliver(&mut self, to_a: bool, dgram: Vec<u8>) -> RecvOutcome {
        self.deliver_under_load(to_a, dgram, false)
    }

    /// Delivers one datagram to a side; `under_load` as the driver would say it (mac2 and
    /// cookies are looked at only then).
    pub fn deliver_under_load(
        &mut self,
        to_a: bool,
        mut dgram: Vec<u8>,
        under_load: bool,
    ) -> RecvOutcome {
        let from = if to_a { self.b.addr } else { self.a.addr };
        let node = if to_a { &mut self.a } else { &mut self.b };
        let local = Some(node.addr.ip());
        let o = node.iface.decapsulate(
            self.now,
            self.wall,
            &mut self.rng,
            from,
            local,
            &mut dgram,
            under_load,
        );
        if let RecvOutcome::Tun(r) = &o {
            node.tun.push(dgram[r.clone()].to_vec());
        }
        while let Some(e) = node.iface.poll_event() {
            node.events.push(e.to_string());
        }
        o
    }

    /// The log lines one side emitted since the last call, taken out of its `events`.
    pub fn take_events(&mut self, of_a: bool) -> Vec<String> {
        let node = if of_a { &mut self.a } else { &mut self.b };
        while let Some(e) = node.iface.poll_event() {
            node.events.push(e.to_string());
        }
        std::mem::take(&mut node.events)
    }

    /// A stages `payload` (it has no session yet): the one initiation it sends for it,
    /// not yet delivered.
    pub fn staged_initiation(&mut self, payload: &[u8]) -> Vec<u8> {
        let (o, _) = self.send(true, payload);
        assert_eq!(o, SendOutcome::Staged);
        let mut init = self.drain(true);
        assert_eq!(init.len(), 1, "one initiation");
        assert_eq!((init[0][0], init[0].len()), (1, 148), "an initiation");
        init.remove(0)
    }

    /// A stages `payload`, its initiation reaches B: returns B's response, not yet
    /// delivered.
    pub fn response_to_staged(&mut self, payload: &[u8]) -> Vec<u8> {
        let init = self.staged_initiation(payload);
        self.deliver(false, init);
        let resp = self.drain(false);
        assert_eq!(resp.len(), 1, "one response");
        assert_eq!((resp[0][0], resp[0].len()), (2, 92), "a response");
        resp.into_iter().next().unwrap()
    }

    /// Runs one side's due timers at the current simulated time.
    pub fn timers(&mut self, of_a: bool) {
        let node = if of_a { &mut self.a } else { &mut self.b };
        node.iface
            .handle_timeout(self.now, self.wall, &mut self.rng);
    }

    /// Moves datagrams both ways until quiet (bounded).
    pub fn pump(&mut self) {
        for _ in 0..50 {
            let ab = self.drain(true);
            let ba = self.drain(false);
            if ab.is_empty() && ba.is_empty() {
                return;
            }
            for d in ab {
                self.deliver(false, d);
            }
            for d in ba {
                self.deliver(true, d);
            }
        }
        panic!("network did not go quiet");
    }
}
