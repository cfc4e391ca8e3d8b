//! Debugging a machine, for both kinds of test: QEMU under a wrapper
//! (`$KENNEL_WRAPPER`), a gdbstub on loopback (`$KENNEL_GDB`,
//! `$KENNEL_GDB_WAIT`), and the failure artifacts collected from a live
//! machine before teardown ([`Vm::collect_artifacts`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kennel_config::text::{last_bytes as tail, shell_word};
use kennel_config::Debug;
use kennel_machine::MachineConfig;

use crate::vm::Vm;

/// The most an artifact file keeps of each machine's part: its last bytes.
pub const ARTIFACT_LIMIT: usize = 256 * 1024;

/// How long the monitor may take for all of a machine's monitor artifacts
/// (registers, screendump): a hung QEMU must not hold the test's teardown.
const MONITOR_TIME: Duration = Duration::from_secs(3);

/// How long gdb may take for QEMU's backtrace.
const GDB_TIME: Duration = Duration::from_secs(8);

/// How long the guest may take for its `dmesg`.
const DMESG_TIME: Duration = Duration::from_secs(3);

/// A gdbstub a machine was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdbStub {
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// The guest waits for gdb's `continue` before its first instruction.
    pub wait: bool,
    /// The guest kernel's ELF image, when kennel booted one it knows.
    pub symbols: Option<PathBuf>,
}

impl GdbStub {
    /// The command a person types to debug the guest.
    pub fn command(&self) -> String {
        let file = self
            .symbols
            .as_ref()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .map(|p| format!(" {}", shell_word(&p.to_string_lossy())))
            .unwrap_or_default();
        format!("gdb{file} -ex 'target remote {}'", self.address)
    }
}

/// Apply the debugging settings to a machine about to start: the wrapper
/// (with `${logdir}` and `${machine}` replaced) and the gdbstub.
pub(crate) fn apply(
    config: &mut MachineConfig,
    debug: &Debug,
    logdir: &Path,
    symbols: Option<PathBuf>,
) -> Result<Option<GdbStub>, crate::PrepareError> {
    if let Some(text) = &debug.wrapper {
        let text = text
            .replace("${logdir}", &logdir.to_string_lossy())
            .replace("${machine}", &config.name);
        let words = shlex::split(&text)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| crate::PrepareError::Wrapper(text.clone()))?;
        config.wrapper = words;
    }
    if !debug.gdb {
        return Ok(None);
    }
    let port = free_loopback_port().map_err(crate::PrepareError::GdbPort)?;
    let address = format!("127.0.0.1:{port}");
    config.extra_args.push("-gdb".into());
    config.extra_args.push(format!("tcp:{address}"));
    if debug.gdb_wait {
        config.extra_args.push("-S".into());
    }
    Ok(Some(GdbStub {
        address,
        wait: debug.gdb_wait,
        symbols,
    }))
}

/// A TCP port nobody listens on right now, on loopback.
fn free_loopback_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Tell the person at the terminal (or, without one, stderr): the gdb
/// command, a paused test. The test process's own output goes to a log file,
/// so this writes to the controlling terminal when there is one.
pub fn tell(text: &str) {
    // A test process runs in a background process group: with the terminal's
    // `tostop` set, writing to it would stop this process.
    // SAFETY: setting a signal's disposition to "ignore" has no memory preconditions.
    unsafe {
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
    }
    let written = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .and_then(|mut tty| tty.write_all(text.as_bytes()));
    if written.is_err() {
        eprint!("{text}");
    }
}

/// Which artifacts a failure calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Artifacts {
    /// A step or the test timed out: QEMU may hang, so take its threads'
    /// backtraces too, and leave the guest channel alone (it may be stuck).
    pub timed_out: bool,
}

