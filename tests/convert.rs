//! `wgconvert`: wg-quick files to hostname.wgN and back. Round trips (every key,
//! comments, CRLF, generated configurations), values checked against what the
//! files say (written here by hand, not produced by the converter), notes for
//! what has no counterpart, errors naming file and line, and never a panic.

use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};
use wgif::ifconfig::convert::hostname_read::read_hostname_if;
use wgif::ifconfig::convert::hostname_write::write_hostname_if;
use wgif::ifconfig::convert::model::{Config, Endpoint, IfAddr, Peer};
use wgif::ifconfig::convert::wgquick_read::read_wg_quick;
use wgif::ifconfig::convert::wgquick_write::write_wg_quick;
use wgif::ioctl::model::{AipIo, Key};

/// base64 of 32 bytes of 0x01, 0x02 and 0x03 (by hand: 0x010101 → "AQEB").
const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
const K3: &str = "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";

/// A wg-quick file with every key wg-quick knows, comments, inline comments, odd
/// spacing and case.
fn every_key() -> String {
    format!(
        "# office gateway\n\
         [Interface]\n\
         PrivateKey = {K1}\n\
         listenport=51820\n\
         Address = 10.8.0.1/24, fd08::1/64 # both families\n\
         Address = 10.9.0.1\n\
         MTU = 1380\n\
         DNS = 10.8.0.53, example.internal\n\
         Table = off\n\
         FwMark = 0x51\n\
         SaveConfig = false\n\
         PreUp = ip link show %i\n\
         PostUp = echo up %i\n\
         PreDown = echo predown\n\
         PostDown = echo down %i\n\
         \n\
         # laptop of alice\n\
         [Peer]\n\
         PublicKey = {K2}\n\
         PresharedKey = {K3}\n\
         Endpoint = vpn.example.com:51821\n\
         AllowedIPs = 10.8.0.2/32, fd08::2/128\n\
         AllowedIPs = 192.168.10.0/24\n\
         PersistentKeepalive = 25\n\
         \n\
         [peer]\n\
         # phone\n\
         PUBLICKEY = {K3}\n\
         Endpoint = [2001:db8::7]:4500\n\
         AllowedIPs = 0.0.0.0/0, ::/0\n\
         PersistentKeepalive = off\n"
    )
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

/// What `every_key()` says, written out by hand.
fn every_key_config() -> Config {
    let aip = |addr, cidr| AipIo { addr, cidr };
    Config {
        description: Some("office gateway".into()),
        private: Some(Key([1; 32])),
        port: Some(51820),
        mtu: Some(1380),
        addresses: vec![
            IfAddr {
                addr: v4([10, 8, 0, 1]),
                prefix: 24,
            },
            IfAddr {
                addr: v6("fd08::1"),
                prefix: 64,
            },
            IfAddr {
                addr: v4([10, 9, 0, 1]),
                prefix: 32,
            },
        ],
        pre_up: vec!["ip link show %i".into()],
        post_up: vec!["echo up %i".into()],
        peers: vec![
            Peer {
                public: Key([2; 32]),
                psk: Some(Key([3; 32])),
                endpoint: Some(Endpoint {
                    host: "vpn.example.com".into(),
                    port: 51821,
                }),
                allowed_ips: vec![
                    aip(v4([10, 8, 0, 2]), 32),
                    aip(v6("fd08::2"), 128),
                    aip(v4([192, 168, 10, 0]), 24),
                ],
                keepalive: Some(25),
                description: Some("laptop of alice".into()),
            },
            Peer {
                public: Key([3; 32]),
                psk: None,
                endpoint: Some(Endpoint {
                    host: "2001:db8::7".into(),
                    port: 4500,
                }),
                allowed_ips: vec![aip(v4([0, 0, 0, 0]), 0), aip(v6("::"), 0)],
                keepalive: None,
                description: Some("phone".into()),
            },
        ],
    }
}

#[test]
fn every_key_reads_as_written() {
    let (cfg, notes) = read_wg_quick(&every_key()).unwrap();
    assert_eq!(cfg, every_key_config());
    let noted: Vec<(usize, String)> = notes
        .iter()
        .map(|n| (n.line, n.text.split(' ').next().unwrap().to_string()))
        .collect();
    let want: Vec<(usize, String)> = [
        (8, "DNS"),
        (9, "Table"),
        (10, "FwMark"),
        (11, "SaveConfig"),
        (14, "PreDown"),
        (15, "PostDown"),
    ]
    .iter()
    .map(|(l, k)| (*l, k.to_string()))
    .collect();
    assert_eq!(noted, want);
}

#[test]
fn crlf_reads_like_lf() {
    let lf = every_key();
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(read_wg_quick(&crlf).unwrap(), read_wg_quick(&lf).unwrap());
    let hn = write_hostname_if(&every_key_config());
    assert_eq!(
        read_hostname_if(&hn.replace('\n', "\r\n")).unwrap(),
        read_hostname_if(&hn).unwrap()
    );
}

#[test]
fn wg_quick_to_hostname_if_and_back() {
    let (cfg, _) = read_wg_quick(&every_key()).unwrap();
    let hn = write_hostname_if(&cfg);
    let (back, notes) = read_hostname_if(&hn).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(back, cfg);
    let wq = write_wg_quick(&back);
    assert_eq!(read_wg_quick(&wq).unwrap(), (cfg, vec![]));
    // A second pass gives the same text.
    assert_eq!(write_wg_quick(&read_wg_quick(&wq).unwrap().0), wq);
}

/// A hostname.wgN as people write them: netmask forms, peers spread over lines,
/// a later line changing a peer, quoting, comments, `!` lines.
fn handwritten_hostname_if() -> String {
    format!(
        "# wg0 at the office\n\
         !echo starting $if\n\
         description \"office  'main' link\"\n\
         wgkey {K1} wgport 51820\n\
         mtu 1400\n\
         inet 10.8.0.1 255.255.255.0\n\
         inet alias 10.9.0.1 0xffff0000\n\
         inet6 fd08::1 64\n\
         inet6 alias fd09::1/48\n\
         wgpeer {K2} wgendpoint gw.example.net 51820 wgaip 10.8.0.2/32\n\
         wgpeer {K2} wgaip 10.8.0.3/32 wgpsk {K3} wgpka 30 wgdescr 'branch router'\n\
         wgpeer {K3} wgaip fd08::3/128 # a comment word\n\
         wgpeer {K3} -wgpsk wgendpoint 192.0.2.1 7000\n\
         up\n\
         !echo up $if\n"
    )
}

#[test]
fn hostname_if_reads_as_netstart_would_apply_it() {
    let (cfg, notes) = read_hostname_if(&handwritten_hostname_if()).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let want = Config {
        description: Some("office 'main' link".into()),
        private: Some(Key([1; 32])),
        port: Some(51820),
        mtu: Some(1400),
        addresses: vec![
            IfAddr {
                addr: v4([10, 8, 0, 1]),
                prefix: 24,
            },
            IfAddr {
                addr: v4([10, 9, 0, 1]),
                prefix: 16,
            },
            IfAddr {
                addr: v6("fd08::1"),
                prefix: 64,
            },
            IfAddr {
                addr: v6("fd09::1"),
                prefix: 48,
            },
        ],
        pre_up: vec!["echo starting %i".into()],
        post_up: vec!["echo up %i".into()],
        peers: vec![
            Peer {
                public: Key([2; 32]),
                psk: Some(Key([3; 32])),
                endpoint: Some(Endpoint {
                    host: "gw.example.net".into(),
                    port: 51820,
                }),
                // A later wgaip replaces the peer's list, as SIOCSWG does.
                allowed_ips: vec![AipIo {
                    addr: v4([10, 8, 0, 3]),
                    cidr: 32,
                }],
                keepalive: Some(30),
                description: Some("branch router".into()),
            },
            Peer {
                public: Key([3; 32]),
                psk: None,
                endpoint: Some(Endpoint {
                    host: "192.0.2.1".into(),
                    port: 7000,
                }),
                allowed_ips: vec![AipIo {
                    addr: v6("fd08::3"),
                    cidr: 128,
                }],
                keepalive: None,
                description: None,
            },
        ],
    };
    assert_eq!(cfg, want);
}

#[test]
fn hostname_if_to_wg_quick_and_back() {
    let (cfg, _) = read_hostname_if(&handwritten_hostname_if()).unwrap();
    let wq = write_wg_quick(&cfg);
    let (back, notes) = read_wg_quick(&wq).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(back, cfg);
    let hn = write_hostname_if(&back);
    assert_eq!(read_hostname_if(&hn).unwrap(), (cfg, vec![]));
    assert_eq!(write_hostname_if(&read_hostname_if(&hn).unwrap().0), hn);
}

#[test]
fn hostname_if_lines_without_counterpart_are_noted() {
    let text = format!(
        "wgkey {K1} wgrtable 1\nrdomain 2\ndebug\n!echo mid\nwgport 7\ndest 10.0.0.2\ninet 10.0.0.1 255.255.255.0 10.0.0.255\ndown\n!echo '#x'\n"
    );
    let (cfg, notes) = read_hostname_if(&text).unwrap();
    let lines: Vec<usize> = notes.iter().map(|n| n.line).collect();
    assert_eq!(lines, vec![1, 2, 3, 4, 6, 7, 8, 9], "{notes:?}");
    assert!(notes[0].text.starts_with("wgrtable 1"));
    assert!(notes[1].text.starts_with("rdomain 2"));
    assert!(notes[3].text.contains("PostUp"));
    assert!(notes[5].text.starts_with("broadcast 10.0.0.255"));
    assert_eq!(cfg.port, Some(7));
    assert_eq!(cfg.post_up, vec!["echo mid".to_string()]);
}

/// Runs the binary on `text` written to a file named `name`.
/// What a file reads as must write and read back to the same configuration in
/// both formats, without notes (the notes belong to the first reading).
fn assert_round_trips(cfg: &Config) {
    let hn = write_hostname_if(cfg);
    assert_eq!(
        read_hostname_if(&hn).unwrap(),
        (cfg.clone(), vec![]),
        "{hn}"
    );
    let wq = write_wg_quick(cfg);
    assert_eq!(read_wg_quick(&wq).unwrap(), (cfg.clone(), vec![]), "{wq}");
}

/// Found by fuzzing (fuzz/, targets wgquick and hostname_if): a description cut at 63
/// bytes kept the blank before the cut, which a wg-quick comment does not keep; an
/// interface description in a hostname.if was not cut at all (nor its blanks
/// collapsed), so the wg-quick file read back as another description.
#[test]
fn long_and_blank_edged_descriptions_round_trip() {
    // 62 bytes, a blank, then more: the cut at 63 falls right after the blank.
    let long = format!("{} gateway of the office", "x".repeat(62));
    let (cfg, notes) =
        read_wg_quick(&format!("# {long}\n[Interface]\nPrivateKey = {K1}\n")).unwrap();
    assert_eq!(cfg.description.as_deref(), Some(&long[..62]));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_round_trips(&cfg);

    let (cfg, notes) = read_hostname_if(&format!("description '{long}'\nwgkey {K1}\n")).unwrap();
    assert_eq!(cfg.description.as_deref(), Some(&long[..62]));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_round_trips(&cfg);

    // Blanks at the ends of a quoted description or a peer description.
    let text = format!("description ' office '\nwgkey {K1}\nwgpeer {K2} wgdescr ' laptop '\n");
    let (cfg, notes) = read_hostname_if(&text).unwrap();
    assert_eq!(cfg.description.as_deref(), Some("office"));
    assert_eq!(cfg.peers[0].description.as_deref(), Some("laptop"));
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_round_trips(&cfg);
}

/// Found by fuzzing (fuzz/, target wgquick): a PreUp command with a shell variable
/// whose name starts with `if` (`$ifg`) became, in the hostname.if `!` line, text
/// netstart rewrites (`$if` is the interface's name there), so it read back as `%ig`.
/// The variable is written `${ifg}` (the same to the shell), with a note.
#[test]
fn a_shell_variable_named_if_survives_the_bang_line() {
    let text = format!(
        "[Interface]\nPrivateKey = {K1}\nPreUp = echo $ifg $if %i x$if_y\nPostUp = echo $IFG\n"
    );
    let (cfg, notes) = read_wg_quick(&text).unwrap();
    assert_eq!(
        cfg.pre_up,
        vec!["echo ${ifg} ${if} %i x${if_y}".to_string()]
    );
    assert_eq!(
        cfg.post_up,
        vec!["echo $IFG".to_string()],
        "only $if is netstart's"
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].line, 3);
    let hn = write_hostname_if(&cfg);
    assert!(hn.contains("!echo ${ifg} ${if} $if x${if_y}"), "{hn}");
    assert_round_trips(&cfg);
}

