//! The command line end to end, on a real job (real QEMU, `-machine none`):
//! the `--format json` event stream, `report` and `report merge`, `replay
//! --failed`, `doctor`, `guest build`, `assets fetch/list/purge`, and
//! `report.html` opened in headless Chromium.

use kennel_testkit::{OutputWithin, RUN_BOUND};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The three outcomes a small job gives: PASS, FAIL, SKIP.
const JOB: [&str; 3] = [
    "tests/functional/pass/qmp_query_status.toml",
    "tests/functional/expected-fail/returns_mismatch.toml",
    "tests/functional/skip/missing_device.toml",
];
const FAILING: &str = "expected-fail: returns does not match";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `kennel ARGS` from the workspace root, with `env`, and nothing from the
/// environment choosing results, QEMU or the cache.
fn kennel(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(args)
        .current_dir(workspace())
        .env_remove("KENNEL_RESULTS_DIR")
        .env_remove("QEMU_TEST_QEMU_BINARY")
        .env_remove("KENNEL_CACHE_DIR")
        .envs(env.iter().copied())
        .output_within(RUN_BOUND)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

/// One `kennel run --format json` of [`JOB`], made once and shared: its results
/// folder and its output.
struct Job {
    results: tempfile::TempDir,
    out: Output,
}

impl Job {
    fn dir(&self) -> PathBuf {
        self.results
            .path()
            .join("latest")
            .canonicalize()
            .expect("latest")
    }
}

fn job() -> &'static Job {
    static JOB_RUN: OnceLock<Job> = OnceLock::new();
    JOB_RUN.get_or_init(|| {
        let results = tempfile::tempdir().expect("results dir");
        let mut args = vec!["run"];
        args.extend(JOB);
        args.extend([
            "--format",
            "json",
            "--results-dir",
            path_str(results.path()),
        ]);
        let out = kennel(&args, &[]);
        Job { results, out }
    })
}

#[test]
fn json_format_prints_one_parseable_event_per_line_ending_with_the_summary() {
    let job = job();
    let stdout = text(&job.out.stdout);

    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();

    assert_eq!(job.out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        events.first().map(|e| &e["event"]),
        Some(&"job_started".into())
    );
    let last = events.last().expect("events");
    assert_eq!(last["event"], "job_finished", "{stdout}");
    let results = read_json(&job.dir().join("results.json"));
    assert_eq!(last["summary"], results["summary"]);
    assert_eq!(
        last["summary"],
        serde_json::json!({"total": 3, "pass": 1, "fail": 1, "error": 0, "skip": 1, "interrupted": 0})
    );
    let finished: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "test_finished")
        .map(|e| e["result"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(finished.len(), 3, "{stdout}");
    assert!(finished.contains(&FAILING), "{finished:?}");
}

#[test]
fn report_prints_the_jobs_summary_and_exits_with_its_status() {
    let job = job();

    let out = kennel(&["report", path_str(&job.dir())], &[]);

    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(" FAIL "), "{stdout}");
    assert!(stdout.contains(FAILING), "{stdout}");
    assert!(stdout.contains("which does not contain"), "{stdout}");
    assert!(stdout.contains("1 passed, 1 failed, 1 skipped"), "{stdout}");
}

#[test]
fn replay_failed_runs_only_the_failed_test_again_in_a_new_job() {
    let results = tempfile::tempdir().expect("results dir");
    let dir = path_str(results.path());
    let mut args = vec!["run"];
    args.extend(JOB);
    args.extend(["--results-dir", dir]);
    let first = kennel(&args, &[]);
    let first_job = read_json(&results.path().join("latest/results.json"))["job_id"].clone();

    let out = kennel(&["replay", "--failed", "--results-dir", dir], &[]);

    let replayed = read_json(&results.path().join("latest/results.json"));
    assert_eq!(first.status.code(), Some(1));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_ne!(replayed["job_id"], first_job);
    let names: Vec<&str> = replayed["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, [FAILING]);
    assert_eq!(replayed["tests"][0]["status"], "FAIL");
}

#[test]
fn report_merge_joins_two_shards_into_one_job() {
    let shards = tempfile::tempdir().expect("shards");
    let merged = tempfile::tempdir().expect("merged");
    let mut jobs = Vec::new();
    for shard in ["1/2", "2/2"] {
        let mut args = vec!["run"];
        args.extend(JOB);
        args.extend(["--shard", shard, "--results-dir", path_str(shards.path())]);
        kennel(&args, &[]);
        jobs.push(
            shards
                .path()
                .join("latest")
                .canonicalize()
                .expect("shard job"),
        );
    }

    let mut args = vec!["report", "merge"];
    args.extend(jobs.iter().map(|j| path_str(j)));
    args.extend(["--results-dir", path_str(merged.path())]);
    let out = kennel(&args, &[]);

    // The merged job has a FAIL: exit status 1, as `kennel run` would give.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(said.contains("merged 2 job folders"), "{said}");
    let results = read_json(&merged.path().join("latest/results.json"));
    assert_eq!(results["summary"]["total"], 3, "{results:#}");
    assert_eq!(results["summary"]["fail"], 1, "{results:#}");
    for test in results["tests"].as_array().expect("tests") {
        let logdir = merged
            .path()
            .join("latest")
            .join(test["logdir"].as_str().expect("logdir"));
        assert!(logdir.join("test.log").is_file(), "{}", logdir.display());
    }
    let report = kennel(&["report", "--results-dir", path_str(merged.path())], &[]);
    assert!(
        text(&report.stdout).contains("1 passed, 1 failed, 1 skipped"),
        "{}",
        text(&report.stdout)
    );
}

#[test]
fn doctor_names_the_fix_for_a_qemu_that_is_not_there() {
    let empty = tempfile::tempdir().expect("empty PATH dir");

    let out = kennel(&["doctor"], &[("PATH", path_str(empty.path()))]);

    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("qemu-system-x86_64 is not on PATH"),
        "{stdout}"
    );
    assert!(
        stdout.contains("apt-get install qemu-system-x86"),
        "{stdout}"
    );
    assert!(stdout.contains("swtpm    missing"), "{stdout}");
    assert!(
        stdout.contains("apt-get install swtpm swtpm-tools"),
        "{stdout}"
    );
}

