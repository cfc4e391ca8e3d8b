//! Finding test files and expanding them into the cases a job runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use kennel_spec::{TagFilter, TestCase, TestFile, Value};

use crate::error::RunnerError;
use crate::schedule::Weight;

/// A test file that could not be loaded.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The file.
    pub path: PathBuf,
    /// `file:line:column: what was expected`.
    pub message: String,
}

/// A test file that loads, as a job keeps it: its cases as light entries. The
/// parsed file is dropped once they are made (a job of ten thousand files would
/// hold some 4 KiB each); the test process loads it again ([`load_case`]).
#[derive(Debug, Clone)]
pub struct FoundFile {
    /// The file.
    pub path: Arc<Path>,
    /// Its tags as written (a case's own, with `${...}` rendered, are on its
    /// [`CaseEntry`], which `--tags` looks at).
    pub tags: Arc<[String]>,
    /// Its cases under the job's `-p` parameters, or why those do not fit the file
    /// (`TestFile::check_vars`).
    pub cases: Result<Vec<Arc<CaseEntry>>, String>,
}

/// One case of a TOML test as the job plans it: what the scheduler, the filters and
/// the results need, not the parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEntry {
    /// `<name>`, or `<name> [machine=pc,cpus=1]` for a variant.
    pub name: String,
    /// The test file.
    pub file: Arc<Path>,
    /// This combination of the file's variants, in file order (a list, not a map:
    /// most tests have none, and an empty map is some 70 bytes).
    pub variant: Vec<(String, Value)>,
    /// The case's tags: the file's, each `${...}` rendered with the case's values.
    pub tags: Arc<[String]>,
    /// The file's `timeout`.
    pub timeout: Duration,
    /// The file's `retries`.
    pub retries: u32,
    /// What it costs the machine while it runs.
    pub weight: Weight,
}

impl CaseEntry {
    /// The entry of `case`.
    pub fn of(case: &TestCase) -> CaseEntry {
        let file = &case.file;
        CaseEntry::sharing(
            case,
            Arc::from(file.path.as_path()),
            Arc::from(file.tags.as_slice()),
        )
    }

    /// The entry of `case`, with its file's path and tags shared with its other cases.
    fn sharing(case: &TestCase, file: Arc<Path>, tags: Arc<[String]>) -> CaseEntry {
        CaseEntry {
            name: case.name.clone(),
            file,
            variant: case
                .variant
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tags,
            timeout: case.file.timeout,
            retries: case.file.retries,
            weight: crate::schedule::case_weight(case),
        }
    }
}

/// What discovery found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Valid test files, in path order.
    pub files: Vec<FoundFile>,
    /// Files that look like tests but do not load.
    pub failures: Vec<LoadFailure>,
    /// Executable files (any program is a test; TAP producers are many).
    pub executables: Vec<PathBuf>,
    /// QEMU's own functional tests, from a QEMU tree's `tests/functional`
    /// ([`crate::qemu_tree`]): one per test file and target architecture.
    pub qemu_tests: Vec<Arc<crate::qemu_tree::QemuTest>>,
    /// What discovery could read only in part (a QEMU tree's `meson.build`).
    pub warnings: Vec<String>,
}

