//! wgd with four data worker threads (`-t 4`) in network namespaces: numbered
//! datagrams arrive in the order they were sent, none lost, and after a flood ping
//! both ways with every worker busy the byte and drop counters of the two ends
//! agree exactly. The wg(4) example: wg1 (rdomain 1, 192.168.5.1) ↔ wg2 (rdomain 2,
//! 192.168.5.2), one daemon serving both.

mod common;
use common::{in_netns, join, wait_for, Wgd};
use std::net::{SocketAddr, UdpSocket};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const DATAGRAMS: u32 = 100_000;
/// Datagrams ahead of the receiver at most: under the sending tun's queue (1000),
/// which drops what overflows it.
const WINDOW: usize = 400;
const PORT: u16 = 6101;

fn start(tag: &str) -> Wgd {
    let w = Wgd::start_with(tag, &["-d", "-t", "4"]);
    assert!(
        wait_for(Duration::from_secs(5), || w
            .log()
            .contains("data threads: 4\n")),
        "wgd did not start 4 data threads:\n{}",
        w.log()
    );
    w.example();
    assert!(
        Wgd::ping(&w.rd(1), "192.168.5.2"),
        "no tunnel:\n{}",
        w.log()
    );
    w
}

#[test]
#[ignore = "needs root: network namespaces"]
fn numbered_datagrams_keep_their_order_through_four_workers() {
    let w = start("wk-order");
    let to: SocketAddr = format!("192.168.5.2:{PORT}").parse().unwrap();
    let (ready_tx, ready) = mpsc::channel();
    let progress = Arc::new(AtomicUsize::new(0));
    let read = progress.clone();
    let receiver = in_netns(&w.rd(2), move || {
        let s = common::udp_receiver(to)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let _ = ready_tx.send(());
        let mut buf = [0u8; 2048];
        for want in 0..DATAGRAMS {
            let n = s
                .recv(&mut buf)
                .map_err(|e| format!("waiting for datagram {want}: {e}"))?;
            let got = u32::from_be_bytes(buf[..4].try_into().unwrap());
            if got != want || n != 64 + (want % 13) as usize * 100 {
                return Err(format!(
                    "datagram {got} ({n} bytes) arrived where {want} was due"
                ));
            }
            read.store(want as usize + 1, Ordering::Relaxed);
        }
        Ok(())
    });
    ready
        .recv_timeout(Duration::from_secs(10))
        .expect("the receiver is ready");
    let sender = in_netns(&w.rd(1), move || {
        let s = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 2048];
        for seq in 0..DATAGRAMS {
            // Bounded: a receiver that stopped reading ends the test by its timeout.
            let until = Instant::now() + Duration::from_secs(5);
            while seq as usize > progress.load(Ordering::Relaxed) + WINDOW && Instant::now() < until
            {
                std::thread::sleep(Duration::from_micros(100));
            }
            let n = 64 + (seq % 13) as usize * 100;
            buf[..4].copy_from_slice(&seq.to_be_bytes());
            buf[4..n].fill(seq as u8);
            s.send_to(&buf[..n], to)
                .map_err(|e| format!("send {seq}: {e}"))?;
        }
        Ok(())
    });
    let sent = join(sender, "sender");
    let got = join(receiver, "receiver");
    assert!(sent.is_ok() && got.is_ok(), "{sent:?} {got:?}\n{}", w.log());
}

/// wgifconfig's per-peer "tx: N, rx: M" of `ifname` (one peer).
fn bytes(w: &Wgd, ifname: &str) -> (u64, u64) {
    let s = w.wgifconfig_ok(&[ifname]);
    let l = s
        .lines()
        .find_map(|l| l.trim().strip_prefix("tx: "))
        .unwrap_or_else(|| panic!("no tx: line in\n{s}"));
    let (tx, rx) = l.split_once(", rx: ").unwrap();
    (tx.parse().unwrap(), rx.parse().unwrap())
}

/// The interface's drop counters (receive, transmit) from `wgifconfig --prometheus`.
fn drops(w: &Wgd, ifname: &str) -> (u64, u64) {
    let s = w.wgifconfig_ok(&["--prometheus"]);
    let get = |metric: &str| -> u64 {
        let key = format!("{metric}{{interface=\"{ifname}\"}} ");
        s.lines()
            .find_map(|l| l.strip_prefix(&key))
            .unwrap_or_else(|| panic!("no {key} in\n{s}"))
            .trim()
            .parse()
            .unwrap()
    };
    (
        get("wgif_interface_receive_drops_total"),
        get("wgif_interface_transmit_drops_total"),
    )
}

#[test]
#[ignore = "needs root: network namespaces"]
fn counters_agree_after_a_flood_ping_both_ways() {
    let w = start("wk-flood");
    let flood = |ns: String, dst: &str| {
        Wgd::in_ns(
            &ns,
            &[
                "ping", "-f", "-l", "32", "-c", "20000", "-s", "1000", "-q", dst,
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ping -f")
    };
    let pings = [flood(w.rd(1), "192.168.5.2"), flood(w.rd(2), "192.168.5.1")];
    for p in pings {
        let out = p.wait_with_output().expect("ping ends");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("20000 packets transmitted"),
            "ping -f: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Settled: nothing in flight changes the counters any more.
    let mut last = (bytes(&w, "wg1"), bytes(&w, "wg2"));
    assert!(
        wait_for(Duration::from_secs(10), || {
            std::thread::sleep(Duration::from_millis(200));
            let now = (bytes(&w, "wg1"), bytes(&w, "wg2"));
            std::mem::replace(&mut last, now) == now
        }),
        "the counters keep moving"
    );
    let ((tx1, rx1), (tx2, rx2)) = last;
    assert!(tx1 > 20000 * 1000 && tx2 > 20000 * 1000, "{last:?}");
    assert_eq!(tx1, rx2, "wg1's tx bytes are wg2's rx bytes");
    assert_eq!(tx2, rx1, "wg2's tx bytes are wg1's rx bytes");
    assert_eq!(drops(&w, "wg1"), (0, 0), "wg1 dropped nothing");
    assert_eq!(drops(&w, "wg2"), (0, 0), "wg2 dropped nothing");
}
