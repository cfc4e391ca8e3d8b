//! Checking `${...}` references against what will be defined at run time.

use std::collections::HashSet;

use crate::error::{error_at_line, Source, SpecError};
use crate::model::{
    AssetSource, DescCheck, ExitExpect, MachineSpec, QmpExpect, RequiresSpec, Step, StepKind,
    TestFile, TextCheck,
};
use crate::template::{value_vars, Templ, Template};

/// A `${...}` reference that is not defined where it is used.
#[derive(Debug, thiserror::Error)]
enum UnknownVar {
    /// `${asset:NAME}` without its `[assets.NAME]` table.
    #[error("unknown variable `${{{name}}}`: there is no `[assets.{asset}]` table")]
    NoAsset { name: String, asset: String },
    /// A value a later step saves.
    #[error(
        "unknown variable `${{{name}}}`: it is saved by a later step (line {line}); saved \
         values are usable in later steps only"
    )]
    SavedLater { name: String, line: usize },
    /// A saved value outside the steps.
    #[error(
        "unknown variable `${{{name}}}`: saved values are usable in steps only, not in machines \
         or assets"
    )]
    SavedOutsideSteps { name: String },
    /// Defined nowhere.
    #[error(
        "unknown variable `${{{name}}}`: not a variant, a `-p` parameter, a built-in (`tmp`, \
         `dir`, `guest_kernel`, `guest_initrd`) or a value saved by an earlier step"
    )]
    Undefined { name: String },
}

/// Variables every test has: `tmp`, `dir`, `guest_kernel`, `guest_initrd`
/// (plus `asset:<name>` for each declared asset).
pub const BUILTINS: [&str; 4] = ["tmp", "dir", "guest_kernel", "guest_initrd"];

impl TestFile {
    /// Check every `${...}` in the file is defined: a variant, a built-in,
    /// `asset:<declared asset>`, one of `params` (the `-p` keys), or (in a
    /// step) a name saved by an earlier step. The error names the machine
    /// table or step header holding the reference.
    pub fn check_vars(&self, params: &[String]) -> Result<(), SpecError> {
        let text = std::fs::read_to_string(&self.path).ok();
        check_refs(self, Some(params), text.as_deref()).map_err(|e| match &text {
            Some(text) => Source {
                path: &self.path,
                text,
            }
            .with_snippet(e),
            None => e,
        })
    }
}

