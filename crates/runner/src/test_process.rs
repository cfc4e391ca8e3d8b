//! The one way into a test process: how the job's settings become the program,
//! arguments and environment of every kind of test process it starts.
//!
//! Every kind (a TOML case's `kennel __run-test`, an executable or TAP producer,
//! a Rust test binary under `--cargo`, a QEMU tree test) gets the job's
//! [`TestSettings`] as the variables [`TestSettings::env`] writes, which the
//! process reads back through `kennel_config::Config`; and the same timeout
//! rule ([`JobOptions::test_timeout`]). What differs by kind is only how the
//! test itself is named and how `--qemu` and the parameters reach it:
//!
//! | kind | arguments | `--qemu` | parameters |
//! |---|---|---|---|
//! | TOML case | `__run-test` and [`CaseArgs::to_args`] | `--qemu` (a binary, or a build directory for every architecture) | `--params-json` |
//! | executable, TAP producer | its own | `QEMU_TEST_QEMU_BINARY` (the host's binary it names) | `KENNEL_PARAM_*` |
//! | Rust test | `--exact NAME --nocapture` | `QEMU_TEST_QEMU_BINARY` | `KENNEL_PARAM_*` |
//! | QEMU tree test | the test file (and unittest ids) | its own build's binary, as meson sets it ([`qemu_tree::command`]) | `KENNEL_PARAM_*` |
//!
//! Every kind but a TOML case (told `--logdir`) also gets `KENNEL_TEST_LOGDIR`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kennel_config::{CaseArgs, TestSettings};

use crate::cargo::CargoTest;
use crate::job::JobOptions;
use crate::qemu_tree::{self, QemuTest, QemuTreeError};

/// How one test process is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCommand {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The variables it gets on top of the runner's environment.
    pub env: Vec<(String, String)>,
}

