//! The private socket directory and QEMU's connections to it.

use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Instant;

/// Why QEMU did not connect.
pub(crate) enum AcceptError {
    /// QEMU exited first.
    Exited,
    /// The deadline passed.
    Timeout,
    /// A socket error.
    Io(std::io::Error),
}

/// A listening socket QEMU connects to as a client.
pub(crate) struct Listener {
    pub listener: UnixListener,
}

impl Listener {
    /// Listen on a new socket at `path`, without blocking.
    pub fn bind(path: &Path) -> std::io::Result<Listener> {
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Listener { listener })
    }
}

/// Accept one connection on each listener, while watching that QEMU is alive.
pub(crate) fn accept_all(
    listeners: &[&Listener],
    process: &crate::process::Reaper,
    deadline: Instant,
) -> Result<Vec<UnixStream>, AcceptError> {
    let mut accepted: Vec<Option<UnixStream>> = listeners.iter().map(|_| None).collect();
    loop {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        for (i, l) in listeners.iter().enumerate() {
            if accepted[i].is_none() {
                fds.push(libc::pollfd {
                    fd: l.listener.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        if fds.is_empty() {
            return Ok(accepted.into_iter().flatten().collect());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(AcceptError::Timeout);
        }
        let wait_ms = (deadline - now).as_millis().min(20) as libc::c_int;
        // SAFETY: fds is a valid array of pollfd for its length.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(AcceptError::Io(err));
            }
        }
        for (i, l) in listeners.iter().enumerate() {
            if accepted[i].is_some() {
                continue;
            }
            match l.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).map_err(AcceptError::Io)?;
                    accepted[i] = Some(stream);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(AcceptError::Io(e)),
            }
        }
        if accepted.iter().all(Option::is_some) {
            return Ok(accepted.into_iter().flatten().collect());
        }
        if process.status().is_some() {
            return Err(AcceptError::Exited);
        }
    }
}
