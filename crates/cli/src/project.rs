//! The project's configuration (`kennel.toml` and the `KENNEL_*` variables, read
//! once by `kennel_config::Config`) as the commands need it.

use std::path::{Path, PathBuf};

use kennel_config::{Config, Origin};

/// Before any thread starts: read the configuration (a malformed `kennel.toml`
/// or a bad variable is an error at its place), and hand `kennel.toml`'s
/// `image_mirror` and `warm_cache_size` to the test processes as
/// `KENNEL_IMAGE_MIRROR` and `KENNEL_WARM_CACHE_SIZE`, which they may run from
/// other folders (Rust tests run from their package's).
pub fn apply_project_config() -> Result<(), String> {
    let config = Config::get().map_err(|e| e.to_string())?;
    // Single-threaded here: main calls this first.
    if let Some(mirror) = &config.image_mirror {
        if let Origin::File(_) = mirror.origin {
            std::env::set_var(kennel_config::env::IMAGE_MIRROR, &mirror.url);
        }
    }
    if let Some(bytes) = config.warm_cache_size {
        // The variable's value when it is set, else the file's, in bytes.
        std::env::set_var(kennel_config::env::WARM_CACHE_SIZE, bytes.to_string());
    }
    Ok(())
}

/// The paths in `kennel.toml` (`paths = ["tests/kennel"]`); else, in a QEMU source
/// tree, its `tests/functional` (not the rest of `tests/`, whose executables, such
/// as the iotests, are no kennel tests); else `tests/`.
pub fn default_paths() -> Result<Vec<PathBuf>, String> {
    let config = Config::get().map_err(|e| e.to_string())?;
    let functional = Path::new("tests").join("functional");
    if config.paths.is_empty() && kennel_runner::qemu_tree::is_functional_dir(&functional) {
        return Ok(vec![functional]);
    }
    Ok(config.test_paths())
}
