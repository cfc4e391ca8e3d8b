//! `kennel-fake-qemu`: a scripted stand-in for `qemu-system-*`, for the faults a real
//! QEMU will not produce on demand (garbage on QMP, a hang, a crash mid-command).
//!
//! It is launched exactly like QEMU. From its arguments it uses only
//!
//! * `-chardev socket,id=<ID>,path=<PATH>`: a socket to connect to (kennel listens),
//! * `-mon chardev=<ID>,mode=control`: which chardev is the QMP monitor,
//! * `-serial chardev:<ID>`: which chardev is the serial console,
//!
//! and ignores every other argument.
//!
//! # Script
//!
//! The environment variable `KENNEL_FAKE_QEMU` holds a comma-separated list of
//! actions, run in order:
//!
//! | action          | effect |
//! |-----------------|--------|
//! | `exit:N`        | print `fake-qemu: exiting with N` to stderr and exit with code N |
//! | `stderr:TEXT`   | write TEXT and a newline to stderr |
//! | `console:TEXT`  | write TEXT (no newline added) to the console socket |
//! | `greet`         | send the QMP greeting (shaped like QEMU 7.2's) |
//! | `garbage`       | send a line that is not JSON on QMP |
//! | `sleep:MS`      | sleep MS milliseconds |
//! | `hang`          | stop reading and answering, stay alive until killed |
//! | `hang-after:N`  | when serving: answer N commands, then hang on the next one |
//! | `crash-after:N` | when serving: answer N commands, then abort (SIGABRT) on receiving the next one |
//! | `serve`         | serve QMP (see below); also what every script ends with |
//!
//! Commands counted by `hang-after` and `crash-after` exclude `qmp_capabilities`.
//! In TEXT, `\n`, `\r`, `\t`, `\,` (a comma) and `\\` are escapes.
//!
//! The fake connects to all its sockets (QMP and console), as QEMU does during
//! start-up, just before the first action other than `exit`, `stderr` and `sleep`.
//! So `exit:1` models a QEMU that fails before connecting, `sleep:2000` a slow
//! start, and `hang` one that connects and then never speaks.
//!
//! Serving QMP sends the greeting if not sent yet, then answers:
//! `qmp_capabilities` (required first, as in QEMU); `query-status`
//! (`running` unless stopped); `stop` and `cont` (with `STOP` and `RESUME` events);
//! `quit` (a `SHUTDOWN` event, the reply `{}`, then exit 0); anything else with a
//! `CommandNotFound` error. When the client closes the connection the fake keeps
//! running until killed, like QEMU.
//!
//! Without `KENNEL_FAKE_QEMU` the script is `greet,serve`.
//!
//! # Exit codes
//!
//! Besides `exit:N` and `quit` (0): [`EXIT_USAGE`] for a bad script or arguments,
//! [`EXIT_IO`] when a socket cannot be used, 134 (SIGABRT) for `crash-after`.

mod args;
mod monitor;
mod script;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use args::Sockets;
use monitor::Limits;
use script::Action;

/// Exit code for an invalid `KENNEL_FAKE_QEMU` script or missing socket arguments.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when connecting to or writing to a socket fails.
pub const EXIT_IO: u8 = 3;

/// The environment variable holding the script.
const SCRIPT_VAR: &str = "KENNEL_FAKE_QEMU";

fn main() -> ExitCode {
    let sockets = Sockets::from_args(std::env::args().skip(1));
    let script = match std::env::var(SCRIPT_VAR) {
        Ok(text) => script::parse(&text),
        Err(std::env::VarError::NotPresent) => Ok(vec![Action::Greet, Action::Serve]),
        Err(e) => Err(script::ScriptError::Var(e)),
    };
    let script = match script {
        Ok(script) => script,
        Err(e) => {
            match std::error::Error::source(&e) {
                Some(cause) => eprintln!("fake-qemu: {e}: {cause}"),
                None => eprintln!("fake-qemu: {e}"),
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut fake = Fake {
        sockets,
        connected: None,
        greeted: false,
        limits: Limits::default(),
    };
    match fake.run(script) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, message }) => {
            eprintln!("fake-qemu: {message}");
            ExitCode::from(code)
        }
    }
}

