//! The error type shared by every module of this crate.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while preparing cloud images, seeds and
/// phone-home servers.
///
/// Variants that wrap a cause expose it through
/// [`std::error::Error::source`]; their messages say what was being done and
/// leave the cause to the chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// A file-system operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, e.g. "write seed image".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Building the FAT file system of a seed image failed.
    #[error("cannot build the NoCloud seed image ({step})")]
    Fat {
        /// The step that failed, e.g. "format" or "write user-data".
        step: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The phone-home HTTP server could not be started.
    #[error("cannot start the phone-home server on 127.0.0.1")]
    Server(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The system random number generator failed (for a phone-home token or
    /// an instance id).
    #[error("cannot get random bytes from the system")]
    Random(#[source] getrandom::Error),
    /// No phone-home request arrived in time.
    #[error(
        "no phone-home from instance {instance_id} within {}{}",
        crate::phone_home::fmt_waited(*waited),
        crate::phone_home::fmt_rejected(*wrong_token, *other_rejected)
    )]
    PhoneHomeTimeout {
        /// The instance that was waited for.
        instance_id: String,
        /// How long the wait lasted.
        waited: Duration,
        /// Requests that were rejected because of a wrong token or path.
        wrong_token: usize,
        /// Requests with the right path that were rejected otherwise (e.g. not a POST).
        other_rejected: usize,
    },
    /// The caller's cancel callback asked to stop waiting.
    #[error("stopped waiting for the phone-home of instance {instance_id}: cancelled")]
    Cancelled {
        /// The instance that was waited for.
        instance_id: String,
    },
    /// An image reference could not be parsed or is not supported.
    #[error("invalid image reference {input:?}: {reason}; accepted forms: \"debian <11|12|13> <arch> [variant]\", \"ubuntu <YY.MM> <arch>\", \"fedora <release> <arch>\" with arch amd64/x86_64, arm64/aarch64, ppc64el/ppc64le, ...")]
    ImageRef {
        /// The text that was parsed.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An HTTP server answered with an error status.
    #[error("GET {url} failed with HTTP status {status}")]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The status code received.
        status: u16,
    },
    /// An HTTP request failed before a response was received.
    #[error("GET {url} failed")]
    Http {
        /// The URL requested.
        url: String,
        /// The underlying transport error.
        #[source]
        source: Box<ureq::Transport>,
    },
    /// Reading an HTTP response body failed.
    #[error("cannot read the response to GET {url}")]
    HttpBody {
        /// The URL requested.
        url: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A URL has a scheme other than http, https or file.
    #[error("unsupported URL {url:?}: only http://, https:// and file:// are supported")]
    UnsupportedUrl {
        /// The URL.
        url: String,
    },
    /// A checksum file has no entry for the image.
    #[error("no checksum for {file_name} in {url}")]
    ChecksumMissing {
        /// The file name (or pattern) searched for.
        file_name: String,
        /// The checksum file's URL.
        url: String,
    },
    /// A directory index holds no checksum file.
    #[error("no link ending in -CHECKSUM in the directory index {url}")]
    NoChecksumFile {
        /// The directory's URL.
        url: String,
    },
    /// Offline mode was requested and the resolution cache has no entry.
    #[error("cannot resolve image {image} offline: it is not in the resolution cache {}", cache.as_ref().map_or_else(|| "(no cache directory)".to_string(), |p| p.display().to_string()))]
    Offline {
        /// The image reference, as text.
        image: String,
        /// The cache directory consulted, if any.
        cache: Option<PathBuf>,
    },
    /// A base image for an overlay does not exist.
    #[error("base image {} does not exist", path.display())]
    BaseMissing {
        /// The base image path as given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An overlay would overwrite its own base image.
    #[error("refusing to create overlay {}: it is the base image itself", path.display())]
    OverlayIsBase {
        /// The overlay path.
        path: PathBuf,
    },
    /// `qemu-img` could not be started.
    #[error("cannot run {}", program.display())]
    QemuImgSpawn {
        /// The program that was run.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `qemu-img` exited unsuccessfully.
    #[error("{command} failed ({status}): {stderr}")]
    QemuImg {
        /// The command line, for the message.
        command: String,
        /// The exit status.
        status: std::process::ExitStatus,
        /// What qemu-img wrote to stderr, trimmed.
        stderr: String,
    },
}