/// Found by fuzzing (fuzz/, targets hostname_if and wgquick): a NUL byte in a
/// description reached the SIOCSWG buffer, whose C string ends there, so wgd got
/// another description than the file says. Files with one are refused at that line,
/// and wgnetstart's word splitting refuses the line.
#[test]
fn nul_bytes_are_refused_with_their_line() {
    let e = read_wg_quick(&format!(
        "[Interface]\nPrivateKey = {K1}\n# pho\0ne\n[Peer]\nPublicKey = {K2}\n"
    ))
    .unwrap_err();
    assert_eq!((e.line, e.text.as_str()), (3, "NUL byte in the line"));
    let e = read_hostname_if(&format!("wgkey {K1}\nwgpeer {K2} wgdescr 'pho\0ne'\n")).unwrap_err();
    assert_eq!((e.line, e.text.as_str()), (2, "NUL byte in the line"));
    assert_eq!(
        wgif::ifconfig::hostname_if::shell_words("wgdescr 'a\0b'"),
        Err("NUL byte in the line".to_string())
    );
    // In a comment of a hostname.if it does no harm and is ignored.
    assert!(read_hostname_if(&format!("# a\0b\nwgkey {K1}\n")).is_ok());
}

fn wgconvert(dir: &str, name: &str, text: &str) -> (i32, String, String) {
    let d = std::env::temp_dir().join(format!("wgconvert-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join(name);
    std::fs::write(&f, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wgconvert"))
        .arg(dir)
        .arg(&f)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&f);
    let err = String::from_utf8_lossy(&out.stderr).replace(&format!("{}/", d.display()), "");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        err,
    )
}

#[test]
fn bad_wg_quick_files_name_file_and_line() {
    let cases: Vec<(String, &str)> = vec![
        (
            format!("[Interface]\nPrivateKey = {}\n", &K1[..43]),
            "bad.conf:2: PrivateKey (key): invalid length",
        ),
        (
            "[Interface]\nPrivateKey = !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=\n".into(),
            "bad.conf:2: PrivateKey (key): invalid base64",
        ),
        (
            format!("[Interface]\nPrivateKey = {K1}\n\n[Interface]\n"),
            "bad.conf:4: a second [Interface] section (the first is on line 1)",
        ),
        (
            "[Interface]\nListenPort = 1\nColour = blue\n".into(),
            "bad.conf:3: unknown key Colour in [Interface]",
        ),
        (
            format!("[Interface]\n[Peer]\nPublicKey = {K2}\n[Peer]\nEndpoint = a:1\n"),
            "bad.conf:4: [Peer] without PublicKey",
        ),
        (
            format!("PrivateKey = {K1}\n"),
            "bad.conf:1: PrivateKey outside a section",
        ),
        (
            "[Interface]\nPublicKey = x\n".into(),
            "bad.conf:2: PublicKey belongs in a [Peer] section",
        ),
        (
            format!("[Interface]\n[Peer]\nPublicKey = {K2}\nEndpoint = host\n"),
            "bad.conf:4: Endpoint host: expected HOST:PORT",
        ),
        (
            format!("[Interface]\n[Peer]\nPublicKey = {K2}\nEndpoint = ::1:7\n"),
            "bad.conf:4: Endpoint ::1:7: an IPv6 address is written in brackets",
        ),
        (
            format!("[Interface]\n[Peer]\nPublicKey = {K2}\nEndpoint = h:70000\n"),
            "bad.conf:4: Endpoint h:70000: port 70000: too large",
        ),
        (
            format!("[Interface]\n[Peer]\nPublicKey = {K2}\nAllowedIPs = 10.0.0.0/33\n"),
            "bad.conf:4: AllowedIPs 10.0.0.0/33: bad address",
        ),
        (
            "[Interface]\nAddress = 10.0.0.1/24,,\n".into(),
            "bad.conf:2: Address: empty item in list",
        ),
        (
            "[Interface]\nAddress = 10.0.0.1/24\nAddress = fd00::1, 10.0.0.1/16\n".into(),
            "bad.conf:3: Address 10.0.0.1 given twice",
        ),
        (
            "[Interface]\nMTU = big\n".into(),
            "bad.conf:2: MTU big: invalid",
        ),
        (
            format!("[Interface]\n[Peer]\nPublicKey = {K2}\nPersistentKeepalive = 50000\n"),
            "bad.conf:4: PersistentKeepalive 50000: too large",
        ),
        (
            format!("[Interface]\nPrivateKey = {K1}\nPrivateKey = {K2}\n"),
            "bad.conf:3: PrivateKey given twice (first on line 2)",
        ),
        (
            format!("[Interface]\n[Peer]\nPublicKey = {K2}\n[Peer]\nPublicKey = {K2}\n"),
            "bad.conf:4: the same PublicKey as peer 1",
        ),
        ("[Interface\n".into(), "bad.conf:1: bad section header"),
        (
            "[Wireguard]\n".into(),
            "bad.conf:1: unknown section [Wireguard]",
        ),
        (
            "[Interface]\nMTU\n".into(),
            "bad.conf:2: expected Key = value",
        ),
        ("[Interface]\nDNS =\n".into(), "bad.conf:2: DNS: no value"),
        ("# nothing\n".into(), "bad.conf:1: no [Interface] section"),
    ];
    for (text, want) in cases {
        let (code, out, err) = wgconvert("to-hostname-if", "bad.conf", &text);
        assert_eq!(code, 1, "{text:?}: {err}");
        assert!(out.is_empty(), "{text:?} printed {out}");
        assert!(
            err.starts_with(&format!("wgconvert: {want}")),
            "{text:?}:\n  got  {err}  want {want}"
        );
        // CRLF files report the same line.
        let (_, _, err2) = wgconvert("to-hostname-if", "bad.conf", &text.replace('\n', "\r\n"));
        assert_eq!(err2, err);
    }
}

#[test]
fn bad_hostname_if_files_name_file_and_line() {
    let cases: Vec<(String, &str)> = vec![
        (
            format!("wgkey {K1}\nwgpeer {}\n", &K2[..40]),
            "hostname.wg0:2: wgpeer (key): invalid length",
        ),
        (
            "# key\n\nwgaip 10.0.0.1/32\n".into(),
            "hostname.wg0:3: wgaip: wgpeer not set",
        ),
        (
            format!("wgpeer {K2} wgaip 10.0.0.300/32\n"),
            "hostname.wg0:1: wgaip: bad address",
        ),
        (
            format!("wgpeer {K2} wgendpoint 'a b' 7\n"),
            "hostname.wg0:1: wgendpoint: bad host \"a b\"",
        ),
        (
            format!("wgpeer {K2} wgendpoint h x\n"),
            "hostname.wg0:1: wgendpoint: port x: invalid",
        ),
        (
            "wgport 70000\n".into(),
            "hostname.wg0:1: wgport: 70000, too large",
        ),
        (
            "description 'open\n".into(),
            "hostname.wg0:1: unterminated quote",
        ),
        ("colour blue\n".into(), "hostname.wg0:1: colour: bad value"),
        (
            "inet autoconf\n".into(),
            "hostname.wg0:1: autoconf: bad value",
        ),
    ];
    for (text, want) in cases {
        let (code, out, err) = wgconvert("to-wg-quick", "hostname.wg0", &text);
        assert_eq!(code, 1, "{text:?}: {err}");
        assert!(out.is_empty(), "{text:?} printed {out}");
        assert!(
            err.starts_with(&format!("wgconvert: {want}")),
            "{text:?}:\n  got  {err}  want {want}"
        );
    }
}

#[test]
fn the_binary_converts_and_reports() {
    let (code, out, err) = wgconvert("to-hostname-if", "wg0.conf", &every_key());
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_hostname_if(&out).unwrap().0, every_key_config());
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 6, "{err}");
    assert!(lines[0].starts_with("wgconvert: wg0.conf:8: DNS = 10.8.0.53, example.internal"));
    assert!(lines[5].starts_with("wgconvert: wg0.conf:15: PostDown = echo down %i"));
    let (code, out2, err) = wgconvert("to-wg-quick", "hostname.wg0", &out);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(read_wg_quick(&out2).unwrap().0, every_key_config());
    // Standard input, and bytes that are not text.
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgconvert"))
        .args(["to-wg-quick", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut i = c.stdin.take().unwrap();
        i.write_all(format!("wgport 7\nwgpeer {K2}\n").as_bytes())
            .unwrap();
    }
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    let (cfg, _) = read_wg_quick(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(cfg.port, Some(7));
    assert_eq!(cfg.peers, vec![Peer::new(Key([2; 32]))]);
    let d = std::env::temp_dir().join(format!("wgconvert-bin-{}", std::process::id()));
    std::fs::write(&d, b"[Interface]\nMTU = 1\n# \xff\xfe\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wgconvert"))
        .arg("to-hostname-if")
        .arg(&d)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&d);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("wgconvert: {}:3: not UTF-8 text\n", d.display())
    );
    // Usage.
    let out = Command::new(env!("CARGO_BIN_EXE_wgconvert"))
        .arg("to-json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("usage: wgconvert to-hostname-if file")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_wgconvert"))
        .args(["to-wg-quick", "/nonexistent/hostname.wg0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("wgconvert: /nonexistent/hostname.wg0: No such file"));
}

#[test]
fn wgnetstart_reads_the_output_as_the_same_commands() {
    // The converted file, as wgnetstart -n prints what it would run.
    let d = std::env::temp_dir().join(format!("wgconvert-ns-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("hostname.wg5"),
        write_hostname_if(&every_key_config()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wgnetstart"))
        .args(["-n", "-d"])
        .arg(&d)
        .arg("wg5")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&d);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "ip link show wg5");
    assert!(lines.contains(&"wgifconfig wg5 inet 10.8.0.1 netmask 255.255.255.0"));
    assert!(lines.contains(&"wgifconfig wg5 inet alias 10.9.0.1 netmask 255.255.255.255"));
    assert!(lines.contains(&"wgifconfig wg5 inet6 fd08::1 prefixlen 64"));
    assert!(lines.contains(&format!("wgifconfig wg5 wgkey {K1} wgport 51820").as_str()));
    assert_eq!(lines.last(), Some(&"echo up wg5"));
}

fn arb_key() -> impl Strategy<Value = Key> {
    any::<[u8; 32]>().prop_map(Key)
}

/// A description as a comment keeps it: one line, blanks collapsed, not starting
/// with `#`, at most 63 bytes.
fn arb_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 '\"$!.,\\\\=-]{1,40}".prop_filter_map("blank", |s| {
        let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
        (!t.is_empty()).then_some(t)
    })
}

