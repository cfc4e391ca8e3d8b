//! [`Channel`]: the agent's end of the byte stream, a virtio-serial port or a socket.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::protocol::{Frame, FrameDecoder};

/// How long to sleep before retrying a write the port refused for now.
const WRITE_RETRY: Duration = Duration::from_millis(5);

/// How long to retry opening a busy port or connecting to a socket not yet there.
const OPEN_PATIENCE: Duration = Duration::from_secs(10);

/// The agent's end of the channel to the host.
#[derive(Debug)]
pub struct Channel {
    file: File,
    decoder: FrameDecoder,
    description: String,
    reconnects: bool,
}

impl Channel {
    /// Open a virtio-serial port's character device (e.g. `/dev/vport1p1`).
    ///
    /// The host side may connect later: the first write waits for it. When the host
    /// disconnects, [`Channel::reconnects`] is true and [`serve`](super::serve) may be
    /// called again to wait for the next host.
    pub fn open_port(path: &Path) -> io::Result<Channel> {
        let file = retry(|| OpenOptions::new().read(true).write(true).open(path))
            .map_err(|e| with_context(e, &format!("cannot open {}", path.display())))?;
        Ok(Channel::new(file, path.display().to_string(), true))
    }

    /// Connect to a listening UNIX socket (for tests and debugging on the host).
    pub fn connect(path: &Path) -> io::Result<Channel> {
        let stream = retry(|| UnixStream::connect(path))
            .map_err(|e| with_context(e, &format!("cannot connect to {}", path.display())))?;
        Ok(Channel::new(
            File::from(OwnedFd::from(stream)),
            path.display().to_string(),
            false,
        ))
    }

    fn new(file: File, description: String, reconnects: bool) -> Channel {
        Channel {
            file,
            decoder: FrameDecoder::new(),
            description,
            reconnects,
        }
    }

    /// What the channel is (the port or socket path), for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether a host may connect again after disconnecting (a virtio-serial port).
    pub fn reconnects(&self) -> bool {
        self.reconnects
    }

    /// Forget any partial frame of a host that went away.
    pub fn reset(&mut self) {
        self.decoder = FrameDecoder::new();
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Write whole frames. A virtio-serial port refuses writes while no host is
    /// connected (`EAGAIN`, `ENXIO`, depending on the kernel): retry until it takes them.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.file.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENXIO) =>
                {
                    thread::sleep(WRITE_RETRY);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next frame, blocking; `None` when the host went away.
    pub(crate) fn recv(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.next_buffered()? {
                return Ok(Some(frame));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// One read into the frame buffer (call when poll says readable); false when
    /// the host went away.
    pub(crate) fn fill(&mut self) -> io::Result<bool> {
        loop {
            match self.decoder.read_from(&mut self.file) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// A complete frame already buffered.
    pub(crate) fn next_buffered(&mut self) -> io::Result<Option<Frame>> {
        self.decoder
            .next_frame()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// Retry `op` while the device is busy or the socket is not there yet.
fn retry<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let deadline = Instant::now() + OPEN_PATIENCE;
    loop {
        match op() {
            Err(e)
                if Instant::now() < deadline
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EBUSY | libc::ENOENT | libc::ECONNREFUSED | libc::ENXIO)
                    ) =>
            {
                thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// `error` with `context` in front, same kind.
pub(crate) fn with_context(error: io::Error, context: &str) -> io::Error {
    io::Error::new(error.kind(), format!("{context}: {error}"))
}
