//! kennel's configuration, read once, and the small rules every kennel crate
//! shares.
//!
//! - [`Config`], `kennel.toml` (working directory or the nearest folder above)
//!   merged with the `KENNEL_*` / `QEMU_TEST_*` variables, the environment
//!   winning; [`Config::get`] reads it once per process. The variables'
//!   names are in [`mod@env`]; `docs/configuration.md` has the table.
//! - [`parse_flag`] / [`env_flag`]: the one meaning of "set" for boolean
//!   variables.
//! - [`param_env_var`]: the variable that carries a test parameter.
//! - [`cache_dir`]: the one cache-directory rule.
//! - [`write_atomic`], [`write_atomic_with`]: files appear whole or not at all.
//! - [`which`]: a program on `PATH`.
//! - [`parse_size`], [`human_bytes`]: sizes for people, read and shown.
//! - [`TestSettings`], [`CaseArgs`]: what a test process is told (the job's
//!   settings as variables, a TOML case's identity as arguments).
//!
//! This crate depends on no other kennel crate: every other one may use it.
#![deny(missing_docs)]

mod cache;
mod config;
pub mod env;
mod error;
mod fs;
#[cfg(test)]
mod fuzz;
mod kept;
mod project;
mod size;
mod test_process;
pub mod text;
mod which;

pub use cache::{cache_dir, cache_dir_from};
pub use config::{parse_arch_binary, Config, Debug, Mirror, Origin};
pub use env::{env_flag, param_env_var, parse_flag};
pub use error::ConfigError;
pub use fs::{file_stamp, write_atomic, write_atomic_with};
pub use project::{find_project_file, ProjectFile, FILE_NAME};
pub use size::{human_bytes, parse_size};
pub use test_process::{AssetPolicy, CaseArgs, TestSettings};
pub use which::{is_executable, which, which_in};
