//! The `wgifconfig` binary over a real Unix control socket, against a small
//! in-test server speaking wgd's frames: SIOCSWG buffers decode to the expected
//! model, the status text comes back exact, errno replies become OpenBSD's
//! messages, and the program name prefix follows argv[0].

mod common;
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use wgif::ioctl::codec::{self, Dir};
use wgif::ioctl::frame::{self, ReplyBody, RequestBody};
use wgif::ioctl::model::{AipIo, InterfaceIo, Key, PeerIo};
use wgif::ioctl::request::{IfInfo, Inet4Addr, Request, Response};

const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

#[derive(Default)]
struct State {
    ifs: BTreeMap<String, (IfInfo, InterfaceIo)>,
    sets: Vec<InterfaceIo>,
    inet: Vec<(String, Inet4Addr)>,
}

fn answer(st: &mut State, body: RequestBody) -> Result<Response, i32> {
    let name = body.ifname;
    match body.request {
        Request::Create => {
            if st.ifs.contains_key(&name) {
                return Err(17);
            }
            let info = IfInfo {
                name: name.clone(),
                flags: 0x8082,
                mtu: 1420,
                index: 4,
                groups: vec!["wg".into()],
                ..IfInfo::default()
            };
            st.ifs.insert(name, (info, InterfaceIo::default()));
            Ok(Response::Done)
        }
        Request::GetInfo => st
            .ifs
            .get(&name)
            .map(|i| Response::Info(i.0.clone()))
            .ok_or(6),
        Request::SetFlags { flags } => {
            let i = st.ifs.get_mut(&name).ok_or(6)?;
            i.0.flags = flags | 0x40;
            Ok(Response::Done)
        }
        Request::SetWg { data } => {
            let m = codec::decode(&data, Dir::Set).map_err(|_| 22)?;
            let i = st.ifs.get_mut(&name).ok_or(6)?;
            // Model a driver that keeps what was set, with the public key derived
            // elsewhere: the test only checks what was sent, and echoes it back.
            i.1.port = m.port.or(i.1.port);
            i.1.peers.extend(m.peers.iter().cloned().map(|mut p| {
                p.replace_aips = false;
                p.protocol_version = 1;
                p
            }));
            st.sets.push(m);
            Ok(Response::Done)
        }
        Request::GetWg { size } => {
            let i = st.ifs.get(&name).ok_or(6)?;
            let (size, data) = codec::get_reply(&i.1, size, false);
            Ok(Response::Wg {
                size,
                data: data.map(|d| d.to_vec()).unwrap_or_default(),
            })
        }
        Request::AddInet(a) => {
            st.ifs.get(&name).ok_or(6)?;
            st.inet.push((name, a));
            Ok(Response::Done)
        }
        _ => Err(25),
    }
}

fn serve(path: &Path) -> Arc<Mutex<State>> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).unwrap();
    let state = Arc::new(Mutex::new(State::default()));
    let st = state.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            while let Ok(payload) = frame::read_payload(&mut s) {
                let Ok(body) = frame::decode::<RequestBody>(&payload) else {
                    break;
                };
                let result = answer(&mut st.lock().unwrap(), body);
                if frame::write_frame(&mut s, &ReplyBody { result }).is_err() {
                    break;
                }
            }
        }
    });
    state
}

