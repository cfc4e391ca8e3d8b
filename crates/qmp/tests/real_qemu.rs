//! The client against a real `qemu-system-x86_64 -machine none`. Each test skips
//! when QEMU is not on PATH (and fails under `KENNEL_REQUIRE_ALL`: see
//! kennel-testkit).

use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use kennel_qmp::{CommandError, Qmp, QmpError, Transcript};
use serde_json::json;

const QEMU: &str = "qemu-system-x86_64";

fn in_secs(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// A running QEMU with its QMP connection; killed on drop, whatever happened.
struct Qemu {
    child: Child,
    qmp: Qmp,
    _dir: tempfile::TempDir,
}

impl Qemu {
    /// `None` (a skip, see kennel-testkit) when QEMU is not installed.
    fn start() -> Option<Qemu> {
        kennel_testkit::need_command(QEMU, "qemu-system-x86")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&socket).expect("bind QMP socket");
        let mut child = Command::new(QEMU)
            .args(["-machine", "none", "-nodefaults", "-display", "none", "-S"])
            .arg("-chardev")
            .arg(format!("socket,id=mon,path={}", socket.display()))
            .args(["-mon", "chardev=mon,mode=control"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn QEMU");
        let stream = accept(&listener, &mut child, in_secs(30));
        let stream = match stream {
            Ok(stream) => stream,
            Err(message) => {
                kill(&mut child);
                panic!("{message}");
            }
        };
        let qmp = match Qmp::handshake(stream, Transcript::discard(), in_secs(30)) {
            Ok(qmp) => qmp,
            Err(e) => {
                kill(&mut child);
                panic!("handshake with {QEMU}: {e:?}");
            }
        };
        Some(Qemu {
            child,
            qmp,
            _dir: dir,
        })
    }

    /// Wait for QEMU to exit by itself.
    fn wait_exit(&mut self, deadline: Instant) -> Option<ExitStatus> {
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Accept QEMU's connection, failing early if it exits instead.
fn accept(
    listener: &UnixListener,
    child: &mut Child,
    deadline: Instant,
) -> Result<UnixStream, String> {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("accept: {e}")),
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Err(format!("{QEMU} exited before connecting: {status}"));
        }
        if Instant::now() >= deadline {
            return Err(format!("{QEMU} did not connect to the QMP socket in time"));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn handshake_reads_the_version_from_the_greeting() {
    let Some(qemu) = Qemu::start() else { return };

    let version = qemu.qmp.version().expect("version in greeting");

    assert!(version.0 >= 2, "{version:?}");
    assert!(qemu.qmp.greeting()["capabilities"].is_array());
}

#[test]
fn query_status_under_dash_s_is_prelaunch() {
    let Some(qemu) = Qemu::start() else { return };

    let status = qemu
        .qmp
        .execute("query-status", None, in_secs(10))
        .expect("query-status");

    assert!(
        kennel_qmp::matches(&json!({"status": "prelaunch", "running": false}), &status),
        "{status}"
    );
}

#[test]
fn set_numa_node_outside_preconfig_is_refused() {
    let Some(qemu) = Qemu::start() else { return };

    let reply = qemu
        .qmp
        .execute_raw("set-numa-node", Some(&json!({"type": "node"})), in_secs(10))
        .expect("reply");

    assert_eq!(
        reply,
        Err(CommandError {
            class: "GenericError".into(),
            desc: "The command is permitted only before the machine has been created".into(),
        })
    );
}

#[test]
fn an_unknown_command_is_command_not_found() {
    let Some(qemu) = Qemu::start() else { return };

    let error = qemu
        .qmp
        .execute("no-such-command", None, in_secs(10))
        .expect_err("must fail");

    assert!(
        matches!(&error, QmpError::Command(e) if e.class == "CommandNotFound"),
        "{error:?}"
    );
}

#[test]
fn hmp_info_version_prints_the_greeting_version() {
    let Some(qemu) = Qemu::start() else { return };
    let (major, minor, micro) = qemu.qmp.version().expect("version");

    let output = qemu.qmp.hmp("info version", in_secs(10)).expect("hmp");

    assert!(
        output.starts_with(&format!("{major}.{minor}.{micro}")),
        "{output:?}"
    );
}

#[test]
fn cont_stop_cont_emit_resume_stop_resume() {
    let Some(qemu) = Qemu::start() else { return };

    qemu.qmp.execute("cont", None, in_secs(10)).expect("cont");
    qemu.qmp
        .wait_event("RESUME", None, in_secs(10))
        .expect("RESUME after cont");
    qemu.qmp.execute("stop", None, in_secs(10)).expect("stop");
    qemu.qmp
        .wait_event("STOP", None, in_secs(10))
        .expect("STOP after stop");
    qemu.qmp.execute("cont", None, in_secs(10)).expect("cont");
    qemu.qmp
        .wait_event("RESUME", None, in_secs(10))
        .expect("RESUME after cont");
    let status = qemu
        .qmp
        .execute("query-status", None, in_secs(10))
        .expect("query-status");

    assert_eq!(status["status"], "running");
    assert!(
        qemu.qmp.pending_events().is_empty(),
        "{:?}",
        qemu.qmp.pending_events()
    );
}

#[test]
fn quit_reports_shutdown_then_qemu_closes_the_connection_and_exits_0() {
    let Some(mut qemu) = Qemu::start() else {
        return;
    };

    qemu.qmp.execute("quit", None, in_secs(10)).expect("quit");
    let shutdown = qemu
        .qmp
        .wait_event(
            "SHUTDOWN",
            Some(&json!({"data": {"guest": false, "reason": "host-qmp-quit"}})),
            in_secs(10),
        )
        .expect("SHUTDOWN");
    let after = qemu.qmp.wait_event("NEVER", None, in_secs(10));
    let status = qemu.wait_exit(in_secs(10));

    assert!(shutdown["timestamp"]["seconds"].is_u64(), "{shutdown}");
    assert!(matches!(after, Err(QmpError::Closed)), "{after:?}");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
