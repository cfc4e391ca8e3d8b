//! Where saved machine states live: `<kennel cache>/warm/<id>/` (the state,
//! the memory file, its key, the template's boot logs), one `<id>.lock` each (the asset cache's
//! `flock` locks: one process builds a template while the others wait), kept
//! within a size bound by least-recently-used eviction.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use kennel_assets::FileLock;

/// The bound on the cache's size when none is configured: 2 GiB.
pub const DEFAULT_WARM_CACHE_SIZE: u64 = 2 << 30;

/// A template used this recently is never evicted: a test may be about to
/// read its state.
const IN_USE: Duration = Duration::from_secs(300);

/// How often a template being built by another process is looked at.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// The state file of a template folder.
pub(crate) const STATE: &str = "state";
/// The template's memory, mapped copy-on-write by restores (sparse).
pub(crate) const RAM: &str = "ram";
/// What the template is (key text, agent, how it booted), JSON.
pub(crate) const META: &str = "template.json";
/// The template's boot console.
pub(crate) const BOOT_CONSOLE: &str = "console.log";
/// QEMU's output while the template booted and saved.
pub(crate) const BOOT_QEMU: &str = "qemu.log";

/// The saved machine states of one cache directory.
#[derive(Debug, Clone)]
pub struct WarmCache {
    dir: PathBuf,
    max_size: u64,
}

/// One saved state, as `kennel cache list` shows it.
#[derive(Debug, Clone)]
pub struct TemplateEntry {
    /// The template's id (the key's first hex digits).
    pub id: String,
    /// Its folder.
    pub dir: PathBuf,
    /// Bytes on disk (state, memory file and logs), as allocated: a sparse
    /// memory file counts the pages it holds.
    pub size: u64,
    /// When a test last started from it (or when it was built).
    pub last_used: SystemTime,
}

/// What [`WarmCache::purge`] did.
#[derive(Debug, Clone, Default)]
pub struct WarmPurge {
    /// The templates removed, least recently used first.
    pub removed: Vec<TemplateEntry>,
    /// Bytes freed.
    pub freed: u64,
    /// Templates kept although selected: being built, or used in the last minutes.
    pub busy: Vec<TemplateEntry>,
}

impl WarmCache {
    /// The states under the kennel cache directory `root` (`root/warm`),
    /// kept within [`DEFAULT_WARM_CACHE_SIZE`].
    pub fn new(root: &Path) -> WarmCache {
        WarmCache {
            dir: root.join("warm"),
            max_size: DEFAULT_WARM_CACHE_SIZE,
        }
    }

    /// The same states kept within `bytes` after each new template.
    pub fn with_max_size(self, bytes: u64) -> WarmCache {
        WarmCache {
            max_size: bytes,
            ..self
        }
    }

    /// The states under the user's kennel cache directory, when there is one,
    /// kept within the configured [`warm_cache_size`].
    pub fn user_default() -> Option<WarmCache> {
        kennel_config::cache_dir()
            .map(|root| WarmCache::new(&root).with_max_size(warm_cache_size()))
    }

    /// The bound a new template's build purges the cache to.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// The folder holding the templates.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of template `id`.
    pub(crate) fn template_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// The lock of template `id` (its builder holds it), waited for until
    /// `deadline`: `None` when another process still builds it then.
    pub(crate) fn lock(&self, id: &str, deadline: Instant) -> io::Result<Option<FileLock>> {
        fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!("{id}.lock"));
        loop {
            if let Some(lock) = FileLock::try_acquire(&path)? {
                return Ok(Some(lock));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(LOCK_POLL);
        }
    }

