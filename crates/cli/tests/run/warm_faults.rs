//! Warm starts under faults of the host (issue 28): a test process killed
//! while it builds a template leaves no template and no lock behind; two
//! jobs share one cache and one results folder at once.

use std::process::{Child, Stdio};

use crate::harness::*;

/// A guest test that passes.
fn guest_test(name: &str) -> String {
    format!(
        "name = \"{name}\"\ntags = [\"arch:x86_64\"]\ntimeout = \"300s\"\n[machine]\nguest = \"busybox\"\n\
         [[step]]\nrun = \"echo {name}\"\nstdout = \"{name}\"\n"
    )
}

/// `kennel run PATH --results-dir RESULTS` with the cache `cache`, marked with `marker`.
fn spawn_kennel(path: &Path, results: &Path, cache: &Path, marker: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kennel"))
        .arg("run")
        .arg(path)
        .arg("--results-dir")
        .arg(results)
        .current_dir(workspace())
        .env("KENNEL_TEST_MARKER", marker)
        .env("KENNEL_CACHE_DIR", cache)
        .env_remove("QEMU_TEST_QEMU_BINARY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kennel")
}

/// The entries of the warm cache `<cache>/warm`.
fn warm_entries(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("warm"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// `results.json` of the job `job` folder.
fn results_of(job: &Path) -> Value {
    let text = std::fs::read_to_string(job.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn a_test_process_killed_while_building_a_template_leaves_no_template_and_no_lock() {
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[("guest.toml", &guest_test("guest"))]);
    let results = tempfile::tempdir().expect("results");
    let marker = unique_marker();
    let mut job = spawn_kennel(dir.path(), results.path(), cache.path(), &marker);

    // Wait for the template under construction, then kill its builder.
    let end = Instant::now() + Duration::from_secs(300);
    let building = loop {
        if let Some(name) = warm_entries(cache.path())
            .into_iter()
            .find(|n| n.contains(".tmp-"))
        {
            break name;
        }
        assert!(
            Instant::now() < end,
            "no template was built: {:?}",
            warm_entries(cache.path())
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let builder = building.rsplit("tmp-").next().expect("pid").to_string();
    let killed = Command::new("kill")
        .args(["-KILL", &builder])
        .status()
        .expect("kill");
    let out = job.wait().expect("wait");

    assert!(killed.success());
    assert_eq!(out.code(), Some(1));
    assert!(survivors_after(&marker, Duration::from_secs(5)).is_empty());
    let first = results_of(&results.path().join("latest"));
    assert_eq!(first["tests"][0]["status"], "ERROR", "{first}");
    let id = building.split('.').next().expect("id").to_string();
    assert!(
        !warm_entries(cache.path()).contains(&id),
        "{:?}",
        warm_entries(cache.path())
    );

    // The next job takes the lock at once, builds the template whole and starts warm.
    let again = kennel(
        &[path_str(dir.path())],
        &[("KENNEL_CACHE_DIR", path_str(cache.path()))],
    );
    let test = again.test("guest");
    assert_eq!(test["status"], "PASS", "{test}");
    assert_eq!(test["start"], "warm", "{test}");
    assert!(
        warm_entries(cache.path()).contains(&id),
        "{:?}",
        warm_entries(cache.path())
    );
}

#[test]
fn two_jobs_sharing_one_cache_and_one_results_folder_both_finish_whole() {
    let cache = kennel_testkit::private_cache();
    let one = test_dir(&[("a.toml", &guest_test("a")), ("b.toml", &guest_test("b"))]);
    let two = test_dir(&[("c.toml", &guest_test("c")), ("d.toml", &guest_test("d"))]);
    let results = tempfile::tempdir().expect("results");
    let marker = unique_marker();

    let first = spawn_kennel(one.path(), results.path(), cache.path(), &marker);
    let second = spawn_kennel(two.path(), results.path(), cache.path(), &marker);
    let first = first.wait_with_output().expect("first job");
    let second = second.wait_with_output().expect("second job");

    let said = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(first.status.code(), Some(0), "{}", said(&first));
    assert_eq!(second.status.code(), Some(0), "{}", said(&second));
    assert!(survivors_after(&marker, Duration::from_secs(5)).is_empty());
    let jobs: Vec<PathBuf> = std::fs::read_dir(results.path())
        .expect("results")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("job-"))
        })
        .collect();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let mut names: Vec<String> = Vec::new();
    for job in &jobs {
        for test in results_of(job)["tests"].as_array().expect("tests") {
            assert_eq!(test["status"], "PASS", "{test}");
            names.push(test["name"].as_str().expect("name").to_string());
        }
    }
    names.sort();
    assert_eq!(names, ["a", "b", "c", "d"]);
    let latest = std::fs::canonicalize(results.path().join("latest")).expect("latest");
    assert!(jobs
        .iter()
        .any(|j| std::fs::canonicalize(j).ok() == Some(latest.clone())));
    let templates: Vec<String> = warm_entries(cache.path())
        .into_iter()
        .filter(|n| !n.contains('.'))
        .collect();
    assert_eq!(
        templates.len(),
        1,
        "one template for the four machines: {templates:?}"
    );
}

/// A hash of the contents of `path` (its use time is its mtime, so that
/// changes when the template serves a test: the bytes must not).
fn digest(path: &Path) -> u64 {
    use std::hash::Hasher;
    use std::io::Read;
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            return hasher.finish();
        }
        hasher.write(&buf[..n]);
    }
}

/// The command line of process `pid`, its words joined by spaces.
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn a_test_process_killed_while_restoring_a_template_leaves_it_whole_and_unlocked() {
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[("guest.toml", &guest_test("guest"))]);
    let in_cache = [("KENNEL_CACHE_DIR", path_str(cache.path()))];
    let built = kennel(&[path_str(dir.path())], &in_cache);
    let id = built.test("guest")["template"]
        .as_str()
        .expect("a template")
        .to_string();
    let state = cache.path().join("warm").join(&id).join("state");
    let before = digest(&state);

    // A second job: kill its test process once its QEMU is restoring (`-incoming`).
    let results = tempfile::tempdir().expect("results");
    let marker = unique_marker();
    let mut job = spawn_kennel(dir.path(), results.path(), cache.path(), &marker);
    let end = Instant::now() + Duration::from_secs(300);
    let test_process = loop {
        let pids = processes_with(&marker);
        let restoring = pids.iter().any(|p| cmdline(*p).contains("-incoming"));
        let test = pids
            .into_iter()
            .find(|p| cmdline(*p).contains("__run-test"));
        if let (true, Some(test)) = (restoring, test) {
            break test;
        }
        assert!(Instant::now() < end, "no restore seen");
        std::thread::sleep(Duration::from_millis(5));
    };
    let killed = Command::new("kill")
        .args(["-KILL", &test_process.to_string()])
        .status()
        .expect("kill");
    job.wait().expect("wait");

    assert!(killed.success());
    assert!(survivors_after(&marker, Duration::from_secs(5)).is_empty());
    assert_eq!(digest(&state), before, "the template's state changed");
    let lock = cache.path().join("warm").join(format!("{id}.lock"));
    if kennel_testkit::need_command("flock", "util-linux").is_some() {
        let free = Command::new("flock")
            .args(["-n"])
            .arg(&lock)
            .arg("true")
            .status();
        assert!(
            free.is_ok_and(|s| s.success()),
            "{} is held",
            lock.display()
        );
    }
    let again = kennel(&[path_str(dir.path())], &in_cache);
    let test = again.test("guest");
    assert_eq!(test["status"], "PASS", "{test}");
    assert_eq!(test["template"], id.as_str(), "{test}");
}