impl TestCommand {
    /// The value of the variable `name` it gets, if it gets it (the last one set wins).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What kind of test process to start.
#[derive(Debug, Clone, Copy)]
pub enum TestKind<'a> {
    /// An attempt of a TOML case: `kennel __run-test` (the job's `exe`).
    Case(&'a CaseArgs),
    /// An executable test or TAP producer, with its arguments.
    Executable {
        /// The program.
        path: &'a Path,
        /// Its arguments (`kennel replay`'s unittest names).
        args: &'a [String],
    },
    /// One test of a Rust test binary (`--cargo`).
    Rust(&'a CargoTest),
    /// One of QEMU's functional tests; only the test points `ids` when some are given.
    QemuTree {
        /// The test.
        test: &'a QemuTest,
        /// unittest ids of the points to run (all when empty).
        ids: &'a [String],
    },
}

/// The program, arguments and environment of a test process of `kind` under the
/// job's options, logging into `logdir`. Only a QEMU tree test can fail (it cannot
/// run here: a SKIP's reason).
pub fn test_command(
    job: &JobOptions,
    kind: TestKind<'_>,
    logdir: &Path,
) -> Result<TestCommand, QemuTreeError> {
    let mut env: Vec<(String, String)> = settings_env(&job.settings);
    let (program, args) = match kind {
        TestKind::Case(case) => {
            let mut args = vec!["__run-test".to_owned()];
            args.extend(case.to_args());
            return Ok(TestCommand {
                program: job.exe.clone(),
                args,
                env,
            });
        }
        TestKind::Executable { path, args } => {
            env.extend(qemu_binary_env(job));
            (path.to_path_buf(), args.to_vec())
        }
        TestKind::Rust(test) => {
            env.extend(qemu_binary_env(job));
            let args = vec![
                "--exact".to_owned(),
                test.name.clone(),
                "--nocapture".into(),
            ];
            (test.binary.clone(), args)
        }
        TestKind::QemuTree { test, ids } => {
            let var = |n: &str| std::env::var_os(n);
            let ctx = qemu_tree::RunContext {
                qemu: job.qemu.as_deref(),
                qemu_arch: &job.settings.qemu_arch,
                offline: job.settings.assets.offline,
                keep_tmp: job.settings.keep_tmp,
                logdir,
                var: &var,
            };
            let cmd = qemu_tree::command(test, &ctx)?.only(ids);
            env.extend(cmd.env);
            (cmd.program, cmd.args)
        }
    };
    env.push((
        kennel_config::env::TEST_LOGDIR.to_owned(),
        logdir.to_string_lossy().into_owned(),
    ));
    env.extend(
        job.overrides
            .iter()
            .map(|(k, v)| (kennel_config::param_env_var(k), kennel_spec::value_text(v))),
    );
    Ok(TestCommand { program, args, env })
}

/// The job's settings as variables.
fn settings_env(settings: &TestSettings) -> Vec<(String, String)> {
    settings
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// `--qemu` for a program that reads `QEMU_TEST_QEMU_BINARY`: the host
/// architecture's binary it names (a build directory holding one, or the binary
/// itself); nothing when it names none.
fn qemu_binary_env(job: &JobOptions) -> Option<(String, String)> {
    let qemu = job.qemu.as_deref()?;
    let host = kennel_machine::host_arch();
    let found = kennel_machine::find_qemu(host, None, Some(qemu), &job.settings.qemu_arch).ok()?;
    Some((
        kennel_machine::QEMU_BINARY_ENV.to_owned(),
        found.path.to_string_lossy().into_owned(),
    ))
}

impl JobOptions {
    /// A test's timeout under the job: `base` times `--timeout-factor`, and
    /// suspended in effect under gdb ([`kennel_config::Debug::timeout_factor`]).
    pub fn test_timeout(&self, base: Duration) -> Duration {
        let factor = self.timeout_factor * self.settings.debug.timeout_factor();
        base.mul_f64(factor.max(0.01))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kennel_config::AssetPolicy;

    fn offline_job(dir: &Path) -> JobOptions {
        JobOptions {
            settings: TestSettings {
                assets: AssetPolicy {
                    offline: true,
                    ..AssetPolicy::default()
                },
                ..TestSettings::default()
            },
            ..crate::job::tests::options(dir, 1)
        }
    }

    fn case_args(dir: &Path) -> CaseArgs {
        CaseArgs {
            file: dir.join("t.toml"),
            case_index: 0,
            overrides: Default::default(),
            logdir: dir.to_path_buf(),
            timeout: Duration::from_secs(60),
            qemu: None,
            assets: AssetPolicy::default(),
        }
    }

    fn rust_test() -> CargoTest {
        CargoTest {
            package: "kennel-examples".into(),
            binary: "target/debug/deps/examples-0123".into(),
            name: "boots".into(),
            ignored: false,
            timeout: Some(Duration::from_secs(480)),
            tags: Vec::new(),
            covers: Vec::new(),
        }
    }

    /// A QEMU tree test whose `--qemu` is a build folder holding `qemu-system-x86_64`.
    fn qemu_tree_test(dir: &Path) -> QemuTest {
        use std::os::unix::fs::PermissionsExt;
        let binary = dir.join("qemu-system-x86_64");
        std::fs::write(&binary, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        QemuTest {
            functional: dir.join("tests/functional"),
            file: dir.join("tests/functional/test_version.py"),
            name: "version".into(),
            arch: "x86_64".into(),
            mode: qemu_tree::Mode::System,
            speed: qemu_tree::Speed::Quick,
            timeout: Duration::from_secs(90),
            generic: true,
        }
    }

    /// `kennel run --cargo --offline` did not make Rust tests offline: the
    /// machine core reads only `KENNEL_NO_DOWNLOAD`, and only TOML cases were
    /// told (`--offline` on their command line).
    #[test]
    fn every_kind_of_test_process_started_offline_gets_kennel_no_download() {
        let dir = tempfile::tempdir().expect("tempdir");
        let job = JobOptions {
            qemu: Some(dir.path().to_path_buf()),
            ..offline_job(dir.path())
        };
        let case = case_args(dir.path());
        let rust = rust_test();
        let qemu_test = qemu_tree_test(dir.path());
        let kinds = [
            TestKind::Case(&case),
            TestKind::Executable {
                path: Path::new("tests/tap.sh"),
                args: &[],
            },
            TestKind::Rust(&rust),
            TestKind::QemuTree {
                test: &qemu_test,
                ids: &[],
            },
        ];

        for kind in kinds {
            let command = test_command(&job, kind, dir.path()).expect("a command");

            assert_eq!(command.var("KENNEL_NO_DOWNLOAD"), Some("1"), "{kind:?}");
        }
    }

    #[test]
    fn a_rust_test_is_run_by_its_name_logging_into_its_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut job = crate::job::tests::options(dir.path(), 1);
        job.overrides.insert("cpu-model".into(), "max".into());
        let rust = rust_test();

        let command = test_command(&job, TestKind::Rust(&rust), dir.path()).expect("a command");

        assert_eq!(command.program, rust.binary);
        assert_eq!(command.args, ["--exact", "boots", "--nocapture"]);
        assert_eq!(
            command.var("KENNEL_TEST_LOGDIR"),
            Some(dir.path().to_str().expect("utf-8"))
        );
        assert_eq!(command.var("KENNEL_PARAM_CPU_MODEL"), Some("max"));
        assert_eq!(command.var("KENNEL_NO_DOWNLOAD"), None);
    }

    #[test]
    fn a_toml_case_is_kennel_run_test_with_its_arguments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let job = offline_job(dir.path());
        let case = case_args(dir.path());

        let command = test_command(&job, TestKind::Case(&case), dir.path()).expect("a command");

        assert_eq!(command.program, job.exe);
        assert_eq!(command.args[0], "__run-test");
        assert_eq!(command.args[1..], case.to_args());
        assert_eq!(command.var("KENNEL_TEST_LOGDIR"), None);
    }

    #[test]
    fn gdb_suspends_timeouts_on_top_of_the_timeout_factor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut job = crate::job::tests::options(dir.path(), 1);
        job.timeout_factor = 2.0;
        let plain = job.test_timeout(Duration::from_secs(10));
        job.settings.debug.gdb = true;

        assert_eq!(plain, Duration::from_secs(20));
        assert_eq!(
            job.test_timeout(Duration::from_secs(10)),
            Duration::from_secs(200_000)
        );
    }
}
