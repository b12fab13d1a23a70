//! `wgifconfig -j` and `wgifconfig --prometheus` against a real wgd (root): the
//! JSON validates against man/wgifconfig-status.schema.json (Python's jsonschema)
//! and says what the status text says; the Prometheus text parses with the
//! prometheus-client package's parser and its samples match the status text; a
//! non-root caller's JSON and metrics carry no peer and no key.
//! scripts/test.sh installs both Python packages when they are missing.

mod common;
use common::{TestUser, Wgd};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/man/wgifconfig-status.schema.json"
);

/// A description with the characters the formats must escape.
const DESCR1: &str = "say \"hi\" \\ back";
const DESCR2: &str = "line one\nline \"two\"";

/// Runs `python3 -c script ARGS` with `input` on stdin; returns its output.
fn python(script: &str, args: &[&str], input: &str) -> Output {
    let mut c = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test.sh installs it)");
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

const VALIDATE: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
errs = [e.message for e in v.iter_errors(json.load(sys.stdin))]
print("\n".join(errs) if errs else "valid")
"#;

/// Whether `doc` validates against the schema (panics if Python cannot run it).
fn schema_errors(doc: &str) -> Option<String> {
    let o = python(VALIDATE, &[SCHEMA], doc);
    assert!(
        o.status.success(),
        "validator failed (is python3-jsonschema installed?): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (s != "valid").then_some(s)
}

fn assert_valid(doc: &str) {
    if let Some(e) = schema_errors(doc) {
        panic!("not valid against {SCHEMA}: {e}\n{doc}");
    }
}

/// Every sample as `[family, type, sample name, labels, value]`, in JSON.
const PARSE_PROM: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"family": f.name, "type": f.type, "help": f.documentation,
                "samples": [[s.name, s.labels, s.value] for s in f.samples]})
print(json.dumps(out))
"#;

fn parse_prometheus(text: &str) -> Vec<Value> {
    let o = python(PARSE_PROM, &[], text);
    assert!(
        o.status.success(),
        "prometheus_client could not parse (or is not installed):\n{}\n{text}",
        String::from_utf8_lossy(&o.stderr)
    );
    match serde_json::from_slice(&o.stdout).unwrap() {
        Value::Array(a) => a,
        v => panic!("{v}"),
    }
}

/// One peer as the status text shows it.
#[derive(Debug, Default)]
struct TextPeer {
    key: String,
    descr: String,
    tx: u64,
    rx: u64,
    ago: Option<i64>,
    endpoint: String,
    aips: Vec<String>,
}

/// The peers of `wgifconfig IF` text output.
fn text_peers(text: &str) -> Vec<TextPeer> {
    let mut peers: Vec<TextPeer> = Vec::new();
    for l in text.lines() {
        if let Some(k) = l.strip_prefix("\twgpeer ") {
            peers.push(TextPeer {
                key: k.to_string(),
                ..TextPeer::default()
            });
            continue;
        }
        let Some(p) = peers.last_mut() else { continue };
        let l = l.trim_start_matches('\t');
        if let Some(d) = l.strip_prefix("wgdescr: ") {
            p.descr = d.to_string();
        } else if let Some(t) = l.strip_prefix("tx: ") {
            let (tx, rx) = t.split_once(", rx: ").unwrap();
            p.tx = tx.parse().unwrap();
            p.rx = rx.parse().unwrap();
        } else if let Some(a) = l.strip_prefix("last handshake: ") {
            p.ago = Some(a.strip_suffix(" seconds ago").unwrap().parse().unwrap());
        } else if let Some(e) = l.strip_prefix("wgendpoint ") {
            p.endpoint = e.to_string();
        } else if let Some(a) = l.strip_prefix("wgaip ") {
            p.aips.push(a.to_string());
        }
    }
    peers
}

fn json(w: &Wgd, args: &[&str]) -> (String, Value) {
    let s = w.wgifconfig_ok(args);
    let v = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
    (s, v)
}

