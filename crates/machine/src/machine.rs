use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kennel_qmp::Qmp;

use crate::accel::{self, AccelChoice};
use crate::binary::{find_qemu, QemuBinary};
use crate::capture::Capture;
use crate::config::MachineConfig;
use crate::error::MachineError;
use crate::install::QemuInstall;
use crate::logsink::LogSink;
use crate::process::Reaper;
use crate::sockets::{accept_all, AcceptError, Listener};

/// The socket of the QMP monitor a person attaches to, in the machine's
/// private socket folder (QEMU listens on it).
pub const ATTACH_QMP: &str = "attach-qmp.sock";
/// The socket of the HMP monitor a person attaches to.
pub const ATTACH_HMP: &str = "attach-hmp.sock";

/// How a QEMU process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// Signal number, when a signal killed it.
    pub signal: Option<i32>,
}

impl From<ExitStatus> for ExitInfo {
    fn from(s: ExitStatus) -> ExitInfo {
        use std::os::unix::process::ExitStatusExt;
        ExitInfo {
            code: s.code(),
            signal: s.signal(),
        }
    }
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}"),
            (None, Some(s)) => match crate::process::signal_name(s) {
                Some(name) => write!(f, "killed by signal {s} ({name})"),
                None => write!(f, "killed by signal {s}"),
            },
            (None, None) => write!(f, "unknown exit"),
        }
    }
}

/// A running (or exited) QEMU process.
///
/// Dropping it kills QEMU if it still runs; use [`Machine::shutdown`] for a clean stop.
pub struct Machine {
    name: String,
    process: Reaper,
    /// QEMU's own process when it runs under a wrapper (found after launch).
    wrapped: Option<u32>,
    exit: Option<ExitInfo>,
    qmp: Option<Qmp>,
    console: Option<Capture>,
    console_in: Option<UnixStream>,
    sockets: Vec<(String, UnixStream)>,
    stdout: Capture,
    stderr: Capture,
    output: Capture,
    cmdline: String,
    binary: QemuBinary,
    accel: AccelChoice,
    _sockdir: tempfile::TempDir,
}

impl MachineConfig {
    /// The QEMU binary this config resolves to.
    pub fn resolve_binary(&self) -> Result<QemuBinary, MachineError> {
        find_qemu(
            &self.target_arch(),
            self.binary.as_deref(),
            self.qemu_option.as_deref(),
        )
    }

    /// The accelerator a launch by `binary` (resolved) uses, and why: `accel`
    /// as asked, or for `auto` KVM when its probe runs a guest, else TCG.
    pub fn choose_accel(&self, binary: &std::path::Path) -> crate::AccelChoice {
        accel::choose(
            &self.accel,
            &self.target_arch(),
            self.machine_type.as_deref(),
            binary,
        )
    }

    /// Start QEMU and connect to it.
    ///
    /// Returns once QEMU has connected its monitor (and console) and QMP
    /// capabilities are negotiated. A QEMU that exits or does not connect in time
    /// gives [`MachineError::LaunchFailed`] with its exit status, output and the
    /// exact command line. With `qmp = false`, returns right after starting.
    pub fn launch(&self) -> Result<Machine, MachineError> {
        let binary = self.resolve_binary()?;
        let accel = self.choose_accel(&binary.path);
        let sockdir = crate::private_dir::private_tempdir(crate::private_dir::SOCKET_DIR_PREFIX)
            .map_err(MachineError::SocketDir)?;
        let install = QemuInstall::of(&binary.path);
        let mut args: Vec<String> = vec!["-display".into(), "none".into()];
        args.extend(install.args());
        if !self.extra_args.iter().any(|a| a == "-vga") {
            args.extend(["-vga".into(), "none".into()]);
        }
        let mut listeners = Vec::new();
        if self.qmp {
            // A second QMP monitor and an HMP one, QEMU listening, for a person
            // to attach to (`kennel attach`) without disturbing kennel's
            // session. Before kennel's own monitor: tools that read only one
            // `-mon` (the fake QEMU) take the last.
            for (sock, mode) in [(ATTACH_QMP, "control"), (ATTACH_HMP, "readline")] {
                let id = sock.trim_end_matches(".sock");
                args.push("-chardev".into());
                args.push(format!(
                    "socket,id={id},path={},server=on,wait=off",
                    sockdir.path().join(sock).display()
                ));
                args.extend(["-mon".into(), format!("chardev={id},mode={mode}")]);
            }
        }
        if self.qmp {
            let l =
                Listener::bind(sockdir.path().join("qmp.sock")).map_err(MachineError::SocketDir)?;
            args.push("-chardev".into());
            args.push(format!("socket,id=mon,path={}", l.path.display()));
            args.extend(["-mon".into(), "chardev=mon,mode=control".into()]);
            listeners.push(l);
        }
        if self.console {
            let l = Listener::bind(sockdir.path().join("console.sock"))
                .map_err(MachineError::SocketDir)?;
            args.push("-chardev".into());
            args.push(format!("socket,id=console,path={}", l.path.display()));
            args.extend(["-serial".into(), "chardev:console".into()]);
            listeners.push(l);
        }
        for id in &self.sockets {
            let l = Listener::bind(sockdir.path().join(format!("{id}.sock")))
                .map_err(MachineError::SocketDir)?;
            args.push("-chardev".into());
            args.push(format!("socket,id={id},path={}", l.path.display()));
            listeners.push(l);
        }
        if let Some(t) = &self.machine_type {
            args.extend(["-machine".into(), t.clone()]);
        }
        args.extend(["-accel".into(), accel.accel.clone()]);
        if let Some(n) = self.cpus {
            args.extend(["-smp".into(), n.to_string()]);
        }
        if let Some(m) = &self.memory {
            args.extend(["-m".into(), m.clone()]);
        }
        for (flag, value) in [
            ("-kernel", &self.kernel),
            ("-initrd", &self.initrd),
            ("-dtb", &self.dtb),
        ] {
            if let Some(v) = value {
                args.extend([flag.into(), v.to_string_lossy().into_owned()]);
            }
        }
        if let Some(a) = &self.append {
            args.extend(["-append".into(), a.clone()]);
        }
        if let Some(i) = &self.incoming {
            args.extend(["-incoming".into(), i.clone()]);
        }
        args.extend(self.extra_args.iter().cloned());
        let env: Vec<(String, String)> = install
            .env()
            .into_iter()
            .chain(self.env.iter().cloned())
            .collect();
        let binary_text = binary.path.to_string_lossy().into_owned();
        let (program, args) = match self.wrapper.split_first() {
            Some((program, before)) => {
                let mut all: Vec<String> = before.to_vec();
                all.push(binary_text);
                all.extend(args);
                (std::path::PathBuf::from(program), all)
            }
            None => (binary.path.clone(), args),
        };
        let mut cmdline = String::new();
        for (k, v) in &env {
            cmdline.push_str(&format!("{k}={} ", quote(v)));
        }
        cmdline.push_str(&shell_line(&program.to_string_lossy(), &args));

        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        crate::process::kill_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|source| MachineError::Spawn {
            binary: program.clone(),
            source,
        })?;