/// A command a `!` line and a PostUp line both carry: no `#`, no `$`.
fn arb_command() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9 %;|&>/.-]{0,30}".prop_map(|s| {
        s.replace("%", "%i")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn arb_prefix() -> impl Strategy<Value = (IpAddr, u8)> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, n)| (IpAddr::V4(a.into()), n)),
        (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, n)| (IpAddr::V6(a.into()), n)),
    ]
}

fn arb_endpoint() -> impl Strategy<Value = Endpoint> {
    (
        prop_oneof![
            "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
            any::<[u8; 4]>().prop_map(|a| Ipv4Addr::from(a).to_string()),
            any::<[u8; 16]>().prop_map(|a| Ipv6Addr::from(a).to_string()),
        ],
        1u16..,
    )
        .prop_map(|(host, port)| Endpoint { host, port })
}

fn arb_peer() -> impl Strategy<Value = Peer> {
    (
        arb_key(),
        proptest::option::of(arb_key()),
        proptest::option::of(arb_endpoint()),
        proptest::collection::vec(arb_prefix(), 0..4),
        proptest::option::of(1u16..=43200),
        proptest::option::of(arb_text()),
    )
        .prop_map(
            |(public, psk, endpoint, aips, keepalive, description)| Peer {
                public,
                psk,
                endpoint,
                allowed_ips: aips
                    .into_iter()
                    .map(|(addr, cidr)| AipIo { addr, cidr })
                    .collect(),
                keepalive,
                description,
            },
        )
}

