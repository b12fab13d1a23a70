//! Network namespaces: OpenBSD's routing domains. `rdomain N` is the namespace
//! `<prefix>N` under /run/netns, created the way `ip netns add` does (a bind mount of
//! a namespace file), so `ip netns exec rdomainN …` works on it. The daemon's own
//! thread never changes namespace: work inside another one runs on a short-lived
//! thread that has joined it ([`run_in`]).
//!
//! A routing domain lives while an interface is in it, as on OpenBSD: wgd holds the
//! namespace of every rdomain one of its interfaces (or wgrtable sockets) uses, and if
//! its name is deleted meanwhile (`ip netns del`), publishes it again under the same
//! name the next time the rdomain is used; a name taken by another namespace meanwhile
//! is refused (EBUSY) rather than mixed up. At start, names of the prefix left by a
//! wgd that was killed are adopted when they hold nothing but `lo` (removed at exit
//! like the ones wgd creates), and names whose mount is gone are removed.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
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

    /// Whether both handles are the same namespace.
    pub fn same(&self, other: &Netns) -> bool {
        match (self.0.metadata(), other.0.metadata()) {
            (Ok(a), Ok(b)) => {
                use std::os::unix::fs::MetadataExt;
                (a.dev(), a.ino()) == (b.dev(), b.ino())
            }
            _ => false,
        }
    }

    pub fn try_clone(&self) -> io::Result<Netns> {
        self.0.try_clone().map(Netns)
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Runs `f` on a thread inside `ns` and returns its result.
pub fn run_in<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            Ok(f())
        })
        .join()
        .map_err(|_| io::Error::other("namespace worker panicked"))?
    })
}

/// Names, creates, opens and removes the daemon's rdomain namespaces.
pub struct NetnsManager {
    prefix: String,
    /// The rdomains in use, held open (see the module's text).
    held: RefCell<HashMap<u32, Netns>>,
}

impl NetnsManager {
    pub fn new(prefix: &str) -> NetnsManager {
        NetnsManager {
            prefix: prefix.to_string(),
            held: RefCell::new(HashMap::new()),
        }
    }

    /// Keeps rdomain `n` as `ns` while it is in use.
    pub fn hold(&self, n: u32, ns: &Netns) -> io::Result<()> {
        if !self.held.borrow().contains_key(&n) {
            let dup = ns.try_clone()?;
            self.held.borrow_mut().insert(n, dup);
        }
        Ok(())
    }

    /// Lets go of the rdomains `in_use` says no interface uses any more.
    pub fn release_unused(&self, in_use: impl Fn(u32) -> bool) {
        self.held.borrow_mut().retain(|n, _| in_use(*n));
    }

    /// The rdomain numbers of the names under /run/netns with this prefix.
    fn listed(&self) -> Vec<u32> {
        let Ok(dir) = fs::read_dir(NETNS_DIR) else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let n: u32 = name.strip_prefix(&self.prefix)?.parse().ok()?;
                (1..=255).contains(&n).then_some(n)
            })
            .collect()
    }

    /// At start: removes names of this prefix whose mount is gone and returns the
    /// rdomains left by an earlier wgd that hold nothing but `lo` (to be removed at
    /// exit like the ones this wgd creates).
    pub fn adopt_leftovers(&self) -> Vec<u32> {
        let mut adopted = Vec::new();
        for n in self.listed() {
            let path = self.path(n);
            if !is_netns_mount(&path) {
                let _ = fs::remove_file(&path);
            } else if self.is_empty(n).unwrap_or(false) {
                adopted.push(n);
            }
        }
        adopted.sort_unstable();
        adopted
    }

    /// Publishes a held namespace under its name again (like `ip netns attach`).
    fn republish(&self, n: u32, ns: &Netns) -> io::Result<()> {
        prepare_netns_dir()?;
        let path = self.path(n);
        File::create(&path)?;
        let src = format!("/proc/self/fd/{}", ns.0.as_raw_fd());
        mount(
            Some(src.as_str()),
            &path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| {
            let _ = fs::remove_file(&path);
            io::Error::from(e)
        })
    }

    pub fn name(&self, n: u32) -> String {
        format!("{}{}", self.prefix, n)
    }

    pub fn path(&self, n: u32) -> PathBuf {
        Path::new(NETNS_DIR).join(self.name(n))
    }

    /// Opens namespace `n` if it exists (published again if it is held and its name
    /// was deleted; EBUSY if its name now names another namespace).
    pub fn open(&self, n: u32) -> io::Result<Option<Netns>> {
        let named = match Netns::open(&self.path(n)) {
            Ok(ns) if is_netns_mount(&self.path(n)) => Some(ns),
            Ok(_) => None,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let held = self.held.borrow();
        match (named, held.get(&n)) {
            (Some(ns), Some(h)) if ns.same(h) => Ok(Some(ns)),
            (Some(_), Some(_)) => Err(io::Error::from_raw_os_error(libc::EBUSY)),
            (Some(ns), None) => Ok(Some(ns)),
            (None, Some(h)) => {
                self.republish(n, h)?;
                h.try_clone().map(Some)
            }
            (None, None) => Ok(None),
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
            unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &p,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(io::Error::from)
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
        .map_err(io::Error::from)?;
        shared(MsFlags::MS_SHARED | MsFlags::MS_REC).map_err(io::Error::from)?;
    }
    Ok(())
}
