//! The command line: `wgifconfig [-AaCj] [interface] [address_family]
//! [address [dest_address]] [parameters]` and `wgifconfig --prometheus`.

use super::parse::Af;

/// `IFNAMSIZ`: names must fit with their NUL.
pub const IFNAMSIZ: usize = 16;

/// What one invocation asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// No arguments, `-a` or `-A`: every interface; `ifaliases` for `-A`; `af`
    /// when a family follows the flag (`-A inet6`): only its addresses.
    All { ifaliases: bool, af: Option<Af> },
    /// `-C`: the interface cloners.
    Cloners,
    /// An interface (or group) with an optional family and parameters.
    Interface {
        name: String,
        af: Option<Af>,
        params: Vec<String>,
    },
}

/// A command line that cannot be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// Print the usage text, exit 1.
    Usage,
    /// Print this after the program name, exit 1.
    Msg(String),
}

/// How the status is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ifconfig(8)'s text.
    Text,
    /// `-j`: JSON (`json.rs`).
    Json,
    /// `--prometheus`: the Prometheus text exposition format (`prometheus.rs`).
    Prometheus,
}

/// The usage text (after `usage: `), with the program name.
pub fn usage(prog: &str) -> String {
    format!(
        "usage: {prog} [-AaCj] [interface] [address_family] [address [dest_address]]\n\t\t[parameters]\n       {prog} --prometheus\n"
    )
}

/// Reads the arguments after argv[0], with the output format: `-j` (alone or
/// among the flags, `-jA`) asks for JSON and then takes what a status request
/// takes (nothing, `-a`/`-A` with an optional family, or an interface or group
/// with an optional family); `--prometheus` stands alone.
pub fn parse_command(args: &[String]) -> Result<(Format, Invocation), CliError> {
    match args.first().map(String::as_str) {
        Some("--prometheus") => {
            if args.len() > 1 {
                return Err(CliError::Msg(format!(
                    "--prometheus takes no other argument (got '{}')",
                    args[1]
                )));
            }
            return Ok((
                Format::Prometheus,
                Invocation::All {
                    ifaliases: true,
                    af: None,
                },
            ));
        }
        // Another long option: the usage text, as before.
        Some(f) if f.starts_with('-') && !f.starts_with("--") && f.contains('j') => {}
        _ => return Ok((Format::Text, parse_cli(args)?)),
    }
    let flags = args[0].replace('j', "");
    let mut rest: Vec<String> = Vec::with_capacity(args.len());
    if flags != "-" {
        rest.push(flags);
    }
    rest.extend_from_slice(&args[1..]);
    match parse_cli(&rest)? {
        Invocation::Cloners => Err(CliError::Msg("-j cannot be used with -C".into())),
        Invocation::Interface { params, .. } if !params.is_empty() => Err(CliError::Msg(format!(
            "-j only shows the status; it takes no parameter (got '{}')",
            params[0]
        ))),
        inv => Ok((Format::Json, inv)),
    }
}

/// The address family words ifconfig knows for these interfaces.
fn address_family(w: &str) -> Option<Af> {
    match w {
        "inet" => Some(Af::Inet),
        "inet6" => Some(Af::Inet6),
        _ => None,
    }
}

