//! The monitor's steps: `qmp` (with `returns`, `returns_exact`, `error`),
//! `hmp` and `event`.

use std::time::{Duration, Instant};

use kennel_machine::{CommandError, QmpError};
use kennel_spec::{render_value, DescCheck, QmpExpect, Template, Value, Vars};

use super::StepError;
use crate::checks::{cut, exact_eq, fold_crlf, regex, show};
use crate::context::StepTime;
use crate::running::{QmpCallError, RunningMachine};
use crate::slots::On;

/// `qmp = "<command>"`: run it and judge QEMU's answer.
pub(super) fn qmp(
    mut on: On<'_, '_>,
    command: &Template,
    args: Option<&Value>,
    expect: &QmpExpect,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let command = command.render(vars)?;
    let args = args.map(|a| render_value(a, vars)).transpose()?;
    let expect = Expect::render(expect, vars)?;
    let m = on.machine()?;
    let reply = match m.qmp_execute(&command, args.as_ref(), time.deadline) {
        Ok(reply) => reply,
        Err(QmpCallError::Exchange(QmpError::Timeout { .. })) => {
            return Err(time.timed_out(format!("the reply to `{command}`")))
        }
        Err(e) => return Err(call_failed(m, e)),
    };
    judge(&command, reply, &expect)
}

/// `link = { machine, network, up }`: QMP `set_link` on the machine's NIC on
/// that network (the cable pulled or put back; the guest sees its link go
/// down or up).
pub(super) fn link(
    mut on: On<'_, '_>,
    network: &str,
    up: bool,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let args = serde_json::json!({ "name": kennel_vm::network::device_id(network), "up": up });
    let m = on.machine()?;
    match m.qmp_execute("set_link", Some(&args), time.deadline) {
        Ok(Ok(_)) => Ok(None),
        Ok(Err(e)) => Err(StepError::Error(format!(
            "`set_link` on network `{network}` failed: {e}"
        ))),
        Err(QmpCallError::Exchange(QmpError::Timeout { .. })) => {
            Err(time.timed_out("the reply to `set_link`".to_owned()))
        }
        Err(e) => Err(call_failed(m, e)),
    }
}

/// The checks of an `hmp` step on the command's output.
pub(super) struct HmpChecks<'s> {
    /// `contains`.
    pub contains: Option<&'s Template>,
    /// `lacks`.
    pub lacks: Option<&'s Template>,
    /// `regex`.
    pub regex: Option<&'s Template>,
}

/// `hmp = "<command line>"`: run it; its output must pass the checks.
pub(super) fn hmp(
    mut on: On<'_, '_>,
    command: &Template,
    checks: HmpChecks<'_>,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let command = command.render(vars)?;
    let contains = checks.contains.map(|t| t.render(vars)).transpose()?;
    let lacks = checks.lacks.map(|t| t.render(vars)).transpose()?;
    let re = match checks.regex {
        Some(t) => Some(regex(&t.render(vars)?)?),
        None => None,
    };
    let m = on.machine()?;
    let out = match m.hmp(&command, time.deadline) {
        Ok(o) => fold_crlf(&o),
        Err(QmpCallError::Exchange(QmpError::Timeout { .. })) => {
            return Err(time.timed_out(format!("the output of HMP `{command}`")))
        }
        Err(QmpCallError::Exchange(QmpError::Command(e))) => {
            return Err(StepError::Fail(format!("HMP `{command}` failed: {e}")))
        }
        Err(e) => return Err(call_failed(m, e)),
    };
    let failed = |what: String| {
        StepError::Fail(format!(
            "HMP `{command}` output {what}; output:\n{}",
            cut(&out, 2000)
        ))
    };
    if let Some(c) = contains.filter(|c| !out.contains(c.as_str())) {
        return Err(failed(format!("lacks {c:?}")));
    }
    if let Some(l) = lacks.filter(|l| out.contains(l.as_str())) {
        return Err(failed(format!("contains {l:?}")));
    }
    if let Some(r) = re.filter(|r| !r.is_match(&out)) {
        return Err(failed(format!("does not match /{}/", r.as_str())));
    }
    Ok(Some(Value::String(out)))
}

/// `event = "<NAME>"`: wait for it (matching `match`); the event is the value.
pub(super) fn event(
    mut on: On<'_, '_>,
    name: &Template,
    matches: Option<&Value>,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let name = name.render(vars)?;
    let pattern = matches.map(|p| render_value(p, vars)).transpose()?;
    let m = on.machine()?;
    match m.wait_event(&name, pattern.as_ref(), time.deadline) {
        Ok(event) => Ok(Some(event)),
        Err(QmpCallError::Exchange(QmpError::Timeout { .. })) => {
            let pending: Vec<String> = m
                .pending_events()
                .iter()
                .map(|e| e.get("event").map(|n| n.to_string()).unwrap_or_default())
                .collect();
            let want = match &pattern {
                Some(p) => format!("event {name} matching {}", show(p)),
                None => format!("event {name}"),
            };
            Err(time.timed_out(format!(
                "{want}; unconsumed events: [{}]",
                pending.join(", ")
            )))
        }
        Err(QmpCallError::NoMonitor(e)) => Err(StepError::Error(e.to_string())),
        Err(QmpCallError::Exchange(e)) => Err(qmp_gone(m, e)),
    }
}

