//! kennel's declarative test model.
//!
//! Parses and validates `*.toml` test files (the format: `docs/test-format.md`
//! in kennel's repository) into a typed [`TestFile`]; expands variants into
//! [`TestCase`]s; provides `${...}` substitution ([`Template`], [`Templ`],
//! [`render_value`]), tag filters ([`TagFilter`]), duration strings and QEMU
//! version requirements. It runs nothing: `kennel-interp` interprets the steps.

#![deny(missing_docs)]

mod asset;
mod check;
mod convert;
mod duration;
mod error;
mod firmware;
#[cfg(test)]
mod fuzz;
mod input_steps;
pub mod keys;
mod load;
pub mod migrate;
mod model;
mod network;
mod pattern;
mod raw;
mod screen;
mod steps;
mod syntax;
mod tags;
mod template;
mod variants;
mod version;

/// Every TOML value in a test is converted to a JSON value (datetimes become
/// strings).
pub type Value = serde_json::Value;

pub use check::{machine_vars, step_vars, BUILTINS};
pub use duration::{parse_duration, DurationError};
pub use error::SpecError;
pub use firmware::{FIRMWARES, TPMS};
pub use load::{load_file, load_str, load_test, DEFAULT_TIMEOUT, MAIN_MACHINE, MAX_CASES};
pub use model::{
    AssetHash, AssetSource, AssetSpec, DescCheck, ExitExpect, MachineSpec, QmpExpect, Requires,
    RequiresSpec, ScreenCheck, Step, StepKind, TestFile, TextCheck, CHANNELS, DEFAULT_CONSOLE_FAIL,
    DISPLAYS,
};
pub use network::{LinkStep, NetworkSpec, MAX_NETWORKS};
pub use pattern::compile_regex;
pub use screen::DEFAULT_SCREEN_THRESHOLD;
pub use tags::{TagFilter, TagFilterError};
pub use template::{
    is_var_name, render_value, value_text, value_vars, RenderError, Templ, Template, TemplateError,
    Vars,
};
pub use variants::{load_case, parse_param, CaseError, ParamError, TestCase};
pub use version::{VersionReq, VersionReqError};
