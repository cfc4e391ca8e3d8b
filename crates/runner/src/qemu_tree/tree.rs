//! The tests of a QEMU tree: what its `meson.build` files list (see the
//! module's documentation).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::meson;

/// meson's timeout for a test the dictionaries do not name (`test_timeouts.get(test, 90)`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

/// Which set of meson's a test is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Speed {
    /// `make check-functional` (`tests_*_quick` and the generic lists).
    Quick,
    /// `make check-functional SPEED=thorough`.
    Thorough,
}

impl Speed {
    /// The tag: `quick` or `thorough`.
    pub fn tag(self) -> &'static str {
        match self {
            Speed::Quick => "quick",
            Speed::Thorough => "thorough",
        }
    }
}

/// What kind of emulator a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// `qemu-system-<arch>`.
    System,
    /// `qemu-<arch>` (Linux user mode).
    LinuxUser,
    /// `qemu-<arch>` (BSD user mode).
    BsdUser,
}

impl Mode {
    fn from_meson(word: &str) -> Option<Mode> {
        match word {
            "system" => Some(Mode::System),
            "linuxuser" => Some(Mode::LinuxUser),
            "bsduser" => Some(Mode::BsdUser),
            _ => None,
        }
    }

    pub(super) fn word(self) -> &'static str {
        match self {
            Mode::System => "system",
            Mode::LinuxUser => "linuxuser",
            Mode::BsdUser => "bsduser",
        }
    }
}

/// One of QEMU's functional tests for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuTest {
    /// The tree's `tests/functional` folder.
    pub functional: PathBuf,
    /// The test file (`test_<name>.py`).
    pub file: PathBuf,
    /// meson's name for it (`migration`).
    pub name: String,
    /// Target architecture (`x86_64`).
    pub arch: String,
    /// System or user mode.
    pub mode: Mode,
    /// quick or thorough.
    pub speed: Speed,
    /// meson's timeout for it.
    pub timeout: Duration,
    /// Listed in a `tests_generic_<mode>` list: meson runs it for every
    /// architecture (so does a per-architecture folder's selection).
    pub generic: bool,
}

impl QemuTest {
    /// `FILE [ARCH]` (`FILE [ARCH linuxuser]` for user mode): kennel's name for it.
    pub fn display_name(&self) -> String {
        match self.mode {
            Mode::System => format!("{} [{}]", self.file.display(), self.arch),
            m => format!("{} [{} {}]", self.file.display(), self.arch, m.word()),
        }
    }

    /// For the log folder's name: `test_NAME.py-ARCH`.
    pub fn slug_name(&self) -> String {
        let file = self.file.file_name().map(|f| f.to_string_lossy());
        format!("{}-{}", file.unwrap_or_default(), self.arch)
    }

    /// `quick`/`thorough` and `arch:<arch>` (and `linuxuser`/`bsduser` for user mode).
    pub fn tags(&self) -> Vec<String> {
        let mut tags = vec![self.speed.tag().to_string(), format!("arch:{}", self.arch)];
        if self.mode != Mode::System {
            tags.push(self.mode.word().to_string());
        }
        tags
    }

    /// The tree's `tests/functional`, absolute.
    pub fn functional_abs(&self) -> PathBuf {
        let abs = std::path::absolute(&self.functional).unwrap_or_else(|_| self.functional.clone());
        if abs
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return std::fs::canonicalize(&abs).unwrap_or(abs);
        }
        abs
    }

    /// The QEMU source tree (`tests/functional/../..`), absolute.
    pub fn source(&self) -> PathBuf {
        let functional = self.functional_abs();
        functional
            .parent()
            .and_then(Path::parent)
            .map_or_else(|| functional.join("..").join(".."), Path::to_path_buf)
    }
}

/// Whether `dir` is a QEMU tree's functional-test folder: it holds `meson.build`
/// and the `qemu_test` package.
pub fn is_functional_dir(dir: &Path) -> bool {
    dir.join("meson.build").is_file() && dir.join("qemu_test").join("__init__.py").is_file()
}

/// The functional-test folder `path` belongs to: the folder itself, its parent
/// (a per-architecture folder, or a file), or its grandparent (a file in one).
pub fn functional_dir_of(path: &Path) -> Option<PathBuf> {
    let levels = if path.is_dir() { 2 } else { 3 };
    path.ancestors()
        .take(levels)
        .skip(usize::from(!path.is_dir()))
        .find(|d| !d.as_os_str().is_empty() && is_functional_dir(d))
        .map(Path::to_path_buf)
}

/// The functional-test folder of the source tree a meson build directory was
/// configured from: `directories.source` of its `meson-info/meson-info.json`,
/// when that folder is a QEMU tree's (`kennel run --qemu BUILD` from anywhere).
pub fn functional_dir_of_build(build: &Path) -> Option<PathBuf> {
    let info = build.join("meson-info").join("meson-info.json");
    let text = std::fs::read_to_string(info).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let source = PathBuf::from(json.get("directories")?.get("source")?.as_str()?);
    let functional = source.join("tests").join("functional");
    is_functional_dir(&functional).then_some(functional)
}

