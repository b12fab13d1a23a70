//! `wgifconfig --prometheus`: the peers' counters in the Prometheus text
//! exposition format (version 0.0.4), for node_exporter's textfile collector.
//!
//! Families, each with its `# HELP` and `# TYPE` lines even when it has no
//! sample: per interface the packets dropped in and out (counters, label
//! `interface`, from the interface info's [`IfDrops`](crate::ioctl::request::IfDrops));
//! per peer the bytes sent and received (counters) and the seconds since the last
//! handshake (a gauge; no sample for a peer that never completed one), labels
//! `interface`, `peer` (the public key in base64) and `description` (the peer's
//! `wgdescr`, empty when it has none). A non-root caller gets no peer from wgd,
//! so only the interface samples.

use super::key::format_key;
use crate::ioctl::model::{InterfaceIo, PeerIo};
use crate::ioctl::request::IfInfo;
use std::fmt::Write;

/// One metric family: name, TYPE, HELP, and how to get a peer's value.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    /// The sample's value as written (integers, exact even past 2^53).
    value: fn(&PeerIo, i64) -> Option<String>,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "wgif_peer_receive_bytes_total",
        kind: "counter",
        help: "Bytes received from the peer (the status text's rx).",
        value: |p, _| Some(p.rx_bytes.to_string()),
    },
    Family {
        name: "wgif_peer_transmit_bytes_total",
        kind: "counter",
        help: "Bytes sent to the peer (the status text's tx).",
        value: |p, _| Some(p.tx_bytes.to_string()),
    },
    Family {
        name: "wgif_peer_last_handshake_seconds",
        kind: "gauge",
        help: "Seconds since the last completed handshake with the peer (absent if none).",
        value: |p, now| {
            (p.last_handshake.sec != 0).then(|| (now - p.last_handshake.sec).to_string())
        },
    },
];

/// A label value as the exposition format wants it: `\`, `"` and newline escaped.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A per-interface family: name, HELP, value (all counters).
type IfFamily = (&'static str, &'static str, fn(&IfInfo) -> u64);

const IF_FAMILIES: &[IfFamily] = &[
    (
        "wgif_interface_receive_drops_total",
        "Datagrams received and dropped (malformed, failed authentication, refused under load).",
        |i| i.drops.input,
    ),
    (
        "wgif_interface_transmit_drops_total",
        "Packets to send that were dropped (no peer for the destination, no endpoint, interface down, send failed).",
        |i| i.drops.output,
    ),
];

