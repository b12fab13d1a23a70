//! Running command lines and hostname.if files against an in-memory fake of wgd:
//! order of requests (generic verbs at once, SIOCSWG after, addresses last),
//! auto-create, exact error texts and exit statuses, state left untouched by a
//! bad argument, status selection, and wgnetstart.

mod common;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use wgif::ifconfig::control::{Control, CtlError, EEXIST, EINVAL, ENOTTY, ENXIO, EPERM};
use wgif::ifconfig::exec::{run, Io};
use wgif::ifconfig::netstart::{parse_args, run_netstart, Options};
use wgif::ifconfig::resolve::Resolve;
use wgif::ioctl::model::{InterfaceIo, Key, PeerIo};
use wgif::ioctl::request::{iff, IfInfo, Inet4Addr, Inet6Addr};

const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
const NOT_RUNNING: &str = "wgd is not running (no socket at /run/wgd.sock); start it with: wgd";

#[derive(Default)]
struct FakeIf {
    info: IfInfo,
    /// Every SIOCSWG request received, in order.
    sets: Vec<InterfaceIo>,
    /// What SIOCGWG answers.
    wg: InterfaceIo,
}

/// wgd in memory: a log of every request, interfaces by name.
#[derive(Default)]
struct Fake {
    log: Vec<String>,
    ifs: BTreeMap<String, FakeIf>,
    root: bool,
    down: bool,
    mtu_errno: Option<i32>,
    next_index: u32,
}

impl Fake {
    fn root() -> Fake {
        Fake {
            root: true,
            next_index: 1,
            ..Fake::default()
        }
    }
    fn with(mut self, name: &str) -> Fake {
        self.add(name);
        self
    }
    fn add(&mut self, name: &str) {
        let index = self.next_index;
        self.next_index += 1;
        self.ifs.insert(
            name.to_string(),
            FakeIf {
                info: IfInfo {
                    name: name.into(),
                    flags: iff::BROADCAST | iff::MULTICAST | iff::NOARP,
                    mtu: 1420,
                    index,
                    groups: vec!["wg".into()],
                    ..IfInfo::default()
                },
                ..FakeIf::default()
            },
        );
    }
    /// What was asked of the daemon that changes something, in order: the queries
    /// (get_info) left out, as how often the program looks is not specified.
    fn acts(&self) -> Vec<&str> {
        self.log
            .iter()
            .map(String::as_str)
            .filter(|e| !e.starts_with("get_info "))
            .collect()
    }

    fn gate(&mut self, entry: String, name: &str, privileged: bool) -> Result<(), CtlError> {
        self.log.push(entry);
        if self.down {
            return Err(CtlError::Transport(NOT_RUNNING.into()));
        }
        if privileged && !self.root {
            return Err(CtlError::errno(EPERM));
        }
        if !name.is_empty() && !self.ifs.contains_key(name) {
            return Err(CtlError::errno(ENXIO));
        }
        Ok(())
    }
    fn get(&mut self, name: &str) -> &mut FakeIf {
        self.ifs.get_mut(name).unwrap()
    }
}

