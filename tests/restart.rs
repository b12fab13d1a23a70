//! Restart that loses nothing configured (wgd.8, RESTART; README.md, "Restart"): wgd is
//! killed with SIGKILL, the test runs what contrib/wgd.service runs (its ExecStart= and
//! ExecStartPost= lines, read from the unit, binaries mapped to the ones just built),
//! and the interfaces of the hostname.wgN files are back and pass traffic within
//! seconds, with no stale socket, tun device or namespace of the dead wgd left.
//! Also checks the unit's restart policy and sandbox directives, and its
//! `systemd-analyze security` exposure (5.9 with systemd 252; at most 6.0).
//!
//! ```text
//!   netns <prefix>1: wg1 192.168.5.1 ── UDP 127.0.0.1:7111 ⇄ :7222 ── wg2 192.168.5.2 :netns <prefix>2
//! ```

mod common;

use base64::Engine;
use common::{ok, run, wait_for, Wgd};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/wgd.service");

/// The [Service] section of a unit: each key's values in order (repeated keys kept).
fn service_section(path: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut in_service = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        if !in_service || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{path}: not KEY=VALUE: {line}"));
        map.entry(k.to_string()).or_default().push(v.to_string());
    }
    map
}

/// One Exec*= line: (ignore_failure, argv) with the `-+@:!` prefixes removed.
fn exec_line(v: &str) -> (bool, Vec<String>) {
    let cmd = v.trim_start_matches(['-', '+', '@', ':', '!']);
    let prefix = &v[..v.len() - cmd.len()];
    assert!(!prefix.contains('@'), "no argv[0] override expected: {v}");
    let argv: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
    assert!(!argv.is_empty(), "empty command: {v}");
    (prefix.contains('-'), argv)
}

/// The program just built for a unit's `/usr/sbin/NAME`.
fn built(program: &str) -> &'static str {
    match program {
        "/usr/sbin/wgd" => env!("CARGO_BIN_EXE_wgd"),
        "/usr/sbin/wgnetstart" => env!("CARGO_BIN_EXE_wgnetstart"),
        "/usr/sbin/wgifconfig" => env!("CARGO_BIN_EXE_wgifconfig"),
        p => panic!("the unit runs {p}, which is not a wgif program in /usr/sbin"),
    }
}