impl Vm {
    /// Collect what a failure leaves to look at into `dir` (the test's log
    /// folder), before teardown, each file bounded by [`ARTIFACT_LIMIT`] per
    /// machine: `registers.txt` (HMP `info status`, `info registers -a`),
    /// `qemu-backtrace.txt` when `what.timed_out` (gdb attached to QEMU), and
    /// `dmesg.txt` (the guest's kernel log tail) when the channel is up and
    /// did not time out. Never fails: what cannot be collected says why in its
    /// file. Returns the files written.
    pub fn collect_artifacts(&mut self, dir: &Path, what: Artifacts) -> Vec<PathBuf> {
        let mut written = Vec::new();
        if !self.machine().is_running() {
            return written;
        }
        let name = self.name().to_string();
        let monitor_until = Instant::now() + MONITOR_TIME;
        let (registers, answered) = self.registers(monitor_until);
        written.extend(append(dir, kennel_layout::REGISTERS_TXT, &name, &registers));
        if answered {
            written.extend(self.screendump(dir, monitor_until));
        }
        if what.timed_out {
            let trace = qemu_backtrace(self.machine_ref().pid());
            written.extend(append(
                dir,
                kennel_layout::QEMU_BACKTRACE_TXT,
                &name,
                &trace,
            ));
        } else if self.channel().is_some() {
            let deadline = Instant::now() + DMESG_TIME;
            let text = match self.run("dmesg | tail -n 200", deadline) {
                Ok(out) => out.stdout,
                Err(e) => format!("dmesg could not be read: {e}\n"),
            };
            written.extend(append(dir, kennel_layout::DMESG_TXT, &name, &text));
        }
        written.sort();
        written.dedup();
        written
    }

    /// `screendump.png` of a machine with a display; nothing for one without
    /// (QEMU refuses: no console to dump).
    fn screendump(&mut self, dir: &Path, deadline: Instant) -> Option<PathBuf> {
        let file = match self.name() {
            "main" => kennel_layout::SCREENDUMP_PNG.to_string(),
            other => format!("screendump-{other}.png"),
        };
        let path = dir.join(file);
        match self.machine().screendump(&path, deadline) {
            Ok(()) if path.exists() => Some(path),
            _ => None,
        }
    }

    /// HMP `info status` and `info registers -a` by `deadline`, and whether
    /// the monitor answered (a hung one gets no more commands).
    fn registers(&mut self, deadline: Instant) -> (String, bool) {
        let qmp = match self.machine().qmp() {
            Ok(q) => q,
            Err(e) => return (format!("no monitor: {e}\n"), false),
        };
        let mut text = String::new();
        for command in ["info status", "info registers -a"] {
            text.push_str(&format!("(qemu) {command}\n"));
            match qmp.hmp(command, deadline) {
                Ok(out) => text.push_str(&out),
                Err(e) => {
                    text.push_str(&format!("the monitor did not answer: {e}\n"));
                    return (text, false);
                }
            }
        }
        (text, true)
    }
}

/// Every QEMU thread's backtrace, from gdb attached to process `pid`; or why
/// there is none.
fn qemu_backtrace(pid: u32) -> String {
    let Some(gdb) = kennel_config::which("gdb") else {
        return "gdb is not installed (Debian: apt-get install gdb)\n".into();
    };
    let child = Command::new(gdb)
        .args(["-nx", "-batch", "-p", &pid.to_string()])
        .args(["-ex", "set pagination off", "-ex", "info threads"])
        .args(["-ex", "thread apply all bt"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return format!("gdb did not start: {e}\n"),
    };
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(GDB_TIME) {
        Ok(Ok(out)) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stdout.contains("Thread ") {
                format!("gdb -p {pid} -batch -ex 'thread apply all bt'\n{stdout}")
            } else {
                format!(
                    "gdb could not attach to QEMU (pid {pid}); `kennel doctor` says whether \
                     this system allows it (ptrace):\n{stderr}{stdout}"
                )
            }
        }
        Ok(Err(e)) => format!("gdb failed: {e}\n"),
        Err(_) => {
            kennel_machine::process::signal(id, libc::SIGKILL);
            format!("gdb did not finish within {GDB_TIME:?}\n")
        }
    }
}

