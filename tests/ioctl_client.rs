//! The blocking client against a small in-test server on a Unix socket.

mod common;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::thread;
use wgif::ioctl::client::{CallError, Client};
use wgif::ioctl::codec::{self, Dir};
use wgif::ioctl::frame::{self, ReplyBody, RequestBody};
use wgif::ioctl::model::{InterfaceIo, Key, PeerIo};
use wgif::ioctl::request::{Request, Response};

fn sock(name: &str) -> (common::TempDir, PathBuf) {
    let d = common::TempDir::new(name);
    let p = d.join("wgd.sock");
    (d, p)
}

/// Serves `n` requests on one connection with `answer`.
fn serve(
    path: &PathBuf,
    n: usize,
    answer: impl Fn(usize, RequestBody) -> ReplyBody + Send + 'static,
) -> thread::JoinHandle<()> {
    let l = UnixListener::bind(path).unwrap();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        for i in 0..n {
            let p = frame::read_payload(&mut s).unwrap();
            let req: RequestBody = frame::decode(&p).unwrap();
            frame::write_frame(&mut s, &answer(i, req)).unwrap();
        }
    })
}

#[test]
fn not_running_names_the_socket() {
    let (_d, p) = sock("notrunning");
    let e = Client::connect(&p).err().unwrap();
    assert!(matches!(e, CallError::NotRunning(_)));
    assert_eq!(
        e.to_string(),
        format!("wgd is not running (no socket at {})", p.display())
    );
}

#[test]
fn errno_reply_prints_strerror() {
    let (_d, p) = sock("errno");
    let h = serve(&p, 1, |_, req| {
        assert_eq!(req.ifname, "wg9");
        assert_eq!(req.request, Request::Create);
        ReplyBody { result: Err(17) }
    });
    let mut c = Client::connect(&p).unwrap();
    let e = c.create("wg9").unwrap_err();
    assert_eq!(e.errno(), Some(17));
    assert_eq!(e.to_string(), "File exists");
    h.join().unwrap();
}

#[test]
fn get_wg_grows_until_stable() {
    // The interface gains a peer between the size query and the first fetch: the
    // client must ask again with the larger size.
    let small = InterfaceIo {
        port: Some(7111),
        ..InterfaceIo::default()
    };
    let mut big = small.clone();
    big.peers.push(PeerIo {
        protocol_version: 1,
        public: Some(Key([3; 32])),
        ..PeerIo::default()
    });
    let expected = big.clone();
    let (_d, p) = sock("grow");
    let h = serve(&p, 3, move |i, req| {
        let Request::GetWg { size } = req.request else {
            panic!("not a GetWg")
        };
        let model = if i == 0 { &small } else { &big };
        let asked = [0u64, 80, 288][i];
        assert_eq!(size, asked, "request {i}");
        let (size, data) = codec::get_reply(model, size, false);
        ReplyBody {
            result: Ok(Response::Wg {
                size,
                data: data.map(|d| d.to_vec()).unwrap_or_default(),
            }),
        }
    });
    let mut c = Client::connect(&p).unwrap();
    assert_eq!(c.get_wg("wg1").unwrap(), expected);
    h.join().unwrap();
}

#[test]
fn set_wg_sends_the_set_buffer() {
    let m = InterfaceIo {
        port: Some(1),
        replace_peers: true,
        ..InterfaceIo::default()
    };
    let want = m.clone();
    let (_d, p) = sock("set");
    let h = serve(&p, 1, move |_, req| {
        let Request::SetWg { data } = req.request else {
            panic!("not a SetWg")
        };
        assert_eq!(codec::decode(&data, Dir::Set).unwrap(), want);
        ReplyBody {
            result: Ok(Response::Done),
        }
    });
    Client::connect(&p).unwrap().set_wg("wg0", &m).unwrap();
    h.join().unwrap();
}

#[test]
fn daemon_hanging_up_is_a_transport_error() {
    let (_d, p) = sock("hangup");
    let l = UnixListener::bind(&p).unwrap();
    let h = thread::spawn(move || drop(l.accept().unwrap()));
    let mut c = Client::connect(&p).unwrap();
    h.join().unwrap();
    let e = c.get_info("wg0").unwrap_err();
    assert!(matches!(e, CallError::Transport(_)), "{e}");
}