impl Control for Fake {
    fn create(&mut self, n: &str) -> Result<(), CtlError> {
        self.log.push(format!("create {n}"));
        if self.down {
            return Err(CtlError::Transport(NOT_RUNNING.into()));
        }
        if !self.root {
            return Err(CtlError::errno(EPERM));
        }
        if self.ifs.contains_key(n) {
            return Err(CtlError::errno(EEXIST));
        }
        self.add(n);
        Ok(())
    }
    fn destroy(&mut self, n: &str) -> Result<(), CtlError> {
        self.gate(format!("destroy {n}"), n, true)?;
        self.ifs.remove(n);
        Ok(())
    }
    fn get_info(&mut self, n: &str) -> Result<IfInfo, CtlError> {
        self.gate(format!("get_info {n}"), n, false)?;
        Ok(self.get(n).info.clone())
    }
    fn list_interfaces(&mut self) -> Result<Vec<IfInfo>, CtlError> {
        self.gate("list".into(), "", false)?;
        let mut v: Vec<IfInfo> = self.ifs.values().map(|i| i.info.clone()).collect();
        v.sort_by_key(|i| i.index);
        Ok(v)
    }
    fn set_flags(&mut self, n: &str, flags: u32) -> Result<(), CtlError> {
        self.gate(format!("set_flags {n} {flags:#x}"), n, true)?;
        let i = &mut self.get(n).info;
        i.flags = flags;
        if flags & iff::UP != 0 {
            i.flags |= iff::RUNNING;
        } else {
            i.flags &= !iff::RUNNING;
        }
        Ok(())
    }
    fn set_mtu(&mut self, n: &str, mtu: u32) -> Result<(), CtlError> {
        self.gate(format!("set_mtu {n} {mtu}"), n, true)?;
        if let Some(e) = self.mtu_errno {
            return Err(CtlError::errno(e));
        }
        self.get(n).info.mtu = mtu;
        Ok(())
    }
    fn set_rdomain(&mut self, n: &str, r: u32) -> Result<(), CtlError> {
        self.gate(format!("set_rdomain {n} {r}"), n, true)?;
        self.get(n).info.rdomain = r;
        Ok(())
    }
    fn set_description(&mut self, n: &str, d: &str) -> Result<(), CtlError> {
        self.gate(format!("set_description {n} {d:?}"), n, true)?;
        self.get(n).info.description = d.into();
        Ok(())
    }
    fn add_inet(&mut self, n: &str, a: Inet4Addr) -> Result<(), CtlError> {
        self.gate(format!("add_inet {n} {}/{}", a.addr, a.prefixlen), n, true)?;
        self.get(n).info.inet.push(a);
        Ok(())
    }
    fn del_inet(&mut self, n: &str, a: Ipv4Addr) -> Result<(), CtlError> {
        self.gate(format!("del_inet {n} {a}"), n, true)?;
        self.get(n).info.inet.retain(|x| x.addr != a);
        Ok(())
    }
    fn add_inet6(&mut self, n: &str, a: Inet6Addr) -> Result<(), CtlError> {
        self.gate(format!("add_inet6 {n} {}/{}", a.addr, a.prefixlen), n, true)?;
        self.get(n).info.inet6.push(a);
        Ok(())
    }
    fn del_inet6(&mut self, n: &str, a: Ipv6Addr) -> Result<(), CtlError> {
        self.gate(format!("del_inet6 {n} {a}"), n, true)?;
        self.get(n).info.inet6.retain(|x| x.addr != a);
        Ok(())
    }
    fn get_wg(&mut self, n: &str) -> Result<InterfaceIo, CtlError> {
        self.gate(format!("get_wg {n}"), n, false)?;
        if !n.starts_with("wg") {
            return Err(CtlError::errno(ENOTTY));
        }
        let w = self.get(n).wg.clone();
        if self.root {
            Ok(w)
        } else {
            Ok(InterfaceIo {
                port: w.port,
                rtable: w.rtable,
                ..InterfaceIo::default()
            })
        }
    }
    fn set_wg(&mut self, n: &str, wg: &InterfaceIo) -> Result<(), CtlError> {
        self.gate(format!("set_wg {n}"), n, true)?;
        self.get(n).sets.push(wg.clone());
        Ok(())
    }
}

struct NumericDns;
impl Resolve for NumericDns {
    fn resolve(&self, host: &str, port: &str) -> Result<SocketAddr, String> {
        let ip: std::net::IpAddr = host
            .parse()
            .map_err(|_| "no address associated with name".to_string())?;
        Ok(SocketAddr::new(
            ip,
            port.parse().map_err(|_| "bad port".to_string())?,
        ))
    }
}

struct Outcome {
    code: i32,
    out: String,
    err: String,
}

fn go(fake: &mut Fake, line: &str) -> Outcome {
    let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = {
        let mut io = Io {
            prog: "wgifconfig",
            now: 1000,
            stdout: &mut out,
            stderr: &mut err,
        };
        run(&args, fake, &NumericDns, &mut io)
    };
    Outcome {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

#[test]
fn auto_create_then_generic_verbs_then_siocswg_then_addresses() {
    let mut f = Fake::root();
    let o = go(
        &mut f,
        &format!("wg0 10.0.0.1/24 wgkey {K1} up wgport 7 mtu 1400 wgpeer {K2} wgaip 10.0.0.2/32"),
    );
    assert_eq!((o.code, o.err.as_str(), o.out.as_str()), (0, "", ""));
    // openbsd-wg-interface spec §2.1: create, the generic verbs at once, one SIOCSWG, then the address.
    assert_eq!(
        f.acts(),
        vec![
            "create wg0",
            "set_flags wg0 0x8083",
            "set_mtu wg0 1400",
            "set_wg wg0",
            "add_inet wg0 10.0.0.1/24",
        ]
    );
    let sets = &f.ifs["wg0"].sets;
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].private, Some(Key([1; 32])));
    assert_eq!(sets[0].port, Some(7));
    assert_eq!(sets[0].peers.len(), 1);
    assert_eq!(sets[0].peers[0].public, Some(Key([2; 32])));
}

