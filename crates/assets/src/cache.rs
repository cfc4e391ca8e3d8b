//! The cache: its layout, and [`Cache::resolve`] filling an entry once
//! across processes (the entry on disk is in `slot.rs`, derived files in
//! `derive.rs`, where an asset comes from in `source.rs`).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use kennel_spec::AssetSpec;

use crate::derive::{derive, Operation};
use crate::digest::{hash_file, short_key, Digest, HashAlgo};
use crate::error::AssetError;
use crate::fetch::{Fetch, Source};
use crate::lock::FileLock;
use crate::policy::{FetchEvent, FetchOptions, FetchPolicy};
use crate::record::{self, now_secs, Record, Stamp};
use crate::slot::{full_check, quick_check, touch, Slot};
use crate::source::source_of;

/// The asset cache of one user (or one CI job): a directory shared by every
/// kennel process that uses it.
///
/// # Layout
///
/// ```text
/// <cache>/assets/
///   sha256/<hex>               verified content, named by its hash (sha512/ too)
///   sha256/<hex>.json          its record: stamp, origin, last use (see below)
///   sha256/<hex>.lock          lock taken while fetching or checking it
///   sha256/<hex>.partial       an interrupted download, resumed by the next attempt
///   unverified/<sha256 of URL> assets without a declared hash (`--allow-unverified`)
///   derived/<algo>-<hex>/<key> uncompressed / extracted results of that content,
///                              <key> naming the operation
/// ```
///
/// A file appears under its final name only once complete and verified (it is
/// written as `.partial`, checked, then renamed), so a reader never sees a
/// half-written or wrong file, whatever happened to the writer.
///
/// # Concurrency
///
/// Filling an entry happens under an exclusive `flock(2)` on its `.lock` file;
/// whoever waited re-checks the entry after acquiring the lock and uses what
/// the other process fetched. Threads of one process exclude each other the
/// same way. A lock dies with its process (including `kill -9`), so there are
/// no stale locks to break; an interrupted `.partial` is resumed with an HTTP
/// range request when the server supports them, else downloaded again.
///
/// # Re-verification
///
/// Each file has a record of its size, inode, mtime and ctime when verified. A
/// file whose stamp matches is used without reading it; otherwise it is hashed
/// in full, and fetched (or derived) again when the hash is wrong. Changing a
/// file in place, truncating or replacing it changes its stamp, even when the
/// mtime is restored afterwards (ctime cannot be set). Damage below the file
/// system that leaves the stamp alone is not detected.
///
/// # Examples
///
/// ```no_run
/// use std::path::Path;
/// use kennel_assets::{no_progress, Cache, FetchPolicy};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let file = kennel_spec::load_test(Path::new("tests/boot.toml"))?;
/// let cache = Cache::new(Cache::default_dir()?);
/// for asset in file.assets.values() {
///     let path = cache.resolve(asset, &file.dir, &FetchPolicy::default(), &mut no_progress)?;
///     println!("{} = {}", asset.name, path.display());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    options: FetchOptions,
    agent: ureq::Agent,
}