fn wgifconfig(bin: &Path, sock: &Path, args: &str) -> (i32, String, String) {
    let o = Command::new(bin)
        .args(args.split_whitespace())
        .env("WGD_SOCKET", sock)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

fn scratch() -> common::TempDir {
    common::TempDir::new("client")
}

#[test]
fn binary_over_the_control_socket() {
    let dir = scratch();
    let sock = dir.join("wgd.sock");
    let state = serve(&sock);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wgifconfig"));

    assert_eq!(
        wgifconfig(&bin, &sock, "wg0 create"),
        (0, String::new(), String::new())
    );
    assert_eq!(
        wgifconfig(&bin, &sock, "wg0 create"),
        (
            1,
            String::new(),
            "wgifconfig: wg0: SIOCIFCREATE: File exists\n".into()
        )
    );
    let (code, out, err) = wgifconfig(
        &bin,
        &sock,
        &format!(
            "wg0 wgkey {K1} wgport 51820 wgpeer {K2} wgendpoint 127.0.0.1 51821 wgaip 10.0.0.2/32 wgpka 25 up"
        ),
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let sent = state.lock().unwrap().sets.clone();
    assert_eq!(
        sent,
        vec![InterfaceIo {
            private: Some(Key([1; 32])),
            port: Some(51820),
            peers: vec![PeerIo {
                public: Some(Key([2; 32])),
                endpoint: Some("127.0.0.1:51821".parse().unwrap()),
                aips: vec![AipIo {
                    addr: "10.0.0.2".parse().unwrap(),
                    cidr: 32
                }],
                replace_aips: true,
                pka: Some(25),
                ..PeerIo::default()
            }],
            ..InterfaceIo::default()
        }]
    );

    let want = format!(
        "wg0: flags=80c3<UP,BROADCAST,RUNNING,NOARP,MULTICAST> mtu 1420
\tindex 4 priority 0 llprio 3
\twgport 51820
\twgpeer {K2}
\t\twgpka 25 (sec)
\t\twgendpoint 127.0.0.1 51821
\t\ttx: 0, rx: 0
\t\twgaip 10.0.0.2/32
\tgroups: wg
"
    );
    assert_eq!(wgifconfig(&bin, &sock, "wg0"), (0, want, String::new()));
    assert_eq!(
        wgifconfig(&bin, &sock, "wg7"),
        (1, String::new(), "wg7: no such interface\n".into())
    );

    // Installed or linked as `ifconfig`, it says so.
    let link = dir.join("ifconfig");
    std::os::unix::fs::symlink(&bin, &link).unwrap();
    assert_eq!(
        wgifconfig(&link, &sock, "wg0 wgport 70000"),
        (
            1,
            String::new(),
            "ifconfig: wgport: 70000, too large\n".into()
        )
    );

    // No daemon at the path.
    let none = dir.join("none.sock");
    assert_eq!(
        wgifconfig(&bin, &none, "wg0 up"),
        (
            1,
            String::new(),
            format!(
                "wgifconfig: wgd is not running (no socket at {}); start it with: wgd\n",
                none.display()
            )
        )
    );
}

#[test]
fn wgnetstart_binary_print_only_needs_no_daemon() {
    let dir = common::TempDir::new("netstart-bin");
    std::fs::write(
        dir.join("hostname.wg3"),
        "wgport 7\ninet 10.3.0.1 255.255.0.0\n!echo $if\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wgnetstart"))
        .args(["-n"])
        .env("WGNETSTART_DIR", &dir)
        .env("WGD_SOCKET", dir.join("absent.sock"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "{ wgifconfig wg3 || wgifconfig wg3 create; }
wgifconfig wg3 wgport 7
wgifconfig wg3 inet 10.3.0.1 netmask 255.255.0.0
echo wg3
"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_wgnetstart"))
        .args(["-x"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(bad.stderr).unwrap(),
        "wgnetstart: unknown option -x\nusage: wgnetstart [-n] [-d dir] [wgN ...]\n"
    );
}

/// Configuring (not `-n`), wgnetstart waits for wgd's socket at most
/// `$WGNETSTART_WAIT` seconds, then goes on without it: a boot with no wgd must not
/// hang. Here there is no socket and no hostname.wgN file.
#[test]
fn wgnetstart_binary_waits_for_the_socket_a_bounded_time() {
    let dir = common::TempDir::new("netstart-wait");
    let start = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wgnetstart"))
        .env("WGNETSTART_DIR", &dir)
        .env("WGD_SOCKET", dir.join("absent.sock"))
        .env("WGNETSTART_WAIT", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Bounded: 30 s is far beyond the 1 s it is told to wait.
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > std::time::Duration::from_secs(30) {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("wgnetstart still waiting for the socket after 30 s (WGNETSTART_WAIT=1)");
    };
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(900),
        "it did not wait for the socket: {:?}",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(0), "nothing to configure");
}

/// An IPv4 address set with wgifconfig reaches wgd as the one request that adds it.
#[test]
fn binary_adds_an_ipv4_address_over_the_socket() {
    let dir = scratch();
    let sock = dir.join("wgd.sock");
    let state = serve(&sock);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wgifconfig"));
    assert_eq!(wgifconfig(&bin, &sock, "wg5 create").0, 0);
    let (code, _, err) = wgifconfig(&bin, &sock, "wg5 inet 10.5.0.1/24");
    assert_eq!((code, err.as_str()), (0, ""));
    let added: Vec<(String, std::net::Ipv4Addr, u8)> = state
        .lock()
        .unwrap()
        .inet
        .iter()
        .map(|(n, a)| (n.clone(), a.addr, a.prefixlen))
        .collect();
    assert_eq!(added, vec![("wg5".into(), [10, 5, 0, 1].into(), 24)]);
}