#[test]
fn replacing_the_primary_address_deletes_the_first_one() {
    let mut f = Fake::root().with("wg0");
    assert_eq!(go(&mut f, "wg0 10.0.0.1/24").code, 0);
    f.log.clear();
    assert_eq!(go(&mut f, "wg0 inet 10.0.0.5/24").code, 0);
    assert_eq!(
        f.acts(),
        vec!["del_inet wg0 10.0.0.1", "add_inet wg0 10.0.0.5/24"]
    );
    f.log.clear();
    assert_eq!(go(&mut f, "wg0 inet 10.0.0.6/24 alias").code, 0);
    assert_eq!(f.acts(), vec!["add_inet wg0 10.0.0.6/24"]);
    f.log.clear();
    assert_eq!(go(&mut f, "wg0 inet6 fd00::1").code, 0);
    assert_eq!(f.acts(), vec!["add_inet6 wg0 fd00::1/64"]);
    f.log.clear();
    assert_eq!(go(&mut f, "wg0 -inet").code, 0);
    assert_eq!(
        f.acts(),
        vec!["del_inet wg0 10.0.0.5", "del_inet wg0 10.0.0.6"]
    );
}

#[test]
fn create_on_existing_fails() {
    let mut f = Fake::root().with("wg0");
    let o = go(&mut f, "wg0 create");
    assert_eq!(o.code, 1);
    assert_eq!(o.err, "wgifconfig: wg0: SIOCIFCREATE: File exists\n");
    // A bare create of a new one succeeds silently and stops there.
    let o = go(&mut f, "wg1 create");
    assert_eq!((o.code, o.err.as_str(), o.out.as_str()), (0, "", ""));
    assert!(f.ifs.contains_key("wg1"));
}

#[test]
fn destroy_does_not_auto_create() {
    let mut f = Fake::root();
    let o = go(&mut f, "wg4 destroy");
    assert_eq!(o.code, 1);
    assert_eq!(f.acts(), vec!["destroy wg4"]);
    assert_eq!(
        o.err,
        "wgifconfig: wg4: SIOCIFDESTROY: No such device or address\n"
    );
    let mut f = Fake::root().with("wg4");
    assert_eq!(go(&mut f, "wg4 destroy").code, 0);
    assert!(f.ifs.is_empty());
}

#[test]
fn bad_wg_argument_sends_no_siocswg() {
    let mut f = Fake::root().with("wg0");
    let o = go(
        &mut f,
        &format!("wg0 wgkey {K1} wgpeer {K2} wgaip 10.0.0.0/8 wgpka 99999"),
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.err, "wgifconfig: wgpka: 99999, too large\n");
    assert!(f.ifs["wg0"].sets.is_empty());
    assert_eq!(f.acts(), Vec::<&str>::new());
}

#[test]
fn generic_verbs_before_a_bad_argument_are_applied() {
    let mut f = Fake::root().with("wg0");
    let o = go(&mut f, "wg0 up wgport 70000 down");
    assert_eq!(o.code, 1);
    assert_eq!(o.err, "wgifconfig: wgport: 70000, too large\n");
    assert_eq!(f.acts(), vec!["set_flags wg0 0x8083"]);
    assert!(f.ifs["wg0"].sets.is_empty());
}

#[test]
fn peer_verb_without_wgpeer() {
    let mut f = Fake::root().with("wg0");
    let o = go(&mut f, "wg0 wgaip 10.0.0.1/32");
    assert_eq!(
        (o.code, o.err.as_str()),
        (1, "wgifconfig: wgaip: wgpeer not set\n")
    );
}

#[test]
fn non_root_siocswg_is_refused() {
    let mut f = Fake::root().with("wg9");
    f.root = false;
    let o = go(&mut f, "wg9 wgport 1");
    assert_eq!(o.code, 1);
    assert_eq!(o.err, "wgifconfig: wg9: SIOCSWG: Operation not permitted\n");
    let o = go(&mut f, "wg9 up");
    assert_eq!(
        o.err,
        "wgifconfig: wg9: SIOCSIFFLAGS: Operation not permitted\n"
    );
}

