//! A running (or exited) QEMU process: its monitor, console and output, and
//! its lifecycle (shutdown, kill, wait for exit).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use kennel_qmp::Qmp;

use crate::accel::AccelChoice;
use crate::binary::QemuBinary;
use crate::capture::Capture;
use crate::command_line::{ATTACH_HMP, ATTACH_QMP};
use crate::error::MachineError;
use crate::exit::ExitInfo;
use crate::process::Reaper;

/// A running (or exited) QEMU process.
///
/// Dropping it kills QEMU if it still runs; use [`Machine::shutdown`] for a clean stop.
pub struct Machine {
    pub(crate) name: String,
    pub(crate) process: Reaper,
    /// QEMU's own process when it runs under a wrapper (found after launch).
    pub(crate) wrapped: Option<u32>,
    pub(crate) exit: Option<ExitInfo>,
    pub(crate) qmp: Option<Qmp>,
    pub(crate) console: Option<Capture>,
    pub(crate) console_in: Option<UnixStream>,
    /// The extra sockets QEMU connected, by id, until taken.
    pub(crate) sockets: Vec<(String, UnixStream)>,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    pub(crate) output: Capture,
    /// The exact command line, shell-quoted.
    pub(crate) cmdline: String,
    pub(crate) binary: QemuBinary,
    pub(crate) accel: AccelChoice,
    /// The private socket folder, removed with the machine.
    pub(crate) sockdir: tempfile::TempDir,
    /// It has a VNC server (a display), listening only when asked
    /// ([`Machine::vnc_listen`]).
    pub(crate) vnc: bool,
    /// The machine's TPM, killed after QEMU (its `Drop`).
    pub(crate) swtpm: Option<crate::tpm::Swtpm>,
}

impl Machine {
    /// The process id of the machine's swtpm, when it has a TPM.
    pub fn swtpm_pid(&self) -> Option<u32> {
        self.swtpm.as_ref().map(|s| s.pid())
    }

    /// The launch failed for `reason`: QEMU killed and reaped, its end and
    /// last output in the error.
    pub(crate) fn launch_failed(mut self, reason: String) -> MachineError {
        self.signal_all(libc::SIGKILL);
        let status = self
            .process
            .wait_until(Instant::now() + Duration::from_secs(5))
            .map(ExitInfo::from);
        self.exit = status;
        let end = Instant::now() + Duration::from_secs(2);
        self.stdout.wait_closed(end);
        self.stderr.wait_closed(end);
        let exit = status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into());
        let reason = crate::modules::foreign_module_abort(&self.stderr.text(), &self.binary.path)
            .unwrap_or(reason);
        MachineError::LaunchFailed {
            reason: format!(
                "{reason} ({exit}){}",
                crate::capture::on_one_line(&self.stderr.last_lines(3))
            ),
            cmdline: self.cmdline.clone(),
            exit,
            output: self.output.last_lines(20),
        }
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// QEMU's process id (under a wrapper, QEMU's own once found; else the
    /// wrapper's).
    pub fn pid(&self) -> u32 {
        self.wrapped.unwrap_or_else(|| self.process.pid())
    }

    /// The process kennel started: the wrapper's id when QEMU runs under one,
    /// else QEMU's.
    pub fn started_pid(&self) -> u32 {
        self.process.pid()
    }

    /// A signal to QEMU and, under a wrapper, to QEMU itself as well: a tracer
    /// killed first would leave its tracee running.
    fn signal_all(&self, sig: libc::c_int) {
        if let Some(pid) = self.wrapped {
            if crate::process::runs(pid, &self.binary.path) {
                crate::process::signal(pid, sig);
            }
        }
        self.process.signal(sig);
    }

