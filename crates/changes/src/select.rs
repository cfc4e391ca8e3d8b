//! The selection: which tests a [`Change`] can affect, and why each.

use crate::{Change, FilePattern, Maintainers, Section};

/// More `MAINTAINERS` sections than this for one changed file (not counting
/// catch-all ones) make it a global change: a file that many maintainers share
/// is used everywhere.
pub const SECTION_LIMIT: usize = 8;

/// Build files whose change can affect every test, at the repository's top.
const TOP_BUILD_FILES: [&str; 8] = [
    "meson.build",
    "meson_options.txt",
    "Makefile",
    "GNUmakefile",
    "configure",
    "Cargo.toml",
    "Cargo.lock",
    "kennel.toml",
];

/// Folders of headers every part of QEMU includes.
const SHARED_HEADERS: [&str; 7] = [
    "include/qemu/",
    "include/exec/",
    "include/qom/",
    "include/system/",
    "include/sysemu/",
    "include/qapi/",
    "include/block/",
];

/// QEMU's functional-test framework and lists: every test runs through them.
const TEST_FRAMEWORK: [&str; 2] = [
    "tests/functional/qemu_test/",
    "tests/functional/meson.build",
];

/// A test that may be selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    /// Its file, relative to the repository's top (for a Rust test: empty).
    pub path: String,
    /// Its `covers` patterns.
    pub covers: Vec<FilePattern>,
}

/// A test picked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    /// Its index among the candidates.
    pub test: usize,
    /// The changed file that picked it (`(the patch)` for a `K:` entry).
    pub changed: String,
    /// The rule: `the test file changed`, `covers "hw/net/*"`,
    /// `MAINTAINERS "Network devices" (line 12): F: hw/net/ lists tests/functional/test_net.py`.
    pub rule: String,
}

/// Why a change runs every test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalReason {
    /// A build file at the top changed.
    BuildFile(String),
    /// A header every part includes changed.
    SharedHeader(String),
    /// The test framework or the test lists changed.
    TestFramework(String),
    /// A file more sections than [`SECTION_LIMIT`] are about changed.
    ManySections {
        /// The file.
        file: String,
        /// How many.
        count: usize,
    },
    /// A changed file no rule covers.
    Uncovered(String),
}

impl std::fmt::Display for GlobalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GlobalReason::BuildFile(p) => write!(f, "{p} is a build file"),
            GlobalReason::SharedHeader(p) => write!(f, "{p} is a header used everywhere"),
            GlobalReason::TestFramework(p) => write!(f, "{p} is the test framework or its lists"),
            GlobalReason::ManySections { file, count } => write!(
                f,
                "{count} MAINTAINERS sections are about {file} (more than {SECTION_LIMIT})"
            ),
            GlobalReason::Uncovered(p) => write!(
                f,
                "no rule covers {p} (no MAINTAINERS section but a catch-all, no test's covers, not a test)"
            ),
        }
    }
}

/// What a change selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every test, for this reason.
    Everything(GlobalReason),
    /// These tests (each once, with the first reason found; maybe none).
    Some(Vec<Picked>),
}

