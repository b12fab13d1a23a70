//! hostname.if(5) for wg interfaces: netstart's `parse_hn_line` turning each line
//! of `/etc/hostname.wgN` into one ifconfig command or one shell command, and the
//! shell-style word splitting (`eval`) that runs an ifconfig command line.

/// One command produced by a hostname.if line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HnCommand {
    /// `ifconfig wgN <text>`: the text as netstart builds it (quotes kept; they
    /// are interpreted by [`shell_words`] when run).
    Ifconfig(String),
    /// A `!command` line with `$if` replaced, for sh(1).
    Shell(String),
}

/// Parses the whole file for interface `ifname`, line by line, in order.
pub fn parse_hostname_if(ifname: &str, text: &str) -> Vec<HnCommand> {
    let mut cmds: Vec<HnCommand> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut c: Vec<String> = t.split_whitespace().map(str::to_string).collect();
        match c[0].as_str() {
            // netstart ignores whatever follows dhcp.
            "dhcp" => cmds.push(HnCommand::Ifconfig("inet autoconf".into())),
            "inet" => {
                if c.len() < 2 {
                    continue;
                }
                if c[1] == "autoconf" {
                    cmds.push(HnCommand::Ifconfig(c.join(" ")));
                    continue;
                }
                let (mask, bc) = if c[1] == "alias" { (3, 4) } else { (2, 3) };
                if let Some(m) = c.get_mut(mask) {
                    *m = format!("netmask {m}");
                }
                if let Some(b) = c.get_mut(bc) {
                    *b = if b == "NONE" {
                        String::new()
                    } else {
                        format!("broadcast {b}")
                    };
                }
                c.retain(|w| !w.is_empty());
                cmds.push(HnCommand::Ifconfig(c.join(" ")));
            }
            "inet6" => {
                if c.len() < 2 {
                    continue;
                }
                if c[1] != "autoconf" {
                    let prefix = if c[1] == "alias" { 3 } else { 2 };
                    if let Some(p) = c.get_mut(prefix) {
                        *p = format!("prefixlen {p}");
                    }
                }
                cmds.push(HnCommand::Ifconfig(c.join(" ")));
            }
            "dest" => {
                if c.len() == 2 {
                    if let Some(HnCommand::Ifconfig(last)) = cmds.last_mut() {
                        last.push(' ');
                        last.push_str(&c[1]);
                    }
                }
            }
            w if w.starts_with('!') => {
                let joined = c.join(" ").replace("$if", ifname);
                cmds.push(HnCommand::Shell(joined[1..].to_string()));
            }
            _ => cmds.push(HnCommand::Ifconfig(c.join(" "))),
        }
    }
    cmds
}

/// Splits a command line the way sh(1)'s `eval` would for plain words: blanks
/// separate words, `"…"` and `'…'` group, backslash escapes. No expansions.
pub fn shell_words(s: &str) -> Result<Vec<String>, String> {
    // No argument of a real command line can hold one (argv strings end there), and
    // the wg_data_io fields would silently end at it: a description "a\0b" would
    // reach wgd as "a".
    if s.contains('\0') {
        return Err("NUL byte in the line".into());
    }
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut it = s.chars().peekable();
    while let Some(ch) = it.next() {
        match ch {
            // A word that begins with # begins a comment, to the end of the line.
            '#' if !have => {
                for c in it.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            ' ' | '\t' | '\n' => {
                if have {
                    words.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            '\'' => {
                have = true;
                loop {
                    match it.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            '"' => {
                have = true;
                loop {
                    match it.next() {
                        Some('"') => break,
                        Some('\\') => match it.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unterminated quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            '\\' => {
                have = true;
                match it.next() {
                    Some('\n') => {}
                    Some(c) => cur.push(c),
                    None => cur.push('\\'),
                }
            }
            c => {
                have = true;
                cur.push(c);
            }
        }
    }
    if have {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            shell_words(r#"description "my 'big' tunnel" wgpka 25"#).unwrap(),
            vec!["description", "my 'big' tunnel", "wgpka", "25"]
        );
        assert_eq!(
            shell_words("a 'b c' d\\ e").unwrap(),
            vec!["a", "b c", "d e"]
        );
        assert_eq!(shell_words(r#"x "" y"#).unwrap(), vec!["x", "", "y"]);
        // eval drops a comment: a word that begins with #.
        assert_eq!(
            shell_words("mtu 1380 # smaller 'x").unwrap(),
            vec!["mtu", "1380"]
        );
        assert_eq!(
            shell_words("a#b '#c' \\#d").unwrap(),
            vec!["a#b", "#c", "#d"]
        );
        assert!(shell_words("a \"b").is_err());
        assert!(shell_words("a 'b").is_err());
    }

    #[test]
    fn dhcp_and_autoconf() {
        let ifc = |s: &str| HnCommand::Ifconfig(s.to_string());
        assert_eq!(
            parse_hostname_if("wg0", "dhcp\ndhcp NONE NONE NONE lladdr x\n"),
            vec![ifc("inet autoconf"), ifc("inet autoconf")]
        );
        // inet autoconf goes through as written: no netmask or broadcast words.
        assert_eq!(
            parse_hostname_if("wg0", "inet autoconf foo bar\ninet6 autoconf x\n"),
            vec![ifc("inet autoconf foo bar"), ifc("inet6 autoconf x")]
        );
    }

    #[test]
    fn blank_and_comment_lines_are_skipped() {
        let ifc = |s: &str| HnCommand::Ifconfig(s.to_string());
        // Empty, blank and comment lines (indented or not) produce no command,
        // neither on their own nor between other lines.
        assert_eq!(
            parse_hostname_if("wg0", "\n   \n\t\n# up\n  # mtu 1300\n"),
            vec![]
        );
        assert_eq!(
            parse_hostname_if("wg0", "# wg0\n\nmtu 1300\n   \n  #down\nup\n"),
            vec![ifc("mtu 1300"), ifc("up")]
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = shell_words(&s);
            let _ = parse_hostname_if("wg0", &s);
        }
    }
}
