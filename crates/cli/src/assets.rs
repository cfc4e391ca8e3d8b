//! `kennel assets fetch|list|purge`: the asset cache from the command line,
//! and the saved machine states of warm starts beside it (`list` shows them,
//! `purge --all` and `--max-size` remove them too).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kennel_assets::{BatchEvent, BatchItem, Cache, FetchEvent, FetchPolicy, PurgeRule};
use kennel_config::text::visible;
use kennel_spec::AssetSource;

use crate::args::AssetsCommand;
use crate::exit::{CliError, Ending};

/// Downloads at once in `kennel assets fetch`.
const FETCH_WORKERS: usize = 4;

/// `kennel assets ...`.
pub fn assets(a: AssetsCommand) -> Result<Ending, CliError> {
    let dir = Cache::default_dir().map_err(|e| CliError::Usage(kennel_runner::error_chain(&e)))?;
    let cache = Cache::new(dir);
    match a {
        AssetsCommand::Fetch {
            paths,
            allow_unverified,
        } => fetch(&cache, paths, allow_unverified),
        AssetsCommand::List => list(&cache).and_then(|_| list_states()),
        AssetsCommand::Purge {
            older_than,
            max_size,
            all,
        } => {
            let rule = if all {
                PurgeRule::everything()
            } else {
                let older_than = older_than
                    .as_deref()
                    .map(kennel_spec::parse_duration)
                    .transpose()
                    .map_err(|e| CliError::usage(format!("--older-than: {e}")))?;
                if older_than.is_none() && max_size.is_none() {
                    return Err(CliError::usage(
                        "say what to purge: --older-than, --max-size or --all",
                    ));
                }
                PurgeRule {
                    older_than,
                    max_total_size: max_size.map(|m| m * 1024 * 1024),
                }
            };
            purge(&cache, &rule)?;
            match (all, max_size) {
                (true, _) => purge_states(0),
                (false, Some(mib)) => purge_states(mib * 1024 * 1024),
                (false, None) => Ok(Ending::Ok),
            }
        }
    }
}

fn list(cache: &Cache) -> Result<Ending, CliError> {
    let entries = cache.list().map_err(|e| CliError::failed(&e))?;
    let mut total = 0;
    for e in &entries {
        total += e.size;
        println!(
            "{:>10}  {}  {}",
            kennel_config::human_bytes(e.size),
            e.name.as_deref().unwrap_or("-"),
            e.url
                .as_deref()
                .map(str::to_string)
                .unwrap_or_else(|| e.path.display().to_string())
        );
    }
    println!(
        "{} entries, {} in {}",
        entries.len(),
        kennel_config::human_bytes(total),
        cache.assets_dir().display()
    );
    Ok(Ending::Ok)
}

/// The saved machine states (templates of warm starts), most recently used first.
fn list_states() -> Result<Ending, CliError> {
    let Some(states) = kennel_vm::warm::WarmCache::user_default() else {
        return Ok(Ending::Ok);
    };
    let entries = states.list().map_err(|e| CliError::failed(&e))?;
    let mut total = 0;
    for e in &entries {
        total += e.size;
        println!(
            "{:>10}  template {}  {}",
            kennel_config::human_bytes(e.size),
            e.id,
            e.dir.display()
        );
    }
    println!(
        "{} saved machine states, {} in {} (bound: {})",
        entries.len(),
        kennel_config::human_bytes(total),
        states.dir().display(),
        kennel_config::human_bytes(kennel_vm::warm::warm_cache_size())
    );
    Ok(Ending::Ok)
}

/// Remove least recently used saved machine states down to `max_total` bytes.
fn purge_states(max_total: u64) -> Result<Ending, CliError> {
    let Some(states) = kennel_vm::warm::WarmCache::user_default() else {
        return Ok(Ending::Ok);
    };
    let r = states.purge(max_total).map_err(|e| CliError::failed(&e))?;
    println!(
        "kennel: removed {} saved machine states, freed {}{}",
        r.removed.len(),
        kennel_config::human_bytes(r.freed),
        if r.busy.is_empty() {
            String::new()
        } else {
            format!("; {} being built or just used were kept", r.busy.len())
        }
    );
    Ok(Ending::Ok)
}

fn purge(cache: &Cache, rule: &PurgeRule) -> Result<Ending, CliError> {
    let r = cache.purge(rule).map_err(|e| CliError::failed(&e))?;
    println!(
        "kennel: removed {} entries, freed {}{}",
        r.removed.len(),
        kennel_config::human_bytes(r.freed),
        if r.busy.is_empty() {
            String::new()
        } else {
            format!("; {} in use were kept", r.busy.len())
        }
    );
    Ok(Ending::Ok)
}

/// Fetch every declared asset of the tests under `paths` (default: the project's
/// paths), a few at a time.
fn fetch(cache: &Cache, paths: Vec<PathBuf>, allow_unverified: bool) -> Result<Ending, CliError> {
    let paths = if paths.is_empty() {
        crate::project::default_paths(None).map_err(CliError::usage)?
    } else {
        paths
    };
    let discovery =
        kennel_runner::discover(&paths, &indexmap::IndexMap::new()).map_err(CliError::usage)?;
    for f in &discovery.failures {
        eprintln!("kennel: error: {}", visible(&f.message));
    }
    let qemu_failed = precache_qemu_tests(&discovery);
    let (items, unresolved) = declared(&discovery);
    if items.is_empty() && unresolved == 0 {
        if discovery.qemu_tests.is_empty() {
            println!("kennel: the tests declare no assets");
        }
        return Ok(if qemu_failed == 0 {
            Ending::Ok
        } else {
            Ending::Failed
        });
    }
    let policy = FetchPolicy {
        offline: false,
        allow_unverified,
    };
    let bars = Bars::new(items.len());
    let results = cache.resolve_all(&items, &policy, FETCH_WORKERS, &|e| bars.show(&e));
    let failed = results.iter().filter(|r| r.is_err()).count() + unresolved;
    println!(
        "kennel: {} assets, {} failed",
        items.len() + unresolved,
        failed
    );
    if failed + qemu_failed == 0 && discovery.failures.is_empty() {
        Ok(Ending::Ok)
    } else {
        Ok(Ending::Failed)
    }
}