/// The exposition text for these interfaces (info, SIOCGWG answer if a wg one).
pub fn render(list: &[(IfInfo, Option<InterfaceIo>)], now: i64) -> String {
    let mut out = String::new();
    for (name, help, value) in IF_FAMILIES {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (info, _) in list {
            let _ = writeln!(
                out,
                "{name}{{interface=\"{}\"}} {}",
                escape_label(&info.name),
                value(info)
            );
        }
    }
    for f in FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (info, wg) in list {
            let Some(wg) = wg else { continue };
            let ifname = &info.name;
            for p in &wg.peers {
                let Some(v) = (f.value)(p, now) else { continue };
                let key = p.public.as_ref().map(format_key).unwrap_or_default();
                let descr = p.description.as_deref().unwrap_or("");
                let _ = writeln!(
                    out,
                    "{}{{interface=\"{}\",peer=\"{}\",description=\"{}\"}} {}",
                    f.name,
                    escape_label(ifname),
                    escape_label(&key),
                    escape_label(descr),
                    v
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioctl::model::{Key, Timespec};
    use crate::ioctl::request::IfDrops;

    fn info(name: &str, input: u64, output: u64) -> IfInfo {
        IfInfo {
            name: name.into(),
            drops: IfDrops { input, output },
            ..IfInfo::default()
        }
    }

    fn peer(k: u8, descr: Option<&str>, hs: i64) -> PeerIo {
        PeerIo {
            public: Some(Key([k; 32])),
            psk: Some(Key([9; 32])),
            description: descr.map(str::to_string),
            tx_bytes: 10 * k as u64,
            rx_bytes: 20 * k as u64,
            last_handshake: Timespec { sec: hs, nsec: 0 },
            ..PeerIo::default()
        }
    }

    fn samples(text: &str, family: &str) -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{family}{{")))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_label("plain"), "plain");
    }

    #[test]
    fn peers_and_families() {
        let wg1 = InterfaceIo {
            peers: vec![peer(1, Some("x \"y\" \\z\nw"), 950), peer(2, None, 0)],
            ..InterfaceIo::default()
        };
        let empty = InterfaceIo::default();
        let text = render(
            &[
                (info("wg1", 3, 4), Some(wg1)),
                (info("wg2", 0, 0), Some(empty)),
                (info("lo0", 5, 6), None),
            ],
            1000,
        );
        // Every family has HELP then TYPE, once.
        for (name, kind) in [
            ("wgif_interface_receive_drops_total", "counter"),
            ("wgif_interface_transmit_drops_total", "counter"),
            ("wgif_peer_receive_bytes_total", "counter"),
            ("wgif_peer_transmit_bytes_total", "counter"),
            ("wgif_peer_last_handshake_seconds", "gauge"),
        ] {
            let help = format!("# HELP {name} ");
            let ty = format!("# TYPE {name} {kind}");
            let lines: Vec<&str> = text.lines().collect();
            let h = lines.iter().position(|l| l.starts_with(&help)).unwrap();
            assert_eq!(lines[h + 1], ty);
            assert_eq!(lines.iter().filter(|l| l.starts_with(&help)).count(), 1);
        }
        let k1 = format_key(&Key([1; 32]));
        let k2 = format_key(&Key([2; 32]));
        let rx = samples(&text, "wgif_peer_receive_bytes_total");
        assert_eq!(
            rx,
            vec![
                format!(
                    "wgif_peer_receive_bytes_total{{interface=\"wg1\",peer=\"{k1}\",description=\"x \\\"y\\\" \\\\z\\nw\"}} 20"
                ),
                format!(
                    "wgif_peer_receive_bytes_total{{interface=\"wg1\",peer=\"{k2}\",description=\"\"}} 40"
                ),
            ]
        );
        let tx = samples(&text, "wgif_peer_transmit_bytes_total");
        assert!(tx[0].ends_with("} 10") && tx[1].ends_with("} 20"), "{tx:?}");
        // The peer without a handshake has no age sample.
        let hs = samples(&text, "wgif_peer_last_handshake_seconds");
        assert_eq!(hs.len(), 1);
        assert!(hs[0].contains(&k1) && hs[0].ends_with("} 50"), "{hs:?}");
        // Every interface has its drops, peers or not.
        assert_eq!(
            samples(&text, "wgif_interface_receive_drops_total"),
            [
                "wgif_interface_receive_drops_total{interface=\"wg1\"} 3",
                "wgif_interface_receive_drops_total{interface=\"wg2\"} 0",
                "wgif_interface_receive_drops_total{interface=\"lo0\"} 5",
            ]
        );
        assert_eq!(
            samples(&text, "wgif_interface_transmit_drops_total"),
            [
                "wgif_interface_transmit_drops_total{interface=\"wg1\"} 4",
                "wgif_interface_transmit_drops_total{interface=\"wg2\"} 0",
                "wgif_interface_transmit_drops_total{interface=\"lo0\"} 6",
            ]
        );
        // Secrets never appear; no peer sample names the other interfaces.
        assert!(!text.contains(&format_key(&Key([9; 32]))));
        for l in text.lines().filter(|l| l.starts_with("wgif_peer_")) {
            assert!(l.contains("interface=\"wg1\""), "{l}");
        }
    }

    #[test]
    fn no_peers_only_headers_and_drops() {
        let text = render(&[(info("wg1", 1, 2), Some(InterfaceIo::default()))], 0);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with("# ")).collect();
        assert_eq!(
            samples,
            [
                "wgif_interface_receive_drops_total{interface=\"wg1\"} 1",
                "wgif_interface_transmit_drops_total{interface=\"wg1\"} 2",
            ]
        );
        assert_eq!(text.lines().filter(|l| l.starts_with("# ")).count(), 10);
    }
}
