//! Runs the README's main-job command (scripts/demo.sh) non-interactively, isolated:
//! its own namespace, control socket and rdomain prefix, the binaries of this build.

mod common;
use std::process::Command;

#[test]
fn demo_runs_and_cleans_up() {
    common::require_root_and_tools(&["ip", "nsenter", "ping", "openssl"]);
    let pid = std::process::id();
    let ns = format!("wgtdemo{pid}");
    let prefix = format!("wgtdemo{pid}rd");
    let dir = std::env::temp_dir().join(format!("wgt-demo-{pid}"));
    std::fs::create_dir_all(&dir).unwrap();
    common::ok(Command::new("ip").args(["netns", "add", &ns]));
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_wgd"))
        .parent()
        .unwrap()
        .to_path_buf();
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{ns}"))
        .args(["sh", "-c", "ip link set lo up && exec ./scripts/demo.sh"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DEMO_BIN", &bin)
        .env("DEMO_NONINTERACTIVE", "1")
        .env("DEMO_NETNS_PREFIX", &prefix)
        .env("WGD_SOCKET", dir.join("wgd.sock"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let leftovers: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    let _ = Command::new("ip").args(["netns", "del", &ns]).output();
    for n in &leftovers {
        let _ = Command::new("ip").args(["netns", "del", n]).output();
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "demo failed:\n{text}");
    assert!(
        text.contains(" 0% packet loss") || text.contains("2 received"),
        "{text}"
    );
    assert_eq!(text.matches("\twgpubkey ").count(), 2, "{text}");
    assert!(text.contains("\t\tlast handshake: "), "{text}");
    assert!(
        leftovers.is_empty(),
        "demo left namespaces behind: {leftovers:?}"
    );
    assert!(!dir.join("wgd.sock").exists());
}
