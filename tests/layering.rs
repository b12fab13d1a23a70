//! Enforces the layering of the crate (see src/lib.rs): `proto` and `ioctl` stay pure
//! (no IO, no clocks, no OS randomness), `ifconfig` knows only `ioctl`, nothing uses
//! `driver`, and `unsafe` appears only in the driver's sys module: the sources are
//! searched for it, and every crate root keeps the `#![deny(unsafe_code)]` that makes
//! the compiler refuse it, with `driver::sys` the one module allowed; and secrets are compared only in constant time.

mod common;
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Source text with `//` comments and the unit-test module removed, so documentation
/// may name what code may not use and tests may build `Instant`s.
fn code_of(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `pat` occurs in `code` as a path of its own (`unix::net` does not contain
/// `nix::`).
fn uses(code: &str, pat: &str) -> bool {
    code.match_indices(pat).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn violations(module: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module);
    let mut found = Vec::new();
    for f in rust_files(&root) {
        let code = code_of(&f);
        for pat in forbidden {
            if uses(&code, pat) {
                found.push(format!("{} uses `{pat}`", f.display()));
            }
        }
    }
    found
}

const IMPURE: &[&str] = &[
    "mio::",
    "libc::",
    "nix::",
    "std::net::UdpSocket",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "UdpSocket",
    "std::os::unix::net",
    "std::os::fd",
    "RawFd",
    "std::fs",
    "std::process",
    "std::thread::sleep",
    "Instant::now",
    "SystemTime::now",
    "OsRng",
    "thread_rng",
    "getrandom",
    "unsafe",
    "crate::driver",
];

#[test]
fn proto_is_sans_io() {
    let mut forbidden = IMPURE.to_vec();
    forbidden.extend(["crate::ioctl", "crate::ifconfig"]);
    let v = violations("proto", &forbidden);
    assert!(
        v.is_empty(),
        "src/proto must stay sans-IO:\n{}",
        v.join("\n")
    );
}

#[test]
fn ioctl_is_pure_data_except_its_client() {
    // The blocking client is the one place in ioctl that opens a socket: it is the
    // seam every program uses to reach wgd. Everything else in ioctl is pure data.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ioctl");
    let mut forbidden = IMPURE.to_vec();
    forbidden.extend(["crate::proto", "crate::ifconfig"]);
    let mut v = Vec::new();
    for f in rust_files(&root) {
        let code = code_of(&f);
        let is_client = f.file_name().is_some_and(|n| n == "client.rs");
        for pat in &forbidden {
            let allowed_in_client =
                is_client && (pat.contains("std::os::unix::net") || *pat == "Instant::now");
            if uses(&code, pat) && !allowed_in_client {
                v.push(format!("{} uses `{pat}`", f.display()));
            }
        }
    }
    assert!(v.is_empty(), "src/ioctl must stay pure:\n{}", v.join("\n"));
}

#[test]
fn ifconfig_knows_only_ioctl() {
    let v = violations(
        "ifconfig",
        &[
            "crate::proto",
            "crate::driver",
            "wgif::proto",
            "wgif::driver",
            "unsafe",
        ],
    );
    assert!(
        v.is_empty(),
        "src/ifconfig may only use ioctl:\n{}",
        v.join("\n")
    );
}

#[test]
fn unsafe_lives_only_in_driver_sys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut v = Vec::new();
    for f in rust_files(&root) {
        let code = code_of(&f);
        // The lint attributes that keep `unsafe` out (`deny(unsafe_code)`) are not uses.
        let code = code.replace("unsafe_code", "");
        if uses(&code, "unsafe") && !f.ends_with("driver/sys.rs") {
            v.push(f.display().to_string());
        }
    }
    assert!(
        v.is_empty(),
        "unsafe outside src/driver/sys.rs:\n{}",
        v.join("\n")
    );
}

/// What is wrong with the lint attributes that keep `unsafe` out, in `files` (path
/// relative to src/, text): each crate root (lib.rs, bin/*.rs) must deny (or forbid)
/// `unsafe_code` before its first item, and the one exemption is `#[allow(unsafe_code)]`
/// directly on `pub mod sys;` in driver/mod.rs. Comments are not attributes.
fn unsafe_gate_problems(files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut sys_allowed = false;
    for (path, text) in files {
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or("").trim())
            .collect();
        let is_root = path == "lib.rs" || (path.starts_with("bin/") && !path[4..].contains('/'));
        if is_root {
            let first_item = lines
                .iter()
                .position(|l| !l.is_empty() && !l.starts_with("#!["))
                .unwrap_or(lines.len());
            let gated = lines[..first_item]
                .iter()
                .any(|l| *l == "#![deny(unsafe_code)]" || *l == "#![forbid(unsafe_code)]");
            if !gated {
                problems.push(format!(
                    "{path}: no #![deny(unsafe_code)] before its first item"
                ));
            }
        }
        for (i, l) in lines.iter().enumerate() {
            let loosens = ["allow(", "expect(", "warn("]
                .iter()
                .any(|a| l.contains(a) && l.contains("unsafe_code"));
            if !loosens {
                continue;
            }
            let on_sys = path == "driver/mod.rs"
                && *l == "#[allow(unsafe_code)]"
                && lines.get(i + 1) == Some(&"pub mod sys;");
            if on_sys {
                sys_allowed = true;
            } else {
                problems.push(format!("{path}:{}: `{l}` lets unsafe code in", i + 1));
            }
        }
    }
    if !sys_allowed {
        problems.push("driver/mod.rs: `#[allow(unsafe_code)]` on `pub mod sys;` is gone".into());
    }
    problems
}