/// The tests among `tests` that `change` can affect (see the crate's documentation).
pub fn select(
    change: &Change,
    maintainers: Option<&Maintainers>,
    tests: &[Candidate],
) -> Selection {
    let mut picked: Vec<Picked> = Vec::new();
    let mut pick = |test: usize, changed: &str, rule: String| {
        if !picked.iter().any(|p| p.test == test) {
            picked.push(Picked {
                test,
                changed: changed.to_string(),
                rule,
            });
        }
    };
    let sections: Vec<&Section> = maintainers
        .map(|m| m.sections.iter().filter(|s| !s.is_catch_all()).collect())
        .unwrap_or_default();
    for file in &change.files {
        if let Some(why) = global(file) {
            return Selection::Everything(why);
        }
        let mut covered = false;
        for (i, t) in tests.iter().enumerate() {
            if t.path == *file {
                covered = true;
                pick(i, file, "the test file changed".to_string());
            }
            if let Some(c) = t.covers.iter().find(|c| c.matches(file)) {
                covered = true;
                pick(i, file, format!("covers \"{}\"", c.as_str()));
            }
        }
        let about: Vec<(&Section, String)> = sections
            .iter()
            .filter_map(|s| s.rule_for(file).map(|r| (*s, r)))
            .collect();
        if about.len() > SECTION_LIMIT {
            return Selection::Everything(GlobalReason::ManySections {
                file: file.clone(),
                count: about.len(),
            });
        }
        covered |= !about.is_empty();
        for (section, rule) in about {
            for (i, listed) in listed_tests(section, tests) {
                pick(i, file, section_rule(section, &rule, listed));
            }
        }
        if !covered {
            return Selection::Everything(GlobalReason::Uncovered(file.clone()));
        }
    }
    for section in &sections {
        if let Some(rule) = section.keyword_in(&change.patch) {
            for (i, listed) in listed_tests(section, tests) {
                pick(i, "(the patch)", section_rule(section, &rule, listed));
            }
        }
    }
    Selection::Some(picked)
}

/// `MAINTAINERS "TITLE" (line N): RULE lists PATTERN`.
fn section_rule(section: &Section, rule: &str, listed: &FilePattern) -> String {
    format!(
        "MAINTAINERS \"{}\" (line {}): {rule}; its F: {} lists the test",
        section.name,
        section.line,
        listed.as_str()
    )
}

/// The candidates a section's `F:` entries name (a test file, or a folder or
/// glob of them), with the entry; `X:` entries left out.
fn listed_tests<'a>(section: &'a Section, tests: &[Candidate]) -> Vec<(usize, &'a FilePattern)> {
    tests
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.path.is_empty() && !section.excluded.iter().any(|x| x.matches(&t.path)))
        .filter_map(|(i, t)| {
            section
                .files
                .iter()
                .find(|f| f.matches(&t.path))
                .map(|f| (i, f))
        })
        .collect()
}

/// Why a change to `file` runs everything, if it does.
fn global(file: &str) -> Option<GlobalReason> {
    if !file.contains('/') && TOP_BUILD_FILES.contains(&file) {
        return Some(GlobalReason::BuildFile(file.to_string()));
    }
    if SHARED_HEADERS.iter().any(|d| file.starts_with(d)) {
        return Some(GlobalReason::SharedHeader(file.to_string()));
    }
    if TEST_FRAMEWORK
        .iter()
        .any(|d| file == *d || (d.ends_with('/') && file.starts_with(d)))
    {
        return Some(GlobalReason::TestFramework(file.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(files: &[&str]) -> Change {
        Change {
            files: files.iter().map(|f| f.to_string()).collect(),
            ..Change::default()
        }
    }

    #[test]
    fn a_rust_tests_covers_select_it_though_it_has_no_file() {
        let rust = Candidate {
            path: String::new(),
            covers: vec![FilePattern::new("hw/net/virtio-net.c")],
        };
        let other = Candidate {
            path: String::new(),
            covers: vec![FilePattern::new("block/")],
        };

        let picked = select(&change(&["hw/net/virtio-net.c"]), None, &[rust, other]);

        assert_eq!(
            picked,
            Selection::Some(vec![Picked {
                test: 0,
                changed: "hw/net/virtio-net.c".into(),
                rule: "covers \"hw/net/virtio-net.c\"".into(),
            }])
        );
    }

    #[test]
    fn the_test_framework_and_shared_headers_are_global() {
        for file in [
            "tests/functional/qemu_test/testcase.py",
            "include/qemu/osdep.h",
        ] {
            assert!(
                matches!(
                    select(&change(&[file]), None, &[]),
                    Selection::Everything(_)
                ),
                "{file}"
            );
        }
    }
}