/// Reads the arguments after argv[0].
pub fn parse_cli(args: &[String]) -> Result<Invocation, CliError> {
    let Some(first) = args.first() else {
        return Ok(Invocation::All {
            ifaliases: false,
            af: None,
        });
    };
    if let Some(flags) = first.strip_prefix('-') {
        let (mut a, mut big_a, mut c) = (false, false, false);
        for f in flags.chars() {
            match f {
                'a' => a = true,
                'A' => big_a = true,
                'C' => c = true,
                _ => return Err(CliError::Usage),
            }
        }
        if flags.is_empty() {
            return Err(CliError::Usage);
        }
        if c {
            if a || big_a || args.len() > 1 {
                return Err(CliError::Usage);
            }
            return Ok(Invocation::Cloners);
        }
        // ifconfig's main: after the flags, at most an address family.
        let af = match args.get(1).map(String::as_str) {
            None => None,
            Some(w) => Some(address_family(w).ok_or(CliError::Usage)?),
        };
        if args.len() > 2 {
            return Err(CliError::Usage);
        }
        return Ok(Invocation::All {
            ifaliases: big_a,
            af,
        });
    }
    if first.len() >= IFNAMSIZ {
        return Err(CliError::Msg(format!("interface name '{first}' too long")));
    }
    let mut rest = &args[1..];
    let af = rest.first().and_then(|w| address_family(w));
    if af.is_some() {
        rest = &rest[1..];
    }
    Ok(Invocation::Interface {
        name: first.clone(),
        af,
        params: rest.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn formats() {
        let json = |ifaliases, af| Ok((Format::Json, Invocation::All { ifaliases, af }));
        assert_eq!(parse_command(&v(&["-j"])), json(false, None));
        assert_eq!(parse_command(&v(&["-j", "-A"])), json(true, None));
        assert_eq!(parse_command(&v(&["-jA"])), json(true, None));
        assert_eq!(
            parse_command(&v(&["-Aj", "inet6"])),
            json(true, Some(Af::Inet6))
        );
        assert_eq!(parse_command(&v(&["-j", "-a"])), json(false, None));
        assert_eq!(
            parse_command(&v(&["-j", "wg1"])),
            Ok((
                Format::Json,
                Invocation::Interface {
                    name: "wg1".into(),
                    af: None,
                    params: vec![]
                }
            ))
        );
        assert_eq!(
            parse_command(&v(&["-j", "wg1", "up"])),
            Err(CliError::Msg(
                "-j only shows the status; it takes no parameter (got 'up')".into()
            ))
        );
        assert_eq!(
            parse_command(&v(&["-jC"])),
            Err(CliError::Msg("-j cannot be used with -C".into()))
        );
        assert_eq!(parse_command(&v(&["-jx"])), Err(CliError::Usage));
        assert_eq!(
            parse_command(&v(&["-j", "-a", "wg0"])),
            Err(CliError::Usage)
        );
        assert_eq!(
            parse_command(&v(&["--prometheus"])),
            Ok((
                Format::Prometheus,
                Invocation::All {
                    ifaliases: true,
                    af: None
                }
            ))
        );
        assert_eq!(
            parse_command(&v(&["--prometheus", "wg1"])),
            Err(CliError::Msg(
                "--prometheus takes no other argument (got 'wg1')".into()
            ))
        );
        assert_eq!(parse_command(&v(&["--json"])), Err(CliError::Usage));
        // Flags without j, and long options, are ifconfig's text (or its usage),
        // never the JSON status.
        assert_eq!(
            parse_command(&v(&["-a"])),
            Ok((
                Format::Text,
                Invocation::All {
                    ifaliases: false,
                    af: None
                }
            ))
        );
        assert_eq!(
            parse_command(&v(&["-A", "inet"])),
            Ok((
                Format::Text,
                Invocation::All {
                    ifaliases: true,
                    af: Some(Af::Inet)
                }
            ))
        );
        assert_eq!(
            parse_command(&v(&["-C"])),
            Ok((Format::Text, Invocation::Cloners))
        );
        assert_eq!(
            parse_command(&v(&["wg1", "up"])),
            Ok((Format::Text, parse_cli(&v(&["wg1", "up"])).unwrap()))
        );
    }

    #[test]
    fn table() {
        let all = |ifaliases, af| Ok(Invocation::All { ifaliases, af });
        assert_eq!(parse_cli(&[]), all(false, None));
        assert_eq!(parse_cli(&v(&["-a"])), all(false, None));
        assert_eq!(parse_cli(&v(&["-A"])), all(true, None));
        assert_eq!(parse_cli(&v(&["-A", "inet6"])), all(true, Some(Af::Inet6)));
        assert_eq!(parse_cli(&v(&["-a", "inet"])), all(false, Some(Af::Inet)));
        assert_eq!(parse_cli(&v(&["-a", "inet", "x"])), Err(CliError::Usage));
        assert_eq!(parse_cli(&v(&["-C", "inet"])), Err(CliError::Usage));
        assert_eq!(parse_cli(&v(&["-C"])), Ok(Invocation::Cloners));
        assert_eq!(parse_cli(&v(&["-aC"])), Err(CliError::Usage));
        assert_eq!(parse_cli(&v(&["-x"])), Err(CliError::Usage));
        assert_eq!(parse_cli(&v(&["-a", "wg0"])), Err(CliError::Usage));
        assert_eq!(
            parse_cli(&v(&["wg0123456789abcdef"])),
            Err(CliError::Msg(
                "interface name 'wg0123456789abcdef' too long".into()
            ))
        );
        assert_eq!(
            parse_cli(&v(&["wg1", "inet6", "fd00::1"])),
            Ok(Invocation::Interface {
                name: "wg1".into(),
                af: Some(Af::Inet6),
                params: v(&["fd00::1"])
            })
        );
    }
}
