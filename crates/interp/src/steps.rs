//! Each `[[step]]` kind, executed against the test's machines.

use std::time::{Duration, Instant};

use kennel_machine::{Machine, MachineError, Pattern, QmpError, WaitError};
use kennel_spec::{render_value, DescCheck, ExitExpect, QmpExpect, Step, StepKind, Value, Vars};

use kennel_vm::{ChannelError, CommandResult, SHUTDOWN_GRACE};

use crate::case::Interp;
use crate::checks::{cut, exact_eq, fold_crlf, found, pattern, regex, show};

/// Why a step did not pass.
#[derive(Debug)]
pub(super) enum StepError {
    /// The step failed (or did not pass within its timeout).
    Fail(String),
    /// The step cannot run as written (QEMU gone, bad value, no console...).
    Error(String),
    /// The test's own timeout ran out.
    Interrupted(String),
    /// Something the test needs is not here.
    Skip(String),
}

/// How long a polling step waits between attempts.
const POLL_PAUSE: Duration = Duration::from_millis(100);

impl Interp<'_> {
    /// Run one step, repeating it while `poll = true` and it fails.
    pub(super) fn run_step(&mut self, step: &Step) -> Result<(), StepError> {
        let deadline = step
            .timeout
            .map(|t| Instant::now() + t)
            .unwrap_or(self.deadline)
            .min(self.deadline);
        self.step_timeout = step
            .timeout
            .or_else(|| Some(deadline.saturating_duration_since(Instant::now())));
        let mut attempts = 0u32;
        let value = loop {
            attempts += 1;
            match self.step_once(step, deadline) {
                Ok(v) => break v,
                Err(StepError::Fail(msg)) if step.poll => {
                    let now = Instant::now();
                    if now + POLL_PAUSE >= deadline {
                        // Up to the deadline itself: the test's deadline running
                        // out is INTERRUPTED, the step's is FAIL.
                        std::thread::sleep(deadline.saturating_duration_since(now));
                        return Err(self.timed_out(format!(
                            "the step to pass ({attempts} attempts); last: {msg}"
                        )));
                    }
                    std::thread::sleep(POLL_PAUSE);
                }
                Err(e) => return Err(e),
            }
        };
        for (name, pointer) in &step.save {
            let v = value.as_ref().ok_or_else(|| {
                StepError::Error(format!(
                    "`save` on a {} step, which produces no value",
                    step.kind_name()
                ))
            })?;
            let found = v.pointer(pointer).ok_or_else(|| {
                StepError::Fail(format!(
                    "save `{name}`: pointer {pointer:?} finds nothing in {}",
                    show(v)
                ))
            })?;
            self.log.line(&format!("saved {name} = {}", show(found)));
            self.saved.insert(name.clone(), found.clone());
        }
        Ok(())
    }

    fn step_once(&mut self, step: &Step, deadline: Instant) -> Result<Option<Value>, StepError> {
        let vars = crate::vars::StepVars {
            saved: &self.saved,
            params: self.params,
            tmp: &self.tmp,
            dir: &self.file.dir,
            assets: &self.assets,
            guest: self.guest_files.as_ref(),
        };
        let text = |t: &kennel_spec::Template| {
            t.render(&vars).map_err(|e| StepError::Error(e.to_string()))
        };
        match &step.kind {
            StepKind::Launch => {
                let running = self
                    .slots
                    .get_mut(&step.on)
                    .and_then(|s| s.vm.as_mut())
                    .is_some_and(|vm| vm.machine().is_running());
                if running {
                    return Err(StepError::Error(format!(
                        "machine `{}` is already running",
                        step.on
                    )));
                }
                self.launch(&step.on.clone(), deadline)?;
                Ok(None)
            }
            StepKind::Running(want) => {
                let slot = self
                    .slots
                    .get_mut(&step.on)
                    .ok_or_else(|| unknown(&step.on))?;
                let alive = slot.vm.as_mut().is_some_and(|vm| vm.machine().is_running());
                if alive == *want {
                    return Ok(None);
                }
                match slot.vm.as_mut().map(|vm| vm.machine()) {
                    Some(m) if *want => Err(StepError::Fail(format!(
                        "expected QEMU to be running, but it is not: {}",
                        m.exited_description()
                    ))),
                    None => Err(StepError::Fail(
                        "expected QEMU to be running, but it was never launched".into(),
                    )),
                    Some(_) => Err(StepError::Fail(
                        "expected QEMU not to be running, but it is".into(),
                    )),
                }
            }
            StepKind::Qmp {
                command,
                args,
                expect,
            } => {
                let command = text(command)?;
                let args = args
                    .as_ref()
                    .map(|a| render_value(a, &vars))
                    .transpose()
                    .map_err(|e| StepError::Error(e.to_string()))?;
                let expect = render_expect(expect, &vars)?;
                let m = machine(&mut self.slots, &step.on)?;
                let qmp = m.qmp().map_err(|e| StepError::Error(e.to_string()))?;
                let reply = qmp.execute_raw(&command, args.as_ref(), deadline);
                let reply = match reply {
                    Ok(r) => r,
                    Err(QmpError::Timeout { .. }) => {
                        return Err(self.timed_out(format!("the reply to `{command}`")))
                    }
                    Err(e) => return Err(qmp_gone(m, e)),
                };
                judge_qmp(&command, reply, &expect)
            }
            StepKind::Hmp {
                command,
                contains,
                lacks,
                regex: re,
            } => {
                let command = text(command)?;
                let contains = contains.as_ref().map(text).transpose()?;
                let lacks = lacks.as_ref().map(text).transpose()?;
                let re = re
                    .as_ref()
                    .map(text)
                    .transpose()?
                    .map(|r| regex(&r))
                    .transpose()
                    .map_err(StepError::Error)?;
                let m = machine(&mut self.slots, &step.on)?;
                let qmp = m.qmp().map_err(|e| StepError::Error(e.to_string()))?;
                let out = match qmp.hmp(&command, deadline) {
                    Ok(o) => fold_crlf(&o),
                    Err(QmpError::Timeout { .. }) => {
                        return Err(self.timed_out(format!("the output of HMP `{command}`")))
                    }
                    Err(QmpError::Command(e)) => {
                        return Err(StepError::Fail(format!("HMP `{command}` failed: {e}")))
                    }
                    Err(e) => return Err(qmp_gone(m, e)),
                };
                if let Some(c) = &contains {
                    if !out.contains(c.as_str()) {
                        return Err(StepError::Fail(format!(
                            "HMP `{command}` output lacks {c:?}; output:\n{}",
                            cut(&out, 2000)
                        )));
                    }
                }
                if let Some(l) = &lacks {
                    if out.contains(l.as_str()) {
                        return Err(StepError::Fail(format!(
                            "HMP `{command}` output contains {l:?}; output:\n{}",
                            cut(&out, 2000)
                        )));
                    }
                }
                if let Some(r) = &re {
                    if !r.is_match(&out) {
                        return Err(StepError::Fail(format!(
                            "HMP `{command}` output does not match /{}/; output:\n{}",
                            r.as_str(),
                            cut(&out, 2000)
                        )));
                    }
                }
                Ok(Some(Value::String(out)))
            }
            StepKind::Event { name, matches } => {
                let name = text(name)?;
                let pat = matches
                    .as_ref()
                    .map(|p| render_value(p, &vars))
                    .transpose()
                    .map_err(|e| StepError::Error(e.to_string()))?;
                let m = machine(&mut self.slots, &step.on)?;
                // Events QEMU sent before it exited still count.
                let Some(qmp) = m.qmp_client() else {
                    return Err(StepError::Error(
                        m.qmp().err().map(|e| e.to_string()).unwrap_or_default(),
                    ));
                };
                match qmp.wait_event(&name, pat.as_ref(), deadline) {
                    Ok(ev) => Ok(Some(ev)),
                    Err(QmpError::Timeout { .. }) => {
                        let pending: Vec<String> = qmp
                            .pending_events()
                            .iter()
                            .map(|e| e.get("event").map(|n| n.to_string()).unwrap_or_default())
                            .collect();
                        let want = match &pat {
                            Some(p) => format!("event {name} matching {}", show(p)),
                            None => format!("event {name}"),
                        };
                        Err(self.timed_out(format!(
                            "{want}; unconsumed events: [{}]",
                            pending.join(", ")
                        )))
                    }
                    Err(e) => Err(qmp_gone(m, e)),
                }
            }
            StepKind::Console(check) => {
                let pat = pattern(check, &vars).map_err(StepError::Error)?;
                let m = machine(&mut self.slots, &step.on)?;
                let console = m
                    .console()
                    .map_err(|e| StepError::Error(e.to_string()))?
                    .clone();
                match console.wait_for(&pat, deadline) {
                    Ok(found) => Ok(Some(groups_value(&found.groups, &found.text))),
                    Err(e) => Err(self.wait_failed(&step.on, e)),
                }
            }
            StepKind::Send(t) => {
                let t = text(t)?;
                let m = machine(&mut self.slots, &step.on)?;
                m.console_write(t.as_bytes())
                    .map_err(|e| StepError::Error(e.to_string()))?;
                Ok(None)
            }
            StepKind::Exec { command, expect } => {
                let command = text(command)?;
                let expect = expect.as_ref().map(text).transpose()?;
                let m = machine(&mut self.slots, &step.on)?;
                let console = m
                    .console()
                    .map_err(|e| StepError::Error(e.to_string()))?
                    .clone();
                console.skip_to_end();
                m.console_write(format!("{command}\r").as_bytes())
                    .map_err(|e| StepError::Error(e.to_string()))?;
                if let Err(e) = console.wait_for(&Pattern::Text(command.clone()), deadline) {
                    return Err(self.wait_failed(&step.on, e));
                }
                if let Some(x) = expect {
                    match console.wait_for(&Pattern::Text(x), deadline) {
                        Ok(found) => return Ok(Some(Value::String(found.text))),
                        Err(e) => return Err(self.wait_failed(&step.on, e)),
                    }
                }
                Ok(None)
            }
            StepKind::Run {
                command,
                exit_code,
                stdout,
                stdout_contains,
                stdout_regex,
                stderr_contains,
            } => {
                let command = text(command)?;
                let want_code = exit_code
                    .as_ref()
                    .map(|c| c.render(&vars))
                    .transpose()
                    .map_err(|e| StepError::Error(e.to_string()))?
                    .unwrap_or(0);
                let stdout = stdout.as_ref().map(text).transpose()?;
                let stdout_contains = stdout_contains.as_ref().map(text).transpose()?;
                let stdout_regex = stdout_regex
                    .as_ref()
                    .map(text)
                    .transpose()?
                    .map(|r| regex(&r))
                    .transpose()
                    .map_err(StepError::Error)?;
                let stderr_contains = stderr_contains.as_ref().map(text).transpose()?;
                let out = self.guest_run(&step.on, &command, deadline)?;
                let value = serde_json::json!({
                    "stdout": out.stdout, "stderr": out.stderr,
                    "exit_code": out.exit_code(), "signal": out.signal(),
                });
                let shown = || {
                    format!(
                        "{}; stdout:\n{}\nstderr:\n{}",
                        out.status,
                        cut(out.stdout.trim_end(), 1500),
                        cut(out.stderr.trim_end(), 1500)
                    )
                };
                if out.exit_code() != Some(want_code as i32) {
                    return Err(StepError::Fail(format!(
                        "`{command}` in the guest: expected exit code {want_code}, got {}",
                        shown()
                    )));
                }
                if let Some(s) = &stdout {
                    if out.stdout.trim() != s.trim() {
                        return Err(StepError::Fail(format!(
                            "`{command}` in the guest: stdout is not {s:?}; {}",
                            shown()
                        )));
                    }
                }
                if let Some(s) = &stdout_contains {
                    if !out.stdout.contains(s.as_str()) {
                        return Err(StepError::Fail(format!(
                            "`{command}` in the guest: stdout lacks {s:?}; {}",
                            shown()
                        )));
                    }
                }
                if let Some(r) = &stdout_regex {
                    if !r.is_match(&out.stdout) {
                        return Err(StepError::Fail(format!(
                            "`{command}` in the guest: stdout does not match /{}/; {}",
                            r.as_str(),
                            shown()
                        )));
                    }
                }
                if let Some(s) = &stderr_contains {
                    if !out.stderr.contains(s.as_str()) {
                        return Err(StepError::Fail(format!(
                            "`{command}` in the guest: stderr lacks {s:?}; {}",
                            shown()
                        )));
                    }
                }
                Ok(Some(value))
            }
            StepKind::Output { contains, lacks } => {
                let contains = contains
                    .as_ref()
                    .map(|c| pattern(c, &vars))
                    .transpose()
                    .map_err(StepError::Error)?;
                let lacks = lacks
                    .as_ref()
                    .map(|c| pattern(c, &vars))
                    .transpose()
                    .map_err(StepError::Error)?;
                let m = machine(&mut self.slots, &step.on)?;
                let out = m.output().text();
                if let Some(p) = &contains {
                    if !found(p, &out) {
                        return Err(StepError::Fail(format!(
                            "QEMU output lacks {p}; output:\n{}",
                            m.output().last_lines(15)
                        )));
                    }
                }
                if let Some(p) = &lacks {
                    if found(p, &out) {
                        return Err(StepError::Fail(format!(
                            "QEMU output contains {p}; output:\n{}",
                            m.output().last_lines(15)
                        )));
                    }
                }
                Ok(Some(Value::String(out)))
            }
            StepKind::Exit(expect) => {
                let expect = expect.clone();
                self.check_exit(&step.on.clone(), &expect, deadline)?;
                Ok(None)
            }
            StepKind::Shutdown { code } => {
                let code = code
                    .as_ref()
                    .map(|c| c.render(&vars))
                    .transpose()
                    .map_err(|e| StepError::Error(e.to_string()))?;
                let m = machine(&mut self.slots, &step.on)?;
                if !m.is_running() {
                    return Err(StepError::Error(format!(
                        "cannot shut down: {}",
                        m.exited_description()
                    )));
                }
                let grace = deadline
                    .saturating_duration_since(Instant::now())
                    .min(SHUTDOWN_GRACE);
                let exit = m
                    .shutdown(grace)
                    .map_err(|e| StepError::Error(e.to_string()))?;
                match code {
                    Some(c) if exit.code != Some(c as i32) => Err(StepError::Fail(format!(
                        "expected QEMU to exit with code {c} after `quit`, got {exit}; output:\n{}",
                        m.output().last_lines(10)
                    ))),
                    _ => Ok(Some(exit_value(exit))),
                }
            }
            StepKind::Kill => {
                let m = machine(&mut self.slots, &step.on)?;
                let exit = m.kill().map_err(|e| StepError::Error(e.to_string()))?;
                Ok(Some(exit_value(exit)))
            }
        }
    }

    /// Run a command in the guest through the channel the machine core chose
    /// (agent, console shell or SSH).
    fn guest_run(
        &mut self,
        name: &str,
        command: &str,
        deadline: Instant,
    ) -> Result<CommandResult, StepError> {
        let slot = self.slots.get_mut(name).ok_or_else(|| unknown(name))?;
        let vm = slot.vm.as_mut().ok_or_else(|| never_launched(name))?;
        match vm.run(command, deadline) {
            Ok(out) => Ok(out),
            Err(ChannelError::Timeout { waiting_for }) => Err(self.timed_out(waiting_for)),
            Err(e @ ChannelError::ConsoleFailure(_)) => Err(StepError::Fail(e.to_string())),
            Err(e @ (ChannelError::Unavailable { .. } | ChannelError::Failed { .. })) => {
                Err(StepError::Error(e.to_string()))
            }
        }
    }

    /// QEMU must exit by itself by `deadline`, with the expected code and output.
    pub(super) fn check_exit(
        &mut self,
        name: &str,
        expect: &ExitExpect,
        deadline: Instant,
    ) -> Result<(), StepError> {
        let vars = crate::vars::StepVars {
            saved: &self.saved,
            params: self.params,
            tmp: &self.tmp,
            dir: &self.file.dir,
            assets: &self.assets,
            guest: self.guest_files.as_ref(),
        };
        let code = expect
            .code
            .as_ref()
            .map(|c| c.render(&vars))
            .transpose()
            .map_err(|e| StepError::Error(e.to_string()))?;
        let checks: Vec<(&str, Pattern)> = [
            ("stdout", &expect.stdout),
            ("stderr", &expect.stderr),
            ("output", &expect.output),
        ]
        .into_iter()
        .filter_map(|(n, c)| c.as_ref().map(|c| (n, c)))
        .map(|(n, c)| pattern(c, &vars).map(|p| (n, p)))
        .collect::<Result<_, _>>()
        .map_err(StepError::Error)?;
        let m = machine(&mut self.slots, name)?;
        let exit = match m.wait_exit(deadline) {
            Ok(e) => e,
            Err(MachineError::ExitTimeout { .. }) => {
                let last = m.output().last_lines(10);
                return Err(self.timed_out(format!(
                    "QEMU `{name}` to exit by itself; it is still running; output:\n{last}"
                )));
            }
            Err(e) => return Err(StepError::Error(e.to_string())),
        };
        self.log.line(&format!("`{name}` exited by itself: {exit}"));
        let m = machine(&mut self.slots, name)?;
        if let Some(c) = code {
            if exit.code != Some(c as i32) {
                return Err(StepError::Fail(format!(
                    "expected exit code {c}, got {exit}; output:\n{}",
                    m.output().last_lines(10)
                )));
            }
        }
        for (stream, p) in checks {
            let text = match stream {
                "stdout" => m.stdout().text(),
                "stderr" => m.stderr().text(),
                _ => m.output().text(),
            };
            if !found(&p, &text) {
                return Err(StepError::Fail(format!(
                    "QEMU's {stream} lacks {p}; {stream}:\n{}",
                    match stream {
                        "stdout" => m.stdout().last_lines(10),
                        "stderr" => m.stderr().last_lines(10),
                        _ => m.output().last_lines(10),
                    }
                )));
            }
        }
        Ok(())
    }

    fn wait_failed(&mut self, name: &str, e: WaitError) -> StepError {
        match e {
            WaitError::Timeout {
                what,
                last,
                source_name,
            } => self.timed_out(format!("{what} on {source_name}; last lines:\n{last}")),
            WaitError::FailPattern { .. } => StepError::Fail(e.to_string()),
            WaitError::Closed { .. } => {
                let exit = self
                    .slots
                    .get_mut(name)
                    .and_then(|s| s.vm.as_mut())
                    .map(|vm| vm.machine().exited_description())
                    .unwrap_or_default();
                StepError::Error(format!("{e}\n{exit}"))
            }
            _ => StepError::Error(e.to_string()),
        }
    }
}

