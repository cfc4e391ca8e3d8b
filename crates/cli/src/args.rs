//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// kennel: functional tests for QEMU and virtual machines.
#[derive(Debug, Parser)]
#[command(name = "kennel", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Discover and run tests under the paths (default: tests/).
    Run(RunArgs),
    /// Show what would run: tests, variants, tags.
    List(ListArgs),
    /// Run again what a job ran (default: latest), or only what failed.
    Replay(ReplayArgs),
    /// Print a job's summary (default: latest).
    Report(ReportArgs),
    /// Build the built-in guest, or boot it with a shell on this terminal.
    #[command(subcommand)]
    Guest(GuestCommand),
    /// Fetch, list or purge the assets tests declare.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// What is installed and usable, and how to fix what is missing.
    Doctor(DoctorArgs),
    /// A session with a live test's machine: its QMP or HMP monitor, console, or guest shell.
    Attach(AttachArgs),
    /// Let the tests a `kennel run --pause-on-failure` paused finish (default: latest job).
    Resume(ResumeArgs),
    /// Find the commit that made tests fail (more often): git bisect with repeated runs.
    Bisect(BisectArgs),
    /// Each test's record over the last jobs: runs, failures, flakiness, duration trend.
    History(HistoryArgs),
    /// Make and accept the reference images of `screen` steps.
    #[command(subcommand)]
    Screen(ScreenCommand),
    /// Start a project: kennel.toml, a first test, and optionally a CI file and a Rust test.
    Init(InitArgs),
    /// Print a shell completion script: `kennel completions bash > /etc/bash_completion.d/kennel`.
    Completions(CompletionsArgs),
    /// Print the manual page (`kennel man | man -l -`), or write one per command with --dir.
    Man(ManArgs),
    /// Internal: run one test case in this process (started by `kennel run`).
    #[command(name = "__run-test", hide = true)]
    RunTest(RunTestArgs),
}

impl Command {
    /// Whether the command works without the configuration (`kennel.toml`, the
    /// `KENNEL_*` variables): one that prints kennel's own interface, which a
    /// broken `kennel.toml` in the folder must not stop.
    pub fn reads_no_config(&self) -> bool {
        matches!(
            self,
            Command::Completions(_) | Command::Man(_) | Command::Init(_)
        )
    }

    /// Whether the command only prints what it reads (a listing, a summary, a
    /// diagnosis), starting no machine and writing no results.
    pub fn only_prints(&self) -> bool {
        match self {
            Command::List(_)
            | Command::Doctor(_)
            | Command::History(_)
            | Command::Completions(_)
            | Command::Man(_) => true,
            Command::Report(report) => report.action.is_none(),
            _ => false,
        }
    }
}

/// Options shared by `run` and `list`.
#[derive(Debug, Args)]
pub struct Selection {
    /// Test files or directories.
    pub paths: Vec<PathBuf>,
    /// Tag filter: commas AND, repeated flag OR, `-tag` negates, `key:-value` negates a value.
    #[arg(short = 't', long = "tags", value_name = "EXPR")]
    pub tags: Vec<String>,
    /// Set or override a parameter for all tests (repeatable).
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Run only shard K of N (1-based): every N-th test starting at the K-th, or with
    /// --shard-history the K-th of N shards balanced by recorded durations. Without it,
    /// `kennel run` takes the shard GitLab (CI_NODE_INDEX/CI_NODE_TOTAL) or a Kubernetes
    /// Indexed Job (JOB_COMPLETION_INDEX/JOB_COMPLETIONS) names.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// With --shard: balance the shards by the durations a previous job recorded
    /// (its job folder or its results.json), or a results folder recorded (each test's
    /// median of its last 5 runs in the last 50 jobs); tests not recorded count as average.
    #[arg(long, value_name = "PATH")]
    pub shard_history: Option<PathBuf>,
    /// Also build and run the Rust tests (`#[kennel::test]`) of cargo packages, one process each.
    #[arg(long)]
    pub cargo: bool,
    /// With --cargo: this package only (repeatable; default: the workspace).
    #[arg(long = "package", value_name = "PKG", requires = "cargo")]
    pub packages: Vec<String>,
    /// Use this QEMU binary for architecture ARCH (repeatable): one from PATH
    /// serves only when it is the same QEMU as --qemu's.
    #[arg(long = "qemu-arch", value_name = "ARCH=PATH", value_parser = kennel_config::parse_arch_binary)]
    pub qemu_arch: Vec<(String, PathBuf)>,
    /// Only the tests a change since REF can affect (MAINTAINERS, `covers`, changed
    /// test files); default REF: the merge base with the upstream branch.
    #[arg(long, value_name = "REF", num_args = 0..=1, default_missing_value = "")]
    pub changed: Option<String>,
}

