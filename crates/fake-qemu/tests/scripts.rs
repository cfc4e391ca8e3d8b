//! The fake QEMU launched like kennel launches QEMU, driven through kennel-qmp.

use std::fs::File;
use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use kennel_qmp::{Qmp, QmpError, Transcript};
use serde_json::json;

fn in_secs(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// A fake QEMU with listening QMP and console sockets; killed on drop.
struct Fake {
    child: Child,
    qmp: UnixListener,
    console: UnixListener,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fake {
    /// Launch with `script` as `KENNEL_FAKE_QEMU` (`None`: unset).
    fn launch(script: Option<&str>) -> Fake {
        let dir = tempfile::tempdir().expect("temp dir");
        let qmp_path = dir.path().join("qmp.sock");
        let console_path = dir.path().join("console.sock");
        let qmp = UnixListener::bind(&qmp_path).expect("bind qmp");
        let console = UnixListener::bind(&console_path).expect("bind console");
        let stderr = dir.path().join("stderr");
        let mut command = Command::new(env!("CARGO_BIN_EXE_kennel-fake-qemu"));
        command
            .args(["-display", "none", "-vga", "none", "-chardev"])
            .arg(format!("socket,id=mon,path={}", qmp_path.display()))
            .args(["-mon", "chardev=mon,mode=control", "-chardev"])
            .arg(format!("socket,id=console,path={}", console_path.display()))
            .args([
                "-serial",
                "chardev:console",
                "-machine",
                "none",
                "-accel",
                "tcg",
            ])
            .args(["-some-option-qemu-has", "value"])
            .stdin(Stdio::null())
            .stderr(File::create(&stderr).expect("stderr file"));
        match script {
            Some(script) => command.env("KENNEL_FAKE_QEMU", script),
            None => command.env_remove("KENNEL_FAKE_QEMU"),
        };
        let child = command.spawn().expect("spawn fake QEMU");
        Fake {
            child,
            qmp,
            console,
            stderr,
            _dir: dir,
        }
    }

    /// Accept a connection on `listener`, or `None` if the fake exits first.
    fn accept(&mut self, console: bool) -> Option<UnixStream> {
        let listener = if console { &self.console } else { &self.qmp };
        listener.set_nonblocking(true).expect("nonblocking");
        let deadline = in_secs(10);
        while Instant::now() < deadline {
            if let Ok((stream, _)) = listener.accept() {
                stream.set_nonblocking(false).expect("blocking");
                return Some(stream);
            }
            if self.child.try_wait().expect("try_wait").is_some() {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("fake QEMU neither connected nor exited");
    }

    fn handshake(&mut self, deadline: Instant) -> Result<Qmp, QmpError> {
        let stream = self.accept(false).expect("fake QEMU connected to QMP");
        Qmp::handshake(stream, Transcript::discard(), deadline)
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = in_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("fake QEMU did not exit");
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).expect("read stderr")
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn without_a_script_it_greets_serves_and_quits_like_qemu() {
    let mut fake = Fake::launch(None);
    let qmp = fake.handshake(in_secs(10)).expect("handshake");

    let status = qmp
        .execute("query-status", None, in_secs(10))
        .expect("query-status");
    let unknown = qmp
        .execute_raw("frobnicate", None, in_secs(10))
        .expect("reply");
    qmp.execute("quit", None, in_secs(10)).expect("quit");
    let shutdown = qmp
        .wait_event(
            "SHUTDOWN",
            Some(&json!({"data": {"reason": "host-qmp-quit"}})),
            in_secs(10),
        )
        .expect("SHUTDOWN");

    assert_eq!(qmp.version(), Some((7, 2, 0)));
    assert_eq!(
        status,
        json!({"status": "running", "singlestep": false, "running": true})
    );
    assert_eq!(
        unknown.expect_err("unknown command").class,
        "CommandNotFound"
    );
    assert_eq!(shutdown["event"], "SHUTDOWN");
    assert_eq!(fake.wait_exit().code(), Some(0));
}

#[test]
fn stop_and_cont_emit_events_and_change_the_status() {
    let mut fake = Fake::launch(Some("greet,serve"));
    let qmp = fake.handshake(in_secs(10)).expect("handshake");

    qmp.execute("stop", None, in_secs(10)).expect("stop");
    qmp.wait_event("STOP", None, in_secs(10)).expect("STOP");
    let stopped = qmp
        .execute("query-status", None, in_secs(10))
        .expect("query-status");
    qmp.execute("cont", None, in_secs(10)).expect("cont");
    qmp.wait_event("RESUME", None, in_secs(10)).expect("RESUME");

    assert_eq!(stopped["running"], false);
}

#[test]
fn exit_at_launch_exits_with_the_code_before_connecting() {
    let mut fake = Fake::launch(Some("stderr:qemu: could not load kernel,exit:3"));

    let connection = fake.accept(false);

    assert!(connection.is_none());
    assert_eq!(fake.wait_exit().code(), Some(3));
    assert_eq!(
        fake.stderr(),
        "qemu: could not load kernel\nfake-qemu: exiting with 3\n"
    );
}

#[test]
fn console_text_reaches_the_console_socket() {
    let mut fake = Fake::launch(Some(r"console:Linux version 6.1\r\nlogin: ,exit:0"));
    let mut console = fake.accept(true).expect("console connection");

    let mut text = String::new();
    console.read_to_string(&mut text).expect("read console");

    assert_eq!(text, "Linux version 6.1\r\nlogin: ");
}

#[test]
fn garbage_after_the_greeting_fails_the_handshake_with_a_protocol_error() {
    let mut fake = Fake::launch(Some("greet,garbage,hang"));

    let error = fake.handshake(in_secs(10)).expect_err("must fail");

    assert!(
        matches!(&error, QmpError::Protocol { detail } if detail.contains("fake-qemu garbage")),
        "{error:?}"
    );
}

#[test]
fn hang_connects_but_never_greets() {
    let mut fake = Fake::launch(Some("hang"));

    let error = fake
        .handshake(Instant::now() + Duration::from_millis(300))
        .expect_err("must time out");

    assert!(matches!(error, QmpError::Timeout { .. }), "{error:?}");
    assert!(fake.is_running());
}

#[test]
fn hang_after_answers_n_commands_then_stops_answering() {
    let mut fake = Fake::launch(Some("hang-after:1"));
    let qmp = fake.handshake(in_secs(10)).expect("handshake");

    let first = qmp.execute("query-status", None, in_secs(10));
    let second = qmp.execute(
        "query-status",
        None,
        Instant::now() + Duration::from_millis(300),
    );

    assert!(first.is_ok(), "{first:?}");
    assert!(
        matches!(second, Err(QmpError::Timeout { .. })),
        "{second:?}"
    );
    assert!(fake.is_running());
}

#[test]
fn crash_after_aborts_on_the_next_command() {
    let mut fake = Fake::launch(Some("crash-after:1"));
    let qmp = fake.handshake(in_secs(10)).expect("handshake");

    let first = qmp.execute("query-status", None, in_secs(10));
    let second = qmp.execute("query-status", None, in_secs(10));

    assert!(first.is_ok(), "{first:?}");
    assert!(matches!(second, Err(QmpError::Closed)), "{second:?}");
    assert_eq!(fake.wait_exit().signal(), Some(6), "SIGABRT");
}

#[test]
fn a_bad_script_is_a_usage_error() {
    let mut fake = Fake::launch(Some("greet,explode"));

    assert_eq!(fake.wait_exit().code(), Some(2));
    assert!(
        fake.stderr().contains("unknown action \"explode\""),
        "{}",
        fake.stderr()
    );
}
