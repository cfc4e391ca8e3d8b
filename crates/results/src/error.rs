//! [`ResultsError`]: a contract document that could not be read, saying which
//! file, where in it and why; and the one way every reader here reads one.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A contract document that could not be read.
///
/// The message names the file (and, for a document that does not parse, the
/// line and column, `path:line:column`, as the test files' errors do); the
/// cause is the error's [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultsError {
    /// The file is there but could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold the document its name says.
    #[error("{}: not a valid {document}", at(path, *line, *column))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the file should hold (`test outcome`, `journal line`, ...).
        document: &'static str,
        /// Line of the error, from 1 (0 when JSON gave none).
        line: usize,
        /// Column of the error, from 1 (0 when JSON gave none).
        column: usize,
        /// Why, in JSON's words.
        #[source]
        source: JsonError,
    },
}

/// `path:line:column`, `path:line` or `path`, as far as the position is known.
fn at(path: &Path, line: usize, column: usize) -> String {
    match (line, column) {
        (0, _) => path.display().to_string(),
        (line, 0) => format!("{}:{line}", path.display()),
        (line, column) => format!("{}:{line}:{column}", path.display()),
    }
}

/// Why JSON text did not read as a document: serde_json's error, shown
/// without the position [`ResultsError::Invalid`] already gives.
#[derive(Debug)]
pub struct JsonError(serde_json::Error);

impl JsonError {
    /// serde_json's own error.
    pub fn inner(&self) -> &serde_json::Error {
        &self.0
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.to_string();
        let position = format!(" at line {} column {}", self.0.line(), self.0.column());
        f.write_str(text.strip_suffix(&position).unwrap_or(&text))
    }
}

impl std::error::Error for JsonError {}

impl ResultsError {
    /// The whole file `path`, `bytes`, as a `document`.
    pub fn parse<T: DeserializeOwned>(
        bytes: &[u8],
        path: &Path,
        document: &'static str,
    ) -> Result<T, ResultsError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ResultsError::invalid(path, document, e.line(), e))
    }

    /// Line `line` (from 1) of the file `path`, `bytes`, as a `document` (a
    /// line of the journal).
    pub fn parse_line<T: DeserializeOwned>(
        bytes: &[u8],
        path: &Path,
        document: &'static str,
        line: usize,
    ) -> Result<T, ResultsError> {
        serde_json::from_slice(bytes).map_err(|e| ResultsError::invalid(path, document, line, e))
    }

    fn invalid(
        path: &Path,
        document: &'static str,
        line: usize,
        e: serde_json::Error,
    ) -> ResultsError {
        ResultsError::Invalid {
            path: path.to_path_buf(),
            document,
            line,
            // Errors found after the text parsed (a missing field of a
            // tagged enum) have no position.
            column: if e.line() == 0 { 0 } else { e.column() },
            source: JsonError(e),
        }
    }
}

/// The `document` in the file `path`: `Ok(None)` when there is no such file.
pub(crate) fn read_document<T: DeserializeOwned>(
    path: &Path,
    document: &'static str,
) -> Result<Option<T>, ResultsError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ResultsError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    ResultsError::parse(&bytes, path, document).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        text
    }

    #[test]
    fn a_broken_document_is_named_with_its_line_and_column_once() {
        let bad = b"{\n  \"status\": \"PASS\",\n  oops\n}";

        let e = ResultsError::parse::<serde_json::Value>(bad, Path::new("t/result.json"), "x")
            .expect_err("broken");

        assert_eq!(
            chain(&e),
            "t/result.json:3:3: not a valid x: key must be a string"
        );
    }

    #[test]
    fn a_line_of_a_bigger_file_is_named_by_its_number_in_the_file() {
        let e = ResultsError::parse_line::<u32>(b"\"a\"", Path::new("j.jsonl"), "journal line", 7)
            .expect_err("not a number");

        assert!(
            chain(&e).starts_with("j.jsonl:7:3: not a valid journal line: invalid type"),
            "{}",
            chain(&e)
        );
    }

    #[test]
    fn a_missing_file_is_none_and_an_unreadable_one_an_error() {
        let dir = tempfile::tempdir().expect("dir");

        let missing = read_document::<u32>(&dir.path().join("none.json"), "x");
        let folder = read_document::<u32>(dir.path(), "x");

        assert!(matches!(missing, Ok(None)));
        assert!(matches!(folder, Err(ResultsError::Read { .. })));
    }
}
