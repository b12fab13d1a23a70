//! wg-quick configuration files as `wgconvert to-hostname-if` reads them
//! (src/ifconfig/convert/wgquick_read.rs): reading never panics, an error names a
//! line of the file, and what reads must write and read back to the same
//! configuration in both formats. The converted hostname.wgN is then run the way
//! `wgnetstart` would run it, against an in-memory wgd, and must apply cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgif::ifconfig::convert::cli::{convert, Direction};
use wgif::ifconfig::convert::hostname_read::read_hostname_if;
use wgif::ifconfig::convert::hostname_write::write_hostname_if;
use wgif::ifconfig::convert::wgquick_read::read_wg_quick;
use wgif::ifconfig::convert::wgquick_write::write_wg_quick;
use wgif::ifconfig::hostname_if::{parse_hostname_if, shell_words, HnCommand};
use wgif_fuzz::{wgifconfig, FakeWgd};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cfg = match read_wg_quick(text) {
        Ok((cfg, _notes)) => cfg,
        Err(e) => {
            let lines = text.lines().count().max(1);
            assert!(
                e.line >= 1 && e.line <= lines + 1,
                "error at line {} of {lines}",
                e.line
            );
            assert!(convert(Direction::ToHostnameIf, "f", text).is_err());
            return;
        }
    };
    let hn = write_hostname_if(&cfg);
    let (back, notes) = read_hostname_if(&hn)
        .unwrap_or_else(|e| panic!("written hostname.if does not read back: {e:?}\n{hn}"));
    assert!(notes.is_empty(), "notes on our own output: {notes:?}\n{hn}");
    assert_eq!(back, cfg, "hostname.if round trip\n{hn}");
    let wq = write_wg_quick(&cfg);
    let (back, notes) = read_wg_quick(&wq)
        .unwrap_or_else(|e| panic!("written wg-quick file does not read back: {e:?}\n{wq}"));
    assert!(notes.is_empty(), "notes on our own output: {notes:?}\n{wq}");
    assert_eq!(back, cfg, "wg-quick round trip\n{wq}");

    // The hostname.wgN wgconvert writes configures the interface without an error
    // (unless it names a host: this resolver answers addresses only).
    let named = cfg.peers.iter().any(|p| {
        p.endpoint
            .as_ref()
            .is_some_and(|e| e.host.parse::<std::net::IpAddr>().is_err())
    });
    if named {
        return;
    }
    let mut wgd = FakeWgd::default();
    for cmd in parse_hostname_if("wg0", &hn) {
        if let HnCommand::Ifconfig(line) = cmd {
            let words = shell_words(&line)
                .unwrap_or_else(|e| panic!("our own line does not split: {e}: {line}"));
            let mut args = vec!["wg0".to_string()];
            args.extend(words);
            let (status, _, err) = wgifconfig(&args, &mut wgd);
            assert_eq!(status, 0, "{args:?}: {}", String::from_utf8_lossy(&err));
        }
    }
});
