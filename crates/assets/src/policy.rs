//! What a run allows, how hard fetching tries, and what it reports.

use std::time::Duration;

use crate::error::TransferError;

/// What the run allows: set from `--offline` / `KENNEL_NO_DOWNLOAD=1` and
/// `--allow-unverified`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Never download: an asset that is not cached is
    /// [`AssetError::NotCached`](crate::AssetError::NotCached). Local files
    /// (`path`, `file://`) are still read.
    pub offline: bool,
    /// Accept assets declaring no hash (otherwise
    /// [`AssetError::Unverified`](crate::AssetError::Unverified)).
    pub allow_unverified: bool,
}

/// How downloads are attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Attempts per download before giving up on transient errors
    /// (connection reset or refused, timeout, 5xx, 408, 429, short body). Default 5.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one. Default 500 ms.
    pub backoff: Duration,
    /// The longest wait between attempts. Default 10 s.
    pub max_backoff: Duration,
    /// Time allowed to connect. Default 30 s.
    pub connect_timeout: Duration,
    /// The longest silence while waiting for the response or reading the body
    /// (not a limit on the whole download). Default 60 s.
    pub read_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl FetchOptions {
    /// The wait after failed attempt number `attempt` (1-based).
    pub(crate) fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// What [`Cache::resolve`](crate::Cache::resolve) reports while it works, for a
/// progress bar or a log. Events of one asset arrive in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum FetchEvent<'a> {
    /// Another thread or process is fetching (or deriving) the same file;
    /// this one waits for it and then uses its result.
    Waiting {
        /// The asset's name.
        name: &'a str,
    },
    /// An attempt to download begins.
    Started {
        /// The asset's name.
        name: &'a str,
        /// URL or path.
        url: &'a str,
        /// Bytes already there from an earlier, interrupted attempt (resumed).
        offset: u64,
        /// The full size, when the server says.
        total: Option<u64>,
    },
    /// More bytes arrived.
    Progress {
        /// The asset's name.
        name: &'a str,
        /// Bytes of the file so far (resumed bytes included).
        bytes: u64,
        /// The full size, when the server says.
        total: Option<u64>,
    },
    /// An attempt failed with a transient error; the next one starts after `delay`.
    Retrying {
        /// The asset's name.
        name: &'a str,
        /// URL.
        url: &'a str,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// Why it failed.
        error: &'a TransferError,
    },
    /// The file is complete and verified.
    Finished {
        /// The asset's name.
        name: &'a str,
        /// URL or path.
        url: &'a str,
        /// Its size.
        bytes: u64,
    },
}

/// A progress callback that ignores everything.
pub fn no_progress(_: &FetchEvent<'_>) {}
