//! Loading `[[step]]` tables: kind, target machine, options.

use indexmap::IndexMap;

use crate::check::BUILTINS;
use crate::convert::{list, Ty, EXIT_CODE};
use crate::load::{Loader, Result, MAIN_MACHINE};
use crate::model::{DescCheck, MachineSpec, QmpExpect, Step, StepKind, TextCheck};
use crate::raw::{
    kind_options, RawOutput, RawQmpError, RawShutdown, RawStep, KIND_KEYS, POLL_KINDS, S,
    SAVE_KINDS,
};
use crate::template::{is_var_name, Template};

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
        let step = raw.get_ref();
        let present = step.present_keys();
        let kind = self.kind_key(header, &present)?;
        self.check_options(header, kind, &present)?;
        let poll = self.poll(header, kind, step)?;
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
        let on = match (kind, &step.link) {
            ("migrate", _) => self.migrate_on(header, step)?,
            // A `link` step's machine is its own `machine` key.
            ("link", Some(link)) => link
                .get_ref()
                .machine
                .as_ref()
                .map(|m| m.get_ref().clone())
                .unwrap_or_default(),
            _ => self.resolve_on(header, step.on.as_ref(), machines)?,
        };
        let timeout = self.opt_duration(step.timeout.as_ref(), "timeout")?;
        let kind = match (kind, &step.screen, &step.migrate) {
            ("screen", Some(refs), _) => self.screen_step(step, refs, &on, header, machines)?,
            ("migrate", _, Some(migrate)) => self.migrate_step(migrate, machines)?,
            _ => self.step_kind(kind, raw, machines)?,
        };
        self.check_input_target(header, &kind, machines, &on)?;
        Ok(Step {
            line: self.line(header),
            on,
            timeout,
            poll,
            save,
            kind,
        })
    }

    /// The one key of `present` naming the step's kind.
    fn kind_key(&self, header: usize, present: &[&'static str]) -> Result<&'static str> {
        let kinds: Vec<&str> = present
            .iter()
            .copied()
            .filter(|key| KIND_KEYS.contains(key))
            .collect();
        match kinds.as_slice() {
            [] => self.err(
                header,
                format!("step has no kind: expected one of {}", list(&KIND_KEYS)),
            ),
            [kind] => Ok(kind),
            [a, b] => self.err(header, format!("step has two kinds: `{a}` and `{b}`")),
            many => self.err(
                header,
                format!("step has {} kinds: {}", many.len(), list(many)),
            ),
        }
    }

    /// Every key of `present` applies to a `kind` step.
    fn check_options(&self, header: usize, kind: &str, present: &[&str]) -> Result<()> {
        let options = kind_options(kind);
        for key in present {
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
        Ok(())
    }

    /// `poll`, for the kinds that may repeat.
    fn poll(&self, header: usize, kind: &str, step: &RawStep) -> Result<bool> {
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
        Ok(poll)
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

    /// What the step does: its kind's own loader.
    fn step_kind(
        &self,
        kind: &str,
        raw: &S<RawStep>,
        machines: &[MachineSpec],
    ) -> Result<StepKind> {
        let step = raw.get_ref();
        match kind {
            "qmp" => self.qmp_step(raw, self.kind_value(raw, kind, &step.qmp)?),
            "hmp" => self.hmp_step(step, self.kind_value(raw, kind, &step.hmp)?),
            "event" => self.event_step(step, self.kind_value(raw, kind, &step.event)?),
            "console" => {
                let text = self.kind_value(raw, kind, &step.console)?;
                Ok(StepKind::Console(TextCheck::Contains(self.tmpl(text)?)))
            }
            "console_regex" => {
                let regex = self.kind_value(raw, kind, &step.console_regex)?;
                Ok(StepKind::Console(TextCheck::Regex(self.regex(regex)?)))
            }
            "send" => Ok(StepKind::Send(
                self.tmpl(self.kind_value(raw, kind, &step.send)?)?,
            )),
            "exec" => self.exec_step(step, self.kind_value(raw, kind, &step.exec)?),
            "run" => self.run_step(step, self.kind_value(raw, kind, &step.run)?),
            "output" => self.output(self.kind_value(raw, kind, &step.output)?),
            "running" => {
                let running = self.kind_value(raw, kind, &step.running)?;
                Ok(StepKind::Running(
                    self.boolean(running, "running")?.unwrap_or(true),
                ))
            }
            "launch" => self.launch_step(self.kind_value(raw, kind, &step.launch)?),
            "exit" => Ok(StepKind::Exit(
                self.exit(self.kind_value(raw, kind, &step.exit)?, false)?,
            )),
            "shutdown" => self.shutdown_step(self.kind_value(raw, kind, &step.shutdown)?),
            "kill" => self.kill_step(self.kind_value(raw, kind, &step.kill)?),
            "screendump" => self.screendump_step(self.kind_value(raw, kind, &step.screendump)?),
            "keys" => self.keys_step(self.kind_value(raw, kind, &step.keys)?),
            "type" => self.type_step(self.kind_value(raw, kind, &step.r#type)?),
            "mouse" => self.mouse_step(self.kind_value(raw, kind, &step.mouse)?),
            "link" => self.link_step(raw, self.kind_value(raw, kind, &step.link)?, machines),
            "screen_text" => {
                self.screen_text_step(step, self.kind_value(raw, kind, &step.screen_text)?)
            }
            _ => self.unhandled(raw, kind),
        }
    }

    /// The value of the step's kind key `kind` (present: the kind was read
    /// from the keys present).
    fn kind_value<'r, T>(
        &self,
        raw: &S<RawStep>,
        kind: &str,
        value: &'r Option<T>,
    ) -> Result<&'r T> {
        match value {
            Some(value) => Ok(value),
            None => self.unhandled(raw, kind),
        }
    }

    /// A kind this loader does not know (a key in `KIND_KEYS` without a loader).
    fn unhandled<T>(&self, raw: &S<RawStep>, kind: &str) -> Result<T> {
        self.err(
            raw.span().start,
            format!("step kind `{kind}` is not handled"),
        )
    }

    /// `qmp = "<command>"`, `args`, and `returns` / `returns_exact` / `error`.
    fn qmp_step(&self, raw: &S<RawStep>, command: &S<String>) -> Result<StepKind> {
        let step = raw.get_ref();
        Ok(StepKind::Qmp {
            command: self.tmpl(command)?,
            args: match &step.args {
                Some(args) => Some(self.table_value(args, "args")?),
                None => None,
            },
            expect: self.qmp_expect(raw.span().start, step)?,
        })
    }

    /// `hmp = "<command line>"`, `contains`, `lacks`, `regex`.
    fn hmp_step(&self, step: &RawStep, command: &S<String>) -> Result<StepKind> {
        Ok(StepKind::Hmp {
            command: self.tmpl(command)?,
            contains: self.opt_tmpl(step.contains.as_ref())?,
            lacks: self.opt_tmpl(step.lacks.as_ref())?,
            regex: self.opt_regex(step.regex.as_ref())?,
        })
    }

    /// `event = "<NAME>"`, `match`.
    fn event_step(&self, step: &RawStep, name: &S<String>) -> Result<StepKind> {
        Ok(StepKind::Event {
            name: self.tmpl(name)?,
            matches: match &step.r#match {
                Some(matches) => Some(self.table_value(matches, "match")?),
                None => None,
            },
        })
    }

    /// `exec = "<command>"`, `expect`.
    fn exec_step(&self, step: &RawStep, command: &S<String>) -> Result<StepKind> {
        Ok(StepKind::Exec {
            command: self.tmpl(command)?,
            expect: self.opt_tmpl(step.expect.as_ref())?,
        })
    }

    /// `run = "<command>"`, `exit_code`, `stdout`, `stdout_contains`,
    /// `stdout_regex`, `stderr_contains`.
    fn run_step(&self, step: &RawStep, command: &S<String>) -> Result<StepKind> {
        Ok(StepKind::Run {
            command: self.tmpl(command)?,
            exit_code: self.opt_templ(
                step.exit_code.as_ref(),
                Ty::Integer,
                "exit_code",
                EXIT_CODE,
            )?,
            stdout: self.opt_tmpl(step.stdout.as_ref())?,
            stdout_contains: self.opt_tmpl(step.stdout_contains.as_ref())?,
            stdout_regex: self.opt_regex(step.stdout_regex.as_ref())?,
            stderr_contains: self.opt_tmpl(step.stderr_contains.as_ref())?,
        })
    }

    /// `launch = true` (`false` is refused: it is not a step).
    fn launch_step(&self, launch: &S<toml::Value>) -> Result<StepKind> {
        if self.boolean(launch, "launch")? == Some(false) {
            return self.err(
                launch.span().start,
                "`launch = false` is not a step: write `launch = true` to launch a machine declared with `launch = false`",
            );
        }
        Ok(StepKind::Launch)
    }

    /// `shutdown = { code }`.
    fn shutdown_step(&self, shutdown: &S<RawShutdown>) -> Result<StepKind> {
        Ok(StepKind::Shutdown {
            code: self.opt_templ(
                shutdown.get_ref().code.as_ref(),
                Ty::Integer,
                "code",
                EXIT_CODE,
            )?,
        })
    }

    /// `kill = true` (`false` is refused: it is not a step).
    fn kill_step(&self, kill: &S<toml::Value>) -> Result<StepKind> {
        if self.boolean(kill, "kill")? == Some(false) {
            return self.err(
                kill.span().start,
                "`kill = false` is not a step: write `kill = true` to kill the machine",
            );
        }
        Ok(StepKind::Kill)
    }

    /// An optional regex (compiled now unless it holds `${...}`).
    fn opt_regex(&self, regex: Option<&S<String>>) -> Result<Option<Template>> {
        regex.map(|r| self.regex(r)).transpose()
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