/// With `params` unknown (`None`, at load), only what no parameter can fix is
/// reported: `${asset:<undeclared>}`.
///
/// An error points at the string holding the reference: its own position, or
/// (for a typed value, which keeps none) the first `${name}` in `text` from the
/// line of the table holding it, else that table's header.
pub(crate) fn check_refs(
    test: &TestFile,
    params: Option<&[String]>,
    text: Option<&str>,
) -> Result<(), SpecError> {
    let saved_by: Vec<(&str, usize)> = test
        .steps
        .iter()
        .flat_map(|step| step.save.iter().map(|(name, _)| (name.as_str(), step.line)))
        .collect();
    let check = |name: &str, saved: &HashSet<&str>, in_step: bool| -> Result<(), UnknownVar> {
        let unknown = name.to_owned();
        if let Some(asset) = name.strip_prefix("asset:") {
            return if test.assets.contains_key(asset) {
                Ok(())
            } else {
                Err(UnknownVar::NoAsset {
                    asset: asset.to_owned(),
                    name: unknown,
                })
            };
        }
        let Some(params) = params else { return Ok(()) };
        if BUILTINS.contains(&name)
            || test.variants.contains_key(name)
            || saved.contains(name)
            || params.iter().any(|p| p == name)
        {
            return Ok(());
        }
        Err(match saved_by.iter().find(|(saved, _)| *saved == name) {
            Some((_, line)) if in_step => UnknownVar::SavedLater {
                name: unknown,
                line: *line,
            },
            Some(_) => UnknownVar::SavedOutsideSteps { name: unknown },
            None => UnknownVar::Undefined { name: unknown },
        })
    };
    let none = HashSet::new();
    let at = |pos: Option<(usize, usize)>, line: usize, name: &str, message: String| {
        let (line, column) = pos
            .or_else(|| locate(text?, line, name))
            .unwrap_or((line, 1));
        error_at_line(&test.path, line, column, message)
    };
    if let Ok(name) = Template::parse(&test.name) {
        for var in name.vars() {
            check(var, &none, false)
                .map_err(|unknown| at(None, 1, var, format!("in `name`: {unknown}")))?;
        }
    }
    for (name, pos) in requires_refs(&test.requires).0 {
        check(&name, &none, false).map_err(|unknown| at(pos, 1, &name, unknown.to_string()))?;
    }
    for asset in test.assets.values() {
        let mut names = Names::default();
        match &asset.source {
            AssetSource::Path(path) | AssetSource::Cloud(path) => names.tmpl(path),
            AssetSource::Url(url) => names.text(url),
        }
        if let Some(member) = &asset.extract {
            names.text(member);
        }
        for (name, pos) in names.0 {
            check(&name, &none, false)
                .map_err(|unknown| at(pos, asset.line, &name, unknown.to_string()))?;
        }
    }
    for machine in &test.machines {
        for (name, pos) in machine_refs(machine).0 {
            check(&name, &none, false)
                .map_err(|unknown| at(pos, machine.line, &name, unknown.to_string()))?;
        }
    }
    // Typed values (and strings checked at load: `on`, `channel`, hashes) are
    // rendered per case, before the test starts: they take variants and `-p`
    // parameters (a single `${name}` in a step's exit code
    // may also be a saved value, checked with its step below).
    for template in &test.typed {
        for name in template.vars() {
            let known = test.variants.contains_key(name)
                || saved_by.iter().any(|(saved, _)| *saved == name)
                || params.is_none_or(|params| params.iter().any(|p| p == name));
            let fixed = BUILTINS.contains(&name) || name.starts_with("asset:");
            if fixed || !known {
                let why = if fixed {
                    "its value is known only when the test runs".to_owned()
                } else {
                    "not a variant or a `-p` parameter".to_owned()
                };
                return Err(at(
                    template.position(),
                    1,
                    name,
                    format!("unknown variable `${{{name}}}` in a typed value (read before the test runs, from variants and `-p` parameters): {why}"),
                ));
            }
        }
    }
    let mut saved: HashSet<&str> = HashSet::new();
    for step in &test.steps {
        for (name, pos) in step_refs(step).0 {
            check(&name, &saved, true)
                .map_err(|unknown| at(pos, step.line, &name, unknown.to_string()))?;
        }
        saved.extend(step.save.iter().map(|(name, _)| name.as_str()));
    }
    Ok(())
}

/// The 1-based line and column of the first `${name}` in `text` at or after
/// line `from`.
fn locate(text: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let needle = format!("${{{name}}}");
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find_map(|(index, line)| {
            let at = line.find(&needle)?;
            // The string holding it starts at its quote.
            let start = line[..at].rfind(['"', '\'']).unwrap_or(at);
            Some((index + 1, line[..start].chars().count() + 1))
        })
}

/// A variable reference and where it is written, when known.
type Ref = (String, Option<(usize, usize)>);

#[derive(Default)]
struct Names(Vec<Ref>);

impl Names {
    fn tmpl(&mut self, template: &Template) {
        let at = template.position();
        self.0
            .extend(template.vars().map(|name| (name.to_owned(), at)));
    }
    /// A string kept as written (checked to parse at load).
    fn text(&mut self, source: &str) {
        if let Ok(template) = Template::parse(source) {
            self.tmpl(&template);
        }
    }
    fn list(&mut self, templates: &[Template]) {
        templates.iter().for_each(|t| self.tmpl(t));
    }
    fn names(self) -> Vec<String> {
        self.0.into_iter().map(|(name, _)| name).collect()
    }
    fn opt(&mut self, template: &Option<Template>) {
        if let Some(template) = template {
            self.tmpl(template);
        }
    }
    fn templ<T>(&mut self, templ: &Option<Templ<T>>) {
        if let Some(Templ::Var(name)) = templ {
            self.0.push((name.clone(), None));
        }
    }
    fn check(&mut self, check: &Option<TextCheck>) {
        if let Some(check) = check {
            self.tmpl(check.template());
        }
    }
    fn exit(&mut self, exit: &ExitExpect) {
        self.templ(&exit.code);
        self.check(&exit.stdout);
        self.check(&exit.stderr);
        self.check(&exit.output);
    }
    fn value(&mut self, value: &Option<crate::Value>) {
        if let Some(value) = value {
            self.0
                .extend(value_vars(value).into_iter().map(|name| (name, None)));
        }
    }
}

