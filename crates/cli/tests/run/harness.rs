//! What every `kennel run` test uses: the workspace and fixtures, running the
//! real binary with a process marker, and reading its results.

pub use std::path::{Path, PathBuf};
pub use std::process::Command;
pub use std::sync::OnceLock;
pub use std::time::{Duration, Instant};

pub use serde_json::Value;

/// The workspace root: fixture paths and `examples/` are relative to it.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn fixture(rel: &str) -> String {
    format!("tests/functional/{rel}")
}

/// Path of `kennel-fake-qemu`, built (once) beside the `kennel` binary.
pub fn fake_qemu() -> PathBuf {
    static FAKE: OnceLock<PathBuf> = OnceLock::new();
    FAKE.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "kennel-fake-qemu"])
            .current_dir(workspace())
            .status()
            .expect("run `cargo build -p kennel-fake-qemu`");
        assert!(status.success(), "`cargo build -p kennel-fake-qemu` failed");
        let path = Path::new(env!("CARGO_BIN_EXE_kennel")).with_file_name("kennel-fake-qemu");
        assert!(
            path.is_file(),
            "{} missing; run `cargo build -p kennel-fake-qemu`",
            path.display()
        );
        path
    })
    .clone()
}

pub use kennel_testkit::{
    processes_with, unique_marker, wait_until, Bounded, OutputWithin, RUN_BOUND,
};

/// Wait up to `limit` for every marked process to be gone; the survivors.
pub fn survivors_after(marker: &str, limit: Duration) -> Vec<u32> {
    wait_until(limit, || processes_with(marker).is_empty());
    processes_with(marker)
}

/// A finished `kennel run`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub results_dir: tempfile::TempDir,
}

impl Run {
    pub fn job_dir(&self) -> PathBuf {
        self.results_dir.path().join("latest")
    }

    pub fn results(&self) -> Value {
        let path = self.job_dir().join("results.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}\nstderr:\n{}", path.display(), self.stderr));
        serde_json::from_str(&text).expect("results.json is JSON")
    }

    /// The result entry of the test named `name`.
    pub fn test(&self, name: &str) -> Value {
        let results = self.results();
        results["tests"]
            .as_array()
            .expect("tests[]")
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no test named {name:?} in {results:#}"))
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.results()["tests"]
            .as_array()
            .expect("tests[]")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_string())
            .collect();
        names.sort();
        names
    }

    pub fn statuses(&self) -> Vec<String> {
        self.results()["tests"]
            .as_array()
            .expect("tests[]")
            .iter()
            .map(|t| t["status"].as_str().expect("status").to_string())
            .collect()
    }
}

/// Run `kennel run ARGS --results-dir <temp>` from the workspace root, with `env`.
/// Panics when a process it started outlives it by more than 2 s, or when it
/// runs longer than [`RUN_BOUND`] (killing it and what it started).
pub fn kennel(args: &[&str], env: &[(&str, &str)]) -> Run {
    kennel_while(args, env, |_| {})
}

/// [`kennel`], doing `during` (given the results folder) while kennel runs.
pub fn kennel_while(args: &[&str], env: &[(&str, &str)], during: impl FnOnce(&Path)) -> Run {
    let results_dir = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let started = Instant::now();
    let child = Bounded::start(
        Command::new(env!("CARGO_BIN_EXE_kennel"))
            .arg("run")
            .args(args)
            .arg("--results-dir")
            .arg(results_dir.path())
            .current_dir(workspace())
            .env("KENNEL_TEST_MARKER", &marker)
            .env_remove("KENNEL_RESULTS_DIR")
            .env_remove("QEMU_TEST_QEMU_BINARY")
            .envs(CI_SHARD_VARIABLES.iter().map(|v| (v, "")))
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null()),
    );
    during(results_dir.path());
    let out = child.wait(RUN_BOUND);
    let elapsed = started.elapsed();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
        results_dir,
    };
    let left = survivors_after(&marker, Duration::from_secs(2));
    assert!(
        left.is_empty(),
        "processes outlived `kennel run {args:?}`: {left:?}\nstdout:\n{}",
        run.stdout
    );
    run
}

/// The variables a CI names a shard with: emptied (an empty one names none),
/// so that a CI running this suite in shards does not shard its jobs.
pub const CI_SHARD_VARIABLES: [&str; 4] = [
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "JOB_COMPLETION_INDEX",
    "JOB_COMPLETIONS",
];

/// A folder holding the given `(file name, text)` test files.
pub fn test_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("test dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write test file");
    }
    dir
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

pub const GOOD: &str = r#"
name = "good"
timeout = "30s"

[machine]
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
qmp = "query-status"
returns = { status = "prelaunch" }
"#;

/// A test on the fake QEMU: answers one `query-status`, then whatever `KENNEL_FAKE_QEMU` says.
pub fn fake_test(timeout: &str) -> String {
    format!(
        r#"
name = "fake"
timeout = "{timeout}"

[machine]
binary = "{}"
type = "none"

[[step]]
qmp = "query-status"
returns = {{ status = "running" }}

[[step]]
qmp = "query-status"
timeout = "1s"
"#,
        fake_qemu().display()
    )
}

/// A private asset cache for one run.
pub fn cache_env(dir: &tempfile::TempDir) -> (&'static str, String) {
    ("KENNEL_CACHE_DIR", path_str(dir.path()).to_string())
}

/// A test on real QEMU that answers `query-status` (step 1, line 8), then
/// waits a minute for an event that never comes (step 2, line 12): the test
/// kills its QEMU during step 2 with [`signal_qemu_during`].
pub const REAL_QEMU_TO_KILL: &str = r#"name = "killed"
timeout = "90s"

[machine]
type = "none"
args = ["-nodefaults"]

[[step]]
qmp = "query-status"
returns = { status = "running" }

[[step]]
event = "NEVER_EMITTED"
timeout = "60s"
"#;

/// While `kennel run` runs (its results folder): once a test's `test.log`
/// says `when` (e.g. `"step 2 ("`), send `signal` to the QEMU it launched
/// (the pid in its log). Panics when that does not happen within two
/// minutes (and the caller's kennel is then killed with what it started).
pub fn signal_qemu_during(results: &Path, when: &str, signal: libc::c_int) {
    let mut qemu = None;
    let reached = wait_until(Duration::from_secs(120), || {
        let tests = results.join("latest/tests");
        for entry in std::fs::read_dir(&tests).into_iter().flatten().flatten() {
            let log = std::fs::read_to_string(entry.path().join("test.log")).unwrap_or_default();
            let pid = log
                .split("launched `main` (pid ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|pid| pid.parse::<libc::pid_t>().ok());
            if log.contains(when) && pid.is_some() {
                qemu = pid;
                return true;
            }
        }
        false
    });
    let qemu = qemu
        .filter(|_| reached)
        .unwrap_or_else(|| panic!("no test under {} logged {when:?}", results.display()));
    // SAFETY: kill(2) has no memory-safety preconditions.
    let sent = unsafe { libc::kill(qemu, signal) };
    assert_eq!(sent, 0, "kill({qemu}, {signal})");
}
