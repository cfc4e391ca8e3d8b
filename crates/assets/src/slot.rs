//! One cache entry on disk: its file and the companions beside it (record,
//! lock, partial download), and the checks that tell whether it is still
//! what its record says.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::digest::{hash_file, Digest};
use crate::error::AssetError;
use crate::record::{self, now_secs, Record, Stamp};

/// Records of used entries are rewritten at most this often (seconds).
const LAST_USED_GRANULARITY: u64 = 60;

/// One cached file and its companions.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) data: PathBuf,
}

impl Slot {
    fn with_suffix(&self, suffix: &str) -> PathBuf {
        let mut name: OsString = self.data.clone().into_os_string();
        name.push(suffix);
        name.into()
    }

    pub(crate) fn record(&self) -> PathBuf {
        self.with_suffix(".json")
    }

    pub(crate) fn lock(&self) -> PathBuf {
        self.with_suffix(".lock")
    }

    pub(crate) fn partial(&self) -> PathBuf {
        self.with_suffix(".partial")
    }

    pub(crate) fn dir(&self) -> &Path {
        self.data.parent().unwrap_or(Path::new("."))
    }
}

/// The entry, if its record's stamp still matches the file (no reading).
pub(crate) fn quick_check(slot: &Slot) -> Option<Record> {
    let meta = fs::metadata(&slot.data).ok()?;
    let record = record::read(&slot.record())?;
    (record.stamp == Stamp::of(&meta)).then_some(record)
}

/// Under the lock: the entry if present and correct (hashing it in full when
/// its stamp changed); a damaged one is removed.
pub(crate) fn full_check(
    slot: &Slot,
    expected: Option<&Digest>,
) -> Result<Option<Record>, AssetError> {
    let meta = match fs::metadata(&slot.data) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AssetError::io("read", &slot.data)(e)),
    };
    let stamp = Stamp::of(&meta);
    let record = record::read(&slot.record());
    if let Some(record) = record.as_ref().filter(|r| r.stamp == stamp) {
        return Ok(Some(record.clone()));
    }
    let wanted = match (expected, &record) {
        (Some(expected), _) => Some(expected.clone()),
        (None, Some(record)) => Digest::parse(&record.digest).ok(),
        (None, None) => None,
    };
    if let Some(wanted) = wanted {
        let actual =
            hash_file(&slot.data, wanted.algo()).map_err(AssetError::io("read", &slot.data))?;
        if actual == wanted {
            let record = Record {
                digest: wanted.to_string(),
                stamp,
                last_used: now_secs(),
                ..record.unwrap_or_else(|| Record {
                    digest: String::new(),
                    stamp,
                    name: None,
                    url: None,
                    source: None,
                    operation: None,
                    last_used: 0,
                })
            };
            record::write(&slot.record(), &record)
                .map_err(AssetError::io("write", slot.record()))?;
            return Ok(Some(record));
        }
    }
    // Damaged, or of unknown content: make it again.
    remove_if_present(&slot.data)?;
    remove_if_present(&slot.record())?;
    Ok(None)
}

/// Note the use in the record (at most once a minute; best effort).
pub(crate) fn touch(slot: &Slot, mut record: Record) -> Record {
    let now = now_secs();
    if now.saturating_sub(record.last_used) >= LAST_USED_GRANULARITY {
        record.last_used = now;
        let _ = record::write(&slot.record(), &record);
    }
    record
}

/// Removes `path`; one already gone is fine.
pub(crate) fn remove_if_present(path: &Path) -> Result<(), AssetError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(AssetError::io("remove", path)(e)),
        _ => Ok(()),
    }
}