#[test]
fn mtu_failure_is_a_warning() {
    let mut f = Fake::root().with("wg0");
    f.mtu_errno = Some(EINVAL);
    let o = go(&mut f, "wg0 mtu 9001 up");
    assert_eq!(o.code, 0);
    assert_eq!(o.err, "wgifconfig: SIOCSIFMTU: Invalid argument\n");
    assert!(f.log.contains(&"set_flags wg0 0x8083".to_string()));
}

#[test]
fn wgd_not_running_is_one_clear_line() {
    let mut f = Fake::root();
    f.down = true;
    for line in ["wg0 up", "wg0", "-a", "wg0 create"] {
        let o = go(&mut f, line);
        assert_eq!(o.code, 1, "{line}");
        assert_eq!(o.err, format!("wgifconfig: {NOT_RUNNING}\n"), "{line}");
    }
}

#[test]
fn status_selection() {
    let mut f = Fake::root().with("wg0").with("wg1");
    f.get("wg0").wg = InterfaceIo {
        port: Some(5),
        public: Some(Key([1; 32])),
        peers: vec![PeerIo {
            public: Some(Key([2; 32])),
            ..PeerIo::default()
        }],
        ..InterfaceIo::default()
    };
    let wg0_full = format!(
        "wg0: flags=8082<BROADCAST,NOARP,MULTICAST> mtu 1420\n\tindex 1 priority 0 llprio 3\n\twgport 5\n\twgpubkey {K1}\n\twgpeer {K2}\n\t\ttx: 0, rx: 0\n\tgroups: wg\n"
    );
    let wg0_short = format!(
        "wg0: flags=8082<BROADCAST,NOARP,MULTICAST> mtu 1420\n\tindex 1 priority 0 llprio 3\n\twgport 5\n\twgpubkey {K1}\n\tgroups: wg\n"
    );
    let wg1 = "wg1: flags=8082<BROADCAST,NOARP,MULTICAST> mtu 1420\n\tindex 2 priority 0 llprio 3\n\tgroups: wg\n";
    let o = go(&mut f, "wg0");
    assert_eq!((o.code, o.out.clone()), (0, wg0_full.clone()));
    assert_eq!(go(&mut f, "").out, format!("{wg0_short}{wg1}"));
    assert_eq!(go(&mut f, "-a").out, format!("{wg0_short}{wg1}"));
    assert_eq!(go(&mut f, "-A").out, format!("{wg0_full}{wg1}"));
    assert_eq!(go(&mut f, "wg").out, format!("{wg0_full}{wg1}"));
    assert_eq!(go(&mut f, "-C").out, "wg\n");
    // Non-root: port only.
    f.root = false;
    assert_eq!(
        go(&mut f, "wg0").out,
        "wg0: flags=8082<BROADCAST,NOARP,MULTICAST> mtu 1420\n\tindex 1 priority 0 llprio 3\n\twgport 5\n\tgroups: wg\n"
    );
    // A family after -a/-A keeps only that family's address lines.
    f.get("wg1").info.inet.push(Inet4Addr {
        addr: "10.0.0.1".parse().unwrap(),
        prefixlen: 24,
        broadcast: None,
        dest: None,
    });
    f.get("wg1").info.inet6.push(Inet6Addr {
        addr: "fd00::1".parse().unwrap(),
        prefixlen: 64,
        scope_id: 0,
    });
    let v6 = "\tinet6 fd00::1 prefixlen 64\n";
    let v4 = "\tinet 10.0.0.1 netmask 0xffffff00";
    let all = go(&mut f, "-A").out;
    assert!(all.contains(v4) && all.contains(v6), "{all}");
    let only6 = go(&mut f, "-A inet6");
    assert_eq!(only6.code, 0);
    assert!(
        only6.out.contains(v6) && !only6.out.contains(v4),
        "{}",
        only6.out
    );
    let only4 = go(&mut f, "-a inet").out;
    assert!(only4.contains(v4) && !only4.contains(v6), "{only4}");
    assert_eq!(go(&mut f, "-a inet7").code, 1);
}

#[test]
fn missing_interface_status() {
    let mut f = Fake::root();
    let o = go(&mut f, "wg5");
    assert_eq!(
        (o.code, o.out.as_str(), o.err.as_str()),
        (1, "", "wg5: no such interface\n")
    );
    // Status never creates.
    assert!(f.ifs.is_empty());
    let o = go(&mut f, "wg");
    assert_eq!((o.code, o.err.as_str()), (1, "wg: no such interface\n"));
}

