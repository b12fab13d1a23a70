//! Network namespaces: OpenBSD's routing domains. `rdomain N` is the namespace
//! `<prefix>N` under /run/netns, created the way `ip netns add` does (a bind mount of
//! a namespace file), so `ip netns exec rdomainN …` works on it. The daemon's own
//! thread never changes namespace: work inside another one runs on a short-lived
//! thread that has joined it ([`run_in`]).

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

const NETNS_DIR: &str = "/run/netns";

/// An open network namespace.
pub struct Netns(File);

impl Netns {
    pub fn open(path: &Path) -> io::Result<Netns> {
        File::open(path).map(Netns)
    }

    /// The namespace of the calling thread.
    pub fn current() -> io::Result<Netns> {
        Netns::open(Path::new("/proc/thread-self/ns/net"))
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Runs `f` on a thread inside `ns` and returns its result.
pub fn run_in<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(errno)?;
            Ok(f())
        })
        .join()
        .map_err(|_| io::Error::other("namespace worker panicked"))?
    })
}

/// Names, creates, opens and removes the daemon's rdomain namespaces.
#[derive(Clone, Debug)]
pub struct NetnsManager {
    prefix: String,
}

impl NetnsManager {
    pub fn new(prefix: &str) -> NetnsManager {
        NetnsManager {
            prefix: prefix.to_string(),
        }
    }

    pub fn name(&self, n: u32) -> String {
        format!("{}{}", self.prefix, n)
    }

    pub fn path(&self, n: u32) -> PathBuf {
        Path::new(NETNS_DIR).join(self.name(n))
    }

    /// Opens namespace `n` if it exists.
    pub fn open(&self, n: u32) -> io::Result<Option<Netns>> {
        match Netns::open(&self.path(n)) {
            Ok(ns) if is_netns_mount(&self.path(n)) => Ok(Some(ns)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens namespace `n`, creating it like `ip netns add` when it is missing.
    /// Returns whether it was created.
    pub fn ensure(&self, n: u32) -> io::Result<(Netns, bool)> {
        if let Some(ns) = self.open(n)? {
            return Ok((ns, false));
        }
        prepare_netns_dir()?;
        let path = self.path(n);
        File::create(&path)?;
        let p = path.clone();
        let made = std::thread::spawn(move || -> io::Result<()> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(errno)?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &p,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(errno)
        })
        .join()
        .map_err(|_| io::Error::other("namespace creator panicked"))?;
        if let Err(e) = made {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok((Netns::open(&path)?, true))
    }

    /// Removes namespace `n` like `ip netns del` (its interfaces die with it, unless
    /// something else still holds the namespace).
    pub fn remove(&self, n: u32) -> io::Result<()> {
        let path = self.path(n);
        let _ = umount2(&path, MntFlags::MNT_DETACH);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether namespace `n` holds no interface but `lo`.
    pub fn is_empty(&self, n: u32) -> io::Result<bool> {
        let Some(ns) = self.open(n)? else {
            return Ok(true);
        };
        run_in(&ns, || {
            interface_names().map(|v| v.iter().all(|n| n == "lo"))
        })?
    }
}

/// The interfaces of the calling thread's namespace.
pub fn interface_names() -> io::Result<Vec<String>> {
    let text = fs::read_to_string("/proc/thread-self/net/dev")?;
    Ok(text
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect())
}

fn is_netns_mount(path: &Path) -> bool {
    let Ok(mounts) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    mounts.lines().any(|l| l.split(' ').nth(4) == Some(&*want))
}

/// Makes /run/netns a shared mount point, as `ip netns add` does, so namespace
/// mounts made here are visible to every mount namespace.
fn prepare_netns_dir() -> io::Result<()> {
    fs::create_dir_all(NETNS_DIR)?;
    let shared = |flags| mount(None::<&str>, NETNS_DIR, None::<&str>, flags, None::<&str>);
    if shared(MsFlags::MS_SHARED | MsFlags::MS_REC).is_err() {
        mount(
            Some(NETNS_DIR),
            NETNS_DIR,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(errno)?;
        shared(MsFlags::MS_SHARED | MsFlags::MS_REC).map_err(errno)?;
    }
    Ok(())
}