/// `kennel run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Tests run at once (default: number of CPUs).
    #[arg(short = 'j', long = "jobs")]
    pub jobs: Option<usize>,
    /// Multiply every test's timeout.
    #[arg(long, default_value_t = 1.0)]
    pub timeout_factor: f64,
    /// Where job folders go.
    #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
    /// QEMU binary, or a QEMU build directory holding qemu-system-* (also $QEMU_TEST_QEMU_BINARY).
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
    /// Extra attempts for failing tests (overrides each test's `retries`).
    #[arg(long)]
    pub retries: Option<u32>,
    /// Start no more tests after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Stop the whole job after this long (e.g. `30m`); running tests end INTERRUPTED.
    #[arg(long, value_name = "DURATION")]
    pub job_timeout: Option<String>,
    /// Memory the tests' machines may use at once, in MiB (default: what is available).
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u64>,
    #[command(flatten)]
    pub assets: AssetFlags,
    /// Output: `human` lines, or `json` (one event object per line).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// When the selection holds no test: `fail` (exit 2), `warn` or `pass` (exit 0).
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = NoTests::Fail)]
    pub no_tests: NoTests,
    #[command(flatten)]
    pub debug: DebugFlags,
    /// Where the shard came from when the CI's variables named it (not a flag).
    #[arg(skip)]
    pub shard_from: Option<String>,
}

/// What `kennel run` does when the paths, tags or shard select no test (nextest's `--no-tests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoTests {
    /// Say so and exit 2.
    Fail,
    /// Say so and exit 0.
    Warn,
    /// Exit 0.
    Pass,
}

/// Debugging: QEMU under a program, a gdbstub, failure artifacts (docs/debugging.md).
#[derive(Debug, Clone, Args)]
pub struct DebugFlags {
    /// Run QEMU under this command (`strace -f -o ${logdir}/strace.log`); `${logdir}` is the
    /// test's log folder, `${machine}` the machine's name (also $KENNEL_WRAPPER).
    #[arg(long, value_name = "CMD")]
    pub wrapper: Option<String>,
    /// Machines start with a gdbstub on a free loopback port; test timeouts are suspended.
    #[arg(long)]
    pub gdb: bool,
    /// With --gdb: the guest waits for gdb's `continue` before its first instruction.
    #[arg(long, requires = "gdb")]
    pub gdb_wait: bool,
    /// Collect no failure artifacts (registers, QEMU's backtrace, the guest's dmesg).
    #[arg(long)]
    pub no_artifacts: bool,
    /// When a test fails, keep its machines up and say how to reach them; Enter (or `kennel
    /// resume`) lets it finish. Needs a terminal.
    #[arg(long)]
    pub pause_on_failure: bool,
    /// Boot every machine: none starts from a saved, booted state (a template; see
    /// docs/warm-starts.md). Also $KENNEL_COLD.
    #[arg(long)]
    pub cold: bool,
}

/// `kennel attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The test (its folder `001-boots`, number or name) in the latest job; or the job folder,
    /// then the test; or the test's own log folder (a path).
    #[arg(value_name = "[JOB] TEST")]
    pub first: String,
    #[arg(hide = true)]
    pub second: Option<String>,
    /// Which machine of the test (default: its first).
    #[arg(long, value_name = "NAME")]
    pub machine: Option<String>,
    /// A QMP prompt on a second monitor: the test's own session is not disturbed (the default).
    #[arg(long, group = "how")]
    pub qmp: bool,
    /// The HMP monitor, with QEMU's line editing and history (Ctrl-] ends).
    #[arg(long, group = "how")]
    pub hmp: bool,
    /// Follow the serial console (read-only: the test holds its input).
    #[arg(long, group = "how")]
    pub console: bool,
    /// A shell in the guest (SSH, for cloud-init machines).
    #[arg(long, group = "how")]
    pub shell: bool,
    /// Print how to reach the display over VNC (a machine with a display, while
    /// its test is paused on its failure).
    #[arg(long, group = "how")]
    pub vnc: bool,
    /// Where job folders are.
    #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
}

/// `kennel init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project's folder (made if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Also a CI file running the tests in 4 shards and publishing the merged
    /// junit.xml and report.html: `.gitlab-ci.yml` or `.github/workflows/kennel.yml`.
    #[arg(long, value_enum, value_name = "CI")]
    pub ci: Option<CiKind>,
    /// Also a cargo test target with the Rust API (`tests/kennel_first.rs`; a
    /// `Cargo.toml` when there is none, else the lines to add to it).
    #[arg(long)]
    pub rust: bool,
}

