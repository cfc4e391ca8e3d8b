//! Reaching a live machine: `attach.json` in the test's log folder (written
//! when a machine starts, read by `kennel attach`), and the pause on failure
//! (`--pause-on-failure`) both front ends call. While a test is paused, each
//! of its machines with a display has VNC listening on a socket in its
//! private folder ([`kennel_machine::Machine::vnc_listen`]); it stops when
//! the test goes on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_config::text::shell_word;
use kennel_layout::{JobDir, TestDir};
use kennel_results::{AttachRecord, AttachedMachine};

use crate::debug::{tell, GdbStub};
use crate::vm::Vm;

/// Add machine `vm` to the test's `attach.json`: its QEMU pid, the sockets of
/// its attach monitors (QEMU listens on them, in kennel's private 0700
/// folder), its console log and its gdbstub. An `attach.json` that does not
/// read is replaced, saying so on the test process's stderr (`test-process.log`).
pub(crate) fn record(logdir: &Path, vm: &Vm, gdb: Option<&GdbStub>) {
    let dir = TestDir::new(logdir);
    let mut record = match AttachRecord::read(logdir) {
        Ok(record) => record.unwrap_or_default(),
        Err(e) => {
            eprintln!("kennel: replacing {}", kennel_machine::error_chain(&e));
            AttachRecord::default()
        }
    };
    let m = vm.machine_ref();
    let (qmp, hmp) = match m.attach_sockets() {
        Some((q, h)) => (
            Some(q.to_string_lossy().into_owned()),
            Some(h.to_string_lossy().into_owned()),
        ),
        None => (None, None),
    };
    record.add(AttachedMachine {
        name: vm.name().to_owned(),
        pid: m.pid(),
        qmp,
        hmp,
        console_log: dir.console_log().to_string_lossy().into_owned(),
        gdb: gdb.map(GdbStub::command),
        vnc: None,
    });
    let _ = record.write(logdir);
}

/// How a person reaches machine `vm` of the test logging into `logdir`: its
/// monitors, console and guest shell, with the `kennel attach` commands.
pub fn how_to_reach(logdir: &Path, vm: &Vm) -> String {
    let logdir = absolute(logdir);
    let logdir = logdir.as_path();
    let name = vm.name();
    let m = vm.machine_ref();
    let attach = format!(
        "kennel attach {} --machine {}",
        attach_target(logdir),
        shell_word(name)
    );
    let mut text = format!("  machine `{name}` (QEMU pid {}):\n", m.pid());
    if let Some((qmp, hmp)) = m.attach_sockets() {
        text.push_str(&format!(
            "    QMP      {attach} --qmp      (socket {})\n",
            qmp.display()
        ));
        text.push_str(&format!(
            "    HMP      {attach} --hmp      (socket {})\n",
            hmp.display()
        ));
    }
    text.push_str(&format!(
        "    console  {attach} --console  (follows {})\n",
        TestDir::new(logdir).console_log().display()
    ));
    let ssh = std::fs::read_to_string(TestDir::new(logdir).cmdline())
        .ok()
        .and_then(|t| {
            t.lines()
                .filter_map(|l| l.strip_prefix("# ssh "))
                .next_back()
                .map(|l| format!("ssh {l}"))
        });
    match (vm.channel(), ssh) {
        (Some(crate::ChannelKind::Ssh), Some(ssh)) => {
            text.push_str(&format!("    shell    {ssh}\n"))
        }
        (Some(kind), _) => text.push_str(&format!(
            "    shell    the guest's {kind} channel is the test's own; use the HMP or the console\n"
        )),
        (None, _) => {}
    }
    text
}

