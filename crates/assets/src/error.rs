//! The crate's error type.

use std::io;
use std::path::PathBuf;

use crate::digest::Digest;

/// Why an asset could not be provided.
///
/// Messages never repeat their [`source`](std::error::Error::source): print the
/// chain to see the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssetError {
    /// Downloads are off ([`FetchPolicy::offline`](crate::FetchPolicy)) and the
    /// asset is not in the cache. A runner reports the test as SKIP (or ERROR).
    #[error(
        "asset `{name}` is not in the cache and downloads are off; \
         fetch it first with `kennel assets fetch <test file>` (it comes from {url})"
    )]
    NotCached {
        /// The asset's name.
        name: String,
        /// Where it would be fetched from.
        url: String,
    },
    /// The asset declares no `sha256`/`sha512` and unverified assets are not allowed.
    #[error(
        "asset `{name}` has no sha256 or sha512 to verify it with; \
         add one, or run with `--allow-unverified`"
    )]
    Unverified {
        /// The asset's name.
        name: String,
    },
    /// The declared hash is not valid hex of the algorithm's length.
    #[error("invalid {algo} value {value:?}")]
    InvalidHash {
        /// `sha256`, `sha512` or `digest`.
        algo: &'static str,
        /// What was given.
        value: String,
    },
    /// The URL's scheme is not `http`, `https` or `file`.
    #[error("asset `{name}`: unsupported URL {url:?} (use http://, https:// or file://)")]
    UnsupportedUrl {
        /// The asset's name.
        name: String,
        /// The URL.
        url: String,
    },
    /// A `cloud = "..."` image was handed over before it was resolved to a
    /// URL and hash (the image provider does that, see `kennel-cloud`).
    #[error("asset `{name}`: the cloud image {image:?} must be resolved to a URL first")]
    CloudUnresolved {
        /// The asset's name.
        name: String,
        /// The image reference as written.
        image: String,
    },
    /// A `path = "..."` template could not be rendered.
    #[error("asset `{name}`: cannot render its path")]
    PathTemplate {
        /// The asset's name.
        name: String,
        /// The cause.
        #[source]
        source: kennel_spec::RenderError,
    },
    /// The server answered 404: final, not retried.
    #[error("asset `{name}`: {url} does not exist (HTTP 404 Not Found)")]
    NotFound {
        /// The asset's name.
        name: String,
        /// The URL.
        url: String,
    },
    /// The server refused the request with a status that retrying cannot fix
    /// (4xx other than 404, 408 and 429).
    #[error("asset `{name}`: {url} answered HTTP {status}")]
    HttpStatus {
        /// The asset's name.
        name: String,
        /// The URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The fetched bytes do not have the declared hash: final. Nothing is
    /// left in the cache.
    #[error(
        "asset `{name}`: hash mismatch for {url}: expected {expected}, got {actual} \
         ({bytes} bytes received)"
    )]
    HashMismatch {
        /// The asset's name.
        name: String,
        /// Where the bytes came from.
        url: String,
        /// The declared digest.
        expected: Digest,
        /// The digest of what was received.
        actual: Digest,
        /// How many bytes were received.
        bytes: u64,
    },
    /// Every attempt failed with a transient error (connection reset,
    /// timeout, 5xx, short body); the last one is the source. What was
    /// received is kept and resumed by the next run.
    #[error("asset `{name}`: downloading {url} failed after {attempts} attempts")]
    Download {
        /// The asset's name.
        name: String,
        /// The URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's failure.
        #[source]
        source: TransferError,
    },
    /// A local source (`path`, `file://`) could not be read.
    #[error("asset `{name}`: cannot read {}", path.display())]
    Source {
        /// The asset's name.
        name: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `uncompress = true`, but the data is none of xz, gzip, zstd, bzip2.
    #[error(
        "asset `{name}`: cannot uncompress: not xz, gzip, zstd or bzip2 data \
         (it starts with {magic})"
    )]
    UnknownCompression {
        /// The asset's name.
        name: String,
        /// The first bytes, in hex.
        magic: String,
    },
    /// `extract` was given, but the data is not a tar, cpio (newc) or Debian archive.
    #[error("asset `{name}`: cannot extract `{member}`: not a tar, cpio (newc) or .deb archive")]
    UnknownArchive {
        /// The asset's name.
        name: String,
        /// The member asked for.
        member: String,
    },
    /// The archive has no such member (after following symlinks).
    #[error("asset `{name}`: the archive has no member `{member}`")]
    MemberNotFound {
        /// The asset's name.
        name: String,
        /// The member asked for.
        member: String,
    },
    /// The archive or compressed stream is damaged, or the member is not a
    /// regular file.
    #[error("asset `{name}`: cannot {operation}")]
    Derive {
        /// The asset's name.
        name: String,
        /// What was being done, e.g. ``extract `boot/vmlinuz` ``.
        operation: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// No cache directory could be determined.
    #[error("no cache directory: set KENNEL_CACHE_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// A file or directory of the cache could not be used.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done: `create`, `lock`, `read`, ...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl AssetError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| AssetError::Io {
            action,
            path,
            source,
        }
    }
}

/// Why one download attempt failed (the source of [`AssetError::Download`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// Connecting or talking to the server failed.
    #[error("transport error")]
    Transport(#[source] Box<ureq::Transport>),
    /// Reading the body failed (connection reset, read timeout, ...).
    #[error("reading the response failed after {bytes} bytes")]
    Body {
        /// Bytes of the file received so far (including resumed ones).
        bytes: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The body ended before the announced length.
    #[error("the response ended after {bytes} of {total} bytes")]
    Incomplete {
        /// Bytes of the file received so far (including resumed ones).
        bytes: u64,
        /// Announced total.
        total: u64,
    },
    /// The server answered with a status worth retrying (5xx, 408, 429).
    #[error("the server answered HTTP {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// The server answered a range request with another range (or 416);
    /// the download restarts from the beginning.
    #[error("the server answered the range request for bytes {requested}- with {answered:?}")]
    BadRange {
        /// The first byte asked for.
        requested: u64,
        /// What it answered (status and `Content-Range`).
        answered: String,
    },
}