/// Append one machine's part to an artifact file (its last
/// [`ARTIFACT_LIMIT`] bytes, under a `== machine NAME ==` line).
fn append(dir: &Path, file: &str, machine: &str, text: &str) -> Option<PathBuf> {
    let path = dir.join(file);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let body = tail(text, ARTIFACT_LIMIT);
    let cut = if body.len() < text.len() {
        format!("[... {} bytes before cut ...]\n", text.len() - body.len())
    } else {
        String::new()
    };
    let newline = if body.ends_with('\n') { "" } else { "\n" };
    write!(f, "== machine {machine} ==\n{cut}{body}{newline}").ok()?;
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debug(wrapper: &str) -> Debug {
        Debug {
            wrapper: Some(wrapper.into()),
            ..Debug::default()
        }
    }

    #[test]
    fn the_wrapper_names_the_log_folder_and_the_machine() {
        let mut config = MachineConfig::new("main");
        let d = debug("strace -f -o '${logdir}/strace-${machine}.log'");

        apply(&mut config, &d, Path::new("/r/tests/001-x"), None).expect("applied");

        assert_eq!(
            config.wrapper,
            ["strace", "-f", "-o", "/r/tests/001-x/strace-main.log"]
        );
    }

    #[test]
    fn an_unbalanced_quote_in_the_wrapper_is_refused() {
        let mut config = MachineConfig::new("main");
        let err =
            apply(&mut config, &debug("strace -o 'x"), Path::new("/l"), None).expect_err("refused");
        let err = err.to_string();
        assert!(err.contains("not a valid shell command line"), "{err}");
    }

    #[test]
    fn the_gdbstub_listens_on_loopback_only_and_waits_when_asked() {
        let mut config = MachineConfig::new("main");
        let d = Debug {
            gdb: true,
            gdb_wait: true,
            ..Debug::default()
        };

        let stub = apply(&mut config, &d, Path::new("/l"), Some("/k/vmlinux".into()))
            .expect("applied")
            .expect("a stub");

        assert!(stub.address.starts_with("127.0.0.1:"), "{}", stub.address);
        assert_eq!(config.extra_args[0], "-gdb");
        assert_eq!(config.extra_args[1], format!("tcp:{}", stub.address));
        assert_eq!(config.extra_args[2], "-S");
        assert_eq!(
            stub.command(),
            format!("gdb /k/vmlinux -ex 'target remote {}'", stub.address)
        );
    }

    /// The command line `config` launches with, by the distribution's QEMU.
    fn command_of(config: &MachineConfig) -> kennel_machine::QemuCommand {
        config.command_line(&kennel_machine::QemuSetup {
            binary: Path::new("/usr/bin/qemu-system-x86_64"),
            install: &kennel_machine::QemuInstall::default(),
            accel: "tcg",
            socket_dir: Path::new("/s"),
        })
    }

    #[test]
    fn qemu_runs_under_the_wrapper_with_its_own_arguments_after_it() {
        let mut config = MachineConfig::new("main");
        config.qmp = false;
        let d = debug("valgrind --log-file='${logdir}/valgrind.log'");

        apply(&mut config, &d, Path::new("/r/tests/001-x"), None).expect("applied");
        let command = command_of(&config);

        assert_eq!(command.program, Path::new("valgrind"));
        assert_eq!(
            command.args,
            [
                "--log-file=/r/tests/001-x/valgrind.log",
                "/usr/bin/qemu-system-x86_64",
                "-display",
                "none",
                "-vga",
                "none",
                "-accel",
                "tcg"
            ]
        );
    }

    #[test]
    fn the_gdbstub_options_end_qemus_command_line() {
        let mut config = MachineConfig::new("main");
        config.qmp = false;
        config.extra_args = vec!["-nodefaults".into()];
        let d = Debug {
            gdb: true,
            gdb_wait: true,
            ..Debug::default()
        };

        let stub = apply(&mut config, &d, Path::new("/l"), None)
            .expect("applied")
            .expect("a stub");
        let command = command_of(&config);

        assert_eq!(
            command.args[command.args.len() - 4..],
            [
                "-nodefaults".to_string(),
                "-gdb".into(),
                format!("tcp:{}", stub.address),
                "-S".into()
            ]
        );
    }

    #[test]
    fn an_artifact_keeps_the_tail_of_a_long_text() {
        let text = "x".repeat(ARTIFACT_LIMIT + 10);
        assert_eq!(tail(&text, ARTIFACT_LIMIT).len(), ARTIFACT_LIMIT);
        assert_eq!(tail("short", 10), "short");
    }
}
