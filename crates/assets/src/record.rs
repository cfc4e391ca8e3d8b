//! The record kept next to every cached file (`<file>.json`).
//!
//! It holds the file's digest, where it came from, when it was last used, and
//! a *stamp*: size, inode, mtime and ctime as they were when the file was last
//! verified. A file whose stamp still matches is trusted without reading it;
//! any other (record missing, unreadable, or stamp changed: the file was
//! written, truncated, replaced or `touch`ed) is hashed in full again and
//! removed if the hash is wrong. Because ctime cannot be set from user space,
//! restoring an old mtime after modifying a file does not fool the check.
//! What the stamp cannot see is corruption below the file system (bit rot);
//! such damage goes unnoticed until the stamp changes.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What a file looked like when it was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    pub(crate) size: u64,
    pub(crate) ino: u64,
    pub(crate) mtime_ns: i128,
    pub(crate) ctime_ns: i128,
}

impl Stamp {
    pub(crate) fn of(meta: &Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            ino: meta.ino(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

/// The JSON record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// `sha256:<hex>` of the file's content.
    pub(crate) digest: String,
    pub(crate) stamp: Stamp,
    /// Asset name that first brought it in.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// URL or path it was fetched from.
    #[serde(default)]
    pub(crate) url: Option<String>,
    /// For derived files: the source's digest.
    #[serde(default)]
    pub(crate) source: Option<String>,
    /// For derived files: the operation, e.g. `extract:boot/vmlinuz`.
    #[serde(default)]
    pub(crate) operation: Option<String>,
    /// Unix seconds.
    pub(crate) last_used: u64,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn secs_to_time(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The record at `path`; `None` when missing or unreadable (then the file is
/// re-verified in full).
pub(crate) fn read(path: &Path) -> Option<Record> {
    let bytes = fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Replace the record at `path` atomically (temporary file, then rename).
pub(crate) fn write(path: &Path, record: &Record) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
    kennel_config::write_atomic(path, &json)
}
