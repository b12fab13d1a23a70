//! Every citation in the repository resolves inside it (docs/README.md): each `spec §N`
//! names a section that the cited specification in docs/spec/ has, each `NAME.md` a file
//! of the repository, and nothing points at the development machine's directories.
//!
//! Citation forms (docs/README.md): `spec §N` and `wireguard-protocol.md §N` cite
//! docs/spec/wireguard-protocol.md; `openbsd-wg-interface spec §N`, `spec
//! openbsd-wg-interface §N` and `openbsd-wg-interface.md §N` cite
//! docs/spec/openbsd-wg-interface.md. `§A–B` is a range, and a `§` following a citation
//! in the same parenthesis or clause (`spec §6.6, §11`) belongs to it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The two specifications the code cites.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Spec {
    Protocol,
    Interface,
}

impl Spec {
    fn file(self) -> &'static str {
        match self {
            Spec::Protocol => "docs/spec/wireguard-protocol.md",
            Spec::Interface => "docs/spec/openbsd-wg-interface.md",
        }
    }
}

/// Section numbers of a specification, from its headings (`## 4. Handshake`,
/// `### 4.2 Responder consumes message 1`).
fn sections(spec: Spec) -> BTreeSet<String> {
    let text = fs::read_to_string(root().join(spec.file()))
        .unwrap_or_else(|e| panic!("{}: {e}", spec.file()));
    text.lines()
        .filter_map(|l| {
            let rest = l.trim_start_matches('#');
            if rest.len() == l.len() || !rest.starts_with(' ') {
                return None;
            }
            let num = section_number(rest.trim_start())?;
            Some(num)
        })
        .collect()
}

/// A section number at the start of `s` (`4.2`, `10`), without a trailing dot.
fn section_number(s: &str) -> Option<String> {
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(s.len(), |(i, _)| i);
    let num = s[..end].trim_end_matches('.');
    let valid = !num.is_empty()
        && num
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| num.to_string())
}

/// Text of the files that may cite, each with its path relative to the repository.
/// docs/spec and docs/design are the cited documents themselves (copies, their own `§`
/// refer to their own sections) and are left out.
fn citing_files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = [
        "src", "tests", "man", "scripts", "bench", "contrib", "examples", ".config",
    ]
    .iter()
    .map(|d| root().join(d))
    .filter(|d| d.exists())
    .collect();
    for f in fs::read_dir(root()).unwrap() {
        let p = f.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_file() && (name.ends_with(".md") || name == "Cargo.toml") {
            stack.push(p);
        }
    }
    stack.push(root().join("docs/README.md"));
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else if let Ok(text) = fs::read_to_string(&p) {
            let rel = p.strip_prefix(root()).unwrap().display().to_string();
            out.push((rel, text));
        }
    }
    out.sort();
    out
}

/// The text with line breaks and the comment markers that continue a comment on the next
/// line folded into one space, so a citation wrapped over two lines reads as one.
fn folded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let t = line.trim_start();
        let t = ["//!", "///", "//", "#", ".\\\"", "*"]
            .iter()
            .find_map(|m| t.strip_prefix(m))
            .unwrap_or(t);
        out.push_str(t.trim());
        out.push(' ');
    }
    out
}

/// One `§` citation found in a file.
#[derive(Debug)]
struct Citation {
    spec: Spec,
    sections: Vec<String>,
    context: String,
}

/// Which specification the words right before a chain of `§` name, if any: `None` for
/// an RFC's or another document's section, which is not ours to check.
fn head_of(before: &str) -> Option<Option<Spec>> {
    let b = before.trim_end().to_ascii_lowercase();
    let b = b.trim_end_matches(['(', '`']).trim_end();
    if b.ends_with("openbsd-wg-interface spec")
        || b.ends_with("spec openbsd-wg-interface")
        || b.ends_with("openbsd-wg-interface.md")
    {
        return Some(Some(Spec::Interface));
    }
    if b.ends_with("wireguard-protocol.md") || b.ends_with("spec") {
        return Some(Some(Spec::Protocol));
    }
    let last_word = b.rsplit(' ').next().unwrap_or("");
    let prev = b[..b.len() - last_word.len()].trim_end();
    if prev.ends_with("rfc") && last_word.bytes().all(|c| c.is_ascii_digit()) {
        return Some(None);
    }
    None
}

