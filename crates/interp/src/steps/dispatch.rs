//! From a step's kind to the function that runs it.

use kennel_spec::{Step, StepKind, Value};

use super::{console, guest, input, lifecycle, migrate, ocr, output, qmp, screen, StepError};
use crate::case::Case;
use crate::context::StepTime;
use crate::slots::On;
use crate::vars::StepVars;

/// Run one attempt of `step` by `time`'s deadline: the value it produces (for
/// `save`), or why it did not pass.
pub(super) fn step_once(
    case: &mut Case<'_>,
    step: &Step,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let vars = StepVars::of(&case.ctx, &case.saved);
    let on = On::new(&mut case.slots, &step.on);
    match &step.kind {
        StepKind::Launch => lifecycle::launch(case, &step.on, time),
        StepKind::Running(want) => lifecycle::running(on, *want),
        StepKind::Qmp {
            command,
            args,
            expect,
        } => qmp::qmp(on, command, args.as_ref(), expect, &vars, time),
        StepKind::Hmp {
            command,
            contains,
            lacks,
            regex,
        } => {
            let checks = qmp::HmpChecks {
                contains: contains.as_ref(),
                lacks: lacks.as_ref(),
                regex: regex.as_ref(),
            };
            qmp::hmp(on, command, checks, &vars, time)
        }
        StepKind::Event { name, matches } => qmp::event(on, name, matches.as_ref(), &vars, time),
        StepKind::Console(check) => console::console(on, check, &vars, time),
        StepKind::Send(text) => console::send(on, text, &vars),
        StepKind::Exec { command, expect } => {
            console::exec(on, command, expect.as_ref(), &vars, time)
        }
        StepKind::Run {
            command,
            exit_code,
            stdout,
            stdout_contains,
            stdout_regex,
            stderr_contains,
        } => {
            let checks = guest::RunChecks {
                exit_code: exit_code.as_ref(),
                stdout: stdout.as_ref(),
                stdout_contains: stdout_contains.as_ref(),
                stdout_regex: stdout_regex.as_ref(),
                stderr_contains: stderr_contains.as_ref(),
            };
            guest::run(on, command, checks, &vars, time)
        }
        StepKind::Output { contains, lacks } => {
            output::output(on, contains.as_ref(), lacks.as_ref(), &vars)
        }
        StepKind::Exit(expect) => {
            lifecycle::check_exit(on, expect, &vars, &case.log, time).map(|()| None)
        }
        StepKind::Shutdown { code } => lifecycle::shutdown(on, code.as_ref(), &vars, time),
        StepKind::Kill => lifecycle::kill(on),
        StepKind::Screendump(name) => screen::screendump(on, name, &case.ctx.logdir, time),
        StepKind::Screen(check) => {
            let label = format!("line{}", step.line);
            screen::screen(on, check, &label, &case.ctx.logdir, time)
        }
        StepKind::Keys(combos) => input::keys(on, combos, time),
        StepKind::Type(text) => input::type_text(on, text, &vars, time),
        StepKind::Mouse(action) => input::mouse(on, action, time),
        StepKind::ScreenText { text, region } => ocr::screen_text(on, text, *region, &vars, time),
        StepKind::Migrate(spec) => migrate::migrate(case, spec, time),
        StepKind::Link(link) => qmp::link(
            On::new(&mut case.slots, &link.machine),
            &link.network,
            link.up,
            time,
        ),
    }
}
