//! `kennel.toml`: the project's defaults (`paths`, `image_mirror`).

use std::path::PathBuf;

/// `kennel.toml` in the working directory: the project's defaults.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProjectConfig {
    /// Where the tests are.
    #[serde(default)]
    paths: Vec<PathBuf>,
    /// The image provider's mirror (`KENNEL_IMAGE_MIRROR` wins): a URL, or a
    /// folder relative to `kennel.toml`.
    image_mirror: Option<String>,
}

/// Before any thread starts: `image_mirror` of `kennel.toml` becomes
/// `KENNEL_IMAGE_MIRROR` for kennel and its test processes, unless set already.
/// (A malformed file is reported by the command that reads its paths.)
pub fn apply_project_config() {
    if std::env::var_os(kennel_cloud::MIRROR_ENV).is_some() {
        return;
    }
    let Ok(Some(config)) = project_config() else {
        return;
    };
    let Some(mirror) = config.image_mirror else {
        return;
    };
    let url = if mirror.contains("://") {
        mirror
    } else {
        match std::path::absolute(&mirror) {
            Ok(dir) => format!("file://{}", dir.display()),
            Err(_) => return,
        }
    };
    // Single-threaded here: main calls this first.
    std::env::set_var(kennel_cloud::MIRROR_ENV, url);
}

/// `kennel.toml` of the working directory, if there is one.
fn project_config() -> Result<Option<ProjectConfig>, String> {
    let file = std::path::Path::new("kennel.toml");
    let Ok(text) = std::fs::read_to_string(file) else {
        return Ok(None);
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                let column = s.start - text[..s.start].rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        format!("kennel.toml{at}: {}", e.message())
    })
}

/// The paths in `kennel.toml` (`paths = ["tests/kennel"]`), else `tests/`.
pub fn default_paths() -> Result<Vec<PathBuf>, String> {
    let config = project_config()?.unwrap_or_default();
    if config.paths.is_empty() {
        Ok(vec![PathBuf::from("tests")])
    } else {
        Ok(config.paths)
    }
}
