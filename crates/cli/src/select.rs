//! What `run`, `list` and `replay` share: checking a selection (paths, tags,
//! parameters, shard, cargo packages) into a plan, and the asset flags.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use kennel_runner::{Discovery, LoadFailure, PlannedTest};
use kennel_spec::{TagFilter, Value};

use crate::args::{AssetFlags, Selection};
use crate::exit::CliError;

/// A checked selection: discovered files, parsed filter and parameters.
pub struct Selected {
    /// The paths the tests were discovered under (the command line's, else `kennel.toml`'s).
    pub paths: Vec<PathBuf>,
    /// The files that failed to load (the plan holds what discovery found of the
    /// others; a big job keeps nothing more of them).
    pub failures: Vec<LoadFailure>,
    /// `-p` parameters.
    pub overrides: IndexMap<String, Value>,
    /// The numbered plan.
    pub planned: Vec<PlannedTest>,
    /// When the plan is empty: why (nothing found, the tags or the shard selected nothing).
    pub why_empty: Option<String>,
    /// With `--changed`: by test name, the changed file and rule that kept it
    /// (`None`: a global change runs it); empty without `--changed`.
    pub changed_why: HashMap<String, crate::changed::Why>,
}

/// Discover, plan, filter and shard what `sel` selects.
pub fn select(sel: &Selection, qemu: Option<&Path>) -> Result<Selected, CliError> {
    let filter =
        TagFilter::parse(&sel.tags).map_err(|e| CliError::usage(format!("--tags: {e}")))?;
    let mut overrides = IndexMap::new();
    for p in &sel.params {
        let (k, v) =
            kennel_spec::parse_param(p).map_err(|e| CliError::usage(format!("-p {p}: {e}")))?;
        overrides.insert(k, v);
    }
    let paths = if sel.paths.is_empty() && !sel.cargo {
        crate::project::default_paths(qemu).map_err(CliError::usage)?
    } else {
        sel.paths.clone()
    };
    let discovery = kennel_runner::discover(&paths, &overrides).map_err(CliError::usage)?;
    for w in &discovery.warnings {
        eprintln!("kennel: warning: {w}");
    }
    let mut planned = kennel_runner::plan(&discovery, &filter);
    if sel.cargo {
        let tests = kennel_runner::cargo::discover_cargo(&sel.packages)
            .map_err(|e| CliError::Usage(kennel_runner::error_chain(&e)))?;
        kennel_runner::cargo::plan_cargo(&mut planned, tests, &filter);
    }
    let mut why_empty = planned
        .is_empty()
        .then(|| nothing_selected(sel, &paths, &discovery));
    let mut changed_why = HashMap::new();
    if let Some(base) = &sel.changed {
        let before = planned.len();
        let why;
        (planned, why) = crate::changed::keep_changed(base, planned)?;
        changed_why = planned.iter().map(PlannedTest::name).zip(why).collect();
        if planned.is_empty() && why_empty.is_none() {
            why_empty = Some(format!(
                "no tests selected: the change selects none of the {before} tests"
            ));
        }
    }
    if sel.shard.is_none() && sel.shard_history.is_some() {
        return Err(CliError::usage(
            "--shard-history needs a shard: --shard K/N, or a CI's shard variables",
        ));
    }
    if let Some(spec) = &sel.shard {
        let (k, n) = parse_shard(spec).map_err(CliError::usage)?;
        let before = planned.len();
        planned = match &sel.shard_history {
            Some(h) => kennel_runner::shard_by_time(planned, k, n, &history(h)?),
            None => kennel_runner::shard(planned, k, n),
        };
        if planned.is_empty() && why_empty.is_none() {
            why_empty = Some(format!(
                "no tests selected: shard {k}/{n} holds none of the {before} tests selected"
            ));
        }
    }
    Ok(Selected {
        paths,
        failures: discovery.failures,
        overrides,
        planned,
        why_empty,
        changed_why,
    })
}

/// Why discovery and the tag filter left nothing.
fn nothing_selected(sel: &Selection, paths: &[PathBuf], discovery: &Discovery) -> String {
    let found = discovery.files.len() + discovery.executables.len() + discovery.qemu_tests.len();
    let where_ = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if found > 0 && !sel.tags.is_empty() {
        format!(
            "no tests selected: the tag filter `{}` selects none of the {found} test files found under {where_}",
            sel.tags.join("` or `")
        )
    } else {
        format!("no tests found under {where_}")
    }
}

/// Seconds each test took in a previous job (`--shard-history`: a job folder or its
/// `results.json`), by name; or, given a results folder, the median of each test's
/// last runs in its last [`SHARD_HISTORY_JOBS`] jobs (`kennel history`'s numbers).
fn history(path: &std::path::Path) -> Result<HashMap<String, f64>, CliError> {
    let is_results_folder =
        path.is_dir() && !kennel_layout::JobDir::new(path).results_json().exists();
    if is_results_folder {
        let past =
            kennel_report::History::read(path, SHARD_HISTORY_JOBS, &|_| true).map_err(|e| {
                CliError::Usage(format!(
                    "--shard-history: {}",
                    kennel_runner::error_chain(&e)
                ))
            })?;
        return Ok(past
            .tests
            .iter()
            .filter_map(|(name, r)| Some((name.clone(), r.stats(name).recent_median_s?)))
            .collect());
    }
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(PathBuf::from).unwrap_or_default()
    };
    let file = kennel_report::load_results(&dir).map_err(|e| {
        CliError::Usage(format!(
            "--shard-history: {}",
            kennel_runner::error_chain(&e)
        ))
    })?;
    Ok(file
        .tests
        .into_iter()
        .map(|t| (t.name, t.duration_s))
        .collect())
}

/// The jobs of a results folder `--shard-history` reads.
const SHARD_HISTORY_JOBS: usize = 50;

/// `K/N` with 1 <= K <= N.
fn parse_shard(spec: &str) -> Result<(usize, usize), BadShard> {
    let bad = || BadShard {
        spec: spec.to_owned(),
    };
    let (k, n) = spec.split_once('/').ok_or_else(bad)?;
    let k: usize = k.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// A `--shard` that is not `K/N` with 1 <= K <= N.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("--shard {spec}: expected K/N with 1 <= K <= N, e.g. 2/4")]
struct BadShard {
    /// As given.
    spec: String,
}

/// The asset flags, and what the configuration says (`KENNEL_NO_DOWNLOAD`,
/// `KENNEL_REQUIRE_ASSETS`, `KENNEL_ALLOW_UNVERIFIED`), as the job's policy.
pub fn asset_policy(f: &AssetFlags) -> kennel_config::AssetPolicy {
    let configured = kennel_config::Config::get()
        .map(kennel_config::Config::asset_policy)
        .unwrap_or_default();
    kennel_config::AssetPolicy {
        offline: f.offline || configured.offline,
        require: f.require_assets || configured.require,
        allow_unverified: f.allow_unverified || configured.allow_unverified,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_shard;

    #[test]
    fn shards_are_k_of_n() {
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(parse_shard("0/4").is_err());
        assert!(parse_shard("5/4").is_err());
        assert!(parse_shard("x").is_err());
    }
}
