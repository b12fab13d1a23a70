//! Running one command line against a [`Control`]: OpenBSD ifconfig's main()
//! order — `create` first, auto-create for any other parameter list (but not
//! `destroy`), generic verbs while parsing, then the one SIOCSWG, then the
//! address requests; or the status when no parameter is given (as text, JSON
//! or Prometheus text: [`Format`]).

use super::cli::{parse_command, usage, CliError, Format, Invocation};
use super::control::{Control, CtlError, ENOTTY, ENXIO};
use super::parse::{parse, AddrOp, Af, GenericOp};
use super::print::{status, View};
use super::resolve::Resolve;
use crate::ioctl::model::InterfaceIo;
use crate::ioctl::request::{iff, IfInfo};
use std::io::Write;

/// Where output goes and what "now" is.
pub struct Io<'a> {
    /// Program name for messages (`wgifconfig`, or `ifconfig` when linked so).
    pub prog: &'a str,
    /// Wall-clock seconds, for `last handshake`.
    pub now: i64,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

struct Fatal(String);

fn ctx(e: &CtlError, what: String) -> String {
    match e {
        CtlError::Transport(t) => t.clone(),
        CtlError::Errno { text, .. } => format!("{what}: {text}"),
    }
}

/// Runs the arguments after argv[0]; returns the exit status.
pub fn run(args: &[String], ctl: &mut dyn Control, res: &dyn Resolve, io: &mut Io) -> i32 {
    let (format, inv) = match parse_command(args) {
        Ok(i) => i,
        Err(CliError::Usage) => {
            let _ = io.stderr.write_all(usage(io.prog).as_bytes());
            return 1;
        }
        Err(CliError::Msg(m)) => {
            let _ = writeln!(io.stderr, "{}: {m}", io.prog);
            return 1;
        }
    };
    let r = match format {
        Format::Text => match inv {
            Invocation::Cloners => {
                let _ = writeln!(io.stdout, "wg");
                Ok(0)
            }
            Invocation::All { ifaliases, af } => show_all(ctl, ifaliases, af, io, &mut Sink::Text),
            Invocation::Interface { name, af, params } => {
                configure(&name, af, &params, ctl, res, io)
            }
        },
        Format::Json | Format::Prometheus => show_formatted(format, inv, ctl, io),
    };
    match r {
        Ok(code) => code,
        Err(Fatal(m)) => {
            let _ = writeln!(io.stderr, "{}: {m}", io.prog);
            1
        }
    }
}

fn warn(io: &mut Io, msg: &str) {
    let _ = writeln!(io.stderr, "{}: {msg}", io.prog);
}

fn get_wg_opt(
    ctl: &mut dyn Control,
    name: &str,
) -> Result<Option<crate::ioctl::model::InterfaceIo>, Fatal> {
    match ctl.get_wg(name) {
        Ok(w) => Ok(Some(w)),
        Err(CtlError::Errno { errno, .. }) if errno == ENOTTY => Ok(None),
        Err(e) => Err(Fatal(ctx(&e, format!("{name}: SIOCGWG")))),
    }
}

/// Where the status of each interface goes: printed as text at once, or kept
/// for a JSON or Prometheus rendering of the whole list.
enum Sink {
    Text,
    Collect(Vec<(IfInfo, Option<InterfaceIo>)>),
}

fn print_one(
    ctl: &mut dyn Control,
    info: &IfInfo,
    view: View,
    io: &mut Io,
    sink: &mut Sink,
) -> Result<(), Fatal> {
    let wg = get_wg_opt(ctl, &info.name)?;
    match sink {
        Sink::Text => {
            let text = status(info, wg.as_ref(), view, io.now);
            let _ = io.stdout.write_all(text.as_bytes());
        }
        Sink::Collect(list) => list.push((info.clone(), wg)),
    }
    Ok(())
}

