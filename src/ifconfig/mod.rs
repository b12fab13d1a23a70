//! `wgifconfig`: OpenBSD ifconfig(8)'s grammar, status output and error messages
//! for wg interfaces, over wgd's control socket. Knows only [`crate::ioctl`].
//!
//! - [`cli`]: the command line (`[-AaC] [interface] [address_family] …`).
//! - [`parse`]: the parameter list → generic verbs, one SIOCSWG, address requests.
//! - [`exec`]: running a command line against a [`control::Control`].
//! - [`print`]: the status text; [`json`] and [`prometheus`]: the same status
//!   as JSON (`-j`) and as Prometheus text (`--prometheus`).
//! - [`hostname_if`] and [`netstart`]: `/etc/hostname.wgN` at boot (`wgnetstart`).
//! - [`convert`]: `wgconvert`, wg-quick files to hostname.wgN files and back.

pub mod addr;
pub mod cli;
pub mod control;
pub mod convert;
pub mod entry;
pub mod exec;
pub mod hostname_if;
pub mod json;
pub mod key;
pub mod netstart;
pub mod parse;
pub mod print;
pub mod prometheus;
pub mod resolve;
pub mod strtonum;
pub mod wgd_control;

/// The program name for messages: argv[0]'s basename, like err(3)'s `__progname`.
pub fn progname(argv0: Option<&str>, default: &str) -> String {
    argv0
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .unwrap_or(default)
        .to_string()
}

/// Entry point of `wgifconfig`: returns the exit status.
pub fn main() -> i32 {
    entry::wgifconfig_main(&mut wgd_control::WgdControl::from_env())
}

/// Entry point of `wgnetstart`: returns the exit status.
pub fn netstart_main() -> i32 {
    let mut ctl = wgd_control::WgdControl::from_env();
    let path = ctl.path().to_path_buf();
    entry::wgnetstart_main(&mut ctl, &path)
}

/// Entry point of `wgconvert`: returns the exit status.
pub fn convert_main() -> i32 {
    let argv: Vec<String> = std::env::args().collect();
    let prog = progname(argv.first().map(String::as_str), "wgconvert");
    convert::cli::run(
        &prog,
        argv.get(1..).unwrap_or(&[]),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}
