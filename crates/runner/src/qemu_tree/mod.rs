//! QEMU's own functional tests (`tests/functional` of a QEMU source tree) as kennel
//! tests, run the way `make check-functional` runs them.
//!
//! **What is a QEMU tree.** A folder is QEMU's functional-test folder when it holds
//! both `meson.build` and `qemu_test/__init__.py` ([`is_functional_dir`]). A path
//! given to `kennel run` is in such a tree when it is that folder, a folder right
//! inside it (QEMU's later per-architecture folders), or a file in either.
//!
//! **What is read.** The `meson.build` of that folder and of each folder right
//! inside it, by the small reader in [`meson`]: the lists
//! `tests_<arch>_<mode>_<speed>` (mode `system`, `linuxuser` or `bsduser`; speed
//! `quick` or `thorough`), `tests_generic_<mode>` (run, as meson does, in the quick
//! set of every architecture that has a list of that mode), and the timeouts
//! `test_timeouts` (QEMU 10.0) and `test_<arch>_timeouts` (later). A test `NAME`
//! listed in folder `D` is `D/test_NAME.py`, else `tests/functional/test_NAME.py`.
//! Each (architecture, mode, test) is one kennel test named `FILE [ARCH]`, tagged
//! `quick` or `thorough` and `arch:<arch>`, with meson's timeout (90 s unless the
//! dictionaries say otherwise).
//!
//! **How one runs** ([`command`]): `python3 FILE` (the build's `pyvenv/bin/python3`
//! when it has one) with QEMU's variables: see [`command`] and docs/qemu-tree.md.

mod error;
pub mod meson;

pub use error::QemuTreeError;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

    fn word(self) -> &'static str {
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
            name,
            arch,
            mode,
            speed,
            timeout: secs.map_or(DEFAULT_TIMEOUT, |s| Duration::from_secs(*s)),
        });
    }
    tree.tests
        .sort_by(|a, b| (&a.arch, a.mode, &a.file).cmp(&(&b.arch, b.mode, &b.file)));
    tree
}

/// Where and how kennel runs a QEMU test.
#[derive(Clone, Copy)]
pub struct RunContext<'a> {
    /// `--qemu`: a build directory or a binary.
    pub qemu: Option<&'a Path>,
    /// `--offline`: the tests download nothing.
    pub offline: bool,
    /// `KENNEL_KEEP_TMP`: the tests keep their scratch folders.
    pub keep_tmp: bool,
    /// The test's log folder (`QEMU_BUILD_ROOT` when there is no build directory).
    pub logdir: &'a Path,
    /// kennel's own environment (`std::env::var_os`, or a table in tests).
    pub var: &'a dyn Fn(&str) -> Option<OsString>,
}

/// The program, arguments and environment of one QEMU test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuTestCommand {
    /// The Python interpreter.
    pub program: PathBuf,
    /// The test file (and, to run some of its test points, a bootstrap and their
    /// unittest ids: [`QemuTestCommand::only`]).
    pub args: Vec<String>,
    /// The variables it gets on top of kennel's environment.
    pub env: Vec<(String, String)>,
}

/// Runs some test points of a QEMU functional test file, the way the file's own
/// `QemuBaseTest.main()` runs all of them (pycotap, logs on stderr, unittest
/// loading by name), with the unittest ids after the file instead of its module
/// name: `main()` gives unittest an argv of its own, so ids on the file's command
/// line would be ignored.
const RUN_POINTS: &str = "\
import os, sys, unittest, pycotap
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
tr = pycotap.TAPTestRunner(message_log=pycotap.LogMode.LogToError,
                           test_output_log=pycotap.LogMode.LogToError)
res = unittest.main(module=None, testRunner=tr, exit=False, argv=['kennel'] + sys.argv[2:])
sys.exit(not res.result.wasSuccessful())
";

impl QemuTestCommand {
    /// The same test file, running only the test points `ids` (unittest ids such as
    /// `test_version.Version.test_qmp_human_info_version`); all of them when `ids`
    /// is empty.
    pub fn only(mut self, ids: &[String]) -> QemuTestCommand {
        if !ids.is_empty() {
            let mut args = vec!["-c".to_owned(), RUN_POINTS.to_owned()];
            args.append(&mut self.args);
            args.extend(ids.iter().cloned());
            self.args = args;
        }
        self
    }
}

/// The QEMU build directory for `test`: `--qemu DIR` (or `DIR/build` when `DIR` is a
/// source tree), the folder of `--qemu FILE` when that is a build directory (it has
/// `build.ninja` or `pyvenv`), else, without `--qemu`, the tree's own `build` folder
/// (where QEMU's `config.py` looks too).
pub fn build_dir(test: &QemuTest, qemu: Option<&Path>) -> Option<PathBuf> {
    let is_build = |d: &Path| d.join("build.ninja").is_file() || d.join("pyvenv").is_dir();
    match qemu {
        Some(dir) if dir.is_dir() => {
            let nested = dir.join("build");
            Some(if !is_build(dir) && is_build(&nested) {
                nested
            } else {
                dir.to_path_buf()
            })
        }
        Some(file) => file.parent().filter(|d| is_build(d)).map(Path::to_path_buf),
        None => Some(test.source().join("build")).filter(|d| d.is_dir()),
    }
}