/// What [`load`] found in a tree.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    /// The tests, by architecture, mode and file.
    pub tests: Vec<QemuTest>,
    /// What could not be read, as `meson.build:LINE: ...`.
    pub warnings: Vec<String>,
}

/// A `tests_*` list: whose, which mode and speed.
enum ListName {
    Arch(String, Mode, Speed),
    Generic(Mode),
}

fn list_name(var: &str) -> Option<ListName> {
    let rest = var.strip_prefix("tests_")?;
    if let Some(mode) = rest.strip_prefix("generic_") {
        return Mode::from_meson(mode).map(ListName::Generic);
    }
    let (rest, speed) = if let Some(r) = rest.strip_suffix("_quick") {
        (r, Speed::Quick)
    } else {
        (rest.strip_suffix("_thorough")?, Speed::Thorough)
    };
    let (arch, mode) = rest.rsplit_once('_')?;
    Some(ListName::Arch(
        arch.to_string(),
        Mode::from_meson(mode)?,
        speed,
    ))
}

/// Read the tests of the functional-test folder `functional` from its
/// `meson.build` files (see the module's documentation). Never fails: what cannot
/// be read is in [`Tree::warnings`].
pub fn load(functional: &Path) -> Tree {
    let mut files = vec![functional.join("meson.build")];
    if let Ok(read) = std::fs::read_dir(functional) {
        let mut subs: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path().join("meson.build")))
            .filter(|p| p.is_file())
            .collect();
        subs.sort();
        files.extend(subs);
    }
    let mut tree = Tree::default();
    let wanted =
        |n: &str| n.starts_with("tests_") || (n.starts_with("test_") && n.ends_with("timeouts"));
    // (folder, arch, mode, speed, name), generic lists apart; timeouts by dictionary name.
    let mut listed: Vec<(PathBuf, String, Mode, Speed, String)> = Vec::new();
    let mut generic_names: HashSet<String> = HashSet::new();
    let mut generic: Vec<(PathBuf, Mode, String)> = Vec::new();
    let mut timeouts: HashMap<String, HashMap<String, u64>> = HashMap::new();
    for file in files {
        let dir = file.parent().unwrap_or(functional).to_path_buf();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                tree.warnings.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        let vars = meson::read(&text, wanted);
        let at = |w: &String| format!("{}:{w}", file.display());
        tree.warnings.extend(vars.warnings.iter().map(at));
        for (var, dict) in vars.dicts {
            let entry = timeouts.entry(var).or_default();
            entry.extend(dict);
        }
        for (var, names) in vars.lists {
            match list_name(&var) {
                Some(ListName::Arch(arch, mode, speed)) => listed.extend(
                    names
                        .into_iter()
                        .map(|n| (dir.clone(), arch.clone(), mode, speed, n)),
                ),
                Some(ListName::Generic(mode)) => {
                    generic.extend(names.into_iter().map(|n| (dir.clone(), mode, n)))
                }
                None => tree.warnings.push(format!(
                    "{}: {var} is not a tests_<arch>_<mode>_<speed> list; not read",
                    file.display()
                )),
            }
        }
    }
    // meson adds the generic tests to the quick set of every target of that mode.
    let mut archs: Vec<(String, Mode)> = listed.iter().map(|l| (l.1.clone(), l.2)).collect();
    archs.sort();
    archs.dedup();
    for (dir, mode, name) in generic {
        generic_names.insert(name.clone());
        for (arch, _) in archs.iter().filter(|(_, m)| *m == mode) {
            listed.push((dir.clone(), arch.clone(), mode, Speed::Quick, name.clone()));
        }
    }
    let mut seen = HashSet::new();
    for (dir, arch, mode, speed, name) in listed {
        if !seen.insert((arch.clone(), mode, name.clone())) {
            continue;
        }
        let file_name = format!("test_{name}.py");
        let Some(file) = [dir.join(&file_name), functional.join(&file_name)]
            .into_iter()
            .find(|f| f.is_file())
        else {
            tree.warnings.push(format!(
                "{}: lists {name} ({arch}), but there is no {file_name}",
                dir.join("meson.build").display()
            ));
            continue;
        };
        let secs = timeouts
            .get(&format!("test_{arch}_timeouts"))
            .and_then(|t| t.get(&name))
            .or_else(|| timeouts.get("test_timeouts").and_then(|t| t.get(&name)));
        tree.tests.push(QemuTest {
            functional: functional.to_path_buf(),
            file,
            arch,
            mode,
            speed,
            timeout: secs.map_or(DEFAULT_TIMEOUT, |s| Duration::from_secs(*s)),
            generic: generic_names.contains(&name),
            name,
        });
    }
    tree.tests
        .sort_by(|a, b| (&a.arch, a.mode, &a.file).cmp(&(&b.arch, b.mode, &b.file)));
    tree
}