fn arb_config() -> impl Strategy<Value = Config> {
    (
        proptest::option::of(arb_text()),
        proptest::option::of(arb_key()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u32..=i32::MAX as u32),
        proptest::collection::vec(arb_prefix(), 0..4),
        proptest::collection::vec(arb_command(), 0..2),
        proptest::collection::vec(arb_command(), 0..2),
        proptest::collection::vec(arb_peer(), 0..4),
    )
        .prop_map(
            |(description, private, port, mtu, addrs, pre_up, post_up, peers)| {
                let mut addresses: Vec<IfAddr> = Vec::new();
                for (addr, prefix) in addrs {
                    // An address is on an interface once.
                    if !addresses.iter().any(|a| a.addr == addr) {
                        addresses.push(IfAddr { addr, prefix });
                    }
                }
                let mut ps: Vec<Peer> = Vec::new();
                for p in peers {
                    if !ps.iter().any(|q| q.public == p.public) {
                        ps.push(p);
                    }
                }
                Config {
                    description,
                    private,
                    port,
                    mtu,
                    addresses,
                    pre_up,
                    post_up,
                    peers: ps,
                }
            },
        )
}

/// The lines of a wg-quick or hostname.if file, from the words that matter.
fn arb_lines() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("[Interface]".to_string()),
            Just("[Peer]".to_string()),
            Just(format!("PublicKey = {K2}")),
            Just(format!("wgpeer {K2}")),
            Just("inet alias 10.0.0.1 0xff".to_string()),
            Just("inet6 fd00::1 64".to_string()),
            Just("!echo $if".to_string()),
            Just("wgendpoint ::1 7".to_string()),
            Just("Endpoint = [::1]:".to_string()),
            "(Address|AllowedIPs|Endpoint|MTU|DNS|PersistentKeepalive) = \\PC{0,20}",
            "(wgaip|wgpka|wgdescr|description|mtu|inet|inet6|dest|-wgpeer) \\PC{0,20}",
            "\\PC{0,30}",
        ],
        0..10,
    )
    .prop_map(|v| v.join("\n"))
}