#[test]
fn the_compiler_refuses_unsafe_outside_driver_sys() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: Vec<(String, String)> = rust_files(&src)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().display().to_string();
            (rel, fs::read_to_string(&p).unwrap())
        })
        .collect();
    assert!(files.iter().any(|(p, _)| p == "bin/wgd.rs"));
    let problems = unsafe_gate_problems(&files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_unsafe_gate_checker_finds_each_problem() {
    let f = |p: &str, t: &str| (p.to_string(), t.to_string());
    let good = vec![
        f(
            "lib.rs",
            "//! doc\n\n#![deny(unsafe_code)]\n\npub mod driver;\n",
        ),
        f("bin/wgd.rs", "#![forbid(unsafe_code)]\nfn main() {}\n"),
        f(
            "driver/mod.rs",
            "#[allow(unsafe_code)]\npub mod sys;\npub mod udp;\n",
        ),
    ];
    assert_eq!(unsafe_gate_problems(&good), Vec::<String>::new());
    let mut no_gate = good.clone();
    no_gate[1] = f("bin/wgd.rs", "// #![deny(unsafe_code)]\nfn main() {}\n");
    assert_eq!(unsafe_gate_problems(&no_gate).len(), 1);
    let mut late_gate = good.clone();
    late_gate[0] = f("lib.rs", "pub mod driver;\n#![deny(unsafe_code)]\n");
    assert_eq!(unsafe_gate_problems(&late_gate).len(), 1);
    let mut other_allowed = good.clone();
    other_allowed.push(f("driver/udp.rs", "#![allow(unsafe_code)]\nfn x() {}\n"));
    assert_eq!(unsafe_gate_problems(&other_allowed).len(), 1);
    let mut moved = good.clone();
    moved[2] = f(
        "driver/mod.rs",
        "#[allow(unsafe_code)]\npub mod udp;\npub mod sys;\n",
    );
    // Both: the allowance on another module, and none left on sys.
    assert_eq!(unsafe_gate_problems(&moved).len(), 2);
}

#[test]
fn the_checker_finds_a_violation() {
    // Guard against a layering test that cannot fail: the scanner must see a
    // forbidden name in code, and must not see it in a comment.
    let dir = common::TempDir::new("layering");
    let f = dir.join("x.rs");
    fs::write(
        &f,
        "// Instant::now is fine here\nlet t = Instant::now();\n",
    )
    .unwrap();
    let code = code_of(&f);
    assert_eq!(code.matches("Instant::now").count(), 1);
    assert!(uses(&code, "Instant::now"));
    assert!(!uses("use std::os::unix::net;", "nix::"));
    assert!(uses("use nix::sys;", "nix::"));
}

/// Lines of `src` code that compare with `==`/`!=` something naming a secret: private
/// keys, PSKs, `Secret32`s, key bytes (`as_bytes()`, a 32-byte array such as the
/// all-zero "no key"). Such comparisons go through `crypto::ct_eq` (subtle) instead,
/// whose running time does not depend on where two keys first differ.
fn secret_compares(code: &str) -> Vec<String> {
    const SECRET: &[&str] = &[
        "private",
        "psk",
        "secret",
        "as_bytes()",
        "[0u8; 32]",
        "[0; 32]",
        "Secret32",
        "PrivateKey",
    ];
    code.lines()
        .filter(|l| l.contains("==") || l.contains("!="))
        .filter(|l| {
            let low = l.to_lowercase();
            SECRET.iter().any(|s| low.contains(&s.to_lowercase()))
        })
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn secrets_are_compared_in_constant_time() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut v = Vec::new();
    for f in rust_files(&root) {
        for l in secret_compares(&code_of(&f)) {
            v.push(format!("{}: {l}", f.display()));
        }
    }
    // The ioctl model's keys (private keys and PSKs among them) have a hand-written
    // constant-time equality, not the derived one (a byte-by-byte compare that stops
    // at the first difference).
    let model = fs::read_to_string(root.join("ioctl/model.rs")).unwrap();
    let key = model
        .find("pub struct Key(")
        .expect("ioctl::model::Key exists");
    let derive = model[..key].rfind("#[derive(").expect("Key derives");
    if model[derive..key].contains("PartialEq") {
        v.push("src/ioctl/model.rs: Key derives PartialEq".to_string());
    }
    assert!(
        v.is_empty(),
        "secrets compared with ==/!= (use crypto::ct_eq / subtle):\n{}",
        v.join("\n")
    );
    // The scanner itself sees what it is for.
    assert_eq!(
        secret_compares("let same = a.as_bytes() == b.as_bytes();\nlet n = x == 1;").len(),
        1
    );
    assert_eq!(secret_compares("k.filter(|k| **k != [0u8; 32])").len(), 1);
}
