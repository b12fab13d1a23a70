//! The Debian package (README.md, "Debian package"): `cargo deb`
//! builds it from the binaries already built (`--no-build --profile dev`, so CI
//! needs no release build), `dpkg-deb` shows the right files, paths and
//! dependencies, `dpkg --root` installs it into a scratch root (never the host's
//! /usr), the installed units name programs the package installed, and the
//! installed wgd, started as its unit says in a network namespace of its own with
//! a socket of its own, answers the installed wgifconfig and configures an
//! interface from a hostname.wgN with the installed wgnetstart. Then `dpkg -r`
//! removes it all.
//!
//! Limits: not a fresh container and not started by systemd (none runs here); the
//! package's binaries are the debug build, a release `cargo deb` packs the same
//! paths from target/release.

mod common;

use common::{ok, run, TempDir, Wgd};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The files (not directories) the package must hold.
const FILES: &[&str] = &[
    "./usr/sbin/wgd",
    "./usr/sbin/wgifconfig",
    "./usr/sbin/wgnetstart",
    "./usr/sbin/wgconvert",
    "./usr/share/man/man4/wg.4.gz",
    "./usr/share/man/man8/wgd.8.gz",
    "./usr/share/man/man8/wgifconfig.8.gz",
    "./usr/share/man/man8/wgnetstart.8.gz",
    "./usr/share/man/man8/wgconvert.8.gz",
    "./lib/systemd/system/wgd.service",
    "./lib/systemd/system/wgnetstart.service",
    "./usr/share/doc/wgif/README.md",
    "./usr/share/doc/wgif/copyright",
];

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the .deb into `out` and returns its path.
fn build_deb(out: &Path) -> PathBuf {
    let v = run(Command::new(cargo()).args(["deb", "--version"]));
    assert!(
        v.status.success(),
        "this test needs cargo-deb: `cargo install --locked cargo-deb` (./scripts/test.sh \
         installs it): {}",
        String::from_utf8_lossy(&v.stderr)
    );
    // The binaries the test harness built (target/debug); `cargo deb` without
    // --no-build would make a release build first (minutes on CI's two cores).
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_wgd")).parent().unwrap();
    for b in ["wgd", "wgifconfig", "wgnetstart", "wgconvert"] {
        assert!(
            bin_dir.join(b).exists(),
            "{} is not built: run `cargo build --bins` first (./scripts/test.sh does)",
            bin_dir.join(b).display()
        );
    }
    let o = run(Command::new(cargo())
        .current_dir(ROOT_DIR)
        .args(["deb", "--no-build", "--profile", "dev", "-o"])
        .arg(out));
    assert!(
        o.status.success(),
        "cargo deb: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let debs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    debs[0].clone()
}

/// (ExecStart=, ExecStartPost= ...) argv of a unit file, prefixes removed.
fn exec_lines(unit: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(unit)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("Exec"))
        .map(|l| {
            let v = l.split_once('=').unwrap().1;
            v.trim_start_matches(['-', '+', '@', ':', '!'])
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[test]
#[ignore = "needs root: dpkg --root, then the installed wgd in a network namespace"]
fn the_package_builds_installs_and_runs() {
    common::require_root_and_tools(&["dpkg", "dpkg-deb", "dpkg-query", "ip", "nsenter", "ping"]);
    let tmp = TempDir::new("deb");
    let deb = build_deb(&tmp.join("out").tap_mkdir());

    // The control file: name, architecture, dependencies found by dpkg-shlibdeps.
    let info = ok(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(info.contains(" Package: wgif\n"), "{info}");
    assert!(info.contains(" Section: net\n"), "{info}");
    let depends = info
        .lines()
        .find_map(|l| l.strip_prefix(" Depends: "))
        .unwrap_or_else(|| panic!("no Depends:\n{info}"));
    assert!(depends.contains("libc6"), "{depends}");
    assert!(
        !info.contains("postinst") && !info.contains("prerm"),
        "no maintainer scripts:\n{info}"
    );

    // The contents: every file where Debian puts it, nothing else but directories.
    let list = ok(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files: Vec<(String, String)> = list
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[5].to_string())
        })
        .collect();
    let mut names: Vec<&str> = files.iter().map(|(_, n)| n.as_str()).collect();
    names.sort();
    let mut want = FILES.to_vec();
    want.sort();
    assert_eq!(names, want, "{list}");
    for (mode, name) in &files {
        let exec = name.starts_with("./usr/sbin/");
        assert_eq!(
            mode,
            if exec { "-rwxr-xr-x" } else { "-rw-r--r--" },
            "{name}"
        );
    }

    // Install into a scratch root: dpkg's own database there, the host's untouched.
    let root = tmp.join("root");
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), b"").unwrap();
    ok(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--log=/dev/null",
            "--force-depends",
            "--force-not-root",
            "-i",
        ])
        .arg(&deb));
    let admin = format!("--admindir={}", root.join("var/lib/dpkg").display());
    let status = ok(Command::new("dpkg-query").args([&admin, "-W", "-f=${Status}", "wgif"]));
    assert_eq!(status, "install ok installed");
    for f in FILES {
        assert!(root.join(f).exists(), "{f} not installed");
    }
    // The man page alias is a .so request to wgifconfig(8).
    let so = ok(Command::new("gzip")
        .arg("-dc")
        .arg(root.join("usr/share/man/man8/wgnetstart.8.gz")));
    assert_eq!(so, ".so man8/wgifconfig.8\n");

    // The installed units run programs the package installed.
    let sbin = root.join("usr/sbin");
    for unit in ["wgd.service", "wgnetstart.service"] {
        let path = root.join("lib/systemd/system").join(unit);
        let lines = exec_lines(&path);
        assert!(!lines.is_empty(), "{unit}: no Exec line");
        for argv in lines {
            assert!(argv[0].starts_with("/usr/sbin/"), "{unit}: {argv:?}");
            let p = root.join(argv[0].trim_start_matches('/'));
            assert!(p.exists(), "{unit}: {} is not in the package", argv[0]);
        }
    }

    // Start the installed wgd as its unit says (ExecStart=, the socket the test's own).
    let unit = root.join("lib/systemd/system/wgd.service");
    let start = exec_lines(&unit)
        .into_iter()
        .find(|a| a[0] == "/usr/sbin/wgd")
        .expect("ExecStart=/usr/sbin/wgd");
    assert_eq!(start[1..], ["-s", "/run/wgd.sock"]);
    let w = Wgd::start_program("deb", &sbin.join("wgd"), &[]);
    let wgifconfig = |args: &[&str]| {
        ok(Command::new(sbin.join("wgifconfig"))
            .args(args)
            .env("WGD_SOCKET", &w.sock))
    };
    // A hostname.wg3 brought up by the installed wgnetstart (as wgd.service's
    // ExecStartPost= does), and read back by the installed wgifconfig.
    let key = common::openssl_key();
    let hn = w.dir.join("hostname.wg3");
    std::fs::write(
        &hn,
        format!("wgkey {key} wgport 0\ninet 10.78.0.1 255.255.255.0\nup\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hn, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(Command::new(sbin.join("wgnetstart"))
        .env("WGNETSTART_DIR", &w.dir)
        .env("WGD_SOCKET", &w.sock));
    let s = wgifconfig(&["wg3"]);
    assert!(s.starts_with("wg3: flags="), "{s}");
    assert!(s.contains("UP"), "{s}");
    assert!(s.contains("\twgpubkey "), "{s}");
    assert!(s.contains("\tinet 10.78.0.1 netmask 0xffffff00"), "{s}");
    // The address answers in the daemon's namespace, through the tun device.
    ok(&mut w.in_daemon_ns(&["ping", "-c", "1", "-W", "2", "10.78.0.1"]));
    // wgconvert from the package converts a wg-quick file.
    let conf = w.dir.join("wg9.conf");
    std::fs::write(
        &conf,
        format!("[Interface]\nPrivateKey = {key}\nListenPort = 51820\n"),
    )
    .unwrap();
    let c = ok(Command::new(sbin.join("wgconvert"))
        .arg("to-hostname-if")
        .arg(&conf));
    assert!(
        c.contains(&format!("wgkey {key}")) && c.contains("wgport 51820"),
        "{c}"
    );
    drop(w);

    // Removal takes every file away.
    ok(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--log=/dev/null", "--force-not-root", "-r", "wgif"]));
    for f in FILES {
        assert!(!root.join(f).exists(), "{f} left after dpkg -r");
    }
}

trait MkDir {
    fn tap_mkdir(self) -> Self;
}

impl MkDir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
