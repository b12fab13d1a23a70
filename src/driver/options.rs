//! wgd's command line: `wgd [-d] [-O offload,...] [-s socket] [-t threads] [-u dir]
//! [-l stderr|syslog] [--netns-prefix NAME] [--hosts FILE] [--reresolve SECONDS]`.

use super::offload::Offloads;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str =
    "usage: wgd [-d] [-O offload,...] [-s socket] [-t threads] [-u dir] [-l stderr|syslog]\n           [--netns-prefix name] [--hosts file] [--reresolve seconds]";

/// Where the configuration-protocol sockets go unless `-u` says otherwise: where
/// wg(8) looks for them.
pub const DEFAULT_UAPI_DIR: &str = "/var/run/wireguard";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTo {
    Stderr,
    Syslog,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-d`: log the daemon's own informational messages too.
    pub verbose: bool,
    pub socket: PathBuf,
    /// `-u`: the directory of the interfaces' configuration-protocol sockets
    /// (`wgN.sock`).
    pub uapi_dir: PathBuf,
    pub log: LogTo,
    /// rdomain N is the namespace `<prefix>N`.
    pub netns_prefix: String,
    /// `-O`: the kernel offloads left on.
    pub offloads: Offloads,
    /// `--hosts`: a hosts(5) file the resolver thread reads before getaddrinfo
    /// (for tests and overrides; reresolve.rs).
    pub hosts: Option<PathBuf>,
    /// `--reresolve`: the re-resolution interval of endpoint names.
    pub reresolve: Duration,
    /// `-t`: data worker threads (0: one per CPU).
    pub workers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            verbose: false,
            socket: PathBuf::from(crate::ioctl::client::DEFAULT_SOCKET),
            uapi_dir: PathBuf::from(DEFAULT_UAPI_DIR),
            log: LogTo::Stderr,
            netns_prefix: "rdomain".into(),
            offloads: Offloads::ALL,
            hosts: None,
            reresolve: super::reresolve::DEFAULT_INTERVAL,
            workers: 0,
        }
    }
}

/// Most data worker threads `-t` accepts.
pub const MAX_WORKERS: usize = 256;

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or(format!("option {name} requires an argument"))
        };
        match a.as_str() {
            "-d" => o.verbose = true,
            "-O" => o.offloads.disable(&value("-O")?)?,
            "-s" => o.socket = PathBuf::from(value("-s")?),
            "-u" => {
                let d = value("-u")?;
                if !d.starts_with('/') {
                    return Err(format!("-u {d}: must be an absolute path"));
                }
                o.uapi_dir = PathBuf::from(d);
            }
            "-l" => {
                o.log = match value("-l")?.as_str() {
                    "stderr" => LogTo::Stderr,
                    "syslog" => LogTo::Syslog,
                    other => return Err(format!("-l {other}: must be stderr or syslog")),
                }
            }
            "--netns-prefix" => {
                let p = value("--netns-prefix")?;
                if p.is_empty() || p.len() > 200 || p.contains('/') || p.starts_with('.') {
                    return Err(format!("--netns-prefix {p}: not a usable namespace name"));
                }
                o.netns_prefix = p;
            }
            "--hosts" => {
                let h = value("--hosts")?;
                if !h.starts_with('/') {
                    return Err(format!("--hosts {h}: must be an absolute path"));
                }
                o.hosts = Some(PathBuf::from(h));
            }
            "--reresolve" => {
                let v = value("--reresolve")?;
                let secs = v
                    .parse::<u64>()
                    .ok()
                    .filter(|s| (1..=86400).contains(s))
                    .ok_or(format!(
                        "--reresolve {v}: not a number of seconds from 1 to 86400"
                    ))?;
                o.reresolve = Duration::from_secs(secs);
            }
            "-t" => {
                let v = value("-t")?;
                o.workers = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_WORKERS).contains(n))
                    .ok_or(format!(
                        "-t {v}: not a thread count from 1 to {MAX_WORKERS}"
                    ))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_every_option() {
        let o = parse(&args(
            "-d -s /tmp/x.sock -u /tmp/wgu -l syslog --netns-prefix t1rd -O udp-gso -O tun-gro,mmsg \
             --hosts /tmp/h --reresolve 3 -t 4",
        ))
        .unwrap();
        let mut offloads = Offloads::ALL;
        offloads.disable("udp-gso,tun-gro,mmsg").unwrap();
        assert_eq!(
            o,
            Options {
                verbose: true,
                socket: "/tmp/x.sock".into(),
                uapi_dir: "/tmp/wgu".into(),
                log: LogTo::Syslog,
                netns_prefix: "t1rd".into(),
                offloads,
                hosts: Some("/tmp/h".into()),
                reresolve: Duration::from_secs(3),
                workers: 4,
            }
        );
        assert_eq!(parse(&[]).unwrap(), Options::default());
        assert_eq!(Options::default().socket, PathBuf::from("/run/wgd.sock"));
        assert_eq!(
            Options::default().uapi_dir,
            PathBuf::from("/var/run/wireguard")
        );
    }

    #[test]
    fn rejects_bad_options() {
        assert!(parse(&args("-s"))
            .unwrap_err()
            .contains("requires an argument"));
        assert!(parse(&args("-l file"))
            .unwrap_err()
            .contains("stderr or syslog"));
        assert!(parse(&args("--netns-prefix a/b")).is_err());
        assert!(parse(&args("--hosts rel/h"))
            .unwrap_err()
            .contains("absolute path"));
        for bad in ["0", "x", "86401", "-1"] {
            let e = parse(&args(&format!("--reresolve {bad}"))).unwrap_err();
            assert!(e.starts_with(&format!("--reresolve {bad}: ")), "{e}");
        }
        assert!(parse(&args("-u relative"))
            .unwrap_err()
            .contains("absolute"));
        assert!(parse(&args("-O gso"))
            .unwrap_err()
            .contains("unknown offload"));
        for bad in ["0", "x", "257"] {
            let e = parse(&args(&format!("-t {bad}"))).unwrap_err();
            assert!(e.starts_with(&format!("-t {bad}: ")), "{e}");
        }
        assert!(parse(&args("-x"))
            .unwrap_err()
            .contains("unknown option -x"));
    }
}
