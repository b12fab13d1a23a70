//! `wgnetstart [-n] [-d dir] [wgN …]`: netstart(8) for wg interfaces. Reads
//! `<dir>/hostname.wgN` (dir = `-d`, else `$WGNETSTART_DIR`, else `/etc`), fixes
//! insecure permissions (the file holds a private key), creates every interface
//! first, then runs each file's commands in order. `-n` prints the commands.

use super::control::{Control, CtlError};
use super::exec::{run, Io};
use super::hostname_if::{parse_hostname_if, shell_words, HnCommand};
use super::resolve::Resolve;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Options of one `wgnetstart` run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub print_only: bool,
    pub dir: PathBuf,
    /// Interfaces named on the command line; empty = every hostname.wgN in `dir`.
    pub ifaces: Vec<String>,
}

/// Name of the ifconfig program in printed commands and in its messages.
pub const IFCONFIG: &str = "wgifconfig";

/// `wg` followed by a decimal unit.
pub fn is_wg_name(s: &str) -> bool {
    s.strip_prefix("wg")
        .is_some_and(|u| !u.is_empty() && u.bytes().all(|b| b.is_ascii_digit()))
}

/// Letters followed by digits, netstart's test for an interface name.
fn is_if_name(s: &str) -> bool {
    let digits = s.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    digits.len() < s.len() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Reads the arguments after argv[0]; `env_dir` is `$WGNETSTART_DIR`.
pub fn parse_args(args: &[String], env_dir: Option<String>) -> Result<Options, String> {
    let mut o = Options {
        print_only: false,
        dir: PathBuf::from(env_dir.unwrap_or_else(|| "/etc".into())),
        ifaces: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-n" => o.print_only = true,
            "-d" => {
                i += 1;
                o.dir = PathBuf::from(args.get(i).ok_or("-d requires a directory")?);
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if is_wg_name(s) => o.ifaces.push(s.to_string()),
            // netstart's ifstart skips names that are not letters then digits (backup
            // files, a "*" that matched nothing) without a word.
            s if !is_if_name(s) => {}
            s => return Err(format!("{s}: not a wg interface name")),
        }
        i += 1;
    }
    Ok(o)
}

/// The usage line.
pub fn usage(prog: &str) -> String {
    format!("usage: {prog} [-n] [-d dir] [wgN ...]\n")
}

/// The interfaces to start: the named ones, else every `hostname.wgN` in `dir`
/// (by unit number).
pub fn interfaces(o: &Options) -> Vec<String> {
    if !o.ifaces.is_empty() {
        return o.ifaces.clone();
    }
    let mut v: Vec<String> = std::fs::read_dir(&o.dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_prefix("hostname.").map(str::to_string))
                .filter(|n| is_wg_name(n))
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|n| n[2..].parse::<u64>().unwrap_or(u64::MAX));
    v
}

/// netstart's check: no permission bits for others, owner root, group root
/// (wheel); otherwise warn on `err`, then remove the others' bits and chown 0:0.
pub fn check_permissions(path: &Path, err: &mut dyn Write) {
    let Ok(md) = std::fs::metadata(path) else {
        return;
    };
    if md.mode() & 0o007 == 0 && md.uid() == 0 && md.gid() == 0 {
        return;
    }
    let _ = writeln!(
        err,
        "WARNING: {} is insecure, fixing permissions.",
        path.display()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = md.mode() & 0o7770;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        let _ = writeln!(err, "WARNING: chmod {}: {e}", path.display());
    }
    if let Err(e) = std::os::unix::fs::chown(path, Some(0), Some(0)) {
        let _ = writeln!(err, "WARNING: chown {}: {e}", path.display());
    }
}

/// Runs `wgnetstart` with already-parsed options. `shell` runs one `!command`
/// through sh(1) and returns its exit status. Returns 0 when every command
/// succeeded, 1 otherwise (netstart itself always returns 0; a failing status
/// lets the boot unit show it).
pub fn run_netstart(
    o: &Options,
    ctl: &mut dyn Control,
    res: &dyn Resolve,
    shell: &mut dyn FnMut(&str) -> i32,
    now: i64,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut status = 0;
    let mut files = Vec::new();
    for ifname in interfaces(o) {
        let path = o.dir.join(format!("hostname.{ifname}"));
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((ifname, path, text)),
            Err(e) => {
                let _ = writeln!(err, "{}: {e}", path.display());
                status = 1;
            }
        }
    }
    // Creation before configuration, for every interface with a file.
    for (ifname, _, _) in &files {
        if o.print_only {
            let _ = writeln!(
                out,
                "{{ {IFCONFIG} {ifname} || {IFCONFIG} {ifname} create; }}"
            );
        } else {
            match ctl.get_info(ifname) {
                Ok(_) => {}
                Err(CtlError::Transport(t)) => {
                    let _ = writeln!(err, "{IFCONFIG}: {t}");
                    return 1;
                }
                Err(_) => {
                    if let Err(e) = ctl.create(ifname) {
                        let _ = writeln!(err, "{IFCONFIG}: {ifname}: SIOCIFCREATE: {e}");
                        status = 1;
                    }
                }
            }
        }
    }
    for (ifname, path, text) in &files {
        check_permissions(path, err);
        for cmd in parse_hostname_if(ifname, text) {
            match cmd {
                HnCommand::Ifconfig(line) => {
                    if o.print_only {
                        let _ = writeln!(out, "{IFCONFIG} {ifname} {line}");
                        continue;
                    }
                    let words = match shell_words(&line) {
                        Ok(w) => w,
                        Err(e) => {
                            let _ = writeln!(err, "{}: {e}: {line}", path.display());
                            status = 1;
                            continue;
                        }
                    };
                    let mut args = vec![ifname.clone()];
                    args.extend(words);
                    let mut io = Io {
                        prog: IFCONFIG,
                        now,
                        stdout: &mut *out,
                        stderr: &mut *err,
                    };
                    if run(&args, ctl, res, &mut io) != 0 {
                        status = 1;
                    }
                }
                HnCommand::Shell(c) => {
                    if o.print_only {
                        let _ = writeln!(out, "{c}");
                    } else if shell(&c) != 0 {
                        status = 1;
                    }
                }
            }
        }
    }
    status
}

/// Runs one command through `sh -c`, returning its exit status (127 if sh
/// cannot be started).
pub fn sh(cmd: &str) -> i32 {
    match std::process::Command::new("sh").arg("-c").arg(cmd).status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(_) => 127,
    }
}