/// Writes an entry's complete content to the given partial path and returns
/// its digest.
type Make<'m> =
    dyn FnMut(&Path, &mut dyn FnMut(&FetchEvent<'_>)) -> Result<Digest, AssetError> + 'm;

/// What the record of a new entry says about its origin.
struct Origin<'a> {
    name: &'a str,
    url: Option<&'a str>,
    source: Option<&'a Digest>,
    operation: Option<String>,
}

impl Cache {
    /// A cache in `dir` (a kennel cache directory such as
    /// [`Cache::default_dir`]); assets live in `dir/assets`. Nothing is
    /// created until something is fetched.
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache::with_options(dir, FetchOptions::default())
    }

    /// Like [`Cache::new`], with other retry and timeout settings.
    pub fn with_options(dir: impl Into<PathBuf>, options: FetchOptions) -> Cache {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(options.connect_timeout)
            .timeout_read(options.read_timeout)
            .user_agent(concat!("kennel/", env!("CARGO_PKG_VERSION")))
            .build();
        Cache {
            root: dir.into().join("assets"),
            options,
            agent,
        }
    }

    /// The user's kennel cache directory ([`kennel_config::cache_dir`]:
    /// `$KENNEL_CACHE_DIR`, else `$XDG_CACHE_HOME/kennel` when absolute, else
    /// `$HOME/.cache/kennel`).
    pub fn default_dir() -> Result<PathBuf, AssetError> {
        kennel_config::cache_dir().ok_or(AssetError::NoCacheDir)
    }

    /// Where assets are kept: `<dir>/assets`.
    pub fn assets_dir(&self) -> &Path {
        &self.root
    }

    /// The settings downloads use.
    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// The path of `spec`'s final file: fetched (or found in the cache),
    /// verified, then extracted and uncompressed as declared. Relative `path`
    /// sources and `${dir}` are relative to `base_dir` (the test file's
    /// directory). The file is shared: treat it as read-only.
    ///
    /// Blocks while another process fetches the same content, then uses its
    /// result. `progress` hears about waits, attempts, bytes and retries.
    ///
    /// Without a hash (allowed by `policy`), a URL is cached under the URL and
    /// not fetched again while it stays in the cache; a local file is used
    /// where it is.
    pub fn resolve(
        &self,
        spec: &AssetSpec,
        base_dir: &Path,
        policy: &FetchPolicy,
        progress: &mut dyn FnMut(&FetchEvent<'_>),
    ) -> Result<PathBuf, AssetError> {
        let name = spec.name.as_str();
        let source = source_of(spec, base_dir)?;
        let expected = spec.hash.as_ref().map(Digest::from_spec).transpose()?;
        let operation = Operation::of(spec);
        let (content, digest) = match expected {
            Some(expected) => {
                if let Some(op) = &operation {
                    // A derived file outlives a purged source.
                    let slot = self.derived_slot(&expected, op);
                    if let Some(record) = quick_check(&slot) {
                        touch(&slot, record);
                        return Ok(slot.data);
                    }
                }
                let slot = self.verified_slot(&expected);
                self.fetch_into(&slot, &source, Some(&expected), name, policy, progress)?;
                (slot.data, expected)
            }
            None if !policy.allow_unverified => {
                return Err(AssetError::Unverified {
                    name: name.to_owned(),
                })
            }
            None => match &source {
                Source::File { path, .. } => {
                    let digest =
                        hash_file(path, HashAlgo::Sha256).map_err(|source| AssetError::Source {
                            name: name.to_owned(),
                            path: path.clone(),
                            source,
                        })?;
                    (path.clone(), digest)
                }
                Source::Http(url) => {
                    let slot = self.unverified_slot(url);
                    let record = self.fetch_into(&slot, &source, None, name, policy, progress)?;
                    let digest = Digest::parse(&record.digest)?;
                    (slot.data, digest)
                }
            },
        };
        let Some(op) = operation else {
            return Ok(content);
        };
        let slot = self.derived_slot(&digest, &op);
        let origin = Origin {
            name,
            url: Some(source.label()),
            source: Some(&digest),
            operation: Some(op.describe()),
        };
        self.fill(&slot, None, &origin, progress, &mut |partial, _| {
            derive(name, &content, &op, partial)
        })?;
        Ok(slot.data)
    }

    fn fetch_into(
        &self,
        slot: &Slot,
        source: &Source,
        expected: Option<&Digest>,
        name: &str,
        policy: &FetchPolicy,
        progress: &mut dyn FnMut(&FetchEvent<'_>),
    ) -> Result<Record, AssetError> {
        let origin = Origin {
            name,
            url: Some(source.label()),
            source: None,
            operation: None,
        };
        self.fill(
            slot,
            expected,
            &origin,
            progress,
            &mut |partial, progress| {
                if policy.offline && matches!(source, Source::Http(_)) {
                    return Err(AssetError::NotCached {
                        name: name.to_owned(),
                        url: source.label().to_owned(),
                    });
                }
                Fetch {
                    agent: &self.agent,
                    options: &self.options,
                    name,
                    progress,
                }
                .run(source, partial, expected)
            },
        )
    }

    /// The verified entry at `slot`, made with `make` (which writes the
    /// complete content to the partial path and returns its digest) when
    /// missing or damaged.
    fn fill(
        &self,
        slot: &Slot,
        expected: Option<&Digest>,
        origin: &Origin<'_>,
        progress: &mut dyn FnMut(&FetchEvent<'_>),
        make: &mut Make<'_>,
    ) -> Result<Record, AssetError> {
        if let Some(record) = quick_check(slot) {
            return Ok(touch(slot, record));
        }
        fs::create_dir_all(slot.dir()).map_err(AssetError::io("create", slot.dir()))?;
        let lock_path = slot.lock();
        let lock =
            match FileLock::try_acquire(&lock_path).map_err(AssetError::io("lock", &lock_path))? {
                Some(lock) => lock,
                None => {
                    progress(&FetchEvent::Waiting { name: origin.name });
                    FileLock::acquire(&lock_path).map_err(AssetError::io("lock", &lock_path))?
                }
            };
        if let Some(record) = full_check(slot, expected)? {
            return Ok(touch(slot, record));
        }
        let partial = slot.partial();
        let digest = make(&partial, progress)?;
        fs::rename(&partial, &slot.data).map_err(AssetError::io("rename", &partial))?;
        let meta = fs::metadata(&slot.data).map_err(AssetError::io("read", &slot.data))?;
        let record = Record {
            digest: digest.to_string(),
            stamp: Stamp::of(&meta),
            name: Some(origin.name.to_owned()),
            url: origin.url.map(str::to_owned),
            source: origin.source.map(Digest::to_string),
            operation: origin.operation.clone(),
            last_used: now_secs(),
        };
        record::write(&slot.record(), &record).map_err(AssetError::io("write", slot.record()))?;
        if let Ok(dir) = File::open(slot.dir()) {
            let _ = dir.sync_all();
        }
        drop(lock);
        Ok(record)
    }

    pub(crate) fn verified_slot(&self, digest: &Digest) -> Slot {
        Slot {
            data: self.root.join(digest.algo().name()).join(digest.hex()),
        }
    }

    fn unverified_slot(&self, url: &str) -> Slot {
        let key = Digest::of_bytes(HashAlgo::Sha256, url.as_bytes());
        Slot {
            data: self.root.join("unverified").join(key.hex()),
        }
    }

    fn derived_slot(&self, source: &Digest, op: &Operation) -> Slot {
        let dir = format!("{}-{}", source.algo().name(), source.hex());
        Slot {
            data: self
                .root
                .join("derived")
                .join(dir)
                .join(short_key(&op.describe())),
        }
    }
}
