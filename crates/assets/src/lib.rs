//! kennel's asset cache: declared files (kernels, firmware, disk images)
//! fetched once, verified, and shared safely between parallel tests and
//! processes.
//!
//! A test declares an asset (`[assets.<name>]`, parsed by `kennel_spec` into an
//! [`AssetSpec`](kennel_spec::AssetSpec)); [`Cache::resolve`] returns the path
//! of its verified file, downloading it when needed:
//!
//! - **content-addressed**: `sha256/<hex>` and `sha512/<hex>`; a file appears
//!   under its final name only once complete and verified;
//! - **once**: concurrent processes fetching the same content take an
//!   exclusive `flock` per entry; the others wait and use the result; a lock
//!   dies with its process, so a killed fetcher blocks no one;
//! - **resumable**: an interrupted download stays as `.partial` and is resumed
//!   with an HTTP range request (by this process's next attempt or by the next
//!   run); transient errors are retried with backoff ([`FetchOptions`]); 404,
//!   other 4xx and hash mismatches are final;
//! - **derived files**: `uncompress` (xz, gzip, zstd, bzip2, recognized by
//!   their magic bytes) and `extract` of a member from tar, cpio (newc) and
//!   Debian `.deb` archives (compressed or not), cached by (content, operation);
//! - **offline**: [`FetchPolicy::offline`] turns a missing asset into
//!   [`AssetError::NotCached`], which names the command that fetches it;
//! - **maintenance**: [`Cache::list`] and [`Cache::purge`] (by age or total
//!   size, least recently used first).
//!
//! [`Cache::resolve_all`] resolves many assets with a few worker threads.
//!
//! The library prints nothing: progress reaches the caller as [`FetchEvent`]s.
//! Unix only (it relies on `flock(2)` and inode numbers).

#![deny(missing_docs)]

mod archive;
mod batch;
mod cache;
mod compress;
pub mod cpio;
mod derive;
mod digest;
mod error;
mod fetch;
#[cfg(test)]
mod fuzz;
mod lock;
mod maintain;
mod policy;
mod record;
mod slot;
mod source;

pub use batch::{BatchEvent, BatchItem};
pub use cache::Cache;
pub use compress::Compression;
pub use digest::{Digest, HashAlgo};
pub use error::{AssetError, TransferError};
pub use lock::FileLock;
pub use maintain::{CacheEntry, EntryKind, PurgeReport, PurgeRule};
pub use policy::{no_progress, FetchEvent, FetchOptions, FetchPolicy};

#[cfg(test)]
mod tests {
    /// Parallel `kennel assets fetch` shares one cache between threads.
    #[test]
    fn cache_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::Cache>();
        assert_send_sync::<crate::AssetError>();
    }
}
