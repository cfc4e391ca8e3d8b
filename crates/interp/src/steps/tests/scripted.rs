//! A scripted machine ([`Script`] played by `Scripted`) and the launcher
//! that starts it by name, behind the interpreter's machine seam.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_machine::{Capture, CommandError, ExitInfo, MachineError, QmpError};
use kennel_results::StartRecord;
use kennel_spec::keys::{KeyCombo, MouseAction};
use kennel_spec::Value;
use kennel_vm::{
    Artifacts, ChannelError, CommandResult, CommandStatus, Deadlines, InputError, MachineDesc, Vm,
    VmError, Workspace,
};

use crate::running::{MachineLauncher, QmpCallError, RunningMachine};

/// What a scripted QMP command answers, once per call (the last answer repeats).
#[derive(Clone)]
pub(super) enum Reply {
    Returns(Value),
    Refuses(&'static str, &'static str),
    /// No answer: the call waits for its deadline.
    Hangs,
}

/// How one scripted machine behaves.
#[derive(Default)]
pub(super) struct Script {
    qmp: HashMap<String, VecDeque<Reply>>,
    events: Vec<Value>,
    runs: HashMap<String, CommandResult>,
    hmp: HashMap<String, String>,
    output: String,
    /// The machine has a console, which echoes what is written to it and
    /// answers these command lines with this text.
    console: Option<HashMap<String, String>>,
    /// The machine cannot be started: the launch fails with this.
    unavailable: Option<String>,
    /// What its screen shows, one per look (the last one stays); none: the
    /// machine has no display and QEMU refuses a screendump.
    screens: VecDeque<kennel_machine::RgbImage>,
    /// QEMU refuses key presses with this error description.
    keys_refused: Option<&'static str>,
}

impl Script {
    pub(super) fn new() -> Script {
        Script::default()
    }

    /// `command` answers these, one per call, the last one repeating.
    pub(super) fn qmp(mut self, command: &str, replies: &[Reply]) -> Script {
        self.qmp
            .insert(command.to_owned(), replies.iter().cloned().collect());
        self
    }

    /// QEMU has sent this event.
    pub(super) fn event(mut self, event: Value) -> Script {
        self.events.push(event);
        self
    }

    /// The HMP command line `command` prints `text`.
    pub(super) fn hmp(mut self, command: &str, text: &str) -> Script {
        self.hmp.insert(command.to_owned(), text.to_owned());
        self
    }

    /// QEMU has printed `text` on its stdout or stderr.
    pub(super) fn output(mut self, text: &str) -> Script {
        self.output.push_str(text);
        self
    }

    /// `command` in the guest prints `stdout` and exits with `code`.
    pub(super) fn runs(mut self, command: &str, stdout: &str, code: i32) -> Script {
        self.runs.insert(
            command.to_owned(),
            CommandResult {
                stdout: stdout.to_owned(),
                stderr: String::new(),
                status: CommandStatus::Exited(code),
            },
        );
        self
    }

    /// The machine has a console that echoes what is written to it and
    /// answers these command lines (`\r` typed after them) with this text.
    pub(super) fn with_console(mut self, answers: &[(&str, &str)]) -> Script {
        let answers = answers.iter().map(|(c, a)| (c.to_string(), a.to_string()));
        self.console = Some(answers.collect());
        self
    }

    /// The screen shows these, one per look, the last one staying.
    pub(super) fn screens(mut self, screens: Vec<kennel_machine::RgbImage>) -> Script {
        self.screens = screens.into();
        self
    }

    /// QEMU refuses every `send-key` with the error `desc`.
    pub(super) fn refusing_keys(mut self, desc: &'static str) -> Script {
        self.keys_refused = Some(desc);
        self
    }

    /// The machine has no built-in guest for architecture `arch` (a SKIP).
    pub(super) fn unavailable(mut self, arch: &str) -> Script {
        self.unavailable = Some(arch.to_owned());
        self
    }
}

/// A running scripted machine.
struct Scripted {
    script: Script,
    exit: Option<ExitInfo>,
    console: Option<Capture>,
    output: Capture,
    stdout: Capture,
    stderr: Capture,
}