/// QEMU's own tests fetch their assets themselves: each test file once, in its
/// precache mode (`kennel_runner::qemu_tree::precache`). How many failed.
fn precache_qemu_tests(discovery: &kennel_runner::Discovery) -> usize {
    let mut files: Vec<&kennel_runner::qemu_tree::QemuTest> = Vec::new();
    for t in &discovery.qemu_tests {
        if !files.iter().any(|f| f.file == t.file) {
            files.push(t);
        }
    }
    if files.is_empty() {
        return 0;
    }
    println!(
        "kennel: {} QEMU test files fetch their assets in their precache mode",
        files.len()
    );
    let n = files.len();
    let mut failed = 0;
    for t in files {
        if let Err(why) = kennel_runner::qemu_tree::precache(t, None) {
            let why = kennel_runner::error_chain(&why);
            eprintln!("kennel: error: {}: {}", t.file.display(), visible(&why));
            failed += 1;
        }
    }
    println!("kennel: {n} QEMU test files precached, {failed} of them failed");
    failed
}

/// Every asset the discovered files declare, a cloud image once per image its
/// variants name; and how many cloud images could not be resolved (said on stdout).
fn declared(discovery: &kennel_runner::Discovery) -> (Vec<BatchItem>, usize) {
    let mut items = Vec::new();
    let mut unresolved = 0;
    for found in &discovery.files {
        // Discovery keeps no parsed files: each is loaded again, one at a time.
        let Ok(Some(file)) = kennel_spec::load_file(&found.path) else {
            continue;
        };
        let label = |name: &str| format!("{name} ({})", file.path.display());
        for (name, spec) in &file.assets {
            let AssetSource::Cloud(image) = &spec.source else {
                items.push(BatchItem {
                    label: label(name),
                    spec: spec.clone(),
                    base_dir: file.dir.clone(),
                });
                continue;
            };
            // A cloud image: resolve it for each variant (each may name another image).
            let shared = Arc::new(file.clone());
            let mut seen = BTreeSet::new();
            // A case whose typed values do not read is reported by `run`.
            let cases = shared.cases(&indexmap::IndexMap::new()).unwrap_or_default();
            for case in cases {
                let Ok(text) = image.render(&case.params) else {
                    continue;
                };
                if !seen.insert(text.clone()) {
                    continue;
                }
                match kennel_vm::resolve_cloud_asset(spec, &text, false) {
                    Ok(resolved) => items.push(BatchItem {
                        label: label(&format!("{name} ({text})")),
                        spec: resolved,
                        base_dir: file.dir.clone(),
                    }),
                    Err(e) => {
                        unresolved += 1;
                        let why = kennel_machine::error_chain(&e);
                        println!(" FAILED {}: {}", label(name), visible(&why));
                    }
                }
            }
        }
    }
    (items, unresolved)
}

/// A line per finished download, and on a terminal a progress bar per download in flight.
struct Bars {
    multi: Option<indicatif::MultiProgress>,
    bars: Mutex<Vec<Option<indicatif::ProgressBar>>>,
}

impl Bars {
    fn new(n: usize) -> Bars {
        Bars {
            multi: std::io::stderr()
                .is_terminal()
                .then(indicatif::MultiProgress::new),
            bars: Mutex::new(vec![None; n]),
        }
    }

    fn bar(&self, index: usize) -> Option<indicatif::ProgressBar> {
        let bars = self.bars.lock().ok()?;
        bars.get(index).cloned().flatten()
    }

    fn show(&self, e: &BatchEvent<'_>) {
        match e {
            BatchEvent::Started { index, item } => {
                let Some(multi) = &self.multi else { return };
                let b = multi.add(indicatif::ProgressBar::new(0));
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg:20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b.set_message(item.spec.name.clone());
                if let Ok(mut bars) = self.bars.lock() {
                    if let Some(slot) = bars.get_mut(*index) {
                        *slot = Some(b);
                    }
                }
            }
            BatchEvent::Progress { index, event } => {
                let Some(b) = self.bar(*index) else { return };
                match event {
                    FetchEvent::Started { total, offset, .. } => {
                        b.set_length(total.unwrap_or(0));
                        b.set_position(*offset);
                    }
                    FetchEvent::Progress { bytes, total, .. } => {
                        if let Some(t) = total {
                            b.set_length(*t);
                        }
                        b.set_position(*bytes);
                    }
                    _ => {}
                }
            }
            BatchEvent::Finished {
                index,
                item,
                result,
                elapsed,
            } => {
                if let Some(b) = self.bar(*index) {
                    b.finish_and_clear();
                }
                match result {
                    Ok(path) => println!(
                        " ok     {} -> {} in {:.1}s",
                        item.label,
                        path.display(),
                        elapsed.as_secs_f64()
                    ),
                    Err(e) => println!(
                        " FAILED {}: {}",
                        item.label,
                        visible(&kennel_runner::error_chain(e))
                    ),
                }
            }
            _ => {}
        }
    }
}