/// The unit's Environment= assignments.
fn unit_env(s: &BTreeMap<String, Vec<String>>) -> Vec<(String, String)> {
    s.get("Environment")
        .into_iter()
        .flatten()
        .flat_map(|v| v.split_whitespace())
        .map(|a| {
            let (k, v) = a.split_once('=').expect("Environment=K=V");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// wgd's arguments from ExecStart= other than `-s SOCKET` (the test gives wgd a
/// socket of its own).
fn wgd_args(s: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let starts = &s["ExecStart"];
    assert_eq!(starts.len(), 1, "one ExecStart=: {starts:?}");
    let (_, argv) = exec_line(&starts[0]);
    assert_eq!(argv[0], "/usr/sbin/wgd", "ExecStart= runs wgd");
    let mut rest = Vec::new();
    let mut it = argv[1..].iter();
    while let Some(a) = it.next() {
        if a == "-s" {
            assert_eq!(
                it.next().map(String::as_str),
                Some("/run/wgd.sock"),
                "the socket wgifconfig uses by default"
            );
        } else {
            rest.push(a.clone());
        }
    }
    rest
}

/// Runs every ExecStartPost= of the unit against the test's wgd and hostname.wgN
/// directory, and asserts each succeeded (systemd would only log a '-' one's failure:
/// the test wants to see it).
fn run_start_post(w: &Wgd, s: &BTreeMap<String, Vec<String>>) {
    let posts = s.get("ExecStartPost").expect("the unit has ExecStartPost=");
    for p in posts {
        let (_, argv) = exec_line(p);
        let mut c = Command::new(built(&argv[0]));
        c.args(&argv[1..])
            .envs(unit_env(s))
            .env("WGNETSTART_DIR", &w.dir)
            .env("WGD_SOCKET", &w.sock);
        let o = run(&mut c);
        assert!(
            o.status.success(),
            "ExecStartPost={p}: {}{}\nwgd log:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            w.log()
        );
    }
}

fn keypair() -> (String, String) {
    let mut k = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut k);
    let secret = x25519_dalek::StaticSecret::from(k);
    let public = x25519_dalek::PublicKey::from(&secret);
    let b = base64::engine::general_purpose::STANDARD;
    (b.encode(secret.to_bytes()), b.encode(public.as_bytes()))
}

fn links_in(ns: &str) -> Vec<String> {
    let out = run(&mut Wgd::in_ns(ns, &["ip", "-o", "link", "show"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_string())
        .collect()
}

fn names_with_prefix(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wgnetstart)"]
fn killed_wgd_comes_back_with_its_hostname_interfaces() {
    let unit = service_section(UNIT);
    let mut w = Wgd::start_with(
        "rst",
        &wgd_args(&unit)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let ((k1, p1), (k2, p2)) = (keypair(), keypair());
    let files = [
        (
            "hostname.wg1",
            format!(
                "wgkey {k1} wgport 7111 rdomain 1\n\
                 wgpeer {p2} wgendpoint 127.0.0.1 7222 wgaip 192.168.5.2/32\n\
                 inet 192.168.5.1 255.255.255.0\nup\n"
            ),
        ),
        (
            "hostname.wg2",
            format!(
                "wgkey {k2} wgport 7222 rdomain 2\n\
                 wgpeer {p1} wgendpoint 127.0.0.1 7111 wgaip 192.168.5.1/32\n\
                 inet 192.168.5.2 255.255.255.0\nup\n"
            ),
        ),
    ];
    for (name, text) in &files {
        let p = w.dir.join(name);
        std::fs::write(&p, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // The first start: wgd, then ExecStartPost= (wgnetstart).
    run_start_post(&w, &unit);
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"), "{}", w.log());
    // The boot runs wgnetstart once more (wgnetstart.service): harmless.
    run_start_post(&w, &unit);
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"), "{}", w.log());
    let before = (w.pubkey("wg1"), w.pubkey("wg2"));
    assert_eq!(before, (p1.clone(), p2.clone()));
    let rds = vec![w.rd(1), w.rd(2)];
    assert_eq!(names_with_prefix(&w.prefix), rds);

    w.stop_with(nix::sys::signal::SIGKILL).unwrap();
    // The tun devices die with the killed wgd; its socket file and rdomain names stay.
    assert!(
        wait_for(Duration::from_secs(5), || {
            !links_in(&w.rd(1)).contains(&"wg1".to_string())
                && !links_in(&w.rd(2)).contains(&"wg2".to_string())
        }),
        "the tun devices outlived wgd"
    );
    assert!(w.sock.exists(), "a killed wgd leaves its socket file");
    assert!(std::os::unix::net::UnixStream::connect(&w.sock).is_err());

    // What systemd does: wait RestartSec=, run ExecStart=, then ExecStartPost=.
    let restart_sec: f64 = unit["RestartSec"][0]
        .trim_end_matches('s')
        .parse()
        .expect("RestartSec= in seconds");
    std::thread::sleep(Duration::from_secs_f64(restart_sec));
    let t0 = Instant::now();
    w.restart();
    run_start_post(&w, &unit);
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"), "{}", w.log());
    let back = t0.elapsed();
    assert!(
        back < Duration::from_secs(10),
        "traffic passed again {back:?} after the restart"
    );
    eprintln!("restart: traffic passes again {back:?} after ExecStart= (RestartSec={restart_sec}s before it)");

    // Nothing of the dead wgd is left: the same keys, one link per interface, no
    // other namespace of its prefix, and the socket is the new wgd's.
    assert_eq!((w.pubkey("wg1"), w.pubkey("wg2")), before);
    for (ns, ifname) in [(w.rd(1), "wg1"), (w.rd(2), "wg2")] {
        let links = links_in(&ns);
        assert_eq!(
            links.iter().filter(|l| l.starts_with("wg")).count(),
            1,
            "{ns}: {links:?}"
        );
        assert!(links.contains(&ifname.to_string()), "{ns}: {links:?}");
    }
    let daemon_links = links_in(&w.ns);
    assert!(
        !daemon_links.iter().any(|l| l.starts_with("wg")),
        "a wg device in the daemon's namespace: {daemon_links:?}"
    );
    assert_eq!(names_with_prefix(&w.prefix), rds);
    assert!(std::os::unix::net::UnixStream::connect(&w.sock).is_ok());
    let all = w.wgifconfig_ok(&["-A"]);
    assert_eq!(
        all.lines().filter(|l| !l.starts_with(['\t', ' '])).count(),
        2,
        "two interfaces, no more:\n{all}"
    );
    ok(&mut Wgd::in_ns(
        &w.rd(2),
        &["ping", "-c", "1", "-W", "2", "192.168.5.1"],
    ));
}

/// Restart policy: systemd restarts an on-failure unit after a death by any signal
/// (systemd.service(5), the Restart= table), SIGKILL included.
#[test]
fn the_unit_restarts_wgd_and_reconfigures() {
    let s = service_section(UNIT);
    assert_eq!(s["Restart"], ["on-failure"]);
    assert_eq!(s["RestartSec"], ["1s"]);
    assert_eq!(s["Type"], ["simple"]);
    let posts = &s["ExecStartPost"];
    assert_eq!(posts.len(), 1);
    let (ignore, argv) = exec_line(&posts[0]);
    assert!(ignore, "a bad hostname.wgN must not fail wgd: {}", posts[0]);
    assert!(
        posts[0].contains('+'),
        "wgnetstart runs outside the sandbox"
    );
    assert_eq!(argv, ["/usr/sbin/wgnetstart"]);
    let env = unit_env(&s);
    assert!(env.iter().any(|(k, _)| k == "WGNETSTART_WAIT"), "{env:?}");
}

/// The sandbox: exactly the capabilities wgd needs, and no option that would give it
/// a mount namespace (its /run/netns mounts must be seen by the host).
#[test]
fn the_unit_sandbox_is_as_documented() {
    let s = service_section(UNIT);
    let one = |k: &str| -> String {
        let v = s.get(k).unwrap_or_else(|| panic!("{k}= missing"));
        assert_eq!(v.len(), 1, "{k}: {v:?}");
        v[0].clone()
    };
    let caps = |k: &str| -> Vec<String> {
        let mut v: Vec<String> = one(k).split_whitespace().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(
        caps("CapabilityBoundingSet"),
        ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
    );
    assert_eq!(
        caps("AmbientCapabilities"),
        ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
    );
    for (k, v) in [
        ("NoNewPrivileges", "yes"),
        (
            "RestrictAddressFamilies",
            "AF_UNIX AF_NETLINK AF_INET AF_INET6",
        ),
        ("RestrictNamespaces", "net"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("ProtectHostname", "yes"),
        ("UMask", "0077"),
    ] {
        assert_eq!(one(k), v, "{k}=");
    }
    for k in [
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateMounts",
        "PrivateDevices",
        "PrivateNetwork",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ReadWritePaths",
        "ReadOnlyPaths",
        "InaccessiblePaths",
        "TemporaryFileSystem",
        "BindPaths",
        "ProtectClock",
        "DeviceAllow",
        "User",
        "DynamicUser",
    ] {
        assert!(
            !s.contains_key(k),
            "{k}= would break wgd (see the unit's comments)"
        );
    }
}

/// `systemd-analyze security --offline=true` on the unit (systemd-analyze comes with
/// Debian's systemd package, which ./scripts/test.sh installs when it is missing; no
/// systemd needs to run).
#[test]
fn the_unit_exposure_is_at_most_6() {
    common::require_tools(&["systemd-analyze"]);
    let o = run(Command::new("systemd-analyze").args(["security", "--offline=true", UNIT]));
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score in:\n{text}{}", String::from_utf8_lossy(&o.stderr)));
    let score: f64 = line
        .split(": ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    eprintln!("{line}");
    assert!(score <= 6.0, "{line}");
    // And the unit parses without complaint (missing binaries aside: not installed here).
    let v = run(Command::new("systemd-analyze").args(["verify", UNIT]));
    let err = String::from_utf8_lossy(&v.stderr);
    let complaints: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains("is not executable") && !l.contains("Command 'man "))
        .collect();
    assert!(complaints.is_empty(), "{err}");
}

/// wgd works with no capability but those of the unit's CapabilityBoundingSet= and
/// with no_new_privs (as systemd would run it, simulated with setpriv(1)): the
/// wg(4) example, two interfaces in two rdomains, passes traffic.
#[test]
#[ignore = "needs root: network namespaces and tun devices (wgd, wgnetstart)"]
fn wgd_works_with_only_the_units_capabilities() {
    common::require_tools(&["setpriv"]);
    let s = service_section(UNIT);
    let caps: Vec<String> = s["CapabilityBoundingSet"][0]
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let dir = common::TempDir::new("rstcap");
    let wrapper = dir.join("wgd");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec setpriv --bounding-set=-all,{} --inh-caps=-all --no-new-privs {} \"$@\"\n",
            caps.join(","),
            env!("CARGO_BIN_EXE_wgd")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let w = Wgd::start_program("rcap", &wrapper, &[]);
    // The daemon really runs with that bounding set (setpriv exec'd wgd in place).
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.pid())).unwrap();
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    // CAP_NET_ADMIN is 12, CAP_SYS_ADMIN 21.
    assert_eq!(bnd, (1 << 12) | (1 << 21), "{status}");
    w.example();
    assert!(Wgd::ping(&w.rd(1), "192.168.5.2"), "{}", w.log());
}
