//! A job's plan: the entries it runs, numbered, each with its log folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kennel_spec::TagFilter;

use super::find::{CaseEntry, Discovery, FoundFile, LoadFailure};

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
            Err(e) if selected(&file) => push(Planned::Invalid(Box::new(LoadFailure {
                path: file.path.to_path_buf(),
                message: e.to_string(),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use indexmap::IndexMap;

    use super::*;
    use crate::discover::discover;

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
}
