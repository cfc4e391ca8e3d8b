//! How one QEMU tree test runs: its interpreter, arguments and variables, as
//! meson's `test()` sets them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Mode, QemuTest, QemuTreeError};

/// Where and how kennel runs a QEMU test.
#[derive(Clone, Copy)]
pub struct RunContext<'a> {
    /// `--qemu`: a build directory or a binary.
    pub qemu: Option<&'a Path>,
    /// `--qemu-arch ARCH=PATH`: architectures' binaries given on purpose.
    pub qemu_arch: &'a [kennel_machine::ArchBinary],
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

/// The emulator `test` runs: `qemu-system-<arch>`, or `qemu-<arch>` for a
/// user-mode test, of the one QEMU the run names (`--qemu`, its build
/// directory ([`build_dir`]), `--qemu-arch`): [`kennel_machine::find_qemu`],
/// [`kennel_machine::find_qemu_user`]. The error is a SKIP's reason.
pub fn emulator(
    test: &QemuTest,
    qemu: Option<&Path>,
    qemu_arch: &[kennel_machine::ArchBinary],
) -> Result<PathBuf, QemuTreeError> {
    let build = build_dir(test, qemu);
    let qemu = qemu.or(build.as_deref());
    let found = match test.mode {
        Mode::System => kennel_machine::find_qemu(&test.arch, None, qemu, qemu_arch),
        Mode::LinuxUser | Mode::BsdUser => {
            kennel_machine::find_qemu_user(&test.arch, qemu, qemu_arch)
        }
    };
    let path = found
        .map_err(|source| match test.mode {
            Mode::System => QemuTreeError::NoQemu(source),
            m => QemuTreeError::UserMode {
                mode: m.word(),
                source,
            },
        })?
        .path;
    Ok(std::path::absolute(&path).unwrap_or(path))
}

/// How to run `test`, or why it cannot run here (a SKIP's reason).
///
/// The program is the build's `pyvenv/bin/python3` (else `python3`), the argument
/// the test file, and the variables, as meson's `test()` sets them:
/// `QEMU_TEST_QEMU_BINARY` (`qemu-system-<arch>`, or `qemu-<arch>` for a
/// user-mode test, from the build directory, beside `--qemu`, or the same
/// QEMU's on `PATH`: [`emulator`]), `QEMU_TEST_QEMU_IMG` (the
/// build's, else the one beside the binary, when there is one), `QEMU_BUILD_ROOT`
/// ([`build_dir`], else the test's log folder, so the tests' own logs land there),
/// `PYTHONPATH` (the tree's `python/` and `tests/functional`), `QEMU_MODULE_DIR`
/// for a QEMU installed under a prefix ([`kennel_machine::QemuInstall`]); and from kennel's
/// options: `QEMU_TEST_NO_DOWNLOAD=1` with `--offline`, `QEMU_TEST_CACHE_DIR`
/// (`<kennel cache>/qemu` unless set already) and `QEMU_TEST_KEEP_SCRATCH=1` with
/// `KENNEL_KEEP_TMP`.
pub fn command(test: &QemuTest, ctx: &RunContext<'_>) -> Result<QemuTestCommand, QemuTreeError> {
    let build = build_dir(test, ctx.qemu);
    let binary = emulator(test, ctx.qemu, ctx.qemu_arch)?;
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
        qemu_arch: &[],
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
    let tail = kennel_config::text::last_lines(&text, 5, kennel_config::text::BlankLines::Keep);
    Err(QemuTreeError::Precache {
        status: out.status,
        tail: tail.join("\n"),
    })
}
