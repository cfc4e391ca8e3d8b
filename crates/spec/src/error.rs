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
    /// semantic error (a step with no kind, an unknown machine, ...). Under the
    /// `file:line:column: message` line, the source line with a caret, as
    /// rustc and cargo show it (when the text is at hand).
    #[error("{}:{line}:{column}: {message}{snippet}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong and what was expected.
        message: String,
        /// The source line and a caret under the column, each line after a
        /// `\n`; empty when the file's text was not at hand.
        snippet: String,
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

    /// The source line with a caret under the column, as shown under the
    /// first line of the message; empty when the text was not at hand.
    pub fn snippet(&self) -> &str {
        match self {
            SpecError::Io { .. } => "",
            SpecError::Invalid { snippet, .. } => snippet.trim_start_matches('\n'),
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
            snippet: snippet(self.text, line, column),
        }
    }

    /// `error` with this text's line and caret under it, when it has none yet.
    pub(crate) fn with_snippet(&self, error: SpecError) -> SpecError {
        match error {
            SpecError::Invalid {
                file,
                line,
                column,
                message,
                snippet: existing,
            } if existing.is_empty() => SpecError::Invalid {
                snippet: snippet(self.text, line, column),
                file,
                line,
                column,
                message,
            },
            other => other,
        }
    }
}

/// Line `line` of `text` with a caret under character `column` (both
/// 1-based), rendered the way rustc and cargo show source, each line after a `\n`:
///
/// ```text
///   |
/// 3 | bogus = 1
///   | ^
/// ```
fn snippet(text: &str, line: usize, column: usize) -> String {
    use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
    let Some(source) = text.lines().nth(line.saturating_sub(1)) else {
        return String::new();
    };
    let start: usize = source
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    let end = source[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8());
    let report = [Group::with_level(Level::ERROR).element(
        Snippet::source(source)
            .line_start(line)
            .fold(false)
            .annotation(AnnotationKind::Primary.span(start..end)),
    )];
    let rendered = Renderer::plain().render(&report);
    rendered
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("\n{}", l.trim_end()))
        .collect()
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
        snippet: String::new(),
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