/// `-j …` and `--prometheus`: the status request of `inv`, rendered whole once
/// every interface was read (nothing on stdout when one could not be).
fn show_formatted(
    format: Format,
    inv: Invocation,
    ctl: &mut dyn Control,
    io: &mut Io,
) -> Result<i32, Fatal> {
    let mut sink = Sink::Collect(Vec::new());
    let (code, view) = match inv {
        Invocation::All { ifaliases, af } => (
            show_all(ctl, ifaliases, af, io, &mut sink)?,
            View { ifaliases, af },
        ),
        Invocation::Interface { name, af, .. } => (
            show(&name, af, ctl, io, &mut sink)?,
            View {
                ifaliases: true,
                af,
            },
        ),
        // parse_command refuses -C with -j and --prometheus.
        Invocation::Cloners => return Err(Fatal("-C shows no status".into())),
    };
    let Sink::Collect(list) = sink else {
        return Ok(code);
    };
    if code != 0 {
        return Ok(code);
    }
    let text = match format {
        Format::Json => super::json::render(&list, view, io.now),
        _ => super::prometheus::render(&list, io.now),
    };
    let _ = io.stdout.write_all(text.as_bytes());
    Ok(0)
}

fn show_all(
    ctl: &mut dyn Control,
    ifaliases: bool,
    af: Option<Af>,
    io: &mut Io,
    sink: &mut Sink,
) -> Result<i32, Fatal> {
    let list = ctl
        .list_interfaces()
        .map_err(|e| Fatal(ctx(&e, "getifaddrs".into())))?;
    let view = View { ifaliases, af };
    for info in &list {
        match print_one(ctl, info, view, io, sink) {
            Ok(()) => {}
            // Destroyed between the listing and the SIOCGWG: skip it.
            Err(_) if matches!(ctl.get_info(&info.name), Err(CtlError::Errno { errno, .. }) if errno == ENXIO) =>
                {}
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}

fn show(
    name: &str,
    af: Option<Af>,
    ctl: &mut dyn Control,
    io: &mut Io,
    sink: &mut Sink,
) -> Result<i32, Fatal> {
    let view = View {
        ifaliases: true,
        af,
    };
    let unit = name.ends_with(|c: char| c.is_ascii_digit());
    if unit {
        match ctl.get_info(name) {
            Ok(info) => {
                print_one(ctl, &info, view, io, sink)?;
                Ok(0)
            }
            Err(CtlError::Errno { .. }) => {
                let _ = writeln!(io.stderr, "{name}: no such interface");
                Ok(1)
            }
            Err(e) => Err(Fatal(ctx(&e, String::new()))),
        }
    } else {
        // A group (`wg`): its members, else names that are `name` + unit.
        let list = ctl
            .list_interfaces()
            .map_err(|e| Fatal(ctx(&e, "getifaddrs".into())))?;
        let members: Vec<&IfInfo> = list
            .iter()
            .filter(|i| {
                i.groups.iter().any(|g| g == name)
                    || i.name
                        .strip_prefix(name)
                        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            })
            .collect();
        if members.is_empty() {
            let _ = writeln!(io.stderr, "{name}: no such interface");
            return Ok(1);
        }
        for info in members {
            print_one(ctl, info, view, io, sink)?;
        }
        Ok(0)
    }
}

fn configure(
    name: &str,
    af: Option<Af>,
    params: &[String],
    ctl: &mut dyn Control,
    res: &dyn Resolve,
    io: &mut Io,
) -> Result<i32, Fatal> {
    let mut params = params;
    if params.first().map(String::as_str) == Some("create") {
        ctl.create(name)
            .map_err(|e| Fatal(ctx(&e, format!("{name}: SIOCIFCREATE"))))?;
        params = &params[1..];
        if params.is_empty() {
            return Ok(0);
        }
    }
    if params.is_empty() {
        return show(name, af, ctl, io, &mut Sink::Text);
    }
    if params[0] != "destroy" && name.ends_with(|c: char| c.is_ascii_digit()) {
        // getinfo(create=1): failures are silent; the verbs that follow report
        // (so a bad argument is named even while wgd is stopped).
        if ctl.get_info(name).is_err() {
            let _ = ctl.create(name);
        }
    }
    let mut warnings: Vec<String> = Vec::new();
    let plan = {
        let mut act =
            |op: GenericOp| -> Result<(), String> { generic(name, op, ctl, &mut warnings) };
        parse(params, af.unwrap_or(Af::Inet), res, &mut act)
    };
    // Warnings happened before any later fatal error; print them in order.
    for w in &warnings {
        warn(io, w);
    }
    let plan = plan.map_err(Fatal)?;
    if let Some(wg) = &plan.wg {
        ctl.set_wg(name, wg)
            .map_err(|e| Fatal(ctx(&e, format!("{name}: SIOCSWG"))))?;
    }
    for op in &plan.addr {
        match op {
            AddrOp::DelFirst4 => {
                let info = ctl
                    .get_info(name)
                    .map_err(|e| Fatal(ctx(&e, "SIOCDIFADDR".into())))?;
                if let Some(first) = info.inet.first() {
                    ctl.del_inet(name, first.addr)
                        .map_err(|e| Fatal(ctx(&e, "SIOCDIFADDR".into())))?;
                }
            }
            AddrOp::Del4(a) => ctl
                .del_inet(name, *a)
                .map_err(|e| Fatal(ctx(&e, "SIOCDIFADDR".into())))?,
            AddrOp::Del6(a) => ctl
                .del_inet6(name, *a)
                .map_err(|e| Fatal(ctx(&e, "SIOCDIFADDR".into())))?,
            AddrOp::Add4(a) => ctl
                .add_inet(name, *a)
                .map_err(|e| Fatal(ctx(&e, "SIOCAIFADDR".into())))?,
            AddrOp::Add6(a) => ctl
                .add_inet6(name, *a)
                .map_err(|e| Fatal(ctx(&e, "SIOCAIFADDR".into())))?,
        }
    }
    Ok(0)
}

/// One generic verb, now. `Err` is fatal (err(3)); warnings (warn(3)) are
/// collected and the parse goes on.
fn generic(
    name: &str,
    op: GenericOp,
    ctl: &mut dyn Control,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let mut soft = |r: Result<(), CtlError>, what: &str| -> Result<(), String> {
        match r {
            Ok(()) => Ok(()),
            Err(CtlError::Transport(t)) => Err(t),
            Err(e) => {
                warnings.push(format!("{what}: {e}"));
                Ok(())
            }
        }
    };
    match op {
        GenericOp::Destroy => ctl
            .destroy(name)
            .map_err(|e| ctx(&e, format!("{name}: SIOCIFDESTROY"))),
        GenericOp::Up | GenericOp::Down | GenericOp::Debug | GenericOp::NoDebug => {
            let flags = ctl
                .get_info(name)
                .map_err(|e| ctx(&e, format!("{name}: SIOCGIFFLAGS")))?
                .flags;
            let flags = match op {
                GenericOp::Up => flags | iff::UP,
                GenericOp::Down => flags & !iff::UP,
                GenericOp::Debug => flags | iff::DEBUG,
                _ => flags & !iff::DEBUG,
            };
            ctl.set_flags(name, flags)
                .map_err(|e| ctx(&e, format!("{name}: SIOCSIFFLAGS")))
        }
        GenericOp::Mtu(m) => soft(ctl.set_mtu(name, m), "SIOCSIFMTU"),
        GenericOp::Rdomain(r) => soft(ctl.set_rdomain(name, r), "SIOCSIFRDOMAIN"),
        GenericOp::Description(d) => soft(ctl.set_description(name, &d), "SIOCSIFDESCR"),
        GenericOp::RemoveAf(af) => {
            let what = format!("{name}: SIOCIFAFDETACH");
            let info = match ctl.get_info(name) {
                Ok(i) => i,
                Err(e) => return soft(Err(e), &what),
            };
            match af {
                Af::Inet => {
                    for a in &info.inet {
                        soft(ctl.del_inet(name, a.addr), &what)?;
                    }
                }
                Af::Inet6 => {
                    for a in &info.inet6 {
                        soft(ctl.del_inet6(name, a.addr), &what)?;
                    }
                }
            }
            Ok(())
        }
    }
}
