//! Starting QEMU: the command line ([`MachineConfig::command_line`]) run with
//! its sockets bound, its output pumped into captures, and its monitor,
//! console and extra sockets connected.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::process::{Child, Stdio};
use std::time::Instant;

use kennel_qmp::Qmp;

use crate::accel::AccelChoice;
use crate::binary::QemuBinary;
use crate::capture::Capture;
use crate::command_line::{Connection, QemuCommand, QemuSetup};
use crate::config::MachineConfig;
use crate::error::MachineError;
use crate::install::QemuInstall;
use crate::logsink::LogSink;
use crate::machine::Machine;
use crate::private_dir::{private_tempdir, SOCKET_DIR_PREFIX};
use crate::process::Reaper;
use crate::sockets::{accept_all, AcceptError, Listener};

impl MachineConfig {
    /// Start QEMU and connect to it.
    ///
    /// Returns once QEMU has connected its monitor (and console) and QMP
    /// capabilities are negotiated. A QEMU that exits or does not connect in time
    /// gives [`MachineError::LaunchFailed`] with its exit status, output and the
    /// exact command line. With `qmp = false`, returns right after starting.
    pub fn launch(&self) -> Result<Machine, MachineError> {
        let binary = self.resolve_binary()?;
        let accel = self.choose_accel(&binary.path);
        let sockdir = private_tempdir(SOCKET_DIR_PREFIX).map_err(MachineError::SocketDir)?;
        let command = self.command_line(&QemuSetup {
            binary: &binary.path,
            install: &QemuInstall::of(&binary.path),
            accel: &accel.accel,
            socket_dir: sockdir.path(),
        });
        let connections = self.connections();
        let listeners = connections
            .iter()
            .map(|c| Listener::bind(&c.path(sockdir.path())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(MachineError::SocketDir)?;
        // swtpm first, from this thread: QEMU connects to its socket at once.
        let swtpm = match &self.tpm {
            Some(tpm) => Some(tpm.start(
                sockdir.path(),
                self.launch_timeout.min(crate::tpm::SWTPM_START_LIMIT),
            )?),
            None => None,
        };
        let child = spawn(&command)?;
        let mut machine = self.started(child, command.to_string(), binary, accel, sockdir);
        machine.swtpm = swtpm;
        if listeners.is_empty() {
            return Ok(machine);
        }
        let deadline = Instant::now() + self.launch_timeout;
        let refs: Vec<&Listener> = listeners.iter().collect();
        let streams = match accept_all(&refs, &machine.process, deadline) {
            Ok(streams) => streams,
            Err(AcceptError::Exited) if !self.qmp => return Ok(machine),
            Err(e) => return Err(machine.launch_failed(self.not_connected(e))),
        };
        // QEMU has connected: it runs, under the wrapper.
        if !self.wrapper.is_empty() {
            machine.wrapped =
                crate::process::descendant_running(machine.process.pid(), &machine.binary.path);
        }
        self.connect(machine, connections.into_iter().zip(streams), deadline)
    }

    /// The machine of a QEMU just spawned as `child`, its stdout and stderr
    /// pumped into captures (and the QEMU log).
    fn started(
        &self,
        mut child: Child,
        cmdline: String,
        binary: QemuBinary,
        accel: AccelChoice,
        sockdir: tempfile::TempDir,
    ) -> Machine {
        let output = Capture::new(format!("output of {}", self.name), Vec::new());
        let stdout = Capture::new(format!("stdout of {}", self.name), Vec::new());
        let stderr = Capture::new(format!("stderr of {}", self.name), Vec::new());
        if let Some(out) = child.stdout.take() {
            let captures = vec![stdout.clone(), output.clone()];
            pump(out, captures, self.qemu_log.clone());
        }
        if let Some(err) = child.stderr.take() {
            let captures = vec![stderr.clone(), output.clone()];
            pump(err, captures, self.qemu_log.clone());
        }
        Machine {
            name: self.name.clone(),
            process: Reaper::spawn(child),
            wrapped: None,
            exit: None,
            qmp: None,
            console: None,
            console_in: None,
            sockets: Vec::new(),
            stdout,
            stderr,
            output,
            cmdline,
            binary,
            accel,
            sockdir,
            vnc: self.has_vnc(),
            swtpm: None,
        }
    }

    /// Why QEMU did not connect, for [`MachineError::LaunchFailed`].
    fn not_connected(&self, e: AcceptError) -> String {
        match e {
            AcceptError::Exited => "QEMU exited before connecting its monitor".to_string(),
            AcceptError::Timeout => format!(
                "QEMU did not connect its monitor within {:?}",
                self.launch_timeout
            ),
            AcceptError::Io(e) => format!("socket error while waiting for QEMU: {e}"),
        }
    }

    /// Take over the streams QEMU connected: the console pumped into its
    /// capture, the extra sockets kept for [`Machine::take_socket`], then the
    /// QMP handshake by `deadline`.
    fn connect(
        &self,
        mut machine: Machine,
        connected: impl Iterator<Item = (Connection, UnixStream)>,
        deadline: Instant,
    ) -> Result<Machine, MachineError> {
        let mut qmp = None;
        for (connection, stream) in connected {
            match connection {
                Connection::Qmp => qmp = Some(stream),
                Connection::Console => {
                    let capture = Capture::new(
                        format!("console of {}", self.name),
                        self.console_fail.clone(),
                    );
                    machine.console_in = stream.try_clone().ok();
                    pump(stream, vec![capture.clone()], self.console_log.clone());
                    machine.console = Some(capture);
                }
                Connection::Chardev(id) => machine.sockets.push((id, stream)),
            }
        }
        if let Some(stream) = qmp {
            match Qmp::handshake(stream, self.transcript.clone(), deadline) {
                Ok(q) => machine.qmp = Some(q),
                Err(e) => return Err(machine.launch_failed(format!("QMP handshake failed: {e}"))),
            }
        }
        Ok(machine)
    }
}

/// Start `command` with its output piped and the parent-death signal set.
fn spawn(command: &QemuCommand) -> Result<Child, MachineError> {
    let mut cmd = command.command();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    crate::process::kill_with_parent(&mut cmd);
    cmd.spawn().map_err(|source| MachineError::Spawn {
        binary: command.program.clone(),
        source,
    })
}

/// Read a stream to its end on a thread, feeding captures and a log.
fn pump(mut src: impl Read + Send + 'static, captures: Vec<Capture>, log: LogSink) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    log.write(&buf[..n]);
                    for c in &captures {
                        c.push(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        for c in &captures {
            c.close();
        }
    });
}