fn unknown(name: &str) -> StepError {
    StepError::Error(format!("no machine named `{name}`"))
}

fn machine<'m>(
    slots: &'m mut indexmap::IndexMap<String, crate::case::Slot<'_>>,
    name: &str,
) -> Result<&'m mut Machine, StepError> {
    let slot = slots.get_mut(name).ok_or_else(|| unknown(name))?;
    slot.vm
        .as_mut()
        .map(|vm| vm.machine())
        .ok_or_else(|| never_launched(name))
}

fn never_launched(name: &str) -> StepError {
    StepError::Error(format!(
        "machine `{name}` was never launched (`launch = false`): add a `launch = true` step first"
    ))
}

/// A QMP failure that is not a timeout: QEMU went away or spoke garbage.
fn qmp_gone(m: &mut Machine, e: QmpError) -> StepError {
    // The connection usually closes a moment before the process is reaped.
    let _ = m.wait_exit(Instant::now() + Duration::from_secs(1));
    if m.is_running() {
        StepError::Error(format!("QMP failed: {e}"))
    } else {
        StepError::Error(format!("QMP failed: {e}; {}", m.exited_description()))
    }
}

/// The spec's QMP expectation with its templates rendered.
enum Expect {
    Success,
    Returns(Value),
    ReturnsExact(Value),
    Error {
        class: Option<String>,
        desc: Option<(u8, String)>,
    },
}