#[test]
fn doctor_lists_the_uefi_firmware_per_architecture_and_swtpm() {
    if !Path::new("/usr/share/qemu/firmware/60-edk2-x86_64.json").is_file() {
        return kennel_testkit::missing("UEFI firmware (apt-get install ovmf qemu-efi-aarch64)");
    }
    let out = kennel(&["doctor"], &[]);

    let stdout = text(&out.stdout);
    assert!(stdout.contains("Firmware (UEFI):"), "{stdout}");
    assert!(
        stdout.contains(
            "/usr/share/qemu/firmware/60-edk2-x86_64.json /usr/share/OVMF/OVMF_CODE_4M.fd"
        ),
        "{stdout}"
    );
    let chosen: Vec<&str> = stdout
        .lines()
        .filter(|l| l.ends_with("<- firmware = \"uefi\""))
        .collect();
    assert_eq!(chosen.len(), 2, "one per architecture:\n{stdout}");
    if kennel_config::which("swtpm").is_some() {
        assert!(stdout.contains("swtpm    TPM emulator version"), "{stdout}");
    }
}

#[test]
fn doctor_takes_a_qemu_for_an_architecture_as_run_does() {
    let aarch64 = PathBuf::from("/usr/bin/qemu-system-aarch64");
    if !aarch64.is_file() {
        return kennel_testkit::missing(
            "/usr/bin/qemu-system-aarch64 (apt-get install qemu-system-arm)",
        );
    }
    let empty = tempfile::tempdir().expect("empty PATH dir");
    let given = format!("aarch64={}", aarch64.display());

    let out = kennel(
        &["doctor", "--qemu-arch", &given],
        &[("PATH", path_str(empty.path()))],
    );

    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("aarch64"))
        .unwrap_or_else(|| panic!("no aarch64 line:\n{stdout}"));
    assert!(line.contains("/usr/bin/qemu-system-aarch64"), "{stdout}");
    assert!(!line.contains("missing"), "{stdout}");
}

#[test]
fn doctor_lists_a_qemu_binary_for_each_architecture() {
    let out = kennel(&["doctor"], &[]);

    let stdout = text(&out.stdout);
    for arch in ["x86_64", "aarch64", "ppc64"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(arch))
            .unwrap_or_else(|| panic!("no {arch} line:\n{stdout}"));
        if line.contains("missing") {
            kennel_testkit::missing(&format!("qemu-system-{arch} (doctor says: {line})"));
        }
    }
}

#[test]
fn guest_build_prints_its_files_and_the_second_build_comes_from_the_cache() {
    if kennel_config::which("qemu-system-x86_64").is_none() {
        return kennel_testkit::missing("qemu-system-x86_64 (apt-get install qemu-system-x86)");
    }
    let cache = tempfile::tempdir().expect("cache");
    let env = [("KENNEL_CACHE_DIR", path_str(cache.path()))];

    let first = kennel(&["guest", "build"], &env);
    let second = kennel(&["guest", "build"], &env);

    let (first, second) = (text(&first.stdout), text(&second.stdout));
    let file = |out: &str, key: &str| -> PathBuf {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no {key} line:\n{out}"))
    };
    assert!(first.contains("built in"), "{first}");
    assert!(second.contains("from the cache"), "{second}");
    assert!(file(&first, "initrd").is_file(), "{first}");
    assert_eq!(file(&first, "initrd"), file(&second, "initrd"));
    assert!(file(&first, "kernel").is_file(), "{first}");
}

