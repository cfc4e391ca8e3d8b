//! `kennel bisect` end to end (issue 29): a git repository made here, whose test
//! is a script failing at random, 20% of runs before the breaking commit and 90%
//! from it on (seeded: `BISECT_SEED` and a counter file make each run's draw).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Commits in the made-up history: 0 is the good end, the last the bad one.
const COMMITS: usize = 12;
/// The commit that raises the failure rate.
const BREAKING: usize = 7;
/// A commit that does not build (skipped).
const UNBUILDABLE: usize = 3;
/// Long enough for one bisect on a loaded machine; every wait is bounded by it.
const LIMIT: Duration = Duration::from_secs(240);

/// The test: draws a number from the seed and the run count, fails below `RATE`%.
/// Shell builtins only (a hash in shell arithmetic), so that a run costs one
/// process.
fn flaky_script(rate: u32) -> String {
    format!(
        r#"#!/bin/sh
RATE={rate}
n=0
[ -f "$BISECT_COUNTER" ] && read -r n < "$BISECT_COUNTER"
echo $((n + 1)) > "$BISECT_COUNTER"
x=$(( (BISECT_SEED * 2654435761 + n * 40503 + 12345) & 4294967295 ))
x=$(( ((x ^ (x >> 15)) * 2246822519) & 4294967295 ))
x=$(( ((x ^ (x >> 13)) * 3266489917) & 4294967295 ))
x=$(( x ^ (x >> 16) ))
if [ $((x % 100)) -lt "$RATE" ]; then echo "failed, draw $x"; exit 1; fi
"#
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A repository of [`COMMITS`] commits, `main` checked out; the hashes, oldest first.
fn make_repo(dir: &Path, rates: (u32, u32)) -> Vec<String> {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "kennel"]);
    git(dir, &["config", "user.email", "kennel@example.invalid"]);
    git(dir, &["config", "commit.gpgsign", "false"]);
    let script = dir.join("tests/flaky.sh");
    std::fs::create_dir_all(script.parent().expect("folder")).expect("mkdir");
    let mut commits = Vec::new();
    for i in 0..COMMITS {
        let rate = if i < BREAKING { rates.0 } else { rates.1 };
        std::fs::write(&script, flaky_script(rate)).expect("write the test");
        let mut perms = std::fs::metadata(&script).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&script, perms).expect("chmod");
        let build = if i == UNBUILDABLE {
            "echo broken build >&2; exit 1\n"
        } else {
            "exit 0\n"
        };
        std::fs::write(dir.join("build.sh"), build).expect("write build.sh");
        std::fs::write(dir.join("step.txt"), format!("step {i}\n")).expect("write step");
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", &format!("step {i}")]);
        commits.push(git(dir, &["rev-parse", "HEAD"]));
    }
    commits
}

/// One made-up repository with its seed, counter and results folder.
struct Case {
    root: tempfile::TempDir,
    seed: u32,
    commits: Vec<String>,
}

impl Case {
    fn new(seed: u32, rates: (u32, u32)) -> Case {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(root.path().join("repo")).expect("mkdir");
        let commits = make_repo(&root.path().join("repo"), rates);
        Case {
            root,
            seed,
            commits,
        }
    }

    fn repo(&self) -> PathBuf {
        self.root.path().join("repo")
    }

    fn counter(&self) -> PathBuf {
        self.root.path().join("counter")
    }