    /// Mark template `id` used now (its state's modification time).
    pub(crate) fn touch(&self, id: &str) {
        let state = self.template_dir(id).join(STATE);
        if let Ok(f) = fs::File::options().append(true).open(&state) {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    /// Every complete template, most recently used first.
    pub fn list(&self) -> io::Result<Vec<TemplateEntry>> {
        let mut entries = Vec::new();
        let read = match fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(entries),
            Err(e) => return Err(e),
        };
        for item in read {
            let dir = item?.path();
            let Ok(state) = fs::metadata(dir.join(STATE)) else {
                continue;
            };
            let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if id.contains('.') {
                continue; // a build in progress (`<id>.tmp-<pid>`)
            }
            let size = fs::read_dir(&dir)?
                .filter_map(|f| f.ok()?.metadata().ok())
                .map(|m| allocated(&m))
                .sum();
            entries.push(TemplateEntry {
                id,
                dir,
                size,
                last_used: state.modified()?,
            });
        }
        entries.sort_by(|a, b| b.last_used.cmp(&a.last_used).then(a.id.cmp(&b.id)));
        Ok(entries)
    }

    /// Remove least recently used templates until the rest fits in
    /// `max_total` bytes (0: all). A template being built, or used in the last
    /// few minutes (a test may be reading it), is kept and reported busy.
    pub fn purge(&self, max_total: u64) -> io::Result<WarmPurge> {
        let mut entries = self.list()?;
        entries.reverse();
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let mut report = WarmPurge::default();
        let now = SystemTime::now();
        for entry in entries {
            if total <= max_total {
                break;
            }
            let recent = now
                .duration_since(entry.last_used)
                .is_ok_and(|age| age < IN_USE);
            let lock = FileLock::try_acquire(&self.dir.join(format!("{}.lock", entry.id)))?;
            match lock {
                Some(_held) if !recent || max_total == 0 => {
                    fs::remove_dir_all(&entry.dir)?;
                    total = total.saturating_sub(entry.size);
                    report.freed += entry.size;
                    report.removed.push(entry);
                }
                _ => report.busy.push(entry),
            }
        }
        Ok(report)
    }
}

/// The bytes a file takes on disk: its allocated blocks (a sparse memory
/// file holds only the pages its guest touched), at most its length (a small
/// file does not count its whole last block).
fn allocated(meta: &fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    meta.len().min(meta.blocks().saturating_mul(512))
}

/// The configured bound on the cache's size, in bytes: `KENNEL_WARM_CACHE_SIZE`,
/// else `warm_cache_size` in `kennel.toml` (both read by
/// [`kennel_config::Config`]), else [`DEFAULT_WARM_CACHE_SIZE`].
pub fn warm_cache_size() -> u64 {
    kennel_config::Config::get()
        .ok()
        .and_then(|c| c.warm_cache_size)
        .unwrap_or(DEFAULT_WARM_CACHE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(cache: &WarmCache, id: &str, bytes: usize, age: Duration) {
        let dir = cache.template_dir(id);
        fs::create_dir_all(&dir).expect("dir");
        let state = dir.join(STATE);
        fs::write(&state, vec![0u8; bytes]).expect("state");
        let f = fs::File::options().append(true).open(&state).expect("open");
        f.set_modified(SystemTime::now() - age).expect("mtime");
    }

    #[test]
    fn purge_removes_least_recently_used_templates_first() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = WarmCache::new(root.path());
        template(&cache, "old", 100, Duration::from_secs(3600));
        template(&cache, "new", 100, Duration::from_secs(1800));

        let report = cache.purge(150).expect("purge");

        let removed: Vec<&str> = report.removed.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(removed, ["old"]);
        assert_eq!(cache.list().expect("list")[0].id, "new");
    }

    #[test]
    fn a_sparse_memory_file_counts_the_blocks_it_holds() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = WarmCache::new(root.path());
        template(&cache, "t", 100, Duration::from_secs(3600));
        let ram = fs::File::create(cache.template_dir("t").join(RAM)).expect("ram");
        ram.set_len(1 << 30).expect("sparse GiB");

        let size = cache.list().expect("list")[0].size;

        assert!(size < 1 << 20, "a sparse GiB counted as {size} bytes");
    }

    #[test]
    fn a_template_used_minutes_ago_is_kept_by_eviction() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = WarmCache::new(root.path());
        template(&cache, "fresh", 100, Duration::from_secs(10));

        let report = cache.purge(50).expect("purge");

        assert!(report.removed.is_empty());
        assert_eq!(report.busy.len(), 1);
    }
}
