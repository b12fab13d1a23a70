//! `wgconvert to-hostname-if FILE` and `wgconvert to-wg-quick FILE`: reads the file
//! (`-` is standard input), prints the converted file on standard output and, on
//! standard error, one `FILE:LINE:` line for everything that was not converted.
//! An error prints `FILE:LINE: what is wrong` and nothing on standard output.

use super::hostname_read::read_hostname_if;
use super::hostname_write::write_hostname_if;
use super::model::{Config, LineError, Note};
use super::wgquick_read::read_wg_quick;
use super::wgquick_write::write_wg_quick;
use std::io::{Read, Write};

/// Which way to convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ToHostnameIf,
    ToWgQuick,
}

type Reader = fn(&str) -> Result<(Config, Vec<Note>), LineError>;

/// Converts `text` (read from `name`, for messages). Ok: the output and the
/// notes as printed lines; Err: the error line.
pub fn convert(dir: Direction, name: &str, text: &str) -> Result<(String, Vec<String>), String> {
    let (read, write): (Reader, fn(&Config) -> String) = match dir {
        Direction::ToHostnameIf => (read_wg_quick, write_hostname_if),
        Direction::ToWgQuick => (read_hostname_if, write_wg_quick),
    };
    let (cfg, notes) = read(text).map_err(|e| format!("{name}:{}: {}", e.line, e.text))?;
    let notes = notes
        .iter()
        .map(|n| format!("{name}:{}: {}", n.line, n.text))
        .collect();
    Ok((write(&cfg), notes))
}

/// The usage text.
pub fn usage(prog: &str) -> String {
    format!("usage: {prog} to-hostname-if file\n       {prog} to-wg-quick file\n")
}

/// Runs `wgconvert` with the arguments after argv[0]; returns the exit status.
pub fn run(
    prog: &str,
    args: &[String],
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let (dir, file) = match args {
        [d, f] if d == "to-hostname-if" => (Direction::ToHostnameIf, f),
        [d, f] if d == "to-wg-quick" => (Direction::ToWgQuick, f),
        _ => {
            let _ = err.write_all(usage(prog).as_bytes());
            return 1;
        }
    };
    let mut bytes = Vec::new();
    let read = if file == "-" {
        stdin.read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    if let Err(e) = read {
        let _ = writeln!(err, "{prog}: {file}: {e}");
        return 1;
    }
    let name = if file == "-" {
        "(stdin)"
    } else {
        file.as_str()
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let bad = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = bad.iter().filter(|&&b| b == b'\n').count() + 1;
            let _ = writeln!(err, "{prog}: {name}:{line}: not UTF-8 text");
            return 1;
        }
    };
    match convert(dir, name, &text) {
        Ok((output, notes)) => {
            for n in notes {
                let _ = writeln!(err, "{prog}: {n}");
            }
            if out
                .write_all(output.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                let _ = writeln!(err, "{prog}: cannot write the output");
                return 1;
            }
            0
        }
        Err(e) => {
            let _ = writeln!(err, "{prog}: {e}");
            1
        }
    }
}
