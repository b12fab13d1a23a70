//! `wgifconfig` command lines (src/ifconfig: cli.rs, parse.rs, exec.rs, and the
//! status printers), run against an in-memory wgd: arguments are the input split at
//! NUL bytes. Whatever the arguments, the run ends with status 0 or 1, a failure
//! says why on standard error, and every SIOCSWG it sends survives the trip through
//! the ABI buffer unchanged (checked by `FakeWgd::set_wg`). The status is then
//! printed in all three formats from whatever the line configured.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgif_fuzz::{wgifconfig, FakeWgd};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<String> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\0').map(str::to_string).collect()
    };
    let mut wgd = FakeWgd::default();
    let (status, _out, err) = wgifconfig(&args, &mut wgd);
    assert!(status == 0 || status == 1, "exit status {status}");
    if status == 1 {
        assert!(!err.is_empty(), "failed without a message: {args:?}");
    }
    for show in [
        &["wg0"][..],
        &["-j", "wg0"][..],
        &["--prometheus"][..],
        &["-A"][..],
    ] {
        let args: Vec<String> = show.iter().map(|s| s.to_string()).collect();
        let (status, out, _) = wgifconfig(&args, &mut wgd);
        if wgd.exists {
            assert_eq!(status, 0, "{show:?} after {:?}", text);
            assert!(!out.is_empty());
        }
    }
});