/// The interpreter: the build's own venv (`pyvenv/bin/python3`, which has
/// `pycotap`), else `python3` on `PATH`.
fn interpreter(build: Option<&Path>) -> PathBuf {
    build
        .map(|b| b.join("pyvenv").join("bin").join("python3"))
        .filter(|p| kennel_config::is_executable(p))
        .or_else(|| kennel_config::which("python3"))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn push(env: &mut Vec<(String, String)>, name: &str, value: impl AsRef<std::ffi::OsStr>) {
    env.push((
        name.to_string(),
        value.as_ref().to_string_lossy().into_owned(),
    ));
}

/// The variables every run of a test gets, with or without a QEMU binary:
/// `QEMU_BUILD_ROOT`, `PYTHONPATH`, `QEMU_TEST_CACHE_DIR`, `QEMU_TEST_KEEP_SCRATCH`
/// (with `keep_tmp`).
fn tree_env(test: &QemuTest, build: Option<&Path>, ctx: &RunContext<'_>) -> Vec<(String, String)> {
    let mut env = Vec::new();
    push(&mut env, "QEMU_BUILD_ROOT", build.unwrap_or(ctx.logdir));
    let mut path = OsString::from(test.source().join("python"));
    path.push(":");
    path.push(test.functional_abs());
    push(&mut env, "PYTHONPATH", path);
    // The user's own choice stands; else assets go to kennel's cache folder.
    if (ctx.var)("QEMU_TEST_CACHE_DIR").is_none() {
        if let Some(cache) = kennel_config::cache_dir_from(ctx.var) {
            push(&mut env, "QEMU_TEST_CACHE_DIR", cache.join("qemu"));
        }
    }
    if ctx.keep_tmp {
        push(&mut env, "QEMU_TEST_KEEP_SCRATCH", "1");
    }
    env
}

/// How to run `test`, or why it cannot run here (a SKIP's reason).
///
/// The program is the build's `pyvenv/bin/python3` (else `python3`), the argument
/// the test file, and the variables, as meson's `test()` sets them:
/// `QEMU_TEST_QEMU_BINARY` (`qemu-system-<arch>` from the build directory, beside
/// `--qemu` or on `PATH`: [`kennel_machine::find_qemu`]), `QEMU_TEST_QEMU_IMG` (the
/// build's, else the one beside the binary, when there is one), `QEMU_BUILD_ROOT`
/// ([`build_dir`], else the test's log folder, so the tests' own logs land there),
/// `PYTHONPATH` (the tree's `python/` and `tests/functional`), `QEMU_MODULE_DIR`
/// for a QEMU installed under a prefix ([`kennel_machine::QemuInstall`]); and from kennel's
/// options: `QEMU_TEST_NO_DOWNLOAD=1` with `--offline`, `QEMU_TEST_CACHE_DIR`
/// (`<kennel cache>/qemu` unless set already) and `QEMU_TEST_KEEP_SCRATCH=1` with
/// `KENNEL_KEEP_TMP`.
pub fn command(test: &QemuTest, ctx: &RunContext<'_>) -> Result<QemuTestCommand, QemuTreeError> {
    if test.mode != Mode::System {
        return Err(QemuTreeError::UserMode {
            mode: test.mode.word(),
            arch: test.arch.clone(),
        });
    }
    let build = build_dir(test, ctx.qemu);
    let qemu = ctx.qemu.or(build.as_deref());
    let binary = kennel_machine::find_qemu(&test.arch, None, qemu)?.path;
    let binary = std::path::absolute(&binary).unwrap_or(binary);
    let mut env = vec![];
    push(&mut env, kennel_machine::QEMU_BINARY_ENV, &binary);
    // The tests start QEMU themselves: a prefix QEMU's modules come by the
    // environment (its firmware folders, `-L`, cannot).
    env.extend(kennel_machine::QemuInstall::of(&binary).env());
    let img = build
        .as_ref()
        .map(|b| b.join("qemu-img"))
        .into_iter()
        .chain([binary.with_file_name("qemu-img")])
        .find(|p| kennel_config::is_executable(p));
    if let Some(img) = img {
        push(&mut env, "QEMU_TEST_QEMU_IMG", img);
    }
    env.extend(tree_env(test, build.as_deref(), ctx));
    if ctx.offline {
        push(&mut env, "QEMU_TEST_NO_DOWNLOAD", "1");
    }
    Ok(QemuTestCommand {
        program: interpreter(build.as_deref()),
        args: vec![test.file.to_string_lossy().into_owned()],
        env,
    })
}

/// Download the assets of `test`'s file through its own precache mode
/// (`QEMU_TEST_PRECACHE`, what `make precache-functional` does), into
/// `QEMU_TEST_CACHE_DIR` as [`command`] sets it. A failure holds the end of its output.
pub fn precache(test: &QemuTest, qemu: Option<&Path>) -> Result<(), QemuTreeError> {
    let scratch = tempfile::tempdir().map_err(QemuTreeError::Scratch)?;
    let var = |n: &str| std::env::var_os(n);
    let ctx = RunContext {
        qemu,
        offline: false,
        keep_tmp: kennel_config::Config::get().is_ok_and(|c| c.keep_tmp),
        logdir: scratch.path(),
        var: &var,
    };
    let build = build_dir(test, qemu);
    let out = std::process::Command::new(interpreter(build.as_deref()))
        .arg(&test.file)
        .envs(tree_env(test, build.as_deref(), &ctx))
        .env("QEMU_TEST_PRECACHE", scratch.path().join("precache.tstamp"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(QemuTreeError::Python)?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = text.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(QemuTreeError::Precache {
        status: out.status,
        tail: tail.join("\n"),
    })
}

#[cfg(test)]
mod tests;