/// Why the fake gave up: an exit code and what to print.
struct Failure {
    code: u8,
    message: String,
}

fn io_failure(what: &str, e: std::io::Error) -> Failure {
    Failure {
        code: EXIT_IO,
        message: format!("{what}: {e}"),
    }
}

/// The connected sockets.
struct Connected {
    qmp: Option<UnixStream>,
    console: Option<UnixStream>,
}

struct Fake {
    sockets: Sockets,
    connected: Option<Connected>,
    greeted: bool,
    limits: Limits,
}

impl Fake {
    fn run(&mut self, script: Vec<Action>) -> Result<(), Failure> {
        for action in script {
            if action.connects() {
                self.connect()?;
            }
            match action {
                Action::Exit(code) => {
                    eprintln!("fake-qemu: exiting with {code}");
                    std::process::exit(code);
                }
                Action::Stderr(text) => eprintln!("{text}"),
                Action::Console(text) => {
                    let console = self.console()?;
                    console
                        .write_all(text.as_bytes())
                        .map_err(|e| io_failure("writing to the console", e))?;
                }
                Action::Greet => self.greet()?,
                Action::Garbage => {
                    monitor::send_garbage(self.qmp()?)
                        .map_err(|e| io_failure("writing to QMP", e))?;
                }
                Action::Sleep(ms) => std::thread::sleep(Duration::from_millis(ms)),
                Action::Hang => monitor::hang(),
                Action::HangAfter(n) => self.limits.hang_after = Some(n),
                Action::CrashAfter(n) => self.limits.crash_after = Some(n),
                Action::Serve => return self.serve(),
            }
        }
        self.connect()?;
        self.serve()
    }

    fn serve(&mut self) -> Result<(), Failure> {
        if !self.greeted {
            self.greet()?;
        }
        let limits = self.limits;
        let qmp = self.qmp()?;
        if let Err(e) = monitor::serve(qmp, limits) {
            eprintln!("fake-qemu: QMP connection failed: {e}");
        }
        // Like QEMU: losing the monitor connection does not end the process.
        monitor::hang()
    }

    fn greet(&mut self) -> Result<(), Failure> {
        monitor::send_greeting(self.qmp()?).map_err(|e| io_failure("writing to QMP", e))?;
        self.greeted = true;
        Ok(())
    }

    /// Connect every configured socket, once.
    fn connect(&mut self) -> Result<(), Failure> {
        if self.connected.is_none() {
            let connect = |path: Option<&Path>| {
                path.map(|path| {
                    UnixStream::connect(path)
                        .map_err(|e| io_failure(&format!("connecting to {}", path.display()), e))
                })
                .transpose()
            };
            self.connected = Some(Connected {
                qmp: connect(self.sockets.qmp.as_deref())?,
                console: connect(self.sockets.console.as_deref())?,
            });
        }
        Ok(())
    }

    fn qmp(&mut self) -> Result<&mut UnixStream, Failure> {
        self.connect()?;
        self.connected
            .as_mut()
            .and_then(|c| c.qmp.as_mut())
            .ok_or_else(|| Failure {
                code: EXIT_USAGE,
                message: "no QMP socket: expected -chardev socket,id=ID,path=P and -mon chardev=ID,mode=control".into(),
            })
    }

    fn console(&mut self) -> Result<&mut UnixStream, Failure> {
        self.connect()?;
        self.connected
            .as_mut()
            .and_then(|c| c.console.as_mut())
            .ok_or_else(|| Failure {
                code: EXIT_USAGE,
                message: "no console socket: expected -chardev socket,id=ID,path=P and -serial chardev:ID".into(),
            })
    }
}
