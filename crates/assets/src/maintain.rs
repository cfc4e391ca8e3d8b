//! `kennel assets list` and `kennel assets purge`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cache::Cache;
use crate::digest::{Digest, HashAlgo};
use crate::error::AssetError;
use crate::lock::FileLock;
use crate::record::{self, secs_to_time};
use crate::slot::{remove_if_present, Slot};

/// Leftover temporary files older than this are removed by a purge.
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);

/// What a cached file is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    /// Content verified against a declared hash, named by it.
    Verified(Digest),
    /// Content fetched without a declared hash (`--allow-unverified`).
    Unverified,
    /// The result of uncompressing or extracting some content.
    Derived {
        /// The content it was made from (`None` if its record is lost).
        source: Option<Digest>,
        /// What was done, e.g. `extract:boot/vmlinuz,uncompress`.
        operation: String,
    },
    /// An interrupted download, resumed by the next fetch.
    Partial,
}

/// One file in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// What it is.
    pub kind: EntryKind,
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// When a test last resolved it (to the minute), or when it was last
    /// written for partial downloads and entries without a record.
    pub last_used: SystemTime,
    /// The name of the asset that brought it in, when known.
    pub name: Option<String>,
    /// Where it came from, when known.
    pub url: Option<String>,
}

/// Which entries [`Cache::purge`] removes. Both limits may be combined: first
/// everything older than `older_than` goes, then least recently used entries
/// until the total is at most `max_total_size`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeRule {
    /// Remove entries not used for this long.
    pub older_than: Option<Duration>,
    /// Then remove least recently used entries until the rest fits in this
    /// many bytes.
    pub max_total_size: Option<u64>,
}

impl PurgeRule {
    /// A rule removing everything (that is not in use).
    pub fn everything() -> PurgeRule {
        PurgeRule {
            older_than: None,
            max_total_size: Some(0),
        }
    }
}

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Removed entries, least recently used first.
    pub removed: Vec<CacheEntry>,
    /// Entries the rule selected but that were being fetched or checked by
    /// another process at that moment, and were kept.
    pub busy: Vec<CacheEntry>,
    /// Bytes freed.
    pub freed: u64,
}

impl Cache {
    /// Every file in the cache, most recently used first.
    pub fn list(&self) -> Result<Vec<CacheEntry>, AssetError> {
        let mut entries = Vec::new();
        for algo in [HashAlgo::Sha256, HashAlgo::Sha512] {
            self.scan(
                &self.assets_dir().join(algo.name()),
                Some(algo),
                &mut entries,
            )?;
        }
        self.scan(&self.assets_dir().join("unverified"), None, &mut entries)?;
        let derived = self.assets_dir().join("derived");
        for dir in read_dir(&derived)? {
            if dir.is_dir() {
                self.scan(&dir, None, &mut entries)?;
            }
        }
        entries.sort_by(|a, b| b.last_used.cmp(&a.last_used).then(a.path.cmp(&b.path)));
        Ok(entries)
    }

    /// Remove entries as `rule` says, least recently used first. An entry
    /// locked by another process (being fetched or checked) is kept and
    /// reported as busy. A file a running test has already opened stays
    /// readable to it (Unix semantics); a test that resolved a path but has not
    /// opened it yet may lose it, so purge between runs.
    pub fn purge(&self, rule: &PurgeRule) -> Result<PurgeReport, AssetError> {
        let mut entries = self.list()?;
        entries.reverse(); // least recently used first
        let now = SystemTime::now();
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let mut report = PurgeReport::default();
        for entry in entries {
            let too_old = rule
                .older_than
                .is_some_and(|age| now.duration_since(entry.last_used).unwrap_or_default() >= age);
            let too_big = rule.max_total_size.is_some_and(|max| total > max);
            if !(too_old || too_big) {
                continue;
            }
            if remove_entry(&entry)? {
                total -= entry.size;
                report.freed += entry.size;
                report.removed.push(entry);
            } else {
                report.busy.push(entry);
            }
        }
        self.remove_stale_temporaries(now)?;
        Ok(report)
    }

    fn scan(
        &self,
        dir: &Path,
        algo: Option<HashAlgo>,
        out: &mut Vec<CacheEntry>,
    ) -> Result<(), AssetError> {
        let derived = dir.starts_with(self.assets_dir().join("derived"));
        for path in read_dir(dir)? {
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if file_name.starts_with(".tmp-")
                || file_name.ends_with(".json")
                || file_name.ends_with(".lock")
            {
                continue;
            }
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue; // removed meanwhile
            };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if file_name.ends_with(".partial") {
                out.push(CacheEntry {
                    kind: EntryKind::Partial,
                    path,
                    size: meta.len(),
                    last_used: modified,
                    name: None,
                    url: None,
                });
                continue;
            }
            let slot = Slot { data: path.clone() };
            let record = record::read(&slot.record());
            let kind = if derived {
                EntryKind::Derived {
                    source: record
                        .as_ref()
                        .and_then(|r| r.source.as_deref())
                        .and_then(|s| Digest::parse(s).ok()),
                    operation: record
                        .as_ref()
                        .and_then(|r| r.operation.clone())
                        .unwrap_or_default(),
                }
            } else if let Some(algo) = algo {
                match Digest::new(algo, file_name) {
                    Ok(digest) => EntryKind::Verified(digest),
                    Err(_) => continue, // not ours
                }
            } else {
                EntryKind::Unverified
            };
            out.push(CacheEntry {
                kind,
                path,
                size: meta.len(),
                last_used: record
                    .as_ref()
                    .map_or(modified, |r| secs_to_time(r.last_used)),
                name: record.as_ref().and_then(|r| r.name.clone()),
                url: record.as_ref().and_then(|r| r.url.clone()),
            });
        }
        Ok(())
    }

    fn remove_stale_temporaries(&self, now: SystemTime) -> Result<(), AssetError> {
        let mut dirs = vec![
            self.assets_dir().join("sha256"),
            self.assets_dir().join("sha512"),
            self.assets_dir().join("unverified"),
        ];
        dirs.extend(read_dir(&self.assets_dir().join("derived"))?);
        for dir in dirs {
            for path in read_dir(&dir)? {
                let is_temp = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(".tmp-"));
                let old = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TEMP);
                if is_temp && old {
                    remove_if_present(&path)?;
                }
            }
            // Emptied `derived/<source>/` directories stay: removing one could
            // race with a process about to create its lock file there.
        }
        Ok(())
    }
}

/// Remove an entry under its lock; `false` when someone else holds the lock.
fn remove_entry(entry: &CacheEntry) -> Result<bool, AssetError> {
    let data = match entry.kind {
        EntryKind::Partial => {
            let name = entry.path.to_string_lossy();
            PathBuf::from(name.strip_suffix(".partial").unwrap_or(&name))
        }
        _ => entry.path.clone(),
    };
    let slot = Slot { data };
    let lock_path = slot.lock();
    let Some(lock) =
        FileLock::try_acquire(&lock_path).map_err(AssetError::io("lock", &lock_path))?
    else {
        return Ok(false);
    };
    remove_if_present(&entry.path)?;
    if entry.kind != EntryKind::Partial {
        remove_if_present(&slot.record())?;
    }
    if !slot.data.exists() && !slot.partial().exists() {
        lock.remove_file()
            .map_err(AssetError::io("remove", &lock_path))?;
    }
    Ok(true)
}

/// The entries of `dir`, sorted; none when it does not exist.
fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, AssetError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AssetError::io("read", dir)(e)),
    };
    let mut paths = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(AssetError::io("read", dir))?;
    paths.sort();
    Ok(paths)
}