#[test]
fn usage_and_long_names() {
    let mut f = Fake::root();
    let o = go(&mut f, "-z");
    assert_eq!(o.code, 1);
    assert!(
        o.err.starts_with("usage: wgifconfig [-AaCj] [interface]"),
        "{}",
        o.err
    );
    let o = go(&mut f, "wg0123456789abcdef up");
    assert_eq!(
        (o.code, o.err.as_str()),
        (
            1,
            "wgifconfig: interface name 'wg0123456789abcdef' too long\n"
        )
    );
}

// ---- wgnetstart ----

fn tempdir(tag: &str) -> common::TempDir {
    common::TempDir::new(&format!("netstart-{tag}"))
}

fn write(dir: &std::path::Path, name: &str, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

const HN_WG0: &str = "# office tunnel
wgkey AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= wgport 51820

wgpeer AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI= wgendpoint 203.0.113.5 51820 wgaip 10.0.0.2/32 wgpka 25 wgdescr office
inet 10.0.0.1 255.255.255.0
  # indented comment
inet alias 10.0.0.9 255.255.255.255 NONE
inet6 fd00::1 64
dest fd00::2
description \"my tunnel\"
!echo $if is up > /dev/null
up
";

fn netstart(o: &Options, f: &mut Fake) -> (i32, String, String, Vec<String>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut shell_cmds = Vec::new();
    let code = run_netstart(
        o,
        f,
        &NumericDns,
        &mut |c: &str| {
            shell_cmds.push(c.to_string());
            0
        },
        1000,
        &mut out,
        &mut err,
    );
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        shell_cmds,
    )
}

#[test]
#[ignore = "needs root: wgnetstart reads only hostname.if files root owns"]
fn netstart_print_only() {
    common::require_root("wgnetstart reads only hostname.if files root owns");
    let d = tempdir("n");
    write(&d, "hostname.wg0", HN_WG0, 0o600);
    write(&d, "hostname.wg1", "up\n", 0o600);
    write(&d, "hostname.wg0~", "up\n", 0o600);
    write(&d, "hostname.em0", "up\n", 0o600);
    let args: Vec<String> = vec!["-n".into(), "-d".into(), d.display().to_string()];
    let o = parse_args(&args, None).unwrap();
    let mut f = Fake::root();
    let (code, out, err, sh) = netstart(&o, &mut f);
    let want = format!(
        "{{ wgifconfig wg0 || wgifconfig wg0 create; }}
{{ wgifconfig wg1 || wgifconfig wg1 create; }}
wgifconfig wg0 wgkey {K1} wgport 51820
wgifconfig wg0 wgpeer {K2} wgendpoint 203.0.113.5 51820 wgaip 10.0.0.2/32 wgpka 25 wgdescr office
wgifconfig wg0 inet 10.0.0.1 netmask 255.255.255.0
wgifconfig wg0 inet alias 10.0.0.9 netmask 255.255.255.255
wgifconfig wg0 inet6 fd00::1 prefixlen 64 fd00::2
wgifconfig wg0 description \"my tunnel\"
echo wg0 is up > /dev/null
wgifconfig wg0 up
wgifconfig wg1 up
"
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, want);
    assert!(sh.is_empty());
    assert!(f.log.is_empty(), "{:?}", f.log);
}

#[test]
#[ignore = "needs root: wgnetstart reads only hostname.if files root owns"]
fn netstart_runs_creates_first_and_fixes_permissions() {
    use std::os::unix::fs::MetadataExt;
    common::require_root("fixing the permissions chowns the file to root");
    let d = tempdir("run");
    write(&d, "hostname.wg0", HN_WG0, 0o644);
    write(&d, "hostname.wg1", "mtu 1300\n", 0o600);
    let o = Options {
        print_only: false,
        dir: d.clone(),
        ifaces: vec!["wg0".into(), "wg1".into()],
    };
    let mut f = Fake::root();
    let (code, out, err, sh) = netstart(&o, &mut f);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    let p0 = d.join("hostname.wg0");
    assert_eq!(
        err,
        format!(
            "WARNING: {} is insecure, fixing permissions.\n",
            p0.display()
        )
    );
    let md = std::fs::metadata(&p0).unwrap();
    assert_eq!(md.mode() & 0o777, 0o640);
    assert_eq!((md.uid(), md.gid()), (0, 0), "the test runs as root");
    // Both created before anything is configured.
    assert_eq!(&f.acts()[..2], ["create wg0", "create wg1"]);
    assert_eq!(sh, vec!["echo wg0 is up > /dev/null"]);
    let wg0 = &f.ifs["wg0"];
    assert_eq!(wg0.sets.len(), 2);
    assert_eq!(wg0.sets[1].peers[0].pka, Some(25));
    assert_eq!(wg0.info.description, "my tunnel");
    assert_eq!(wg0.info.flags & iff::UP, iff::UP);
    let addrs: Vec<String> = wg0
        .info
        .inet
        .iter()
        .map(|a| format!("{}/{}", a.addr, a.prefixlen))
        .collect();
    assert_eq!(addrs, vec!["10.0.0.1/24", "10.0.0.9/32"]);
    assert_eq!(f.ifs["wg1"].info.mtu, 1300);
    // A second run: files are now secure, interfaces exist.
    f.log.clear();
    let (code, _, err, _) = netstart(&o, &mut f);
    assert_eq!((code, err.as_str()), (0, ""));
    // `wgifconfig wgN || wgifconfig wgN create`: both exist, neither is created.
    assert!(
        !f.acts().iter().any(|a| a.starts_with("create ")),
        "{:?}",
        f.log
    );
}