    fn state(&self) -> Option<Value> {
        let text = std::fs::read(self.repo().join(".git/kennel-bisect.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// `kennel bisect ARGS` in the repository, started.
    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_kennel"))
            .args(args)
            .current_dir(self.repo())
            .env("BISECT_SEED", self.seed.to_string())
            .env("BISECT_COUNTER", self.counter())
            .env("KENNEL_RESULTS_DIR", self.root.path().join("results"))
            .env_remove("QEMU_TEST_QEMU_BINARY")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start kennel bisect")
    }

    /// The bisect of the whole history, to its end (at most [`LIMIT`]).
    fn bisect(&self, extra: &[&str]) -> Output {
        let (good, bad) = (&self.commits[0], &self.commits[COMMITS - 1]);
        let mut args = vec![
            "bisect",
            "--good",
            good,
            "--bad",
            bad,
            "--build",
            "sh build.sh",
        ];
        args.extend(extra);
        args.push("tests/flaky.sh");
        finish(self.spawn(&args))
    }

    /// Runs the bisect made, and the script's own count of them.
    fn runs(&self) -> (u64, u64) {
        let state = self.state().expect("state file");
        let count = |t: &Value| t["runs"].as_u64().expect("runs");
        let between: u64 = state["commits"]
            .as_array()
            .expect("commits")
            .iter()
            .map(|c| count(&c["tally"]))
            .sum();
        let made = count(&state["good_runs"]) + count(&state["bad_runs"]) + between;
        let counted = std::fs::read_to_string(self.counter())
            .expect("counter")
            .trim()
            .parse()
            .expect("a number");
        (made, counted)
    }

    fn found(&self) -> Option<String> {
        self.state()?["outcome"]["commit"]
            .as_str()
            .map(str::to_owned)
    }
}

/// Wait for `child` at most [`LIMIT`] (killing it past that), with its output.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("kill");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// User and system time of every child waited for (and theirs), in seconds.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn ok(out: &Output) -> &Output {
    assert!(
        out.status.success(),
        "{}\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

#[test]
fn bisect_finds_the_breaking_commit_of_a_flaky_test_in_19_of_20_seeds() {
    let seeds: Vec<u32> = (1..=20).collect();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let results: Vec<(u32, bool, u64, String)> = std::thread::scope(|s| {
        let chunks: Vec<_> = seeds
            .chunks(seeds.len().div_ceil(threads))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|&seed| {
                            let case = Case::new(seed, (20, 90));
                            let out = case.bisect(&[]);
                            let right = out.status.success()
                                && case.found().as_deref() == Some(&case.commits[BREAKING]);
                            let head = git(&case.repo(), &["symbolic-ref", "--short", "HEAD"]);
                            assert_eq!(head, "main", "the original checkout is back");
                            let (made, counted) = case.runs();
                            assert_eq!(made, counted, "every run the script saw is counted");
                            (seed, right, made, text(&out.stdout))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks
            .into_iter()
            .flat_map(|h| h.join().expect("a bisect thread"))
            .collect()
    });

    let right = results.iter().filter(|r| r.1).count();
    let runs: Vec<u64> = results.iter().map(|r| r.2).collect();
    let mean = runs.iter().sum::<u64>() as f64 / runs.len() as f64;
    let most = runs.iter().max().copied().unwrap_or(0);
    eprintln!(
        "bisect: {right} of {} found the breaking commit; runs per bisect: {mean:.1} on average, \
         at most {most} (40 of them at the ends); CPU time of all the bisects: {:.1} s",
        results.len(),
        children_cpu_seconds()
    );
    for (seed, found, _, stdout) in &results {
        if !found {
            eprintln!("seed {seed} missed:\n{stdout}");
        }
    }
    assert!(right >= 19, "{right} of 20");
    // 40 runs at the ends, at most 40 at each of ~4 commits: far fewer in practice.
    assert!(most <= 40 + 40 * 5, "{most} runs");
}

#[test]
fn a_bisect_killed_mid_way_resumes_to_the_right_answer() {
    let case = Case::new(5, (20, 90));
    let (good, bad) = (case.commits[0].clone(), case.commits[COMMITS - 1].clone());
    let mut child = case.spawn(&[
        "bisect",
        "--good",
        &good,
        "--bad",
        &bad,
        "--build",
        "sh build.sh",
        "tests/flaky.sh",
    ]);
    // Kill it once it has runs at a commit between the ends.
    let deadline = Instant::now() + LIMIT;
    let mid_way = |s: &Value| {
        s["commits"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["tally"]["runs"].as_u64() > Some(0)))
    };
    while !case.state().is_some_and(|s| mid_way(&s)) {
        assert!(
            Instant::now() < deadline,
            "no commit between the ends was run"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the bisect ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    let status: ExitStatus = child.wait().expect("wait");
    assert!(!status.success());
    let before = case.state().expect("state");
    assert!(before["outcome"].is_null(), "killed before the end");

    let out = finish(case.spawn(&["bisect", "--resume"]));

    ok(&out);
    assert_eq!(
        case.found().as_deref(),
        Some(case.commits[BREAKING].as_str())
    );
    let (made, counted) = case.runs();
    // Nothing was measured again: at most the run the kill cut short is not counted.
    assert!(
        counted - made <= 1,
        "{made} runs counted, the script ran {counted}"
    );
    assert_eq!(
        case.state().expect("state")["good_runs"],
        before["good_runs"],
        "the ends were not measured again"
    );
    assert!(text(&out.stdout).contains(&format!("first bad commit: {}", case.commits[BREAKING])));
    assert_eq!(
        git(&case.repo(), &["symbolic-ref", "--short", "HEAD"]),
        "main"
    );

    ok(&finish(case.spawn(&["bisect", "--reset"])));
    assert!(case.state().is_none(), "--reset removes the state");
}

#[test]
fn ends_that_fail_alike_stop_the_bisect_and_say_so() {
    let case = Case::new(3, (30, 30));

    let out = case.bisect(&["--end-runs", "10"]);

    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("not clearly apart"), "{stderr}");
    assert!(
        stderr.contains("of 10 runs failed at the good end"),
        "{stderr}"
    );
    assert_eq!(
        git(&case.repo(), &["symbolic-ref", "--short", "HEAD"]),
        "main"
    );
}

#[test]
fn another_bisect_is_refused_while_one_is_in_progress() {
    let case = Case::new(4, (0, 100));
    ok(&case.bisect(&["--end-runs", "5"]));

    let out = finish(case.spawn(&[
        "bisect",
        "--good",
        &case.commits[1],
        "--bad",
        &case.commits[5],
        "tests/flaky.sh",
    ]));

    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("another bisect is in progress"),
        "{}",
        text(&out.stderr)
    );
}
