//! Process entry points of `wgifconfig` and `wgnetstart`: argv, the wall clock,
//! stdout/stderr, and the given [`Control`] (wgd's client in the binaries).

use super::control::Control;
use super::exec::{run, Io};
use super::netstart::{parse_args, run_netstart, sh, usage};
use super::progname;
use super::resolve::SystemResolver;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn argv() -> Vec<String> {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `wgifconfig`: returns the exit status.
pub fn wgifconfig_main(ctl: &mut dyn Control) -> i32 {
    let argv = argv();
    let prog = progname(argv.first().map(String::as_str), "wgifconfig");
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let mut io = Io {
        prog: &prog,
        now: now(),
        stdout: &mut out,
        stderr: &mut err,
    };
    let code = run(
        argv.get(1..).unwrap_or(&[]),
        ctl,
        &SystemResolver::default(),
        &mut io,
    );
    let _ = out.flush();
    code
}

/// `wgnetstart`: returns the exit status. `socket` is the control socket path
/// wgd is expected at; when configuring (not `-n`), wgnetstart waits up to
/// `$WGNETSTART_WAIT` seconds (default 10) for it to appear, so a boot unit
/// ordered after wgd.service does not race the daemon's startup.
pub fn wgnetstart_main(ctl: &mut dyn Control, socket: &std::path::Path) -> i32 {
    let argv = argv();
    let prog = progname(argv.first().map(String::as_str), "wgnetstart");
    let opts = match parse_args(
        argv.get(1..).unwrap_or(&[]),
        std::env::var("WGNETSTART_DIR").ok(),
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{prog}: {e}");
            eprint!("{}", usage(&prog));
            return 1;
        }
    };
    if !opts.print_only {
        let wait: u64 = std::env::var("WGNETSTART_WAIT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10);
        let mut tries = wait * 10;
        while !socket.exists() && tries > 0 {
            std::thread::sleep(Duration::from_millis(100));
            tries -= 1;
        }
    }
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let code = run_netstart(
        &opts,
        ctl,
        &SystemResolver::default(),
        &mut |c: &str| {
            let _ = std::io::stdout().flush();
            sh(c)
        },
        now(),
        &mut out,
        &mut err,
    );
    let _ = out.flush();
    code
}