/// Wait until `deadline`, as a call that gets no answer does.
fn hang_until(deadline: Instant) {
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
}

impl RunningMachine for Scripted {
    fn is_running(&mut self) -> bool {
        self.exit.is_none()
    }

    fn exited_description(&mut self) -> String {
        match self.exit {
            Some(e) => format!("QEMU has exited ({e})"),
            None => "still running".into(),
        }
    }

    fn qmp_execute(
        &mut self,
        command: &str,
        _args: Option<&Value>,
        deadline: Instant,
    ) -> Result<Result<Value, CommandError>, QmpCallError> {
        let Some(replies) = self.script.qmp.get_mut(command) else {
            return Ok(Err(CommandError {
                class: "CommandNotFound".into(),
                desc: format!("The command {command} has not been found"),
            }));
        };
        let reply = match replies.len() {
            0 | 1 => replies.front().cloned().unwrap_or(Reply::Hangs),
            _ => replies.pop_front().unwrap_or(Reply::Hangs),
        };
        match reply {
            Reply::Returns(v) => Ok(Ok(v)),
            Reply::Refuses(class, desc) => Ok(Err(CommandError {
                class: class.into(),
                desc: desc.into(),
            })),
            Reply::Hangs => {
                hang_until(deadline);
                Err(QmpCallError::Exchange(QmpError::Timeout {
                    waiting_for: format!("reply to {command}"),
                }))
            }
        }
    }

    fn hmp(&mut self, command: &str, deadline: Instant) -> Result<String, QmpCallError> {
        if let Some(text) = self.script.hmp.get(command) {
            return Ok(text.clone());
        }
        hang_until(deadline);
        Err(QmpCallError::Exchange(QmpError::Timeout {
            waiting_for: command.to_owned(),
        }))
    }