        let output = Capture::new(format!("output of {}", self.name), Vec::new());
        let stdout = Capture::new(format!("stdout of {}", self.name), Vec::new());
        let stderr = Capture::new(format!("stderr of {}", self.name), Vec::new());
        if let Some(out) = child.stdout.take() {
            pump(
                out,
                vec![stdout.clone(), output.clone()],
                self.qemu_log.clone(),
            );
        }
        if let Some(err) = child.stderr.take() {
            pump(
                err,
                vec![stderr.clone(), output.clone()],
                self.qemu_log.clone(),
            );
        }

        let mut machine = Machine {
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
            _sockdir: sockdir,
        };
        if listeners.is_empty() {
            return Ok(machine);
        }
        let wrapped = !self.wrapper.is_empty();
        let deadline = Instant::now() + self.launch_timeout;
        let refs: Vec<&Listener> = listeners.iter().collect();
        let mut streams = match accept_all(&refs, &machine.process, deadline) {
            Ok(s) => {
                // QEMU has connected: it runs, under the wrapper.
                if wrapped {
                    machine.wrapped = crate::process::descendant_running(
                        machine.process.pid(),
                        &machine.binary.path,
                    );
                }
                s
            }
            Err(AcceptError::Exited) if !self.qmp => return Ok(machine),
            Err(e) => {
                let reason = match e {
                    AcceptError::Exited => "QEMU exited before connecting its monitor".to_string(),
                    AcceptError::Timeout => format!(
                        "QEMU did not connect its monitor within {:?}",
                        self.launch_timeout
                    ),
                    AcceptError::Io(e) => format!("socket error while waiting for QEMU: {e}"),
                };
                return Err(machine.launch_failed(reason));
            }
        };
        // Streams come back in listener order: QMP, console, then the extra sockets.
        let extra = streams.split_off(streams.len().saturating_sub(self.sockets.len()));
        machine.sockets = self.sockets.iter().cloned().zip(extra).collect();
        if self.console {
            if let Some(stream) = streams.pop() {
                let capture = Capture::new(
                    format!("console of {}", self.name),
                    self.console_fail.clone(),
                );
                machine.console_in = stream.try_clone().ok();
                pump(stream, vec![capture.clone()], self.console_log.clone());
                machine.console = Some(capture);
            }
        }
        if self.qmp {
            if let Some(stream) = streams.pop() {
                match Qmp::handshake(stream, self.transcript.clone(), deadline) {
                    Ok(q) => machine.qmp = Some(q),
                    Err(e) => {
                        return Err(machine.launch_failed(format!("QMP handshake failed: {e}")))
                    }
                }
            }
        }
        Ok(machine)
    }
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

/// Quote a command line so it can be pasted into a shell.
fn shell_line(program: &str, args: &[String]) -> String {
    let mut parts = vec![quote(program)];
    parts.extend(args.iter().map(|a| quote(a)));
    parts.join(" ")
}

fn quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| format!("'{}'", s.replace('\0', "")))
}

impl Machine {
    fn launch_failed(mut self, reason: String) -> MachineError {
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
        let dir = self._sockdir.path();
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

    /// The connected stream of an extra socket (see [`MachineConfig::sockets`]), once.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_quoted_for_a_shell() {
        let line = shell_line(
            "/usr/bin/qemu-system-x86_64",
            &["-append".into(), "console=ttyS0 quiet".into(), "-S".into()],
        );
        assert_eq!(
            line,
            "/usr/bin/qemu-system-x86_64 -append 'console=ttyS0 quiet' -S"
        );
    }
}
