//! The interpreter's behaviour, without QEMU: each test writes a TOML case,
//! plays its machines from a script ([`Script`], through the
//! [`MachineLauncher`] seam) and reads the case's outcome. One file per
//! concept. Scripted waits end at their deadlines, so timeouts here are
//! tenths of a second.

mod harness;
mod scripted;

mod deadlines;
mod input;
mod lifecycle;
mod monitor_and_output;
mod on;
mod outcomes;
mod poll;
mod qmp;
mod save;
mod screen;

use std::path::Path;

use kennel_results::Status;

use harness::{run, run_machines, verdict, verdict_in_full, AMPLE, FILE, SHORT};
use scripted::{Reply, Script};
