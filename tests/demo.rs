//! Runs the README's main-job command (scripts/demo.sh) non-interactively, isolated:
//! its own namespace, control socket and rdomain prefix, the binaries of this build.

mod common;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the test made; removed on drop, also when an assertion fails. The demo's
/// processes all run in the test's namespace: any still there are ended by PID.
struct Made {
    ns: String,
    prefix: String,
    dir: PathBuf,
}

impl Made {
    fn leftover_namespaces(&self) -> Vec<String> {
        std::fs::read_dir("/run/netns")
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&self.prefix))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        if let Ok(o) = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::SIGKILL,
                    );
                }
            }
        }
        for n in self.leftover_namespaces() {
            let _ = Command::new("ip").args(["netns", "del", &n]).output();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
#[ignore = "needs root: network namespaces and tun devices (scripts/demo.sh)"]
fn demo_runs_and_cleans_up() {
    common::require_root_and_tools(&["ip", "nsenter", "ping", "openssl"]);
    let pid = std::process::id();
    let made = Made {
        ns: format!("wgtdemo{pid}"),
        prefix: format!("wgtdemo{pid}rd"),
        dir: std::env::temp_dir().join(format!("wgt-demo-{pid}")),
    };
    std::fs::create_dir_all(&made.dir).unwrap();
    common::ok(Command::new("ip").args(["netns", "add", &made.ns]));
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_wgd"))
        .parent()
        .unwrap()
        .to_path_buf();
    // Output to a file, not a pipe: a wgd left running would hold a pipe open.
    let log = made.dir.join("demo.out");
    let out_file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", made.ns))
        .args(["sh", "-c", "ip link set lo up && exec ./scripts/demo.sh"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DEMO_BIN", &bin)
        .env("DEMO_NONINTERACTIVE", "1")
        .env("DEMO_NETNS_PREFIX", &made.prefix)
        .env("WGD_SOCKET", made.dir.join("wgd.sock"))
        .env("DEMO_UAPI_DIR", made.dir.join("run"))
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().unwrap())
        .stderr(out_file)
        .spawn()
        .unwrap();
    let mut status = None;
    common::wait_for(Duration::from_secs(120), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("the demo did not end in 120 s:\n{text}"));
    assert!(status.success(), "demo failed:\n{text}");
    assert!(
        text.contains(" 0% packet loss") || text.contains("2 received"),
        "{text}"
    );
    assert_eq!(text.matches("\twgpubkey ").count(), 2, "{text}");
    assert!(text.contains("\t\tlast handshake: "), "{text}");
    // What the demo made, it removed: namespaces, the socket, its wgd.
    let leftovers = made.leftover_namespaces();
    assert!(
        leftovers.is_empty(),
        "demo left namespaces behind: {leftovers:?}"
    );
    assert!(!made.dir.join("wgd.sock").exists());
    let pids = common::ok(Command::new("ip").args(["netns", "pids", &made.ns]));
    assert_eq!(pids.trim(), "", "processes left in the demo's namespace");
}
