//! Each `[[step]]` kind, executed against the test's machines: one function
//! per kind, in a module per concern (`qmp`, `console`, `guest`, `output`,
//! `lifecycle`, `input`), reached through [`dispatch`]'s one `match`; [`attempts`]
//! runs a step (its deadline, `poll`, `save`).
//!
//! To add a step kind:
//! 1. load it in `crates/spec/src/steps.rs` (its key in `KIND_KEYS`, its
//!    options, a small loader function) into a new `StepKind` variant;
//! 2. write its function here, in the module of its concern (or a new one),
//!    taking only what it needs: its rendered values come from `vars`, its
//!    machine from [`On`](crate::slots::On), every wait ends by the
//!    [`StepTime`](crate::context::StepTime)'s deadline, and a timed-out
//!    wait is [`StepTime::timed_out`](crate::context::StepTime::timed_out);
//! 3. map the variant to it in [`dispatch`];
//! 4. test it with a scripted machine (`tests/`), and end to end in
//!    `crates/cli/tests/`.

mod attempts;
mod console;
mod dispatch;
mod error;
mod guest;
mod input;
mod lifecycle;
mod migrate;
mod ocr;
mod output;
mod qmp;
mod screen;

#[cfg(test)]
mod tests;

pub(crate) use attempts::run_step;
pub(crate) use error::StepError;
pub(crate) use lifecycle::check_exit;
