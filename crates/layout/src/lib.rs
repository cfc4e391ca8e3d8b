//! The results folder as a type: where a kennel job's files go, and what each is called.
//!
//! The writers (the runner, the test process, the Rust test API) and the readers
//! (`report.html`, `junit.xml`, `kennel report merge`, `kennel replay`, shards) share
//! these names and rules instead of spelling them each:
//!
//! ```text
//! <results dir>/                     ResultsRoot
//!   latest -> job-<id>
//!   job-<id>/                        JobDir
//!     results.json junit.xml results.tap report.html job.log
//!     journal.jsonl                  results as they come (see JOURNAL)
//!     ssh/                           the job's SSH key
//!     tests/NNN-<slug>/              TestDir: test.log, console.log, ...
//!       attempt-N/                   an earlier attempt's files (a TestDir too)
//! ```
//!
//! # Examples
//!
//! ```
//! use kennel_layout::{JobDir, ResultsRoot};
//!
//! let root = ResultsRoot::new("kennel-results");
//! let job = root.job("20261125T031500-3f9a2c1d");
//! assert!(job.results_json().ends_with("job-20261125T031500-3f9a2c1d/results.json"));
//! let test = job.test(&kennel_layout::test_logdir(0, "boot works"));
//! assert!(test.console_log().ends_with("tests/001-boot-works/console.log"));
//! ```
#![deny(missing_docs)]

mod job;
mod logs;
mod slug;
mod test_dir;

pub use job::{JobDir, ResultsRoot};
pub use logs::{LogFile, Stream, LOGS};
pub use slug::slug;
pub use test_dir::{renumbered, test_logdir, TestDir};

/// `results.json`: the machine-readable results of a job.
pub const RESULTS_JSON: &str = "results.json";
/// `junit.xml`: JUnit XML for GitLab, Jenkins and friends.
pub const JUNIT_XML: &str = "junit.xml";
/// `results.tap`: TAP version 13.
pub const RESULTS_TAP: &str = "results.tap";
/// `report.html`: one self-contained page.
pub const REPORT_HTML: &str = "report.html";
/// `job.log`: what the runner did, with timestamps.
pub const JOB_LOG: &str = "job.log";
/// `journal.jsonl`: one JSON line per planned, started and finished test, appended as
/// the job runs; a last line without its newline was cut short and is not read.
pub const JOURNAL: &str = "journal.jsonl";
/// `tests`: the folder of the tests' log folders in a job folder.
pub const TESTS_DIR: &str = "tests";
/// `ssh`: the job's SSH key pair, shared by its tests.
pub const SSH_DIR: &str = "ssh";
/// `latest`: the link in the results folder to the newest job folder.
pub const LATEST: &str = "latest";
/// A job folder is named `job-<id>`.
pub const JOB_DIR_PREFIX: &str = "job-";
/// The default results folder (`--results-dir`, `KENNEL_RESULTS_DIR`).
pub const DEFAULT_RESULTS_DIR: &str = "kennel-results";

/// `test.log`: steps, assertions, timings (an executable's stdout).
pub const TEST_LOG: &str = "test.log";
/// `console.log`: what the machines wrote on their consoles.
pub const CONSOLE_LOG: &str = "console.log";
/// `qmp.log`: every QMP message in and out.
pub const QMP_LOG: &str = "qmp.log";
/// `qemu.log`: QEMU's own stdout and stderr.
pub const QEMU_LOG: &str = "qemu.log";
/// `cmdline`: the exact QEMU command lines, shell-quoted.
pub const CMDLINE: &str = "cmdline";
/// `stdout.log`: a Rust test's stdout (its harness writes `test.log` itself).
pub const STDOUT_LOG: &str = "stdout.log";
/// `stderr.log`: an executable's or Rust test's stderr (a panic's message lands here).
pub const STDERR_LOG: &str = "stderr.log";
/// `test-process.log`: the test process's own stdout and stderr.
pub const TEST_PROCESS_LOG: &str = "test-process.log";
/// `result.json`: the outcome the test process reports to the runner.
pub const RESULT_JSON: &str = "result.json";
/// `scratch-dir`: names the test's scratch folder while it exists.
pub const SCRATCH_NOTE: &str = "scratch-dir";
/// A test's scratch folder (under `$TMPDIR`) is named `kennel-tmp-<random>`.
pub const SCRATCH_PREFIX: &str = "kennel-tmp-";
/// `tmp`: the scratch folder in the log folder, when none could be made under `$TMPDIR`.
pub const SCRATCH_FALLBACK_DIR: &str = "tmp";
/// `registers.txt`: a failure artifact, each machine's CPU registers and run
/// state (HMP `info registers -a`, `info status`) when its test failed.
pub const REGISTERS_TXT: &str = "registers.txt";
/// `qemu-backtrace.txt`: a failure artifact, every QEMU thread's backtrace (gdb
/// attached to the live process) when a step timed out.
pub const QEMU_BACKTRACE_TXT: &str = "qemu-backtrace.txt";
/// `dmesg.txt`: a failure artifact, the tail of the guest's kernel log when its
/// channel still answered.
pub const DMESG_TXT: &str = "dmesg.txt";
/// `screendump.png`: a failure artifact, the display of a machine that has
/// one (`screendump-<machine>.png` for machines other than `main`).
pub const SCREENDUMP_PNG: &str = "screendump.png";
/// The parts of a `screen` step's mismatch, in the order the report shows
/// them ([`TestDir::screen_image`]).
pub const SCREEN_PARTS: [&str; 3] = ["last", "reference", "diff"];
/// `attach.json`: how to reach each live machine of the test (its attach
/// monitors' sockets, its console log, its gdbstub), for `kennel attach`;
/// written when a machine starts.
pub const ATTACH_JSON: &str = "attach.json";
/// `start.json`: how the test's machines started (`warm` or `cold`, the
/// template, each machine's accelerator, timed phases), rewritten whole as
/// each machine starts; the runner reads it for a Rust test's results.
pub const START_JSON: &str = "start.json";
/// `paused`: exists while the test is paused on its failure
/// (`--pause-on-failure`); removing it (Enter, `kennel resume`) lets it finish.
pub const PAUSED: &str = "paused";
/// An earlier attempt's files are kept in `attempt-N`.
pub const ATTEMPT_PREFIX: &str = "attempt-";