/// The CI `kennel init --ci` writes a file for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CiKind {
    /// GitLab CI: `parallel:` jobs, a merge job.
    Gitlab,
    /// GitHub Actions: a matrix, a merge job.
    Github,
}

/// `kennel completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `kennel man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `kennel.1` and a page for each command (`kennel-run.1`, ...) into DIR
    /// instead of printing `kennel.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `kennel resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The job folder (default: latest in the results directory), or one test's log folder.
    pub job: Option<PathBuf>,
    /// Where job folders are.
    #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
}

/// How assets may be fetched.
#[derive(Debug, Clone, Args)]
pub struct AssetFlags {
    /// Download nothing: a test whose asset is not cached is SKIPped (also KENNEL_NO_DOWNLOAD=1).
    #[arg(long)]
    pub offline: bool,
    /// With --offline, a missing asset is an ERROR rather than a SKIP.
    #[arg(long)]
    pub require_assets: bool,
    /// Accept assets declared without a sha256/sha512.
    #[arg(long)]
    pub allow_unverified: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people and CI logs.
    Human,
    /// One JSON event per line.
    Json,
}

/// `kennel list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// With --changed: per test, the changed file and the rule that selected it.
    #[arg(long, requires = "changed")]
    pub why: bool,
    /// QEMU binary or build directory (for skip reasons).
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
}

/// `kennel report`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    /// `merge`: join shard results into one job.
    #[command(subcommand)]
    pub action: Option<ReportAction>,
    /// A job folder (default: latest in the results directory).
    pub job: Option<PathBuf>,
    /// Where job folders are.
    #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
}

/// `kennel report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportAction {
    /// Join the job folders of several shards into one new job (results, logs, report).
    Merge {
        /// Job folders to join, in order.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged job folder goes.
        #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
        results_dir: PathBuf,
    },
}

/// `kennel replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The job folder to replay (default: latest in the results directory).
    pub job: Option<PathBuf>,
    /// Only the tests that did not PASS or SKIP.
    #[arg(long)]
    pub failed: bool,
    /// Only the test named NAME, as in results.json (a TAP point's name is
    /// `FILE: POINT`); repeatable.
    #[arg(long = "test", value_name = "NAME")]
    pub tests: Vec<String>,
    /// Tests run at once (default: number of CPUs).
    #[arg(short = 'j', long = "jobs")]
    pub jobs: Option<usize>,
    /// Where job folders are (the replay's own job goes there too).
    #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
    /// QEMU binary or build directory (default: the one the job used).
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
    /// Use this QEMU binary for architecture ARCH (repeatable; default: those
    /// the job was given).
    #[arg(long = "qemu-arch", value_name = "ARCH=PATH", value_parser = kennel_config::parse_arch_binary)]
    pub qemu_arch: Vec<(String, PathBuf)>,
    /// Extra attempts for failing tests.
    #[arg(long)]
    pub retries: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub debug: DebugFlags,
}

/// `kennel assets ...`.
#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// Download and verify every asset the tests under the paths declare (default: tests/).
    Fetch {
        /// Test files or directories.
        paths: Vec<PathBuf>,
        /// Accept assets declared without a hash.
        #[arg(long)]
        allow_unverified: bool,
    },
    /// What the cache holds (assets, then the saved machine states of warm starts).
    List,
    /// Remove cached assets: older than a duration, and/or down to a total size
    /// (`--max-size` and `--all` apply to the saved machine states too).
    Purge {
        /// Remove what was not used for this long (e.g. `30d`).
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        /// Then remove the least recently used until the cache is at most this many MiB.
        #[arg(long, value_name = "MIB")]
        max_size: Option<u64>,
        /// Remove everything.
        #[arg(long)]
        all: bool,
    },
}

/// `kennel guest ...`.
#[derive(Debug, Subcommand)]
pub enum GuestCommand {
    /// Build (or find in the cache) the built-in guest and print its files.
    Build(GuestArgs),
    /// Boot the built-in guest with its console on this terminal (Ctrl-A X quits).
    Shell(GuestArgs),
}

/// Which guest.
#[derive(Debug, Args)]
pub struct GuestArgs {
    /// x86_64, aarch64 or ppc64 (default: the host's).
    #[arg(long)]
    pub arch: Option<String>,
    /// A kernel file or a Debian linux-image-*.deb (default: the host's, or Debian's for other arches).
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// vCPUs (shell).
    #[arg(long, default_value_t = 1)]
    pub cpus: u64,
    /// Memory (shell).
    #[arg(long, default_value = "256M")]
    pub memory: String,
    /// QEMU binary or build directory.
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
}