#[test]
fn assets_fetch_then_list_shows_the_entry_and_purge_all_empties_the_cache() {
    let cache = tempfile::tempdir().expect("cache");
    let env = [("KENNEL_CACHE_DIR", path_str(cache.path()))];

    let fetched = kennel(&["assets", "fetch", "examples/assets"], &env);
    let listed = kennel(&["assets", "list"], &env);
    let purged = kennel(&["assets", "purge", "--all"], &env);
    let after = kennel(&["assets", "list"], &env);

    assert_eq!(fetched.status.code(), Some(0), "{}", text(&fetched.stderr));
    let listed = text(&listed.stdout);
    assert!(listed.contains("disk.img.gz"), "{listed}");
    assert!(!listed.starts_with("0 entries"), "{listed}");
    assert_eq!(purged.status.code(), Some(0), "{}", text(&purged.stderr));
    assert!(
        text(&purged.stdout).contains("removed"),
        "{}",
        text(&purged.stdout)
    );
    assert!(
        text(&after.stdout).starts_with("0 entries"),
        "{}",
        text(&after.stdout)
    );
}

/// `report.html` as a browser sees it once its scripts ran, or None (a skip)
/// without Chromium.
fn rendered(page: &Path) -> Option<String> {
    let browser = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| kennel_config::which(b).is_some());
    let Some(browser) = browser else {
        kennel_testkit::missing("chromium (apt-get install chromium)");
        return None;
    };
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output_within(RUN_BOUND);
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some(text(&out.stdout))
}

#[test]
fn report_html_of_a_real_job_shows_the_summary_a_failures_reason_and_its_log_links() {
    let job = job().dir();
    let Some(dom) = rendered(&job.join("report.html")) else {
        return;
    };

    // The summary: the counts of each outcome.
    for (count, status) in [(1, "PASS"), (1, "FAIL"), (1, "SKIP"), (0, "ERROR")] {
        assert!(
            dom.contains(&format!("<b>{count}</b>{status}")),
            "no {count} {status} in the summary:\n{dom}"
        );
    }
    // The failure's reason, as results.json has it.
    let results = read_json(&job.join("results.json"));
    let failed = results["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|t| t["status"] == "FAIL")
        .expect("a FAIL");
    assert!(dom.contains(FAILING), "{dom}");
    assert!(dom.contains("which does not contain"), "{dom}");
    // Its log link leads to the log on disk.
    let logdir = failed["logdir"].as_str().expect("logdir");
    let link = format!("href=\"{logdir}/test.log\"");
    assert!(dom.contains(&link), "no {link}:\n{dom}");
    assert!(job.join(logdir).join("test.log").is_file());
}

/// `kennel list | head -1`: the reader goes away after one line, and kennel
/// ends quietly by SIGPIPE, as `ls` does, rather than panicking.
#[test]
fn list_into_a_pipe_closed_early_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' list examples tests/functional | head -1 >/dev/null",
            env!("CARGO_BIN_EXE_kennel")
        ))
        .current_dir(workspace())
        .output()
        .expect("run sh");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "kennel panicked: {stderr}");
    // Run without the pipe, kennel lists more than one line, so the pipe
    // really closed under it.
    let whole = kennel(&["list", "examples", "tests/functional"], &[]);
    assert!(text(&whole.stdout).lines().count() > 1);
    assert_eq!(whole.status.signal(), None);
}

/// Issue 27, item 3: doctor names every architecture's guest pieces and the
/// agent, where it found them.
#[test]
fn doctor_lists_every_architectures_guest_pieces_and_the_agent() {
    let pieces = tempfile::tempdir().expect("guest dir");
    for arch in ["aarch64", "ppc64"] {
        let dir = pieces.path().join(arch);
        std::fs::create_dir_all(&dir).expect("arch dir");
        std::fs::write(dir.join("vmlinuz"), b"kernel").expect("vmlinuz");
        std::fs::write(dir.join("busybox"), b"busybox").expect("busybox");
    }

    let out = kennel(
        &["doctor"],
        &[("KENNEL_GUEST_DIR", path_str(pieces.path()))],
    );

    let stdout = text(&out.stdout);
    for arch in ["aarch64", "ppc64"] {
        let line = format!("  {arch:<8} {}", pieces.path().join(arch).display());
        assert!(stdout.contains(&line), "no `{line}` in:\n{stdout}");
    }
    let agent = Path::new(env!("CARGO_BIN_EXE_kennel")).with_file_name("kennel-agent");
    assert!(
        stdout.contains(&format!("  agent    {}", agent.display())),
        "{stdout}"
    );
}