/// Find test files under `paths` (files or directories, searched recursively in
/// name order) and expand each into its cases under the `-p` parameters
/// `overrides`. In a directory, a `.toml` file that is not a test is passed over;
/// named explicitly, it is an error.
pub fn discover(
    paths: &[PathBuf],
    overrides: &IndexMap<String, Value>,
) -> Result<Discovery, RunnerError> {
    let mut found = Discovery::default();
    let keys: Vec<String> = overrides.keys().cloned().collect();
    // One empty tag list for all the files without tags.
    let no_tags: Arc<[String]> = Arc::from(Vec::new());
    let load = |path: &Path, explicit: bool, found: &mut Discovery| {
        load(path, explicit, (overrides, &keys, &no_tags), found)
    };
    for path in paths {
        let in_qemu_tree = path
            .exists()
            .then(|| crate::qemu_tree::functional_dir_of(path))
            .flatten();
        if let Some(functional) = in_qemu_tree {
            load_qemu_tree(&functional, path, &mut found);
        } else if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            for f in files {
                if f.is_dir() {
                    load_qemu_tree(&f, &f, &mut found);
                } else {
                    load(&f, false, &mut found)?;
                }
            }
        } else if path.exists() {
            load(path, true, &mut found)?;
        } else {
            return Err(RunnerError::NoSuchPath { path: path.clone() });
        }
    }
    Ok(found)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RunnerError> {
    let read = std::fs::read_dir(dir).map_err(|source| RunnerError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() && crate::qemu_tree::is_functional_dir(&p) {
            out.push(p);
        } else if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "toml") || kennel_config::is_executable(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The tests of the QEMU tree whose functional-test folder is `functional` that are
/// under `path` (the folder itself, one of its folders or one test file).
fn load_qemu_tree(functional: &Path, path: &Path, found: &mut Discovery) {
    let tree = crate::qemu_tree::load(functional);
    found.warnings.extend(tree.warnings);
    let before = found.qemu_tests.len();
    let wanted = |t: &crate::qemu_tree::QemuTest| t.file.starts_with(path);
    found
        .qemu_tests
        .extend(tree.tests.into_iter().filter(wanted).map(Arc::new));
    if path.is_file() && found.qemu_tests.len() == before {
        found.warnings.push(format!(
            "{}: no list of {}/meson.build names it (tests_<arch>_system_quick, ...)",
            path.display(),
            functional.display()
        ));
    }
}

fn load(
    path: &Path,
    explicit: bool,
    expand: (&IndexMap<String, Value>, &[String], &Arc<[String]>),
    found: &mut Discovery,
) -> Result<(), RunnerError> {
    if path.extension().is_none_or(|e| e != "toml") {
        if kennel_config::is_executable(path) {
            found.executables.push(path.to_path_buf());
            return Ok(());
        }
        return Err(RunnerError::NotATest {
            path: path.to_path_buf(),
        });
    }
    match kennel_spec::load_file(path) {
        Ok(Some(f)) => found.files.push(entries(Arc::new(f), expand)),
        Ok(None) if explicit => {
            return Err(RunnerError::NotATest {
                path: path.to_path_buf(),
            })
        }
        Ok(None) => {}
        Err(e) => found.failures.push(LoadFailure {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
    Ok(())
}

/// The light entries of a loaded file; the parsed file goes with the last `Arc`.
fn entries(
    file: Arc<TestFile>,
    (overrides, keys, no_tags): (&IndexMap<String, Value>, &[String], &Arc<[String]>),
) -> FoundFile {
    let path: Arc<Path> = Arc::from(file.path.as_path());
    let tags: Arc<[String]> = if file.tags.is_empty() {
        Arc::clone(no_tags)
    } else {
        Arc::from(file.tags.as_slice())
    };
    // Typed keys written with `${...}` are read per case: a case that does not
    // read makes the whole file a load failure.
    let cases = file
        .check_vars(keys)
        .and_then(|()| file.cases(overrides))
        .map(|cases| {
            cases
                .iter()
                .map(|case| {
                    // Tags written with `${...}` are the case's own.
                    let tags = if case.file.tags[..] == tags[..] {
                        Arc::clone(&tags)
                    } else {
                        Arc::from(case.file.tags.as_slice())
                    };
                    Arc::new(CaseEntry::sharing(case, Arc::clone(&path), tags))
                })
                .collect()
        })
        .map_err(|e| e.to_string());
    FoundFile { path, tags, cases }
}

/// One entry of a job: a case to run, or a file that failed to load (an ERROR in the results).
#[derive(Debug, Clone)]
pub enum Planned {
    /// A runnable case, and its index among its file's cases.
    Case {
        /// The case, as the job plans it (the test process loads the file again).
        case: Arc<CaseEntry>,
        /// Index in `file.cases(overrides)`, for the test process.
        case_index: usize,
    },
    /// An executable test (or TAP producer).
    Executable {
        /// The program.
        path: PathBuf,
    },
    /// A Rust test: one test of a cargo test binary.
    CargoTest(Box<crate::cargo::CargoTest>),
    /// One of QEMU's own functional tests, for one target architecture.
    QemuTest(Arc<crate::qemu_tree::QemuTest>),
    /// A file that does not load.
    Invalid(Box<LoadFailure>),
}

/// A numbered entry of a job, with its log folder.
#[derive(Debug, Clone)]
pub struct PlannedTest {
    /// Position in the job (0-based).
    pub index: usize,
    /// What to run.
    pub what: Planned,
    /// Log folder, relative to the job folder: `tests/001-<slug>`.
    pub logdir: PathBuf,
    /// Arguments for an executable (`kennel replay` names the test points a
    /// unittest-style producer should run again); empty otherwise.
    pub args: Vec<String>,
}

impl PlannedTest {
    /// Display name.
    pub fn name(&self) -> String {
        match &self.what {
            Planned::Case { case, .. } => case.name.clone(),
            Planned::Executable { path } => path.display().to_string(),
            Planned::Invalid(f) => f.path.display().to_string(),
            Planned::CargoTest(t) => format!("{}::{}", t.package, t.name),
            Planned::QemuTest(t) => t.display_name(),
        }
    }

    /// The file it comes from.
    pub fn file(&self) -> &Path {
        match &self.what {
            Planned::Case { case, .. } => &case.file,
            Planned::Executable { path } => path,
            Planned::Invalid(f) => &f.path,
            Planned::CargoTest(t) => &t.binary,
            Planned::QemuTest(t) => &t.file,
        }
    }

    /// Tags of the test file.
    pub fn tags(&self) -> Vec<String> {
        match &self.what {
            Planned::Case { case, .. } => case.tags.to_vec(),
            Planned::QemuTest(t) => t.tags(),
            Planned::CargoTest(t) => t.tags.clone(),
            Planned::Executable { .. } | Planned::Invalid(_) => Vec::new(),
        }
    }
}

/// Keep the cases the tag filter selects, and number them. Files that fail
/// `-p`-aware variable checks become [`Planned::Invalid`] entries, as do files that
/// failed to load.
pub fn plan(discovery: &Discovery, filter: &TagFilter) -> Vec<PlannedTest> {
    // A file that does not load is kept when its tags as written are selected; a
    // case, when its own tags are.
    let selected = |file: &&FoundFile| filter.matches(&file.tags);
    let case_selected = |case: &&Arc<CaseEntry>| filter.matches(&case.tags);
    let cases: usize = (discovery.files.iter())
        .map(|f| match &f.cases {
            Ok(cases) => cases.iter().filter(case_selected).count(),
            Err(_) => usize::from(selected(&f)),
        })
        .sum();
    // Exactly the room needed: a job of ten thousand tests holds its plan throughout.
    let mut out = Vec::with_capacity(
        discovery.failures.len()
            + cases
            + if filter.is_empty() {
                discovery.executables.len()
            } else {
                0
            }
            + discovery.qemu_tests.len(),
    );
    let mut push = |what: Planned| {
        let index = out.len();
        let name = match &what {
            Planned::Case { case, .. } => case.name.clone(),
            Planned::CargoTest(t) => t.name.clone(),
            Planned::QemuTest(t) => t.slug_name(),
            Planned::Executable { path } => file_name(path),
            Planned::Invalid(f) => file_name(&f.path),
        };
        out.push(PlannedTest {
            index,
            logdir: logdir_for(index, &name),
            what,
            args: Vec::new(),
        });
    };
    for f in &discovery.failures {
        push(Planned::Invalid(Box::new(f.clone())));
    }
    for file in &discovery.files {
        match &file.cases {
            Err(message) if selected(&file) => push(Planned::Invalid(Box::new(LoadFailure {
                path: file.path.to_path_buf(),
                message: message.clone(),
            }))),
            Err(_) => {}
            Ok(cases) => {
                for (case_index, case) in cases.iter().enumerate() {
                    if !case_selected(&case) {
                        continue;
                    }
                    push(Planned::Case {
                        case: Arc::clone(case),
                        case_index,
                    });
                }
            }
        }
    }
    // Executables carry no tags: a tag filter selects none of them.
    if filter.is_empty() {
        for path in &discovery.executables {
            push(Planned::Executable { path: path.clone() });
        }
    }
    // QEMU's tests carry meson's suites and their architecture as tags.
    for t in &discovery.qemu_tests {
        if filter.matches(&t.tags()) {
            push(Planned::QemuTest(t.clone()));
        }
    }
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `tests/NNN-<slug>`: a test's log folder in the job folder.
pub(crate) fn logdir_for(index: usize, name: &str) -> PathBuf {
    kennel_layout::test_logdir(index, name)
}

/// Keep shard `k` of `n` (1-based): every n-th test of the plan, starting at the
/// k-th. Deterministic for the same files and options; the shards together hold
/// every test exactly once, and their sizes differ by one at most.
pub fn shard(tests: Vec<PlannedTest>, k: usize, n: usize) -> Vec<PlannedTest> {
    let n = n.max(1);
    let keep: Vec<bool> = (0..tests.len())
        .map(|i| i % n == (k.max(1) - 1) % n)
        .collect();
    renumber(tests, &keep)
}

/// Keep shard `k` of `n` (1-based) of shards balanced by time: each test weighs the
/// seconds `history` gives it (by [`PlannedTest::name`]; an executable with TAP points
/// weighs the sum of its points, looked up as `<name>: <point>`), a test without
/// history weighs the average of those with one (every test weighs the same when
/// none has history: shards by count). Longest first, each test goes to the least
/// loaded shard (the lowest-numbered among equals). Deterministic; the shards
/// together hold every test exactly once, each in plan order.
pub fn shard_by_time(
    tests: Vec<PlannedTest>,
    k: usize,
    n: usize,
    history: &std::collections::HashMap<String, f64>,
) -> Vec<PlannedTest> {
    let weights = shard_weights(&tests, history);
    let owner = balance(&weights, n.max(1));
    let keep: Vec<bool> = owner.iter().map(|&s| s == (k.max(1) - 1)).collect();
    renumber(tests, &keep)
}

/// Seconds each test is expected to take, from `history` (see [`shard_by_time`]).
pub fn shard_weights(
    tests: &[PlannedTest],
    history: &std::collections::HashMap<String, f64>,
) -> Vec<f64> {
    let known: Vec<Option<f64>> = tests
        .iter()
        .map(|t| {
            let name = t.name();
            history.get(&name).copied().or_else(|| {
                let prefix = format!("{name}: ");
                let points: Vec<f64> = history
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| *v)
                    .collect();
                (!points.is_empty()).then(|| points.iter().sum())
            })
        })
        .collect();
    let seen: Vec<f64> = known.iter().flatten().copied().collect();
    let average = if seen.is_empty() {
        1.0
    } else {
        seen.iter().sum::<f64>() / seen.len() as f64
    };
    known.into_iter().map(|w| w.unwrap_or(average)).collect()
}

/// The shard (0-based) of each weight: longest first into the least-loaded shard.
pub fn balance(weights: &[f64], n: usize) -> Vec<usize> {
    let n = n.max(1);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; n];
    let mut owner = vec![0; weights.len()];
    for i in order {
        let mut best = 0;
        for (s, l) in load.iter().enumerate() {
            if *l < load[best] {
                best = s;
            }
        }
        load[best] += weights[i].max(0.0);
        owner[i] = best;
    }
    owner
}

/// Keep the tests marked in `keep`, numbered again from 0 with their log folders.
fn renumber(tests: Vec<PlannedTest>, keep: &[bool]) -> Vec<PlannedTest> {
    tests
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .enumerate()
        .map(|(new, (mut t, _))| {
            t.index = new;
            t.logdir = kennel_layout::renumbered(&t.logdir, new, &t.name());
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// 40 executables: four 60 s cloud boots at even positions 0..8, 36 QMP tests of 0.5 s.
    fn mixed_suite() -> (Vec<PlannedTest>, HashMap<String, f64>) {
        let mut tests = Vec::new();
        let mut history = HashMap::new();
        for i in 0..40 {
            let path = PathBuf::from(format!("tests/t{i:02}"));
            let secs = if i < 8 && i % 2 == 0 { 60.0 } else { 0.5 };
            history.insert(path.display().to_string(), secs);
            tests.push(PlannedTest {
                index: i,
                logdir: logdir_for(i, &format!("t{i:02}")),
                what: Planned::Executable { path },
                args: Vec::new(),
            });
        }
        (tests, history)
    }

    fn planned_secs(shard: &[PlannedTest], history: &HashMap<String, f64>) -> f64 {
        shard.iter().map(|t| history[&t.name()]).sum()
    }

    #[test]
    fn balanced_shards_of_a_mixed_suite_plan_within_1_3x_where_count_based_do_not() {
        let (tests, history) = mixed_suite();

        let by_count: Vec<f64> = (1..=2)
            .map(|k| planned_secs(&shard(tests.clone(), k, 2), &history))
            .collect();
        let by_time: Vec<f64> = (1..=2)
            .map(|k| planned_secs(&shard_by_time(tests.clone(), k, 2, &history), &history))
            .collect();

        let ratio = |v: &[f64]| v[0].max(v[1]) / v[0].min(v[1]);
        assert!(ratio(&by_count) > 1.3, "{by_count:?}");
        assert!(ratio(&by_time) <= 1.3, "{by_time:?}");
    }

    #[test]
    fn balanced_shards_cover_every_test_once_in_plan_order() {
        let (tests, history) = mixed_suite();

        let mut names: Vec<String> = (1..=3)
            .flat_map(|k| shard_by_time(tests.clone(), k, 3, &history))
            .map(|t| t.name())
            .collect();
        let first = shard_by_time(tests.clone(), 1, 3, &history);

        assert!(first.windows(2).all(|w| w[0].name() < w[1].name()));
        assert_eq!(first[0].index, 0);
        names.sort();
        let all: Vec<String> = tests.iter().map(PlannedTest::name).collect();
        assert_eq!(names, all);
    }

    #[test]
    fn a_plan_entry_holds_the_scheduling_facts_not_the_parsed_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("boot.toml");
        let text = "tags = [\"slow\"]\ntimeout = \"30s\"\nretries = 2\n\n[variants]\ncpus = [1, 2]\n\n[machine]\ntype = \"none\"\nmemory = \"512M\"\ncpus = \"${cpus}\"\n\n[[step]]\nshutdown = { code = 0 }\n";
        std::fs::write(&path, text).expect("test file");

        let found = discover(std::slice::from_ref(&path), &IndexMap::new()).expect("discovered");
        let planned = plan(
            &found,
            &TagFilter::parse(&["slow".to_string()]).expect("filter"),
        );
        // The test process reads the file again: the plan does not need it any more.
        std::fs::remove_file(&path).expect("removed");

        let cases: Vec<&CaseEntry> = planned
            .iter()
            .map(|p| match &p.what {
                Planned::Case { case, .. } => &**case,
                other => panic!("not a case: {other:?}"),
            })
            .collect();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[1].name, "boot [cpus=2]");
        assert_eq!(&*cases[1].tags, ["slow".to_string()]);
        assert_eq!(cases[1].timeout, Duration::from_secs(30));
        assert_eq!(cases[1].retries, 2);
        assert_eq!(cases[0].weight.slots, 1);
        assert_eq!(cases[1].weight.slots, 2);
        assert_eq!(cases[1].weight.memory_mib, cases[0].weight.memory_mib);
        assert!(cases[0].weight.memory_mib >= 512);
        // A few words and a name: tens of thousands of them are a few MiB.
        assert!(std::mem::size_of::<CaseEntry>() <= 256);
    }

    #[test]
    fn without_history_shards_balance_by_count() {
        let (tests, _) = mixed_suite();

        let sizes: Vec<usize> = (1..=3)
            .map(|k| shard_by_time(tests.clone(), k, 3, &HashMap::new()).len())
            .collect();

        assert_eq!(sizes, [14, 13, 13]);
    }
}
