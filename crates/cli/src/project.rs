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
/// as the iotests, are no kennel tests); else `tests/`.
pub fn default_paths() -> Result<Vec<PathBuf>, ConfigError> {
    let config = Config::get()?;
    let functional = Path::new("tests").join("functional");
    if config.paths.is_empty() && kennel_runner::qemu_tree::is_functional_dir(&functional) {
        return Ok(vec![functional]);
    }
    Ok(config.test_paths())
}