/// Every variable a machine refers to.
pub fn machine_vars(machine: &MachineSpec) -> Vec<String> {
    machine_refs(machine).names()
}

fn machine_refs(machine: &MachineSpec) -> Names {
    let mut names = Names::default();
    names.templ(&machine.arch);
    names.opt(&machine.binary);
    names.opt(&machine.machine_type);
    names.templ(&machine.accel);
    names.templ(&machine.cpus);
    for template in [
        &machine.memory,
        &machine.kernel,
        &machine.initrd,
        &machine.append,
        &machine.dtb,
        &machine.guest,
        &machine.image,
        &machine.incoming,
    ] {
        names.opt(template);
    }
    names.value(&machine.cloud_init);
    for template in machine.console_fail.iter().flatten().chain(&machine.args) {
        names.tmpl(template);
    }
    if let Some(exit) = &machine.expect_exit {
        names.exit(exit);
    }
    names
}

/// Every variable a step refers to.
pub fn step_vars(step: &Step) -> Vec<String> {
    step_refs(step).names()
}

fn step_refs(step: &Step) -> Names {
    let mut names = Names::default();
    match &step.kind {
        StepKind::Qmp {
            command,
            args,
            expect,
        } => {
            names.tmpl(command);
            names.value(args);
            match expect {
                QmpExpect::Success => {}
                QmpExpect::Returns(value) | QmpExpect::ReturnsExact(value) => {
                    names.value(&Some(value.clone()));
                }
                QmpExpect::Error { class, desc } => {
                    names.opt(class);
                    match desc {
                        Some(
                            DescCheck::Exact(t) | DescCheck::Contains(t) | DescCheck::Regex(t),
                        ) => {
                            names.tmpl(t);
                        }
                        None => {}
                    }
                }
            }
        }
        StepKind::Hmp {
            command,
            contains,
            lacks,
            regex,
        } => {
            names.tmpl(command);
            names.opt(contains);
            names.opt(lacks);
            names.opt(regex);
        }
        StepKind::Event { name, matches } => {
            names.tmpl(name);
            names.value(matches);
        }
        StepKind::Console(check) => names.tmpl(check.template()),
        StepKind::Send(text) | StepKind::Type(text) | StepKind::ScreenText { text, .. } => {
            names.tmpl(text)
        }
        StepKind::Exec { command, expect } => {
            names.tmpl(command);
            names.opt(expect);
        }
        StepKind::Run {
            command,
            exit_code,
            stdout,
            stdout_contains,
            stdout_regex,
            stderr_contains,
        } => {
            names.tmpl(command);
            names.templ(exit_code);
            names.opt(stdout);
            names.opt(stdout_contains);
            names.opt(stdout_regex);
            names.opt(stderr_contains);
        }
        StepKind::Output { contains, lacks } => {
            names.check(contains);
            names.check(lacks);
        }
        StepKind::Exit(exit) => names.exit(exit),
        StepKind::Shutdown { code } => names.templ(code),
        StepKind::Running(_)
        | StepKind::Launch
        | StepKind::Kill
        | StepKind::Screendump(_)
        | StepKind::Screen(_)
        | StepKind::Keys(_)
        | StepKind::Mouse(_)
        | StepKind::Link(_) => {}
        StepKind::Migrate(m) => names.value(&m.parameters),
    }
    names
}

fn requires_refs(requires: &RequiresSpec) -> Names {
    let mut names = Names::default();
    for list in [
        &requires.arch,
        &requires.machines,
        &requires.devices,
        &requires.netdevs,
        &requires.commands,
    ] {
        names.list(list);
    }
    names.opt(&requires.accel);
    names.opt(&requires.qemu_version);
    names
}
