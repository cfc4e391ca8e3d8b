//! Many assets at once: a few worker threads sharing one cache.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kennel_spec::AssetSpec;

use crate::{AssetError, Cache, FetchEvent, FetchPolicy};

/// One asset of a batch ([`Cache::resolve_all`]).
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// What the caller calls it in messages (`image (debian 12 amd64)`).
    pub label: String,
    /// The asset.
    pub spec: AssetSpec,
    /// Where the asset's relative paths start (the declaring test file's folder).
    pub base_dir: PathBuf,
}

/// What a batch reports as it goes, from its worker threads. Events of one item
/// arrive in order: `Started`, any `Progress`, `Finished`.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchEvent<'a> {
    /// A worker took the item at `index`.
    Started {
        /// Its index in the batch.
        index: usize,
        /// The item.
        item: &'a BatchItem,
    },
    /// Progress of the item at `index`.
    Progress {
        /// Its index in the batch.
        index: usize,
        /// What happened.
        event: &'a FetchEvent<'a>,
    },
    /// The item at `index` is resolved, or failed.
    Finished {
        /// Its index in the batch.
        index: usize,
        /// The item.
        item: &'a BatchItem,
        /// Its file, or why not.
        result: &'a Result<PathBuf, AssetError>,
        /// How long it took.
        elapsed: Duration,
    },
}

impl Cache {
    /// Resolve every item ([`Cache::resolve`]), at most `workers` at a time (at
    /// least one), reporting each step to `on_event` from the worker threads.
    /// Returns each item's file or error, in the order of `items`.
    pub fn resolve_all(
        &self,
        items: &[BatchItem],
        policy: &FetchPolicy,
        workers: usize,
        on_event: &(dyn Fn(BatchEvent<'_>) + Sync),
    ) -> Vec<Result<PathBuf, AssetError>> {
        let next = AtomicUsize::new(0);
        let workers = workers.max(1).min(items.len());
        let mut done: Vec<(usize, Result<PathBuf, AssetError>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let index = next.fetch_add(1, Ordering::SeqCst);
                            let Some(item) = items.get(index) else {
                                break;
                            };
                            on_event(BatchEvent::Started { index, item });
                            let started = Instant::now();
                            let mut progress = |event: &FetchEvent<'_>| {
                                on_event(BatchEvent::Progress { index, event });
                            };
                            let result =
                                self.resolve(&item.spec, &item.base_dir, policy, &mut progress);
                            on_event(BatchEvent::Finished {
                                index,
                                item,
                                result: &result,
                                elapsed: started.elapsed(),
                            });
                            mine.push((index, result));
                        }
                        mine
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, r)| r).collect()
    }
}
