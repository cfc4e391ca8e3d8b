//! The Linux system calls std does not wrap: poll, process groups, pidfds, mknod.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// `poll(2)` on `fds` (entries with a negative fd are ignored) for at most
/// `timeout` (`None`: no limit). An interrupted call returns as if it timed out.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<()> {
    let timeout_ms = match timeout {
        None => -1,
        // Round up so a wake-up never comes before the instant it waits for.
        Some(t) => i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX),
    };
    let nfds = libc::nfds_t::try_from(fds.len()).unwrap_or(libc::nfds_t::MAX);
    // SAFETY: `fds` is a valid, exclusively borrowed array of `nfds` pollfd structs.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), nfds, timeout_ms) };
    if rc < 0 {
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    Ok(())
}

/// A pollfd asking for `events` on `fd`, or an ignored entry for `None`.
pub(crate) fn pollfd(fd: Option<BorrowedFd<'_>>, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: fd.map_or(-1, |fd| fd.as_raw_fd()),
        events,
        revents: 0,
    }
}

/// `SIGKILL` to every process in the process group `pgid`; errors (the group is
/// already gone) are ignored.
pub(crate) fn kill_process_group(pgid: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

/// A pidfd for `pid` (Linux 5.3+): readable once the process exits.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::c_long::from(pid), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Set `O_NONBLOCK` on `fd`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl(2) on a descriptor we borrow, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Create the character device node `path` (mode 0600) for `major:minor`.
pub(crate) fn mknod_char(path: &Path, major: u32, minor: u32) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let dev = libc::makedev(major, minor);
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o600, dev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `RNDADDENTROPY`, `_IOW('R', 0x03, int[2])` (the generic ioctl encoding;
/// powerpc puts the write direction in a different bit).
#[cfg(not(any(target_arch = "powerpc", target_arch = "powerpc64")))]
const RNDADDENTROPY: libc::c_ulong = 0x4008_5203;
#[cfg(any(target_arch = "powerpc", target_arch = "powerpc64"))]
const RNDADDENTROPY: libc::c_ulong = 0x8008_5203;
/// `RNDRESEEDCRNG`, `_IO('R', 0x07)`: reseed the kernel's generator now.
const RNDRESEEDCRNG: libc::c_ulong = 0x5207;

/// Why a restored guest's identity could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RefreshError {
    #[error("cannot set the clock")]
    SetClock(#[source] io::Error),
    #[error("cannot open /dev/urandom")]
    OpenUrandom(#[source] io::Error),
    #[error("cannot write to /dev/urandom")]
    WriteUrandom(#[source] io::Error),
}

impl RefreshError {
    /// The message sent to the host: what failed and why.
    pub(crate) fn message(&self) -> String {
        match std::error::Error::source(self) {
            Some(cause) => format!("{self}: {cause}"),
            None => self.to_string(),
        }
    }
}

/// Give a restored guest its own identity: the clock set to `unix_time_ns`
/// and `seed` mixed into the random pool, credited as entropy, then the
/// generator reseeded (so two guests restored from one state draw different
/// bytes at once). Without the privilege or the ioctls (an old kernel) the
/// seed is written to `/dev/urandom` (mixed in, not credited). The error
/// says what failed, for the host's log.
pub(crate) fn refresh_identity(unix_time_ns: u64, seed: &[u8]) -> Result<(), RefreshError> {
    let time = libc::timespec {
        tv_sec: libc::time_t::try_from(unix_time_ns / 1_000_000_000).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::try_from(unix_time_ns % 1_000_000_000).unwrap_or(0),
    };
    // SAFETY: `time` is a valid timespec for the duration of the call.
    if unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &time) } != 0 {
        return Err(RefreshError::SetClock(io::Error::last_os_error()));
    }
    let random = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/urandom")
        .map_err(RefreshError::OpenUrandom)?;
    // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
    let mut info: Vec<u8> = Vec::with_capacity(8 + seed.len());
    let bits = i32::try_from(seed.len() * 8).unwrap_or(i32::MAX);
    let size = i32::try_from(seed.len()).unwrap_or(i32::MAX);
    info.extend_from_slice(&bits.to_ne_bytes());
    info.extend_from_slice(&size.to_ne_bytes());
    info.extend_from_slice(seed);
    info.resize(8 + seed.len().div_ceil(4) * 4, 0);
    let fd = random.as_raw_fd();
    // SAFETY: `info` holds a rand_pool_info header followed by `size` bytes.
    let credited = unsafe { libc::ioctl(fd, RNDADDENTROPY as _, info.as_ptr()) } == 0
        // SAFETY: RNDRESEEDCRNG takes no argument.
        && unsafe { libc::ioctl(fd, RNDRESEEDCRNG as _) } == 0;
    if !credited {
        use std::io::Write;
        (&random)
            .write_all(seed)
            .map_err(RefreshError::WriteUrandom)?;
    }
    Ok(())
}