/// Pause a failing test: say why and how to reach each of `machines`, then
/// wait (its timeout no longer counting) until `paused` in its log folder is
/// removed: Enter in `kennel run`'s terminal, or `kennel resume`. The
/// machines stay up meanwhile; Ctrl-C in `kennel run` ends the job.
pub fn pause_on_failure(logdir: &Path, reason: &str, machines: &[&Vm]) {
    let logdir = absolute(logdir);
    let logdir = logdir.as_path();
    let dir = TestDir::new(logdir);
    let mut text = format!("\nkennel: PAUSED {} on its failure:\n", logdir.display());
    for line in reason.lines().filter(|l| !l.trim().is_empty()).take(4) {
        text.push_str(&format!("  {}\n", line.trim()));
    }
    for vm in machines {
        text.push_str(&how_to_reach(logdir, vm));
        text.push_str(&open_vnc(logdir, vm));
    }
    text.push_str(&format!(
        "  Press Enter in kennel's terminal (or run `{}`) to let the test finish; \
         Ctrl-C ends the job.\n",
        resume_command(logdir)
    ));
    if std::fs::write(dir.paused(), &text).is_err() {
        return;
    }
    tell(&text);
    // Under `kennel run` the runner reads Enter (this process is in a
    // background group); under plain `cargo test` this process reads it.
    let tty = foreground_terminal();
    while dir.paused().exists() {
        match &tty {
            Some(t) if enter_pressed(t, Duration::from_millis(200)) => {
                let _ = std::fs::remove_file(dir.paused());
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    for vm in machines {
        close_vnc(logdir, vm);
    }
}

/// How long making VNC listen or stop may take: a hung QEMU must not hold
/// the pause or the teardown.
const VNC_SWITCH: Duration = Duration::from_secs(3);

/// Make the VNC server of `vm` (a machine with a display) listen for the
/// pause, record its socket in `attach.json`: the line saying how to reach
/// it, or why it cannot be; empty for a machine without a display.
fn open_vnc(logdir: &Path, vm: &Vm) -> String {
    let name = vm.name();
    let attach = format!(
        "kennel attach {} --machine {} --vnc",
        attach_target(logdir),
        shell_word(name)
    );
    match vm.machine_ref().vnc_listen(Instant::now() + VNC_SWITCH) {
        Ok(Some(socket)) => {
            set_vnc(logdir, name, Some(socket.to_string_lossy().into_owned()));
            format!("    VNC      {attach}      (socket {})\n", socket.display())
        }
        Ok(None) => String::new(),
        Err(e) => format!(
            "    VNC      not available: {}\n",
            kennel_machine::error_chain(&e)
        ),
    }
}

/// Stop the VNC server of `vm` listening, and drop it from `attach.json`.
fn close_vnc(logdir: &Path, vm: &Vm) {
    if vm
        .machine_ref()
        .vnc_stop(Instant::now() + VNC_SWITCH)
        .is_ok()
    {
        set_vnc(logdir, vm.name(), None);
    }
}

/// Record (or clear) machine `name`'s VNC socket in `attach.json`.
fn set_vnc(logdir: &Path, name: &str, socket: Option<String>) {
    let Ok(Some(mut record)) = AttachRecord::read(logdir) else {
        return;
    };
    let Some(machine) = record.machines.iter_mut().find(|m| m.name == name) else {
        return;
    };
    if machine.vnc != socket {
        machine.vnc = socket;
        let _ = record.write(logdir);
    }
}

/// `logdir` as an absolute path, so that a command naming it works from any
/// folder (the working directory stays what it was: nothing follows links).
fn absolute(logdir: &Path) -> PathBuf {
    std::path::absolute(logdir).unwrap_or_else(|_| logdir.to_path_buf())
}

/// What `kennel attach` is given to find the test logging into the absolute
/// `logdir`: its job folder and its folder's name (`/r/job-1 001-boots`) for a
/// test of a job, else the test's folder itself (a Rust test under plain
/// `cargo test` logs into a folder of its own). Shell-quoted.
fn attach_target(logdir: &Path) -> String {
    match (JobDir::of_test(logdir), logdir.file_name()) {
        (Some(job), Some(test)) => format!(
            "{} {}",
            shell_word(&job.root().to_string_lossy()),
            shell_word(&test.to_string_lossy())
        ),
        _ => shell_word(&logdir.to_string_lossy()).into_owned(),
    }
}

/// The `kennel resume` command that ends the pause of the test logging into
/// the absolute `logdir`: its job's, or its folder's when it is in no job.
fn resume_command(logdir: &Path) -> String {
    let target = JobDir::of_test(logdir)
        .map(|job| job.root().to_path_buf())
        .unwrap_or_else(|| logdir.to_path_buf());
    format!("kennel resume {}", shell_word(&target.to_string_lossy()))
}

/// The controlling terminal, when this process's group is in its foreground.
fn foreground_terminal() -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::File::open("/dev/tty").ok()?;
    // SAFETY: tcgetpgrp and getpgrp have no memory preconditions; the fd is open.
    let foreground = unsafe { libc::tcgetpgrp(tty.as_raw_fd()) == libc::getpgrp() };
    foreground.then_some(tty)
}

/// Whether a line arrived on `tty` within `wait`.
fn enter_pressed(tty: &std::fs::File, wait: Duration) -> bool {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut fds = libc::pollfd {
        fd: tty.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd.
    if unsafe { libc::poll(&mut fds, 1, ms) } <= 0 {
        return false;
    }
    let mut buf = [0u8; 256];
    let mut reader = tty;
    reader
        .read(&mut buf)
        .is_ok_and(|n| buf[..n].contains(&b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_of_a_job_is_named_by_its_job_folder_and_its_folder_name() {
        let logdir = Path::new("/r/my results/job-1/tests/001-boots");

        assert_eq!(attach_target(logdir), "'/r/my results/job-1' 001-boots");
        assert_eq!(
            resume_command(logdir),
            "kennel resume '/r/my results/job-1'"
        );
    }

    #[test]
    fn a_test_in_no_job_is_named_by_its_own_folder() {
        let logdir = Path::new("/tmp/kennel-log-boots-x1");

        assert_eq!(attach_target(logdir), "/tmp/kennel-log-boots-x1");
        assert_eq!(
            resume_command(logdir),
            "kennel resume /tmp/kennel-log-boots-x1"
        );
    }

    #[test]
    fn a_relative_log_folder_is_made_absolute() {
        let here = std::env::current_dir().expect("working directory");

        assert_eq!(absolute(Path::new("r/job-1")), here.join("r/job-1"));
    }
}
