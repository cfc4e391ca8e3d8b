//! kennel-assets against a real (misbehaving) HTTP server on loopback, real
//! archives built here, and real child processes.

mod batch;
mod derive;
mod fetch;
mod maintain;
mod processes;
mod server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kennel_assets::{Cache, Digest, FetchOptions, HashAlgo};
use kennel_spec::{AssetHash, AssetSource, AssetSpec, Template};

/// Retries and timeouts small enough for a fast suite.
pub fn fast_options() -> FetchOptions {
    FetchOptions {
        attempts: 4,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
    }
}

/// A cache in `dir` with [`fast_options`].
pub fn cache_in(dir: &Path) -> Cache {
    Cache::with_options(dir, fast_options())
}

/// Deterministic, incompressible-looking bytes.
pub fn payload(len: usize) -> Vec<u8> {
    kennel_testkit::pseudo_random(len)
}

/// The SHA-256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest::of_bytes(HashAlgo::Sha256, bytes)
}

/// `bytes`' SHA-256 as a declared hash.
pub fn sha256_hash(bytes: &[u8]) -> Option<AssetHash> {
    Some(AssetHash::Sha256(sha256(bytes).hex().to_owned()))
}

/// An asset fetched from `url`.
pub fn url_asset(name: &str, url: &str, hash: Option<AssetHash>) -> AssetSpec {
    AssetSpec {
        name: name.to_owned(),
        line: 1,
        source: AssetSource::Url(url.to_owned()),
        hash,
        uncompress: false,
        extract: None,
    }
}

/// An asset read from `path` (a template).
pub fn path_asset(name: &str, path: &str, hash: Option<AssetHash>) -> AssetSpec {
    AssetSpec {
        source: AssetSource::Path(Template::parse(path).expect("path template")),
        ..url_asset(name, "", hash)
    }
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Files under `dir` that hold content (no locks, records).
pub fn content_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let name = p.to_string_lossy();
            !name.ends_with(".lock") && !name.ends_with(".json")
        })
        .collect()
}
