//! Write QEMU functional tests in Rust.
//!
//! A test is a function taking the [`Test`] context, marked `#[kennel::test]`;
//! a `harness = false` test target whose file ends in `kennel::main!();` runs
//! every registered test under `cargo test` or `cargo nextest run`, with the usual
//! flags (`--list`, `--exact`, name filters, `--ignored`, `--test-threads`).
//!
//! ```toml
//! [[test]]
//! name = "vm"
//! harness = false
//! ```
//!
//! ```no_run
//! use kennel::prelude::*;
//!
//! /// QEMU commit "numa: Do not allow set-numa-node outside preconfig".
//! #[kennel::test(tags = ["quick", "numa"], timeout = "30s")]
//! fn set_numa_node_outside_preconfig_is_refused(t: &mut Test) -> kennel::Result<()> {
//!     let mut vm = t.machine().machine_type("none").args(["-nodefaults", "-S"]).launch()?;
//!     let err = vm.qmp_err("set-numa-node", json!({"type": "node"}))?;
//!     assert_eq!(err.class, "GenericError");
//!     assert!(vm.is_running());
//!     assert_eq!(vm.shutdown()?, 0);
//!     Ok(())
//! }
//!
//! kennel::main!();
//! ```
//!
//! # Outcomes
//!
//! - `Ok(())`: pass. An `Err`: fail, with the error's chain (naming the machine
//!   and what was awaited) and the path of the test's logs.
//! - A panic (a failed `assert!`): fail with the panic message. The machines the
//!   test launched are dropped while unwinding, and dropping a [`Vm`] kills QEMU.
//! - [`Test::skip`]: reported as **ignored** at run time, with its reason
//!   (`cargo test` prints `ignored, REASON`; nextest, which reads only the exit
//!   status, counts it as passed), `kennel: NAME: skipped: REASON` on stderr
//!   (which `kennel run --cargo` reads as SKIP) and `SKIP: REASON` in its
//!   `test.log`. With `KENNEL_REQUIRE_ALL=1` (kennel's own CI sets it) a skip
//!   fails the test instead, naming the reason. `#[kennel::test(ignore)]` is
//!   the static kind: listed as ignored, run with `--ignored`.
//! - The timeout (`timeout = "30s"`, 120 s by default) is the deadline of every
//!   wait the test makes through this crate.
//!
//! # Logs and environment
//!
//! - Logs go to `$KENNEL_TEST_LOGDIR` when set (by `kennel run`), else to a new
//!   folder `kennel-log-NAME-*` in the temporary directory, kept: `test.log` (each
//!   call and [`Test::log`]), `qmp.log`, `console.log`, `qemu.log`, and
//!   `start.json` (how each machine started: warm from which template, or
//!   cold; its accelerator), which `kennel run --cargo` puts in `results.json`.
//! - QEMU: `$QEMU_TEST_QEMU_BINARY`, else `qemu-system-<arch>` on `PATH`.
//! - Parameters: `$KENNEL_PARAM_<NAME>` ([`Test::param`]).
//! - `$KENNEL_TAGS=quick,-slow` runs only the tests tagged `quick` and not `slow`.
#![deny(missing_docs)]

mod builder;
mod error;
mod harness;
mod input;
mod migrate;
mod ocr;
mod screen;
mod test;
mod vm;

pub use builder::MachineBuilder;
pub use error::{Error, ErrorKind, Result};
pub use harness::TAGS_ENV;
pub use kennel_machine::firmware::Firmware;
pub use kennel_machine::tpm::TpmVersion;
pub use kennel_machine::{CommandError, DisplayDevice, Value};
pub use kennel_screen::{MatchSpec, Rect};
pub use kennel_vm::{
    ChannelKind, CommandResult, CommandStatus, MigrateError, Migrated, Migration, Transport,
};
pub use screen::ScreenMatch;
pub use test::{Test, DEFAULT_TIMEOUT, LOGDIR_ENV, PARAM_ENV_PREFIX};
pub use vm::{Output, Vm};

/// Register a test: `#[kennel::test(tags = ["quick"], timeout = "30s")]` on a
/// function `fn NAME(t: &mut Test) -> kennel::Result<()>`.
///
/// Arguments, all optional: `tags = [..]` (string literals), `timeout = ".."`
/// (a humantime duration, checked at compile time; 120 s by default), `ignore` or
/// `ignore = "reason"` (listed as ignored; run with `--ignored`). The test is
/// listed under its function name, prefixed by its module path below the crate
/// root. The target needs `kennel::main!();` and `harness = false`.
///
/// # Examples
///
/// ```no_run
/// use kennel::prelude::*;
///
/// #[kennel::test(tags = ["quick"], timeout = "20s")]
/// fn qemu_answers_query_version(t: &mut Test) -> kennel::Result<()> {
///     let mut vm = t.machine().machine_type("none").args(["-S"]).launch()?;
///     let version = vm.qmp("query-version", Value::Null)?;
///     assert!(version["qemu"]["major"].as_u64().is_some());
///     Ok(())
/// }
///
/// kennel::main!();
/// ```
pub use kennel_macros::test;

/// What a test file needs: `use kennel::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ChannelKind, CommandError, CommandStatus, DisplayDevice, Error, ErrorKind, Firmware,
        MachineBuilder, MatchSpec, Migration, Output, Rect, Result, ScreenMatch, Test, TpmVersion,
        Transport, Value, Vm,
    };
    pub use serde_json::json;
}

/// The `main` of a `harness = false` test target: runs every `#[kennel::test]`
/// of the target with libtest's command line (`--list`, `--exact`, filters,
/// `--ignored`, `--test-threads`, ...).
///
/// # Examples
///
/// ```no_run
/// use kennel::prelude::*;
///
/// #[kennel::test]
/// fn nothing(_t: &mut Test) -> kennel::Result<()> {
///     Ok(())
/// }
///
/// kennel::main!();
/// ```
#[macro_export]
macro_rules! main {
    () => {
        fn main() {
            $crate::__private::run_main()
        }
    };
}

/// What `#[kennel::test]` and `kennel::main!()` expand to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::harness::{run_main, trials, TestDef};
    pub use inventory;
}
