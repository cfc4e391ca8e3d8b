//! Finding test files and expanding them into the light entries a job keeps.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use kennel_spec::{SpecError, TestCase, TestFile, Value};

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
/// hold some 4 KiB each); the test process loads it again ([`kennel_spec::load_case`]).
#[derive(Debug, Clone)]
pub struct FoundFile {
    /// The file.
    pub path: Arc<Path>,
    /// Its tags as written (a case's own, with `${...}` rendered, are on its
    /// [`CaseEntry`], which `--tags` looks at).
    pub tags: Arc<[String]>,
    /// Its cases under the job's `-p` parameters, or why those do not fit the file
    /// (`TestFile::check_vars`).
    pub cases: Result<Vec<Arc<CaseEntry>>, Arc<SpecError>>,
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
    /// The file's `covers` (for `--changed`; shared by the file's cases).
    pub covers: Arc<[String]>,
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
            covers: Arc::from(case.file.covers.as_slice()),
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
/// under `path` (the folder itself, one of its folders or one test file); a
/// per-architecture folder (`functional/x86_64`) also gets the generic tests of
/// its architecture, as meson runs them with it.
fn load_qemu_tree(functional: &Path, path: &Path, found: &mut Discovery) {
    let tree = crate::qemu_tree::load(functional);
    found.warnings.extend(tree.warnings);
    let before = found.qemu_tests.len();
    let arch_folder = path
        .is_dir()
        .then(|| path.file_name())
        .flatten()
        .filter(|_| path.parent().is_some_and(|p| same_dir(p, functional)));
    let wanted = |t: &crate::qemu_tree::QemuTest| {
        t.file.starts_with(path)
            || (t.generic && arch_folder.is_some_and(|a| *a == *t.arch.as_str()))
    };
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

/// Whether `a` and `b` are one folder (as written, else resolved).
fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
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
        .map_err(Arc::new);
    FoundFile { path, tags, cases }
}
