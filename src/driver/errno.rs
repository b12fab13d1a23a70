//! The errno a reply carries for a failure inside wgd: control-socket replies and the
//! configuration protocol's `errno=` both answer with Linux's numbers, and an error that
//! is not a refused system call has none of its own.

use std::io;

/// The errno of `e`, or `EIO` when `e` did not come from the OS (a failure inside wgd,
/// reported to the caller as an input/output error rather than as success).
pub fn of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_keeps_its_number_and_others_are_eio() {
        assert_eq!(
            of(&io::Error::from_raw_os_error(libc::EADDRINUSE)),
            libc::EADDRINUSE
        );
        assert_eq!(of(&io::Error::from(nix::errno::Errno::EPERM)), libc::EPERM);
        assert_eq!(of(&io::Error::other("no errno")), libc::EIO);
    }
}