/// `kennel doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// QEMU binary or build directory to check.
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
    /// The QEMU binary for architecture ARCH (repeatable), as `kennel run` takes it.
    #[arg(long = "qemu-arch", value_name = "ARCH=PATH", value_parser = kennel_config::parse_arch_binary)]
    pub qemu_arch: Vec<(String, PathBuf)>,
}

/// `kennel __run-test`.
#[derive(Debug, Args)]
pub struct RunTestArgs {
    #[arg(long)]
    pub file: PathBuf,
    #[arg(long = "case")]
    pub case_index: usize,
    #[arg(long)]
    pub logdir: PathBuf,
    #[arg(long)]
    pub timeout_ms: u64,
    #[arg(long, default_value = "{}")]
    pub params_json: String,
    #[arg(long)]
    pub qemu: Option<PathBuf>,
}

/// `kennel bisect`.
#[derive(Debug, Args)]
pub struct BisectArgs {
    /// Test files or directories (as for `kennel run`), in the tree.
    #[arg(value_name = "TEST")]
    pub tests: Vec<PathBuf>,
    /// A commit where the tests fail seldom (or never).
    #[arg(long, value_name = "COMMIT", requires = "bad")]
    pub good: Option<String>,
    /// A later commit where they fail often (or always).
    #[arg(long, value_name = "COMMIT", requires = "good")]
    pub bad: Option<String>,
    /// The shell command that builds each commit (default: `make -C build`); a commit
    /// it fails on is skipped.
    #[arg(long, value_name = "CMD")]
    pub build: Option<String>,
    /// The git work tree (default: the current folder).
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Go on with the bisect in progress (a killed one goes on where it was).
    #[arg(long, conflicts_with_all = ["good", "bad", "reset"])]
    pub resume: bool,
    /// End the bisect in progress: back to what was checked out, state removed.
    #[arg(long, conflicts_with_all = ["good", "bad"])]
    pub reset: bool,
    /// Runs at each end, to measure its failure rate.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub end_runs: u32,
    /// Runs at most at each commit between; undecided, it is skipped.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub max_runs: u32,
    /// The chance of calling a good commit bad (each verdict; also the p-value the
    /// ends' rates must be apart by).
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// The chance of calling a bad commit good (each verdict).
    #[arg(long, default_value_t = 0.01)]
    pub beta: f64,
    /// Tag filter, as for `kennel run`.
    #[arg(short = 't', long = "tags", value_name = "EXPR")]
    pub tags: Vec<String>,
    /// Set a parameter, as for `kennel run` (repeatable).
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// QEMU binary or build directory, as for `kennel run`.
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
    /// Where each run's job folder goes.
    #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
}

/// `kennel history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only these tests: a name as in results.json, or a file's name for its test points.
    #[arg(value_name = "TEST")]
    pub tests: Vec<String>,
    /// How many of the last jobs to read.
    #[arg(long = "jobs", value_name = "N", default_value_t = 50)]
    pub jobs: usize,
    /// One JSON document: the jobs read and each test's numbers.
    #[arg(long)]
    pub json: bool,
    /// Where job folders are.
    #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
}

/// `kennel screen ...`.
#[derive(Debug, Subcommand)]
pub enum ScreenCommand {
    /// The last screen of a failed `screen` step becomes its reference (the region only, when it has one).
    Accept(ScreenAcceptArgs),
    /// Cut a rectangle out of an image (a screendump) into a PNG reference.
    Crop(ScreenCropArgs),
}

/// `kennel screen accept [JOB] TEST [STEP]`.
#[derive(Debug, Args)]
pub struct ScreenAcceptArgs {
    /// The test (folder, number or name) in the latest job, or the job folder then the test;
    /// then, when the test has several failed `screen` steps, the step's line.
    #[arg(value_name = "[JOB] TEST [STEP]", num_args = 1..=3, required = true)]
    pub words: Vec<String>,
    /// Where job folders are.
    #[arg(long, env = "KENNEL_RESULTS_DIR", default_value = kennel_layout::DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
}

/// `kennel screen crop IMAGE x,y,w,h -o FILE`.
#[derive(Debug, Args)]
pub struct ScreenCropArgs {
    /// A PNG or PPM image.
    pub image: PathBuf,
    /// The rectangle: x,y,width,height in pixels.
    #[arg(value_name = "X,Y,W,H")]
    pub rect: String,
    /// The PNG to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}