    /// The sockets of the monitors a person may attach to while kennel drives
    /// the machine (QMP, HMP); `None` for a machine without a monitor.
    pub fn attach_sockets(&self) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
        self.qmp.as_ref()?;
        let dir = self.sockdir.path();
        Some((dir.join(ATTACH_QMP), dir.join(ATTACH_HMP)))
    }

    /// The exact command line, shell-quoted.
    pub fn cmdline(&self) -> &str {
        &self.cmdline
    }

    /// The binary that runs.
    pub fn binary(&self) -> &QemuBinary {
        &self.binary
    }

    /// The accelerator used and why.
    pub fn accel(&self) -> &AccelChoice {
        &self.accel
    }

    /// The QMP client; an error when the machine has none or QEMU has exited.
    pub fn qmp(&mut self) -> Result<&Qmp, MachineError> {
        if self.qmp.is_none() {
            return Err(MachineError::NoQmp {
                machine: self.name.clone(),
                why: "it was launched without a monitor".into(),
            });
        }
        if !self.is_running() {
            let why = self.exited_description();
            return Err(MachineError::NoQmp {
                machine: self.name.clone(),
                why,
            });
        }
        self.qmp.as_ref().ok_or_else(|| MachineError::NoQmp {
            machine: String::new(),
            why: String::new(),
        })
    }

    /// The QMP client even after QEMU has exited, for events it sent before it went.
    pub fn qmp_client(&self) -> Option<&Qmp> {
        self.qmp.as_ref()
    }

    /// "QEMU exited (exit code 1); last output: ..." for error messages.
    pub fn exited_description(&mut self) -> String {
        let exit = self
            .exit
            .map(|e| e.to_string())
            .unwrap_or_else(|| "still running".into());
        self.output
            .wait_closed(Instant::now() + Duration::from_millis(500));
        let mut text = format!(
            "QEMU has exited ({exit}){}; last output:\n{}",
            crate::capture::on_one_line(&self.stderr.last_lines(3)),
            self.output.last_lines(10)
        );
        if self.exit.is_some_and(|e| e.signal.is_some()) {
            text.push_str(&self.death_context());
        }
        text
    }

    /// For QEMU killed by a signal: the last QMP exchange and the console's
    /// tail, what it was doing when it died.
    fn death_context(&self) -> String {
        let mut text = String::new();
        if let Some(q) = &self.qmp {
            let last = q.transcript().last_lines(4);
            if !last.is_empty() {
                text.push_str("\nlast QMP exchange:\n");
                text.push_str(&last.join("\n"));
            }
        }
        if let Some(c) = &self.console {
            c.wait_closed(Instant::now() + Duration::from_millis(200));
            let tail = c.last_lines(10);
            if !tail.trim().is_empty() {
                text.push_str("\nlast console lines:\n");
                text.push_str(&tail);
            }
        }
        text
    }

    /// The connected stream of an extra socket (see [`MachineConfig::sockets`](crate::MachineConfig::sockets)), once.
    pub fn take_socket(&mut self, id: &str) -> Option<UnixStream> {
        let at = self.sockets.iter().position(|(i, _)| i == id)?;
        Some(self.sockets.remove(at).1)
    }

    /// The captured console.
    pub fn console(&self) -> Result<&Capture, MachineError> {
        self.console
            .as_ref()
            .ok_or_else(|| MachineError::NoConsole {
                machine: self.name.clone(),
            })
    }

    /// Write to the console.
    pub fn console_write(&mut self, bytes: &[u8]) -> Result<(), MachineError> {
        let name = self.name.clone();
        let w = self.console_in.as_mut().ok_or(MachineError::NoConsole {
            machine: name.clone(),
        })?;
        w.write_all(bytes).map_err(|source| MachineError::Io {
            machine: name,
            source,
        })
    }

    /// QEMU's stdout and stderr together, as captured so far.
    pub fn output(&self) -> &Capture {
        &self.output
    }

    /// QEMU's stdout.
    pub fn stdout(&self) -> &Capture {
        &self.stdout
    }

    /// QEMU's stderr.
    pub fn stderr(&self) -> &Capture {
        &self.stderr
    }

    /// Whether the QEMU process is still alive.
    pub fn is_running(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        match self.process.status() {
            Some(status) => {
                self.exit = Some(status.into());
                false
            }
            None => true,
        }
    }

    /// How QEMU ended, once it has.
    pub fn exit_info(&mut self) -> Option<ExitInfo> {
        self.is_running();
        self.exit
    }

    /// Wait for QEMU to exit by itself until `deadline`; output readers are
    /// given a moment to drain so that output checks see everything.
    pub fn wait_exit(&mut self, deadline: Instant) -> Result<ExitInfo, MachineError> {
        let start = Instant::now();
        let Some(status) = self.process.wait_until(deadline) else {
            return Err(MachineError::ExitTimeout {
                waited: start.elapsed(),
            });
        };
        self.exit = Some(status.into());
        if let Some(q) = &self.qmp {
            q.close();
        }
        let drain = Instant::now() + Duration::from_secs(2);
        self.stdout.wait_closed(drain);
        self.stderr.wait_closed(drain);
        if let Some(c) = &self.console {
            c.wait_closed(drain);
        }
        Ok(status.into())
    }

    /// Graceful stop: QMP `quit`, wait up to `grace`, then SIGKILL. Returns how QEMU ended.
    pub fn shutdown(&mut self, grace: Duration) -> Result<ExitInfo, MachineError> {
        if !self.is_running() {
            return self.wait_exit(Instant::now());
        }
        let deadline = Instant::now() + grace;
        match &self.qmp {
            Some(q) if !q.is_closed() => {
                // The reply may never come if QEMU exits first: that is fine.
                let _ = q.execute_raw("quit", None, deadline);
            }
            _ => self.signal_all(libc::SIGTERM),
        }
        match self.wait_exit(deadline) {
            Ok(exit) => Ok(exit),
            Err(MachineError::ExitTimeout { .. }) => self.kill(),
            Err(e) => Err(e),
        }
    }

    /// SIGKILL QEMU and reap it.
    pub fn kill(&mut self) -> Result<ExitInfo, MachineError> {
        if self.is_running() {
            self.signal_all(libc::SIGKILL);
        }
        self.wait_exit(Instant::now() + Duration::from_secs(10))
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if let Some(q) = &self.qmp {
            q.close();
        }
        if self.exit.is_none() || self.wrapped.is_some() {
            self.signal_all(libc::SIGKILL);
            self.process
                .wait_until(Instant::now() + Duration::from_secs(5));
        }
    }
}