/// Every `§` citation of `text`. A `§` that neither follows a citation head nor continues
/// the previous citation (within the same clause, a few words on) is an error.
fn citations(text: &str) -> Result<Vec<Citation>, Vec<String>> {
    let text = folded(text);
    let mut found = Vec::new();
    let mut errors = Vec::new();
    // The document of the previous citation and where it ended, for continuations.
    let mut current: Option<(Option<Spec>, usize)> = None;
    for (at, _) in text.match_indices('§') {
        // The `§` closing a range (`§4–§8`) was read with its opening one.
        if current.is_some_and(|(_, end)| at < end) {
            continue;
        }
        let after = &text[at + '§'.len_utf8()..];
        // A placeholder where the documentation explains the forms (`spec §N`, `§A–B`).
        if after.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        let context: String = text[..at]
            .chars()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .chain(text[at..].chars().take(30))
            .collect();
        let doc = match head_of(&text[..at]) {
            Some(d) => Some(d),
            None => current.and_then(|(d, end)| {
                let gap = &text[end..at];
                let continues = gap.chars().count() <= 40 && !gap.contains([')', ';', '.', ':']);
                continues.then_some(d)
            }),
        };
        let Some(doc) = doc else {
            errors.push(format!(
                "`§` without a specification named before it: …{context}…"
            ));
            current = None;
            continue;
        };
        let Some(first) = section_number(after) else {
            errors.push(format!("`§` without a section number: …{context}…"));
            continue;
        };
        let mut secs = vec![first.clone()];
        let mut end = at + '§'.len_utf8() + first.len();
        // A range: `§7.1–7.2`, `§4–§8`.
        let tail = &text[end..];
        for dash in ["–§", "–", "-§"] {
            if let Some(r) = tail.strip_prefix(dash) {
                if let Some(last) = section_number(r) {
                    end += dash.len() + last.len();
                    secs.push(last);
                }
                break;
            }
        }
        current = Some((doc, end));
        if let Some(spec) = doc {
            found.push(Citation {
                spec,
                sections: secs,
                context,
            });
        }
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

#[test]
fn every_spec_citation_names_a_section_of_its_specification() {
    let protocol = sections(Spec::Protocol);
    let interface = sections(Spec::Interface);
    assert!(protocol.contains("4.2") && interface.contains("1.9"));
    let mut bad = Vec::new();
    let mut count = 0;
    for (path, text) in citing_files() {
        if path == "tests/citations.rs" {
            continue;
        }
        match citations(&text) {
            Err(errors) => bad.extend(errors.into_iter().map(|e| format!("{path}: {e}"))),
            Ok(cites) => {
                for c in cites {
                    count += 1;
                    let known = match c.spec {
                        Spec::Protocol => &protocol,
                        Spec::Interface => &interface,
                    };
                    for s in &c.sections {
                        if !known.contains(s) {
                            bad.push(format!(
                                "{path}: §{s} is not a section of {}: …{}…",
                                c.spec.file(),
                                c.context
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "citations that do not resolve:\n{}",
        bad.join("\n")
    );
    // The code cites the specifications well over a hundred times; far fewer found means
    // the scanner stopped seeing them.
    assert!(count > 100, "only {count} citations found");
}

/// `.md` names mentioned in the file that the lead is rewriting, with the reason, until
/// that rewrite lands. Each entry must still occur (so a stale entry fails too).
const AWAITING_REWRITE: &[(&str, &str)] = &[];

/// Every `NAME.md` mentioned resolves to a file: relative to the repository, to the
/// mentioning file's directory, or by name in docs/spec or docs/design.
#[test]
fn every_markdown_file_mentioned_exists() {
    let mut bad = Vec::new();
    let mut awaiting_seen = Vec::new();
    for (path, text) in citing_files() {
        if path == "tests/citations.rs" {
            continue;
        }
        let dir = Path::new(&path).parent().unwrap_or(Path::new(""));
        for (at, _) in text.match_indices(".md") {
            let after_ok = !text[at + 3..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
            let start = text[..at]
                .char_indices()
                .rev()
                .find(|&(_, c)| !(c.is_alphanumeric() || "_-./".contains(c)))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let name = text[start..at + 3].trim_start_matches("./");
            // Installed paths (`/usr/share/doc/wgif/README.md`) are not the repository's.
            let installed = name.starts_with('/') || name.starts_with("usr/");
            let hidden = name.starts_with('.') && !name.starts_with("..");
            let placeholder = name == "NAME.md";
            if !after_ok || installed || hidden || placeholder || name.len() <= 3 {
                continue;
            }
            let base = Path::new(name).file_name().unwrap();
            let resolves = [
                root().join(name),
                root().join(dir).join(name),
                root().join("docs/spec").join(base),
                root().join("docs/design").join(base),
            ]
            .iter()
            .any(|p| p.is_file());
            if resolves {
                continue;
            }
            if AWAITING_REWRITE.contains(&(path.as_str(), name)) {
                awaiting_seen.push((path.clone(), name.to_string()));
                continue;
            }
            bad.push(format!("{path}: {name}"));
        }
    }
    assert!(
        bad.is_empty(),
        "mentioned files that are not in the repository:\n{}",
        bad.join("\n")
    );
    for (file, name) in AWAITING_REWRITE {
        assert!(
            awaiting_seen.iter().any(|(f, n)| f == file && n == name),
            "{file} no longer mentions {name}: remove its entry from AWAITING_REWRITE"
        );
    }
}

/// Whether `line` points somewhere a clone of the repository does not have: the
/// development machine's directories, or the issue tracker (`issue 12`, "the wgd issue").
fn points_outside(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    let machine = ["/work/", "shared/spec", "shared/design", "/root/"]
        .iter()
        .any(|p| lower.contains(p));
    let tracker = lower.contains("wgd issue")
        || lower.contains("the issue's")
        || lower
            .match_indices("issue ")
            .any(|(i, m)| lower[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
    machine || tracker
}

/// Nothing points outside the repository.
#[test]
fn nothing_points_outside_the_repository() {
    assert!(points_outside("(issue 12, item 5)") && points_outside("see the wgd issue"));
    assert!(!points_outside("A verb that issues its request"));
    let mut bad = Vec::new();
    for (path, text) in citing_files() {
        if path == "tests/citations.rs" {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if points_outside(line) {
                bad.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "pointers outside the repository:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scanner_reads_each_citation_form() {
    let text = "/// Retries (spec §7.2: 18; 20 in all) and (openbsd-wg-interface spec §1.9, \
                HAS_PKA).\n/// See wireguard-protocol.md §6.5–6.6 and spec\n/// §4.4 step 6, §6.2; \
                RFC 8200 §8.1.\n";
    let c = citations(text).unwrap();
    let got: Vec<(Spec, Vec<&str>)> = c
        .iter()
        .map(|c| (c.spec, c.sections.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Spec::Protocol, vec!["7.2"]),
            (Spec::Interface, vec!["1.9"]),
            (Spec::Protocol, vec!["6.5", "6.6"]),
            (Spec::Protocol, vec!["4.4"]),
            (Spec::Protocol, vec!["6.2"]),
        ]
    );
    // A `§` with no specification before it is refused, not guessed.
    assert!(citations("the driver (§5.3) logs").is_err());
    assert!(citations("a bare `spec §N` means").unwrap().is_empty());
    assert_eq!(section_number("10.3 Full"), Some("10.3".into()));
    assert_eq!(section_number("4. Handshake"), Some("4".into()));
    assert_eq!(section_number("Conventions"), None);
}
