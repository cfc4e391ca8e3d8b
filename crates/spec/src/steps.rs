//! Loading `[[step]]` tables: kind, target machine, options.

use indexmap::IndexMap;

use crate::check::BUILTINS;
use crate::convert::{list, Ty, EXIT_CODE};
use crate::load::{Loader, Result, MAIN_MACHINE};
use crate::model::{DescCheck, MachineSpec, QmpExpect, Step, StepKind, TextCheck};
use crate::raw::{
    kind_options, RawOutput, RawQmpError, RawStep, KIND_KEYS, POLL_KINDS, S, SAVE_KINDS,
};
use crate::template::is_var_name;

impl Loader<'_> {
    pub(crate) fn steps(
        &self,
        raw: Vec<S<RawStep>>,
        machines: &[MachineSpec],
    ) -> Result<Vec<Step>> {
        raw.iter().map(|step| self.step(step, machines)).collect()
    }

    fn step(&self, raw: &S<RawStep>, machines: &[MachineSpec]) -> Result<Step> {
        let header = raw.span().start;
        let line = self.line(header);
        let step = raw.get_ref();
        let present = step.present_keys();
        let kinds: Vec<&str> = present
            .iter()
            .copied()
            .filter(|key| KIND_KEYS.contains(key))
            .collect();
        let kind = match kinds.as_slice() {
            [] => {
                return self.err(
                    header,
                    format!("step has no kind: expected one of {}", list(&KIND_KEYS)),
                )
            }
            [kind] => *kind,
            [a, b] => return self.err(header, format!("step has two kinds: `{a}` and `{b}`")),
            many => {
                return self.err(
                    header,
                    format!("step has {} kinds: {}", many.len(), list(many)),
                )
            }
        };
        let options = kind_options(kind);
        for key in &present {
            if KIND_KEYS.contains(key) || matches!(*key, "save" | "poll") || options.contains(key) {
                continue;
            }
            let takes = if options.is_empty() {
                "none".to_owned()
            } else {
                list(options)
            };
            return self.err(
                header,
                format!("key `{key}` does not apply to a `{kind}` step (its own keys: {takes})"),
            );
        }
        let poll = self.opt_boolean(step.poll.as_ref(), "poll", false)?;
        if poll && !POLL_KINDS.contains(&kind) {
            return self.err(
                header,
                format!(
                    "`poll` does not apply to a `{kind}` step (only to {})",
                    list(&POLL_KINDS)
                ),
            );
        }
        let save = match &step.save {
            Some(save) if !SAVE_KINDS.contains(&kind) => {
                return self.err(
                    save.span().start,
                    format!(
                    "`save` does not apply to a `{kind}` step (only to {}, which produce a value)",
                    list(&SAVE_KINDS)
                ),
                )
            }
            Some(save) => self.save(save)?,
            None => Vec::new(),
        };
        let on = self.resolve_on(header, step.on.as_ref(), machines)?;
        let timeout = self.opt_duration(step.timeout.as_ref(), "timeout")?;
        let kind = self.step_kind(kind, raw)?;
        Ok(Step {
            line,
            on,
            timeout,
            poll,
            save,
            kind,
        })
    }

    fn save(&self, save: &S<IndexMap<String, String>>) -> Result<Vec<(String, String)>> {
        let at = save.span().start;
        let mut out = Vec::new();
        for (name, pointer) in save.get_ref() {
            if !is_var_name(name) || name.contains(':') {
                return self.err(
                    at,
                    format!(
                        "bad name `{name}` in `save` (expected letters, digits, `_`, `-`, `.`)"
                    ),
                );
            }
            if BUILTINS.contains(&name.as_str()) {
                return self.err(
                    at,
                    format!("`save` name `{name}` would hide the built-in `${{{name}}}`"),
                );
            }
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return self.err(
                    at,
                    format!("`save.{name}` = {pointer:?} is not a JSON pointer: expected \"\" or a path starting with `/`, like \"/0/qom-path\""),
                );
            }
            out.push((name.clone(), pointer.clone()));
        }
        Ok(out)
    }

    fn resolve_on(
        &self,
        header: usize,
        on: Option<&S<String>>,
        machines: &[MachineSpec],
    ) -> Result<String> {
        let names: Vec<&str> = machines.iter().map(|m| m.name.as_str()).collect();
        let target = match (on, machines) {
            (_, []) => {
                return self.err(
                    header,
                    "test has steps but no machine: add a `[machine]` table",
                )
            }
            (Some(on), _) => {
                let Some(on) = self.checked_text(on, "on")? else {
                    // Known per case: the file as loaded targets its first machine.
                    return Ok(machines[0].name.clone());
                };
                if !names.contains(&on.as_str()) {
                    return self.err(
                        header,
                        format!(
                            "step targets unknown machine `{on}` (machines: {})",
                            list(&names)
                        ),
                    );
                }
                on.clone()
            }
            (None, [only]) => only.name.clone(),
            (None, _) if names.contains(&MAIN_MACHINE) => MAIN_MACHINE.to_owned(),
            (None, _) => {
                return self.err(
                    header,
                    format!(
                        "step needs `on`: there are several machines ({}) and none is named `main`",
                        list(&names)
                    ),
                )
            }
        };
        if machines
            .iter()
            .any(|m| m.name == target && m.expect_exit.is_some())
        {
            return self.err(
                header,
                format!("step targets machine `{target}`, which has `expect_exit`: no step may target such a machine"),
            );
        }
        Ok(target)
    }

    fn step_kind(&self, kind: &str, raw: &S<RawStep>) -> Result<StepKind> {
        let header = raw.span().start;
        let step = raw.get_ref();
        let opt = |value: &Option<S<String>>| self.opt_tmpl(value.as_ref());
        Ok(match (kind, step) {
            (
                "qmp",
                RawStep {
                    qmp: Some(command), ..
                },
            ) => StepKind::Qmp {
                command: self.tmpl(command)?,
                args: match &step.args {
                    Some(args) => Some(self.table_value(args, "args")?),
                    None => None,
                },
                expect: self.qmp_expect(header, step)?,
            },
            (
                "hmp",
                RawStep {
                    hmp: Some(command), ..
                },
            ) => StepKind::Hmp {
                command: self.tmpl(command)?,
                contains: opt(&step.contains)?,
                lacks: opt(&step.lacks)?,
                regex: match &step.regex {
                    Some(regex) => Some(self.regex(regex)?),
                    None => None,
                },
            },
            (
                "event",
                RawStep {
                    event: Some(name), ..
                },
            ) => StepKind::Event {
                name: self.tmpl(name)?,
                matches: match &step.r#match {
                    Some(matches) => Some(self.table_value(matches, "match")?),
                    None => None,
                },
            },
            (
                "console",
                RawStep {
                    console: Some(text),
                    ..
                },
            ) => StepKind::Console(TextCheck::Contains(self.tmpl(text)?)),
            (
                "console_regex",
                RawStep {
                    console_regex: Some(regex),
                    ..
                },
            ) => StepKind::Console(TextCheck::Regex(self.regex(regex)?)),
            (
                "send",
                RawStep {
                    send: Some(text), ..
                },
            ) => StepKind::Send(self.tmpl(text)?),
            (
                "exec",
                RawStep {
                    exec: Some(command),
                    ..
                },
            ) => StepKind::Exec {
                command: self.tmpl(command)?,
                expect: opt(&step.expect)?,
            },
            (
                "run",
                RawStep {
                    run: Some(command), ..
                },
            ) => StepKind::Run {
                command: self.tmpl(command)?,
                exit_code: self.opt_templ(
                    step.exit_code.as_ref(),
                    Ty::Integer,
                    "exit_code",
                    EXIT_CODE,
                )?,
                stdout: opt(&step.stdout)?,
                stdout_contains: opt(&step.stdout_contains)?,
                stdout_regex: match &step.stdout_regex {
                    Some(regex) => Some(self.regex(regex)?),
                    None => None,
                },
                stderr_contains: opt(&step.stderr_contains)?,
            },
            (
                "output",
                RawStep {
                    output: Some(output),
                    ..
                },
            ) => self.output(output)?,
            (
                "running",
                RawStep {
                    running: Some(running),
                    ..
                },
            ) => StepKind::Running(self.boolean(running, "running")?.unwrap_or(true)),
            (
                "launch",
                RawStep {
                    launch: Some(launch),
                    ..
                },
            ) => {
                if self.boolean(launch, "launch")? == Some(false) {
                    return self.err(
                        launch.span().start,
                        "`launch = false` is not a step: write `launch = true` to launch a machine declared with `launch = false`",
                    );
                }
                StepKind::Launch
            }
            (
                "exit",
                RawStep {
                    exit: Some(exit), ..
                },
            ) => StepKind::Exit(self.exit(exit, false)?),
            (
                "shutdown",
                RawStep {
                    shutdown: Some(shutdown),
                    ..
                },
            ) => StepKind::Shutdown {
                code: self.opt_templ(
                    shutdown.get_ref().code.as_ref(),
                    Ty::Integer,
                    "code",
                    EXIT_CODE,
                )?,
            },
            (
                "kill",
                RawStep {
                    kill: Some(kill), ..
                },
            ) => {
                if self.boolean(kill, "kill")? == Some(false) {
                    return self.err(
                        kill.span().start,
                        "`kill = false` is not a step: write `kill = true` to kill the machine",
                    );
                }
                StepKind::Kill
            }
            _ => return self.err(header, format!("step kind `{kind}` is not handled")),
        })
    }

    fn qmp_expect(&self, header: usize, step: &RawStep) -> Result<QmpExpect> {
        let set: Vec<&str> = [
            ("returns", step.returns.is_some()),
            ("returns_exact", step.returns_exact.is_some()),
            ("error", step.error.is_some()),
        ]
        .iter()
        .filter(|(_, present)| *present)
        .map(|(key, _)| *key)
        .collect();
        if let [a, b, ..] = set.as_slice() {
            return self.err(
                header,
                format!("`{a}` and `{b}` cannot be combined in a `qmp` step: expected one"),
            );
        }
        Ok(if let Some(returns) = &step.returns {
            QmpExpect::Returns(self.value(returns)?)
        } else if let Some(returns) = &step.returns_exact {
            QmpExpect::ReturnsExact(self.value(returns)?)
        } else if let Some(error) = &step.error {
            self.qmp_error(error)?
        } else {
            QmpExpect::Success
        })
    }

    fn qmp_error(&self, raw: &S<RawQmpError>) -> Result<QmpExpect> {
        let error = raw.get_ref();
        let descs: Vec<(&str, &S<String>)> = [
            ("desc", &error.desc),
            ("desc_contains", &error.desc_contains),
            ("desc_regex", &error.desc_regex),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (key, v)))
        .collect();
        let desc = match descs.as_slice() {
            [] => None,
            [("desc", value)] => Some(DescCheck::Exact(self.tmpl(value)?)),
            [("desc_contains", value)] => Some(DescCheck::Contains(self.tmpl(value)?)),
            [(_, value)] => Some(DescCheck::Regex(self.regex(value)?)),
            [(a, _), (b, value), ..] => {
                return self.err(
                    value.span().start,
                    format!("`{a}` and `{b}` cannot be combined in `error`: expected one"),
                )
            }
        };
        Ok(QmpExpect::Error {
            class: self.opt_tmpl(error.class.as_ref())?,
            desc,
        })
    }

    fn output(&self, raw: &S<RawOutput>) -> Result<StepKind> {
        let output: &RawOutput = raw.get_ref();
        let contains = self.text_check(
            ("contains", &output.contains),
            ("contains_regex", &output.contains_regex),
        )?;
        let lacks = self.text_check(
            ("lacks", &output.lacks),
            ("lacks_regex", &output.lacks_regex),
        )?;
        if contains.is_none() && lacks.is_none() {
            return self.err(
                raw.span().start,
                "`output` needs one of `contains`, `lacks`, `contains_regex`, `lacks_regex`",
            );
        }
        Ok(StepKind::Output { contains, lacks })
    }
}
