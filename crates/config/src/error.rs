//! What can go wrong reading the configuration.

use std::path::PathBuf;

/// A configuration that cannot be read: a malformed `kennel.toml` or a
/// variable whose value has no meaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `kennel.toml` exists but cannot be read.
    #[error("{}: cannot read: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// `kennel.toml` is not valid TOML, or has an unknown key or a value of
    /// the wrong type. `line` and `column` count from 1.
    #[error("{}{}: {message}", path.display(), at(*line, *column))]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where the error is, when toml knows.
        line: Option<usize>,
        /// The column on that line.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A boolean variable has a value that is neither true nor false.
    #[error("{name}={value:?}: expected one of 1, true, yes, on (set) or 0, false, no, off, empty (not set)")]
    Flag {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// A size variable is not a number of bytes (with `K`, `M`, `G`, `T`).
    #[error("{name}={value:?}: {}", crate::size::SIZE_EXPECTED)]
    Size {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// A line of `KENNEL_QEMU_ARCH` is not `ARCH=PATH`.
    #[error("{name}: {why}")]
    ArchBinary {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A variable is not valid UTF-8 where text is needed.
    #[error("{name}: not valid UTF-8")]
    NotUnicode {
        /// The variable.
        name: String,
    },
    /// The working directory cannot be read, so `kennel.toml` cannot be looked for.
    #[error("cannot read the working directory: {message}")]
    WorkingDir {
        /// The operating system's reason.
        message: String,
    },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}
