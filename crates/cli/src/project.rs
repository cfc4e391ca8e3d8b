//! The project's configuration (`kennel.toml` and the `KENNEL_*` variables, read
//! once by `kennel_config::Config`) as the commands need it.

use std::path::{Path, PathBuf};

use kennel_config::{Config, ConfigError};

/// Before anything else: read the configuration (a malformed `kennel.toml` or a
/// bad variable is an error at its place). Its settings reach test processes
/// through the job's [`kennel_config::TestSettings`], never by a change to this
/// process's environment.
pub fn read_config() -> Result<&'static Config, ConfigError> {
    Config::get()
}

/// The paths in `kennel.toml` (`paths = ["tests/kennel"]`); else, in a QEMU source
/// tree, its `tests/functional` (not the rest of `tests/`, whose executables, such
/// as the iotests, are no kennel tests); else, with `--qemu` naming a meson build
/// directory (or a binary in one), the `tests/functional` of the source tree it
/// was configured from (its `meson-info`); else `tests/`.
pub fn default_paths(qemu: Option<&Path>) -> Result<Vec<PathBuf>, ConfigError> {
    let config = Config::get()?;
    let functional = Path::new("tests").join("functional");
    if config.paths.is_empty() && kennel_runner::qemu_tree::is_functional_dir(&functional) {
        return Ok(vec![functional]);
    }
    let build = qemu.and_then(|q| if q.is_dir() { Some(q) } else { q.parent() });
    let of_build = build.and_then(kennel_runner::qemu_tree::functional_dir_of_build);
    match of_build {
        Some(functional) if config.paths.is_empty() => Ok(vec![functional]),
        _ => Ok(config.test_paths()),
    }
}