/// A QMP call that got no answer, not for lack of time.
fn call_failed(m: &mut dyn RunningMachine, e: QmpCallError) -> StepError {
    match e {
        QmpCallError::NoMonitor(e) => StepError::Error(e.to_string()),
        QmpCallError::Exchange(e) => qmp_gone(m, e),
    }
}

/// A QMP failure that is not a timeout: QEMU went away or spoke garbage.
pub(super) fn qmp_gone(m: &mut dyn RunningMachine, e: QmpError) -> StepError {
    // The connection usually closes a moment before the process is reaped.
    let _ = m.wait_exit(Instant::now() + Duration::from_secs(1));
    if m.is_running() {
        StepError::Error(format!("QMP failed: {e}"))
    } else {
        StepError::Error(format!("QMP failed: {e}; {}", m.exited_description()))
    }
}

/// How a `desc` check compares.
#[derive(Clone, Copy)]
enum DescHow {
    Equal,
    Containing,
    Matching,
}

/// The spec's QMP expectation with its templates rendered.
enum Expect {
    Success,
    Returns(Value),
    ReturnsExact(Value),
    Error {
        class: Option<String>,
        desc: Option<(DescHow, String)>,
    },
}

impl Expect {
    fn render(e: &QmpExpect, vars: &dyn Vars) -> Result<Expect, StepError> {
        Ok(match e {
            QmpExpect::Success => Expect::Success,
            QmpExpect::Returns(v) => Expect::Returns(render_value(v, vars)?),
            QmpExpect::ReturnsExact(v) => Expect::ReturnsExact(render_value(v, vars)?),
            QmpExpect::Error { class, desc } => Expect::Error {
                class: class.as_ref().map(|c| c.render(vars)).transpose()?,
                desc: match desc {
                    None => None,
                    Some(DescCheck::Exact(t)) => Some((DescHow::Equal, t.render(vars)?)),
                    Some(DescCheck::Contains(t)) => Some((DescHow::Containing, t.render(vars)?)),
                    Some(DescCheck::Regex(t)) => Some((DescHow::Matching, t.render(vars)?)),
                },
            },
        })
    }
}

/// QEMU's answer to `command` against what the step expects; the value is the
/// return value, or the error as `{"class", "desc"}`.
fn judge(
    command: &str,
    reply: Result<Value, CommandError>,
    expect: &Expect,
) -> Result<Option<Value>, StepError> {
    match (reply, expect) {
        (Ok(v), Expect::Success) => Ok(Some(v)),
        (Ok(v), Expect::Returns(want)) if kennel_qmp::matches(want, &v) => Ok(Some(v)),
        (Ok(v), Expect::Returns(want)) => Err(StepError::Fail(format!(
            "`{command}` returned {}, which does not contain {}",
            show(&v),
            show(want)
        ))),
        (Ok(v), Expect::ReturnsExact(want)) if exact_eq(want, &v) => Ok(Some(v)),
        (Ok(v), Expect::ReturnsExact(want)) => Err(StepError::Fail(format!(
            "`{command}` returned {}, expected exactly {}",
            show(&v),
            show(want)
        ))),
        (Ok(v), Expect::Error { class, .. }) => Err(StepError::Fail(format!(
            "`{command}` succeeded with {}, but an error{} was expected",
            show(&v),
            class
                .as_deref()
                .map(|c| format!(" of class {c}"))
                .unwrap_or_default()
        ))),
        (Err(e), Expect::Error { class, desc }) => judge_error(command, e, class, desc),
        (Err(e), _) => Err(StepError::Fail(format!(
            "`{command}` failed: {}: {}",
            e.class, e.desc
        ))),
    }
}

/// An error QEMU answered against the `error` the step expects.
fn judge_error(
    command: &str,
    e: CommandError,
    class: &Option<String>,
    desc: &Option<(DescHow, String)>,
) -> Result<Option<Value>, StepError> {
    if let Some(c) = class.as_ref().filter(|c| &e.class != *c) {
        return Err(StepError::Fail(format!(
            "`{command}` failed with class {} ({:?}), expected class {c}",
            e.class, e.desc
        )));
    }
    if let Some((how, want)) = desc {
        let (ok, said) = match how {
            DescHow::Equal => (&e.desc == want, "equal to"),
            DescHow::Containing => (e.desc.contains(want.as_str()), "containing"),
            DescHow::Matching => (regex(want)?.is_match(&e.desc), "matching"),
        };
        if !ok {
            return Err(StepError::Fail(format!(
                "`{command}` failed with desc {:?}, expected a desc {said} {want:?}",
                e.desc
            )));
        }
    }
    Ok(Some(serde_json::json!({"class": e.class, "desc": e.desc})))
}