#[test]
#[ignore = "needs root: wgnetstart reads only hostname.if files root owns"]
fn netstart_reports_failed_lines() {
    common::require_root("wgnetstart reads only hostname.if files root owns");
    let d = tempdir("fail");
    write(&d, "hostname.wg2", "wgport 70000\nup\n", 0o600);
    let o = Options {
        print_only: false,
        dir: d.clone(),
        ifaces: vec![],
    };
    let mut f = Fake::root();
    let (code, _, err, _) = netstart(&o, &mut f);
    assert_eq!(code, 1);
    assert_eq!(err, "wgifconfig: wgport: 70000, too large\n");
    // The next line still ran.
    assert_eq!(f.ifs["wg2"].info.flags & iff::UP, iff::UP);
    assert_eq!(
        parse_args(&["em0".to_string()], None).unwrap_err(),
        "em0: not a wg interface name"
    );
    // Names that are not letters then digits are skipped without a word, as by
    // netstart's ifstart.
    let args: Vec<String> = ["hostname.wg0~", "wg0.bak", "*", "wg", "wg3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(parse_args(&args, None).unwrap().ifaces, vec!["wg3"]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Any command line: no panic, exit status 0 or 1, and every message line
    /// carries the program name or is a status/usage/no-such-interface line.
    /// (`-` alone once found that the usage's `--prometheus` line was not allowed.)
    #[test]
    fn any_command_line_is_handled(words in proptest::collection::vec(
        proptest::prop_oneof![
            proptest::strategy::Just("wg0".to_string()),
            proptest::strategy::Just("wgpeer".to_string()),
            proptest::strategy::Just(K1.to_string()),
            proptest::strategy::Just("wgaip".to_string()),
            proptest::strategy::Just("wgendpoint".to_string()),
            proptest::strategy::Just("up".to_string()),
            proptest::strategy::Just("create".to_string()),
            proptest::strategy::Just("destroy".to_string()),
            proptest::strategy::Just("inet6".to_string()),
            proptest::strategy::Just("delete".to_string()),
            "[a-z0-9./:-]{0,10}",
        ], 0..7)) {
        let mut f = Fake::root().with("wg0");
        let o = go(&mut f, &words.join(" "));
        proptest::prop_assert!(o.code == 0 || o.code == 1);
        for l in o.err.lines() {
            proptest::prop_assert!(
                l.starts_with("wgifconfig: ") || l.ends_with(": no such interface")
                    || l.starts_with("usage: ") || l.starts_with("\t\t")
                    // The usage's second synopsis line, under the first.
                    || l == "       wgifconfig --prometheus",
                "{}", l
            );
        }
    }
}

#[test]
fn bad_argument_is_named_even_when_wgd_is_stopped() {
    let mut f = Fake::root();
    f.down = true;
    let o = go(&mut f, "wg0 wgport 70000");
    assert_eq!(
        (o.code, o.err.as_str()),
        (1, "wgifconfig: wgport: 70000, too large\n")
    );
    let o = go(&mut f, "wg0 wgport 7");
    assert_eq!(o.err, format!("wgifconfig: {NOT_RUNNING}\n"));
}

#[test]
fn a_lone_dash_gets_the_usage() {
    let mut f = Fake::root().with("wg0");
    let o = go(&mut f, "-");
    assert_eq!(o.code, 1);
    let lines: Vec<&str> = o.err.lines().collect();
    assert!(lines[0].starts_with("usage: wgifconfig "), "{lines:?}");
    assert!(
        lines.contains(&"       wgifconfig --prometheus"),
        "{lines:?}"
    );
}
