//! A network's hub: one UNIX datagram socket per machine, a thread per
//! socket, every frame forwarded to every other machine and, with a
//! capture, written to a pcap file.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::pcap::PcapWriter;

/// How often a port's thread looks whether the hub is stopping.
const STOP_POLL: Duration = Duration::from_millis(200);

/// How long a port waits for a machine whose socket is full (a paused
/// guest's QEMU stops reading) before the frame is dropped: the hub never
/// stalls for long behind one machine.
const SEND_PATIENCE: Duration = Duration::from_secs(1);

/// The largest frame a port takes (QEMU's socket backends send whole frames).
const MAX_FRAME: usize = 65536;

/// A machine's port: the hub's socket, and where the machine's QEMU listens.
struct Port {
    socket: UnixDatagram,
    path: PathBuf,
    machine: PathBuf,
}

/// What the port threads share.
struct Shared {
    name: String,
    ports: Mutex<Vec<Arc<Port>>>,
    capture: Option<Mutex<PcapWriter>>,
    frames: AtomicU64,
    stopping: AtomicBool,
}

/// A running hub (threads of this process: it ends with the test process,
/// whatever ends it).
pub struct Hub {
    number: u8,
    capture_path: Option<PathBuf>,
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Hub {
    /// Start the hub of network `name`, number `number`, capturing into
    /// `capture` when given.
    pub fn start(name: &str, number: u8, capture: Option<PathBuf>) -> std::io::Result<Hub> {
        let writer = match &capture {
            Some(path) => Some(Mutex::new(PcapWriter::create(path)?)),
            None => None,
        };
        Ok(Hub {
            number,
            capture_path: capture,
            shared: Arc::new(Shared {
                name: name.to_owned(),
                ports: Mutex::new(Vec::new()),
                capture: writer,
                frames: AtomicU64::new(0),
                stopping: AtomicBool::new(false),
            }),
            threads: Mutex::new(Vec::new()),
        })
    }

    /// The network's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The network's number.
    pub fn number(&self) -> u8 {
        self.number
    }

    /// The capture file, if any.
    pub fn capture(&self) -> Option<&Path> {
        self.capture_path.as_deref()
    }

    /// Open a port: the hub binds `hub` and sends the machine's frames to
    /// `machine` (the socket its QEMU binds).
    pub fn add_port(&self, hub: &Path, machine: &Path) -> std::io::Result<()> {
        let socket = UnixDatagram::bind(hub)?;
        socket.set_read_timeout(Some(STOP_POLL))?;
        socket.set_write_timeout(Some(SEND_PATIENCE))?;
        let port = Arc::new(Port {
            socket,
            path: hub.to_path_buf(),
            machine: machine.to_path_buf(),
        });
        self.shared
            .ports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&port));
        let shared = Arc::clone(&self.shared);
        let thread = std::thread::Builder::new()
            .name(format!("hub-{}", self.shared.name))
            .spawn(move || forward(&shared, &port))?;
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(thread);
        Ok(())
    }

    /// Whether a port's hub socket is `hub`.
    pub fn has_port(&self, hub: &Path) -> bool {
        self.shared
            .ports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|p| p.path == hub)
    }

    /// Stop the threads; the frames that passed and the capture file.
    pub fn stop(mut self) -> (u64, Option<PathBuf>) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for thread in threads {
            let _ = thread.join();
        }
        if let Some(capture) = &self.shared.capture {
            let _ = capture
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .flush();
        }
        (
            self.shared.frames.load(Ordering::SeqCst),
            self.capture_path.take(),
        )
    }
}

/// A port's loop: each frame from its machine goes to the capture and to
/// every other port's machine (a machine not listening yet, or gone, misses
/// it, as on a cable not plugged in).
fn forward(shared: &Shared, from: &Arc<Port>) {
    let mut buf = vec![0u8; MAX_FRAME];
    while !shared.stopping.load(Ordering::SeqCst) {
        let n = match from.socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        let frame = &buf[..n];
        shared.frames.fetch_add(1, Ordering::SeqCst);
        let ports: Vec<Arc<Port>> = shared
            .ports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(capture) = &shared.capture {
            let _ = capture
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write(frame);
        }
        for port in ports.iter().filter(|p| !Arc::ptr_eq(p, from)) {
            let _ = port.socket.send_to(frame, &port.machine);
        }
    }
}
