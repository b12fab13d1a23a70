//! The command line: `wgifconfig [-AaC] [interface] [address_family]
//! [address [dest_address]] [parameters]`.

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

/// The usage text (after `usage: `), with the program name.
pub fn usage(prog: &str) -> String {
    format!(
        "usage: {prog} [-AaC] [interface] [address_family] [address [dest_address]]\n\t\t[parameters]\n"
    )
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
