//! The error type of loading and validating test files.

use std::io;
use std::path::{Path, PathBuf};

/// Why a test file could not be loaded.
///
/// Every error about the file's content carries its position, and renders
/// like a compiler diagnostic: `path:line:column: message`.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is malformed: TOML syntax, a wrong type, an unknown key, or a
    /// semantic error (a step with no kind, an unknown machine, ...).
    #[error("{}:{line}:{column}: {message}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl SpecError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            SpecError::Io { path, .. } => path,
            SpecError::Invalid { file, .. } => file,
        }
    }

    /// The 1-based `(line, column)` of the error, when it is about the content.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            SpecError::Io { .. } => None,
            SpecError::Invalid { line, column, .. } => Some((*line, *column)),
        }
    }

    /// The message without the position prefix.
    pub fn message(&self) -> String {
        match self {
            SpecError::Io { .. } => self.to_string(),
            SpecError::Invalid { message, .. } => message.clone(),
        }
    }
}

/// A source text and its path, to turn byte offsets into positioned errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) path: &'a Path,
    pub(crate) text: &'a str,
}

impl<'a> Source<'a> {
    /// The 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// An error positioned at a byte offset.
    pub(crate) fn error_at(&self, offset: usize, message: impl Into<String>) -> SpecError {
        let (line, column) = self.line_col(offset);
        SpecError::Invalid {
            file: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// An error positioned at a known line and column.
pub(crate) fn error_at_line(
    file: &Path,
    line: usize,
    column: usize,
    message: impl Into<String>,
) -> SpecError {
    SpecError::Invalid {
        file: file.to_path_buf(),
        line,
        column,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = Source {
            path: Path::new("x.toml"),
            text: "a = 1\nnäme = \"é\"\n",
        };

        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(6), (2, 1));
        assert_eq!(src.line_col("a = 1\nnäme = ".len()), (2, 8));
        assert_eq!(src.line_col(1000), (3, 1));
    }
}
