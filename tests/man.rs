//! The manual pages: `mandoc -Tlint` finds nothing, and every EXAMPLES block marked
//! runnable (a `.\" runnable` comment line right before its `.Bd`) runs verbatim
//! against a real wgd, so the documentation cannot drift from the programs. The only
//! rewrite is the namespace name: `rdomainN` becomes the test's own prefix.

mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

const PAGES: &[&str] = &[
    "man/wg.4",
    "man/wgifconfig.8",
    "man/wgd.8",
    "man/wgconvert.8",
];

fn page(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn pages_pass_mandoc_lint() {
    common::require_tools(&["mandoc"]);
    for p in PAGES {
        let out = common::run(
            Command::new("mandoc")
                .args(["-Tlint", "-W", "warning"])
                .arg(page(p)),
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.is_empty(), "{p}:\n{text}");
    }
}

/// The runnable blocks of a page, as shell text.
fn runnable_blocks(src: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = src.lines();
    while let Some(l) = lines.next() {
        if l.trim() != ".\\\" runnable" {
            continue;
        }
        let bd = lines.next().unwrap_or_default();
        assert!(
            bd.starts_with(".Bd"),
            "a runnable mark must precede .Bd, found {bd:?}"
        );
        let body: Vec<String> = lines
            .by_ref()
            .take_while(|l| !l.starts_with(".Ed"))
            .map(|l| l.replace("\\e", "\\").replace("\\&", ""))
            .collect();
        blocks.push(body.join("\n"));
    }
    blocks
}

#[test]
fn runnable_examples_are_marked() {
    let all: usize = PAGES
        .iter()
        .map(|p| runnable_blocks(&std::fs::read_to_string(page(p)).unwrap()).len())
        .sum();
    assert!(
        all >= 2,
        "the EXAMPLES of wg.4 and wgifconfig.8 are marked runnable"
    );
    let b = runnable_blocks(".\\\" runnable\n.Bd -literal\necho a\\e\n.Ed\n");
    assert_eq!(b, vec!["echo a\\".to_string()]);
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (the manuals' EXAMPLES)"]
fn runnable_examples_work() {
    let bin = Path::new(env!("CARGO_BIN_EXE_wgifconfig"))
        .parent()
        .unwrap()
        .to_path_buf();
    for (i, p) in PAGES.iter().enumerate() {
        for (j, block) in runnable_blocks(&std::fs::read_to_string(page(p)).unwrap())
            .into_iter()
            .enumerate()
        {
            let w = common::Wgd::start(&format!("m{i}{j}"));
            let script = block.replace("exec rdomain", &format!("exec {}", w.prefix));
            let path = format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let out = w
                .in_daemon_ns(&["bash", "-euo", "pipefail", "-c", &script])
                .env("PATH", path)
                .env("WGD_SOCKET", &w.sock)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{p} example {j} failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}\n--- wgd\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                w.log()
            );
        }
    }
}