fn render_expect(e: &QmpExpect, vars: &dyn Vars) -> Result<Expect, StepError> {
    let err = |e: kennel_spec::RenderError| StepError::Error(e.to_string());
    Ok(match e {
        QmpExpect::Success => Expect::Success,
        QmpExpect::Returns(v) => Expect::Returns(render_value(v, vars).map_err(err)?),
        QmpExpect::ReturnsExact(v) => Expect::ReturnsExact(render_value(v, vars).map_err(err)?),
        QmpExpect::Error { class, desc } => Expect::Error {
            class: class
                .as_ref()
                .map(|c| c.render(vars))
                .transpose()
                .map_err(err)?,
            desc: match desc {
                None => None,
                Some(DescCheck::Exact(t)) => Some((0, t.render(vars).map_err(err)?)),
                Some(DescCheck::Contains(t)) => Some((1, t.render(vars).map_err(err)?)),
                Some(DescCheck::Regex(t)) => Some((2, t.render(vars).map_err(err)?)),
            },
        },
    })
}

fn judge_qmp(
    command: &str,
    reply: Result<Value, kennel_machine::CommandError>,
    expect: &Expect,
) -> Result<Option<Value>, StepError> {
    match (reply, expect) {
        (Ok(v), Expect::Success) => Ok(Some(v)),
        (Ok(v), Expect::Returns(want)) => {
            if kennel_qmp::matches(want, &v) {
                Ok(Some(v))
            } else {
                Err(StepError::Fail(format!(
                    "`{command}` returned {}, which does not contain {}",
                    show(&v),
                    show(want)
                )))
            }
        }
        (Ok(v), Expect::ReturnsExact(want)) => {
            if exact_eq(want, &v) {
                Ok(Some(v))
            } else {
                Err(StepError::Fail(format!(
                    "`{command}` returned {}, expected exactly {}",
                    show(&v),
                    show(want)
                )))
            }
        }
        (Ok(v), Expect::Error { class, .. }) => Err(StepError::Fail(format!(
            "`{command}` succeeded with {}, but an error{} was expected",
            show(&v),
            class
                .as_deref()
                .map(|c| format!(" of class {c}"))
                .unwrap_or_default()
        ))),
        (Err(e), Expect::Error { class, desc }) => {
            if let Some(c) = class {
                if &e.class != c {
                    return Err(StepError::Fail(format!(
                        "`{command}` failed with class {} ({:?}), expected class {c}",
                        e.class, e.desc
                    )));
                }
            }
            if let Some((how, want)) = desc {
                let ok = match how {
                    0 => &e.desc == want,
                    1 => e.desc.contains(want.as_str()),
                    _ => regex(want).map_err(StepError::Error)?.is_match(&e.desc),
                };
                if !ok {
                    let how = ["equal to", "containing", "matching"][usize::from(*how).min(2)];
                    return Err(StepError::Fail(format!(
                        "`{command}` failed with desc {:?}, expected a desc {how} {want:?}",
                        e.desc
                    )));
                }
            }
            Ok(Some(serde_json::json!({"class": e.class, "desc": e.desc})))
        }
        (Err(e), _) => Err(StepError::Fail(format!(
            "`{command}` failed: {}: {}",
            e.class, e.desc
        ))),
    }
}

fn groups_value(groups: &[(String, String)], whole: &str) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("0".into(), Value::String(whole.to_string()));
    for (k, v) in groups {
        map.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(map)
}

fn exit_value(exit: kennel_machine::ExitInfo) -> Value {
    serde_json::json!({"code": exit.code, "signal": exit.signal})
}
