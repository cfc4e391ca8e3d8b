//! The cache: layout, entries, and [`Cache::resolve`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use kennel_spec::{AssetSource, AssetSpec, Value};

use crate::archive::{self, ExtractError};
use crate::compress::{decoder, Compression, Peeked};
use crate::digest::{hash_file, short_key, Digest, HashAlgo, Hasher};
use crate::error::AssetError;
use crate::fetch::{Fetch, Source};
use crate::lock::FileLock;
use crate::policy::{FetchEvent, FetchOptions, FetchPolicy};
use crate::record::{self, now_secs, Record, Stamp};

/// Records of used entries are rewritten at most this often (seconds).
const LAST_USED_GRANULARITY: u64 = 60;

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

    fn dir(&self) -> &Path {
        self.data.parent().unwrap_or(Path::new("."))
    }
}

/// What gets derived from an asset's content: extract first (the archive
/// itself may be compressed: that is handled), then, with `uncompress`,
/// decompress the result (the whole file when nothing is extracted).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Operation {
    extract: Option<String>,
    uncompress: bool,
}

impl Operation {
    fn of(spec: &AssetSpec) -> Option<Operation> {
        let extract = spec.extract.as_deref().map(archive::normalize);
        (extract.is_some() || spec.uncompress).then_some(Operation {
            extract,
            uncompress: spec.uncompress,
        })
    }

    /// `extract:boot/vmlinuz`, `uncompress`, or both joined by `,`.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(member) = &self.extract {
            parts.push(format!("extract:{member}"));
        }
        if self.uncompress {
            parts.push("uncompress".to_owned());
        }
        parts.join(",")
    }
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

/// The entry, if its record's stamp still matches the file (no reading).
pub(crate) fn quick_check(slot: &Slot) -> Option<Record> {
    let meta = fs::metadata(&slot.data).ok()?;
    let record = record::read(&slot.record())?;
    (record.stamp == Stamp::of(&meta)).then_some(record)
}

/// Under the lock: the entry if present and correct (hashing it in full when
/// its stamp changed); a damaged one is removed.
fn full_check(slot: &Slot, expected: Option<&Digest>) -> Result<Option<Record>, AssetError> {
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
fn touch(slot: &Slot, mut record: Record) -> Record {
    let now = now_secs();
    if now.saturating_sub(record.last_used) >= LAST_USED_GRANULARITY {
        record.last_used = now;
        let _ = record::write(&slot.record(), &record);
    }
    record
}

pub(crate) fn remove_if_present(path: &Path) -> Result<(), AssetError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(AssetError::io("remove", path)(e)),
        _ => Ok(()),
    }
}

fn source_of(spec: &AssetSpec, base_dir: &Path) -> Result<Source, AssetError> {
    let name = &spec.name;
    match &spec.source {
        AssetSource::Url(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(Source::Http(url.clone()))
        }
        AssetSource::Url(url) => {
            let path = url::Url::parse(url)
                .ok()
                .filter(|u| u.scheme() == "file")
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| AssetError::UnsupportedUrl {
                    name: name.clone(),
                    url: url.clone(),
                })?;
            Ok(Source::File {
                path,
                label: url.clone(),
            })
        }
        AssetSource::Cloud(image) => Err(AssetError::CloudUnresolved {
            name: name.clone(),
            image: image.source().to_owned(),
        }),
        AssetSource::Path(template) => {
            let mut vars = BTreeMap::new();
            vars.insert(
                "dir".to_owned(),
                Value::String(base_dir.to_string_lossy().into_owned()),
            );
            let text = template
                .render(&vars)
                .map_err(|source| AssetError::PathTemplate {
                    name: name.clone(),
                    source,
                })?;
            let path = base_dir.join(&text);
            Ok(Source::File {
                label: path.display().to_string(),
                path,
            })
        }
    }
}

/// Writes to a file while hashing (SHA-256).
struct HashingWriter {
    file: File,
    hasher: Hasher,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Write `op` applied to the file `content` into `out`; returns the result's digest.
fn derive(name: &str, content: &Path, op: &Operation, out: &Path) -> Result<Digest, AssetError> {
    let describe = || match &op.extract {
        Some(member) => format!("extract `{member}`"),
        None => "uncompress".to_owned(),
    };
    let file = File::create(out).map_err(AssetError::io("create", out))?;
    let mut writer = HashingWriter {
        file,
        hasher: Hasher::new(HashAlgo::Sha256),
    };
    let mut unknown_magic = None;
    let mut sink = |reader: &mut dyn Read| -> io::Result<()> {
        if op.uncompress {
            let peeked = Peeked::new(reader, 6)?;
            if Compression::detect(&peeked.head).is_none() {
                unknown_magic = Some(kennel_config::text::hex(&peeked.head));
                return Err(io::Error::other("unknown compression"));
            }
            let (mut decoded, _) = decoder(peeked.into_reader())?;
            io::copy(&mut decoded, &mut writer)?;
        } else {
            io::copy(reader, &mut writer)?;
        }
        Ok(())
    };
    let result = match &op.extract {
        Some(member) => archive::extract(content, member, &mut sink),
        None => File::open(content)
            .and_then(|mut f| sink(&mut f))
            .map_err(ExtractError::Io),
    };
    let fail = |error: AssetError| {
        let _ = fs::remove_file(out);
        Err(error)
    };
    if let Some(magic) = unknown_magic {
        return fail(AssetError::UnknownCompression {
            name: name.to_owned(),
            magic,
        });
    }
    match result {
        Ok(()) => {}
        Err(ExtractError::Unknown) => {
            return fail(AssetError::UnknownArchive {
                name: name.to_owned(),
                member: op.extract.clone().unwrap_or_default(),
            })
        }
        Err(ExtractError::NotFound) => {
            return fail(AssetError::MemberNotFound {
                name: name.to_owned(),
                member: op.extract.clone().unwrap_or_default(),
            })
        }
        Err(ExtractError::Io(source)) => {
            return fail(AssetError::Derive {
                name: name.to_owned(),
                operation: describe(),
                source,
            })
        }
    }
    if let Err(e) = writer.file.sync_all() {
        return fail(AssetError::io("write", out)(e));
    }
    Ok(writer.hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_percent_decoded() {
        let path_of = |url: &str| {
            let spec = AssetSpec {
                name: "a".into(),
                line: 1,
                source: AssetSource::Url(url.into()),
                hash: None,
                uncompress: false,
                extract: None,
            };
            match source_of(&spec, Path::new("/")) {
                Ok(crate::fetch::Source::File { path, .. }) => Some(path),
                _ => None,
            }
        };
        assert_eq!(path_of("file:///a%20b"), Some(PathBuf::from("/a b")));
        assert_eq!(path_of("file://localhost/a"), Some(PathBuf::from("/a")));
        assert_eq!(path_of("file://host/a"), None);
    }
}