    fn wait_event(
        &mut self,
        name: &str,
        pattern: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, QmpCallError> {
        let at = self.script.events.iter().position(|e| {
            e.get("event").and_then(Value::as_str) == Some(name)
                && pattern.is_none_or(|p| kennel_qmp::matches(p, e))
        });
        match at {
            Some(at) => Ok(self.script.events.remove(at)),
            None => {
                hang_until(deadline);
                Err(QmpCallError::Exchange(QmpError::Timeout {
                    waiting_for: format!("event {name}"),
                }))
            }
        }
    }

    fn pending_events(&self) -> Vec<Value> {
        self.script.events.clone()
    }

    fn console(&self) -> Result<&Capture, MachineError> {
        self.console
            .as_ref()
            .ok_or_else(|| MachineError::NoConsole {
                machine: "main".into(),
            })
    }

    fn console_write(&mut self, bytes: &[u8]) -> Result<(), MachineError> {
        let console = self.console()?;
        console.push(bytes);
        let typed = String::from_utf8_lossy(bytes);
        let answers = self.script.console.as_ref();
        if let Some(answer) = answers.and_then(|a| a.get(typed.trim_end_matches('\r'))) {
            console.push(format!("\r\n{answer}\r\n").as_bytes());
        }
        Ok(())
    }

    fn output(&self) -> &Capture {
        &self.output
    }

    fn stdout(&self) -> &Capture {
        &self.stdout
    }

    fn stderr(&self) -> &Capture {
        &self.stderr
    }

    fn run(&mut self, command: &str, deadline: Instant) -> Result<CommandResult, ChannelError> {
        match self.script.runs.get(command) {
            Some(result) => Ok(result.clone()),
            None => {
                hang_until(deadline);
                Err(ChannelError::Timeout {
                    waiting_for: format!("`{command}` to finish"),
                })
            }
        }
    }

    /// Each combination shows on the console as `[ctrl-alt-f2]` (when the
    /// machine has one), so that a later `console` step sees what was pressed.
    fn send_keys(&mut self, combos: &[KeyCombo], deadline: Instant) -> Result<(), InputError> {
        if let Some(desc) = self.script.keys_refused {
            return Err(InputError::Refused {
                what: format!("key {}", combos[0]),
                source: CommandError {
                    class: "GenericError".into(),
                    desc: desc.into(),
                },
            });
        }
        for (done, combo) in combos.iter().enumerate() {
            if Instant::now() >= deadline {
                return Err(InputError::Timeout {
                    done,
                    total: combos.len(),
                });
            }
            if let Some(console) = &self.console {
                console.push(format!("[{combo}]").as_bytes());
            }
        }
        Ok(())
    }

    /// The action shows on the console as `[mouse move to 10,20, click left]`.
    fn mouse(&mut self, action: &MouseAction, _deadline: Instant) -> Result<(), InputError> {
        if let Some(console) = &self.console {
            console.push(format!("[mouse {action}]").as_bytes());
        }
        Ok(())
    }

    fn wait_exit(&mut self, deadline: Instant) -> Result<ExitInfo, MachineError> {
        let started = Instant::now();
        match self.exit {
            Some(e) => Ok(e),
            None => {
                hang_until(deadline);
                Err(MachineError::ExitTimeout {
                    waited: started.elapsed(),
                })
            }
        }
    }

    fn shutdown(&mut self, _grace: Duration) -> Result<ExitInfo, MachineError> {
        let exit = ExitInfo {
            code: Some(0),
            signal: None,
        };
        self.exit = Some(exit);
        Ok(exit)
    }

    fn kill(&mut self) -> Result<ExitInfo, MachineError> {
        let exit = ExitInfo {
            code: None,
            signal: Some(9),
        };
        self.exit = Some(exit);
        Ok(exit)
    }

    fn record_start(&self, _record: &mut StartRecord, _several: bool) {}

    fn collect_artifacts(&mut self, _dir: &Path, _what: Artifacts) -> Vec<PathBuf> {
        Vec::new()
    }

    fn screendump(&mut self, path: &Path, deadline: Instant) -> Result<(), MachineError> {
        let pixels = RunningMachine::screen(self, deadline)?;
        Ok(kennel_screen::write_png(&pixels, path)?)
    }

    fn screen(&mut self, _deadline: Instant) -> Result<kennel_machine::RgbImage, MachineError> {
        let screens = &mut self.script.screens;
        let shown = if screens.len() > 1 {
            screens.pop_front()
        } else {
            screens.front().cloned()
        };
        shown.ok_or_else(|| {
            MachineError::Qmp(QmpError::Command(CommandError {
                class: "GenericError".into(),
                desc: "There is no QemuConsole I can screendump from.".into(),
            }))
        })
    }

    fn stop(&mut self) {
        let _ = RunningMachine::shutdown(self, Duration::ZERO);
    }

    fn as_vm(&self) -> Option<&Vm> {
        None
    }

    fn as_vm_mut(&mut self) -> Option<&mut Vm> {
        None
    }
}

/// Launches scripted machines by name; a machine without a script cannot start.
pub(super) struct Launcher {
    scripts: RefCell<HashMap<String, Script>>,
}

impl Launcher {
    pub(super) fn new(scripts: Vec<(&str, Script)>) -> Launcher {
        Launcher {
            scripts: RefCell::new(
                scripts
                    .into_iter()
                    .map(|(name, script)| (name.to_owned(), script))
                    .collect(),
            ),
        }
    }
}

impl MachineLauncher for Launcher {
    fn launch(
        &self,
        desc: MachineDesc,
        _workspace: &Workspace,
        _deadlines: Deadlines,
    ) -> Result<Box<dyn RunningMachine>, VmError> {
        let name = desc.config.name.clone();
        let script = self
            .scripts
            .borrow_mut()
            .remove(&name)
            .unwrap_or_else(|| Script::new().unavailable("no script"));
        if let Some(why) = script.unavailable {
            return Err(VmError::Unavailable(
                kennel_vm::guest::GuestProblem::NoGuestFor(why),
            ));
        }
        let output = Capture::new(format!("output of {name}"), Vec::new());
        output.push(script.output.as_bytes());
        Ok(Box::new(Scripted {
            console: script
                .console
                .as_ref()
                .map(|_| Capture::new(format!("console of {name}"), Vec::new())),
            script,
            exit: None,
            output,
            stdout: Capture::new(format!("stdout of {name}"), Vec::new()),
            stderr: Capture::new(format!("stderr of {name}"), Vec::new()),
        }))
    }
}