/// wg(4)'s example with a ping across and descriptions on both peers.
fn setup(tag: &str) -> Wgd {
    let w = Wgd::start(tag);
    w.example();
    let (p1, p2) = (w.pubkey("wg1"), w.pubkey("wg2"));
    w.wgifconfig_ok(&["wg1", "wgpeer", &p2, "wgdescr", DESCR1]);
    w.wgifconfig_ok(&["wg2", "wgpeer", &p1, "wgdescr", DESCR2]);
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"), "{}", w.log());
    w
}

/// Reads the text and `-j` status of `ifname` until the counters held still
/// between the two text reads (bounded), so both show the same numbers.
fn stable(w: &Wgd, ifname: &str) -> (String, Value) {
    for _ in 0..20 {
        let t1 = w.wgifconfig_ok(&[ifname]);
        let (_, j) = json(w, &["-j", ifname]);
        let t2 = w.wgifconfig_ok(&[ifname]);
        let counters = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| l.contains("tx: "))
                .map(str::to_string)
                .collect()
        };
        if counters(&t1) == counters(&t2) {
            return (t1, j);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("the counters of {ifname} never held still");
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn json_validates_and_matches_the_text() {
    let w = setup("sj");
    for ifname in ["wg1", "wg2"] {
        let (text, v) = stable(&w, ifname);
        assert_valid(&v.to_string());
        let ifs = v["interfaces"].as_array().unwrap();
        assert_eq!(ifs.len(), 1, "{v}");
        let i = &ifs[0];
        assert_eq!(i["name"], ifname);
        let header = text.lines().next().unwrap();
        let flags = i["flag_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            header,
            format!(
                "{ifname}: flags={:x}<{flags}> rdomain {} mtu {}",
                i["flags"].as_u64().unwrap(),
                i["rdomain"],
                i["mtu"]
            )
        );
        let wg = &i["wg"];
        assert!(
            text.contains(&format!("\twgport {}\n", wg["port"])),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "\twgpubkey {}\n",
                wg["public_key"].as_str().unwrap()
            )),
            "{text}\n{v}"
        );
        let inet = &i["inet"][0];
        assert!(
            text.contains(&format!(
                "\tinet {} netmask 0xffffff00 broadcast {}\n",
                inet["address"].as_str().unwrap(),
                inet["broadcast"].as_str().unwrap()
            )),
            "{text}\n{v}"
        );
        assert_eq!(inet["prefixlen"], 24);
        let tp = text_peers(&text);
        let jp = wg["peers"].as_array().unwrap();
        assert_eq!(tp.len(), 1);
        assert_eq!(jp.len(), 1);
        let (t, j) = (&tp[0], &jp[0]);
        assert_eq!(j["public_key"], t.key.as_str());
        assert_eq!(j["tx_bytes"].as_u64(), Some(t.tx));
        assert_eq!(j["rx_bytes"].as_u64(), Some(t.rx));
        assert!(t.tx > 0 && t.rx > 0, "{text}");
        assert_eq!(
            format!(
                "{} {}",
                j["endpoint"]["host"].as_str().unwrap(),
                j["endpoint"]["port"]
            ),
            t.endpoint
        );
        let aips: Vec<&str> = j["allowed_ips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(aips, t.aips);
        let ago = j["last_handshake_seconds_ago"].as_i64().unwrap();
        assert!((ago - t.ago.unwrap()).abs() <= 2, "{ago} vs {:?}", t.ago);
        assert_eq!(j["psk_present"], false);
        // The description as it was given, escapes undone by the JSON parser.
        let want = if ifname == "wg1" { DESCR1 } else { DESCR2 };
        assert_eq!(j["description"], want);
        if ifname == "wg1" {
            assert_eq!(t.descr, DESCR1);
        }
    }
    // -j alone lists like -a (no peers); -j -A and -jA like -A; all validate.
    let (s, all) = json(&w, &["-j"]);
    assert_valid(&s);
    let names: Vec<&str> = all["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["wg1", "wg2"]);
    assert!(all["interfaces"][0]["wg"].get("peers").is_none(), "{s}");
    for args in [&["-j", "-A"][..], &["-jA"]] {
        let (s, v) = json(&w, args);
        assert_valid(&s);
        assert_eq!(v["interfaces"].as_array().unwrap().len(), 2);
        assert_eq!(v["interfaces"][1]["wg"]["peers"][0]["description"], DESCR2);
    }
    // The group name lists both, like the text.
    let (_, g) = json(&w, &["-j", "wg"]);
    assert_eq!(g["interfaces"].as_array().unwrap().len(), 2);
    // A PSK shows as present and never as a key.
    let psk = common::openssl_key();
    let p2 = w.pubkey("wg2");
    w.wgifconfig_ok(&["wg1", "wgpeer", &p2, "wgpsk", &psk]);
    let (s, v) = json(&w, &["-j", "wg1"]);
    assert_valid(&s);
    assert_eq!(v["interfaces"][0]["wg"]["peers"][0]["psk_present"], true);
    assert!(!s.contains(&psk), "{s}");
    // The schema is not vacuous: a secret field or a bad key makes it fail.
    let mut bad = v.clone();
    bad["interfaces"][0]["wg"]["peers"][0]["psk"] = Value::String(psk.clone());
    assert!(schema_errors(&bad.to_string()).is_some());
    let mut bad = v.clone();
    bad["interfaces"][0]["wg"]["public_key"] = Value::String("not a key".into());
    assert!(schema_errors(&bad.to_string()).is_some());
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn json_errors_are_clear() {
    let w = Wgd::start("se");
    let o = w.wgifconfig(&["-j", "wg9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "wg9: no such interface\n"
    );
    let o = w.wgifconfig(&["-j", "wg9", "up"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "wgifconfig: -j only shows the status; it takes no parameter (got 'up')\n"
    );
    // Nothing was created by it.
    let (s, v) = json(&w, &["-j"]);
    assert_valid(&s);
    assert_eq!(v["interfaces"], serde_json::json!([]));
    let o = w.wgifconfig(&["--prometheus", "wg1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--prometheus takes no other argument"));
}

/// The samples of one family, by the parser.
fn family<'a>(fams: &'a [Value], name: &str) -> &'a Value {
    fams.iter()
        .find(|f| f["family"] == name)
        .unwrap_or_else(|| panic!("no family {name} in {fams:?}"))
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn prometheus_parses_and_matches_the_text() {
    let w = setup("sp");
    // An interface without peers: its drops, no peer sample.
    w.wgifconfig_ok(&["wg3", "create", "wgport", "7333"]);
    // A destination no peer's allowed IPs cover: wg1 drops it (no route).
    let o = Wgd::in_ns(&w.rd(1), &["ping", "-c", "2", "-W", "1", "192.168.5.77"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let prom = w.wgifconfig_ok(&["--prometheus"]);
    let fams = parse_prometheus(&prom);
    let (t1, t2) = (w.wgifconfig_ok(&["wg1"]), w.wgifconfig_ok(&["wg2"]));
    let rx = family(&fams, "wgif_peer_receive_bytes");
    let tx = family(&fams, "wgif_peer_transmit_bytes");
    let hs = family(&fams, "wgif_peer_last_handshake_seconds");
    assert_eq!(rx["type"], "counter");
    assert_eq!(tx["type"], "counter");
    assert_eq!(hs["type"], "gauge");
    for f in [rx, tx, hs] {
        assert!(!f["help"].as_str().unwrap().is_empty());
        assert_eq!(f["samples"].as_array().unwrap().len(), 2, "{f}");
    }
    for (ifname, text, descr) in [("wg1", &t1, DESCR1), ("wg2", &t2, DESCR2)] {
        let tp = text_peers(text);
        assert_eq!(tp.len(), 1);
        let t = &tp[0];
        let find = |f: &Value| -> (String, f64) {
            let s = f["samples"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s[1]["interface"] == ifname)
                .unwrap_or_else(|| panic!("no sample of {ifname} in {f}"));
            assert_eq!(s[1]["peer"], t.key.as_str());
            assert_eq!(s[1]["description"], descr);
            assert_eq!(s[1].as_object().unwrap().len(), 3);
            (s[0].as_str().unwrap().to_string(), s[2].as_f64().unwrap())
        };
        // The counters only grow: the text read after the metrics is at least as large.
        let (name, v) = find(rx);
        assert_eq!(name, "wgif_peer_receive_bytes_total");
        assert!(v > 0.0 && v <= t.rx as f64, "{v} vs {}", t.rx);
        let (name, v) = find(tx);
        assert_eq!(name, "wgif_peer_transmit_bytes_total");
        assert!(v > 0.0 && v <= t.tx as f64, "{v} vs {}", t.tx);
        let (_, v) = find(hs);
        assert!(
            (v - t.ago.unwrap() as f64).abs() <= 2.0,
            "{v} vs {:?}",
            t.ago
        );
    }
    // Drops: one sample per interface; wg1's unroutable pings are counted.
    let drops = |fam: &str, ifname: &str| -> f64 {
        let f = family(&fams, fam);
        assert_eq!(f["type"], "counter");
        let s = f["samples"].as_array().unwrap();
        assert_eq!(s.len(), 3, "{f}");
        let s = s.iter().find(|s| s[1]["interface"] == ifname).unwrap();
        assert_eq!(s[1].as_object().unwrap().len(), 1);
        s[2].as_f64().unwrap()
    };
    assert!(
        drops("wgif_interface_transmit_drops", "wg1") >= 2.0,
        "{prom}"
    );
    assert_eq!(drops("wgif_interface_transmit_drops", "wg3"), 0.0);
    assert_eq!(drops("wgif_interface_receive_drops", "wg2"), 0.0);
    for l in prom.lines().filter(|l| l.starts_with("wgif_peer_")) {
        assert!(!l.contains("wg3"), "{prom}");
    }
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd)"]
fn non_root_sees_no_peer_and_no_key() {
    let w = setup("sn");
    let user = TestUser::create("sn");
    let as_user = |args: &[&str]| -> String {
        let o = user
            .command(env!("CARGO_BIN_EXE_wgifconfig"))
            .args(args)
            .env("WGD_SOCKET", &w.sock)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?} as {}: {}",
            user.name,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let text = as_user(&["wg1"]);
    assert!(text.contains("\twgport 7111\n"), "{text}");
    assert!(
        !text.contains("wgpubkey") && !text.contains("wgpeer"),
        "{text}"
    );
    let (p1, p2) = (w.pubkey("wg1"), w.pubkey("wg2"));
    for args in [&["-j", "wg1"][..], &["-j", "-A"], &["-j"]] {
        let s = as_user(args);
        assert_valid(&s);
        let v: Value = serde_json::from_str(&s).unwrap();
        let wg = &v["interfaces"][0]["wg"];
        assert_eq!(wg["port"], 7111, "{s}");
        assert!(wg.get("public_key").is_none(), "{s}");
        assert!(
            wg.get("peers")
                .map(|p| p.as_array().unwrap().is_empty())
                .unwrap_or(true),
            "{s}"
        );
        assert!(!s.contains(&p1) && !s.contains(&p2), "{s}");
        assert!(!s.contains("192.168.5.2/32"), "{s}");
    }
    let prom = as_user(&["--prometheus"]);
    let fams = parse_prometheus(&prom);
    assert_eq!(fams.len(), 5, "{prom}");
    for f in &fams {
        let n = f["samples"].as_array().unwrap().len();
        if f["family"].as_str().unwrap().starts_with("wgif_peer_") {
            assert_eq!(n, 0, "{prom}");
        } else {
            assert_eq!(n, 2, "{prom}");
        }
    }
    assert!(!prom.contains(&p1) && !prom.contains(&p2), "{prom}");
    // root's metrics on the same wgd do have the peers (the view differs, not the data).
    let fams = parse_prometheus(&w.wgifconfig_ok(&["--prometheus"]));
    assert_eq!(
        family(&fams, "wgif_peer_receive_bytes")["samples"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
