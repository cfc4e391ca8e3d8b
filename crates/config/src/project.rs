//! `kennel.toml`: the project's defaults, found in the working directory or
//! the nearest folder above it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ConfigError;

/// The file name looked for.
pub const FILE_NAME: &str = "kennel.toml";

/// The keys of `kennel.toml`, as written (unknown keys are errors).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Where `kennel run` looks for tests when given no paths.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// The image provider's mirror: a URL, or a folder relative to the file.
    pub image_mirror: Option<String>,
    /// The most bytes the saved machine states may take in the cache: a
    /// size as `KENNEL_WARM_CACHE_SIZE` takes it (`"2G"`, `"500M"`) or a
    /// number of bytes.
    #[serde(default, deserialize_with = "crate::size::deserialize_size")]
    pub warm_cache_size: Option<u64>,
}

impl ProjectFile {
    /// Parse the text of `path`; errors name `path:line:column`.
    pub fn parse(path: &Path, text: &str) -> Result<ProjectFile, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = line_column(text, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim_end().to_string(),
            }
        })
    }
}

/// 1-based line and column (in characters) of the byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// `kennel.toml` in `dir` or the nearest folder above it: the file's path as
/// seen from `dir` (`kennel.toml`, `../../kennel.toml`), so that paths made
/// from it stay relative when `dir` is the working directory.
pub fn find_project_file(dir: &Path) -> Option<PathBuf> {
    let mut up = PathBuf::new();
    for folder in dir.ancestors() {
        if folder.join(FILE_NAME).is_file() {
            return Some(up.join(FILE_NAME));
        }
        up.push("..");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_line_and_column() {
        let err = ProjectFile::parse(Path::new("k/kennel.toml"), "paths = []\nmirror = 1\n")
            .expect_err("unknown key");
        let text = err.to_string();
        assert!(
            text.starts_with("k/kennel.toml:2:1: unknown field `mirror`"),
            "{text}"
        );
    }

    #[test]
    fn the_nearest_file_above_is_found_as_a_relative_path() {
        let root = tempfile::tempdir().expect("tempdir");
        let deep = root.path().join("crates/examples-rust");
        std::fs::create_dir_all(&deep).expect("mkdir");
        std::fs::write(root.path().join(FILE_NAME), "").expect("write");

        assert_eq!(
            find_project_file(&deep),
            Some(PathBuf::from("../../kennel.toml"))
        );
        assert_eq!(
            find_project_file(root.path()),
            Some(PathBuf::from("kennel.toml"))
        );
    }
}