proptest! {
    #[test]
    fn generated_configs_round_trip(cfg in arb_config()) {
        let hn = write_hostname_if(&cfg);
        let (from_hn, notes) = read_hostname_if(&hn).map_err(|e| TestCaseError::fail(format!("{e:?}\n{hn}")))?;
        prop_assert!(notes.is_empty(), "{:?}\n{}", notes, hn);
        prop_assert_eq!(&from_hn, &cfg, "{}", hn);
        let wq = write_wg_quick(&cfg);
        let (from_wq, notes) = read_wg_quick(&wq).map_err(|e| TestCaseError::fail(format!("{e:?}\n{wq}")))?;
        prop_assert!(notes.is_empty(), "{:?}\n{}", notes, wq);
        prop_assert_eq!(&from_wq, &cfg, "{}", wq);
    }

    #[test]
    fn readers_never_panic(s in "\\PC{0,200}", lines in arb_lines(), crlf in any::<bool>()) {
        let lines = if crlf { lines.replace('\n', "\r\n") } else { lines };
        for t in [&s, &lines] {
            let _ = read_wg_quick(t);
            let _ = read_hostname_if(t);
            // Whatever reads back writes and reads again.
            if let Ok((c, _)) = read_wg_quick(t) {
                let _ = read_hostname_if(&write_hostname_if(&c));
            }
            if let Ok((c, _)) = read_hostname_if(t) {
                let _ = read_wg_quick(&write_wg_quick(&c));
            }
        }
    }
}
