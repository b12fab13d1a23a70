//! `/etc/hostname.wgN` files as `wgnetstart` runs them (src/ifconfig/hostname_if.rs
//! and netstart.rs: each line becomes an ifconfig command or a shell command, an
//! ifconfig command is split into words like sh's eval and run as `wgifconfig wg0
//! ...` against an in-memory wgd; shell commands are not run), and as `wgconvert
//! to-wg-quick` reads them (convert/hostname_read.rs). What the converter reads
//! must write and read back to the same configuration in both formats.
#![no_main]

use libfuzzer_sys::fuzz_target;
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
    let mut wgd = FakeWgd::default();
    for cmd in parse_hostname_if("wg0", text) {
        match cmd {
            HnCommand::Ifconfig(line) => {
                let Ok(words) = shell_words(&line) else {
                    continue;
                };
                let mut args = vec!["wg0".to_string()];
                args.extend(words);
                let (status, _, err) = wgifconfig(&args, &mut wgd);
                assert!(status == 0 || status == 1, "exit status {status}");
                assert!(status == 0 || !err.is_empty(), "failed without a message");
            }
            HnCommand::Shell(c) => assert!(!c.contains("$if"), "$if left in {c:?}"),
        }
    }

    if let Ok((cfg, _notes)) = read_hostname_if(text) {
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
    }
});
