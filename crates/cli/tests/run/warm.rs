//! Warm starts end to end: guest tests start from one template, built once
//! by the job's parallel test processes; `--cold` and tests that read the
//! boot start cold; results.json says which, and from which template.

use crate::harness::*;

/// A guest test that finds `/tmp/mark` absent, then writes it (in guest
/// RAM: `crates/vm/tests/warm.rs` checks what machines of one template share,
/// its saved state).
fn writes_mark(name: &str) -> String {
    format!(
        "name = \"{name}\"\ntags = [\"arch:x86_64\"]\ntimeout = \"120s\"\n[machine]\nguest = \"busybox\"\n\
         [[step]]\nrun = \"test ! -e /tmp/mark && echo {name} > /tmp/mark\"\n"
    )
}

/// `KENNEL_CACHE_DIR` pointing at `cache`.
fn in_cache(cache: &tempfile::TempDir) -> [(&'static str, &str); 1] {
    [("KENNEL_CACHE_DIR", path_str(cache.path()))]
}

/// Issue 26: a template keeps its memory in a file restores map
/// copy-on-write; where that cannot work (a QEMU without `x-ignore-shared`),
/// its memory stays in the state and restores load it through the stream, as
/// `KENNEL_WARM_STREAM` forces. Both ways the tests start warm, each way from
/// a template of its own, and test.log says which way and why.
#[test]
fn a_template_keeps_its_memory_in_a_file_unless_warm_stream_keeps_it_in_the_state() {
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[("a.toml", &writes_mark("a"))]);
    let mapped = kennel(&[path_str(dir.path())], &in_cache(&cache));
    let stream_env = [
        ("KENNEL_CACHE_DIR", path_str(cache.path())),
        ("KENNEL_WARM_STREAM", "1"),
    ];
    let streamed = kennel(&[path_str(dir.path())], &stream_env);
    let streamed_again = kennel(&[path_str(dir.path())], &stream_env);

    for run in [&mapped, &streamed, &streamed_again] {
        assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
        assert_eq!(run.test("a")["start"], "warm", "{}", test_log(run, "a"));
    }
    let mapped_template = mapped.test("a")["template"].clone();
    let stream_template = streamed.test("a")["template"].clone();
    assert_ne!(mapped_template, stream_template);
    assert_eq!(streamed_again.test("a")["template"], stream_template);
    let warm = cache.path().join("warm");
    let folder = |t: &serde_json::Value| warm.join(t.as_str().expect("template id"));
    assert!(folder(&mapped_template).join("ram").is_file());
    assert!(!folder(&stream_template).join("ram").exists());
    let log = test_log(&mapped, "a");
    assert!(log.contains("memory mapped copy-on-write from"), "{log}");
    for run in [&streamed, &streamed_again] {
        let log = test_log(run, "a");
        let line = "memory loaded through the migration stream: KENNEL_WARM_STREAM is set";
        assert!(log.contains(line), "no `{line}` in test.log:\n{log}");
    }
}

fn template_builds(run: &Run) -> usize {
    let tests = run.job_dir().join("tests");
    std::fs::read_dir(tests)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| std::fs::read_to_string(d.path().join("test.log")).ok())
        .filter(|log| log.contains("built (booted, saved)"))
        .count()
}

#[test]
fn guest_tests_start_warm_from_one_template_built_once() {
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[
        ("a.toml", &writes_mark("a")),
        ("b.toml", &writes_mark("b")),
        ("c.toml", &writes_mark("c")),
    ]);

    let run = kennel(&[path_str(dir.path()), "-j", "3"], &in_cache(&cache));

    assert_eq!(run.statuses(), ["PASS", "PASS", "PASS"], "{}", run.stdout);
    let template = run.test("a")["template"].clone();
    for name in ["a", "b", "c"] {
        let test = run.test(name);
        assert_eq!(test["start"], "warm", "{test}");
        assert_eq!(test["template"], template, "{test}");
    }
    assert_eq!(template_builds(&run), 1);
    assert!(run.stdout.contains("(warm: "), "{}", run.stdout);
}

/// The `test.log` of the test named `name`.
fn test_log(run: &Run, name: &str) -> String {
    let test = run.test(name);
    let logdir = run.job_dir().join(test["logdir"].as_str().expect("logdir"));
    std::fs::read_to_string(logdir.join("test.log")).unwrap_or_default()
}

/// `start` of the test's `start.json`, the record both front ends write.
fn start_json(run: &Run, name: &str) -> serde_json::Value {
    let test = run.test(name);
    let logdir = run.job_dir().join(test["logdir"].as_str().expect("logdir"));
    let text = std::fs::read_to_string(logdir.join("start.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default()["start"].clone()
}

/// The test `name` passed, booted (results.json and start.json say `cold`, no
/// template) and its `test.log` gives `why` for each machine of `machines`.
fn booted_because(run: &Run, name: &str, machines: &[&str], why: &str) {
    let test = run.test(name);
    let log = test_log(run, name);
    assert_eq!(test["status"], "PASS", "{test}\n{log}");
    assert_eq!(test["start"], "cold", "{test}");
    assert_eq!(start_json(run, name), "cold", "{test}");
    assert!(test.get("template").is_none(), "{test}");
    for machine in machines {
        let line = format!("machine `{machine}` boots (cold): {why}");
        assert!(log.contains(&line), "no `{line}` in test.log:\n{log}");
    }
    assert!(!log.contains("template "), "{log}");
}

/// Two machines of the built-in guest, each running a command.
const TWO_MACHINES: &str = "name = \"two\"\ntags = [\"arch:x86_64\"]\ntimeout = \"120s\"\n\
     [machines.a]\nguest = \"busybox\"\n[machines.b]\nguest = \"busybox\"\n\
     [[step]]\non = \"a\"\nrun = \"true\"\n[[step]]\non = \"b\"\nrun = \"true\"\n";

#[test]
fn cold_flag_boots_every_machine() {
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[("a.toml", &writes_mark("a")), ("two.toml", TWO_MACHINES)]);

    let run = kennel(&[path_str(dir.path()), "--cold"], &in_cache(&cache));

    booted_because(&run, "a", &["main"], "--cold (KENNEL_COLD)");
    booted_because(&run, "two", &["a", "b"], "--cold (KENNEL_COLD)");
}

/// A test of one built-in guest machine whose `[machine]` table adds
/// `machine` and whose steps are `steps`.
fn guest_test(name: &str, machine: &str, steps: &str) -> String {
    format!(
        "name = \"{name}\"\ntags = [\"arch:x86_64\"]\ntimeout = \"120s\"\n\
         [machine]\nguest = \"busybox\"\n{machine}\n{steps}"
    )
}

/// Issue 30: `warm = false`, `launch = false`, `incoming` and `expect_exit`
/// were only checked as parsed values; each makes its machine boot, and
/// test.log says which.
#[test]
fn each_reason_a_toml_test_gives_boots_its_machine_and_test_log_names_it() {
    let cache = kennel_testkit::private_cache();
    let run_true = "[[step]]\nrun = \"true\"\n";
    // A machine type QEMU does not know: QEMU exits at once with 1.
    let exits = "type = \"no-such-machine\"\nexpect_exit = { code = 1 }";
    let dir = test_dir(&[
        ("asked.toml", &guest_test("asked", "warm = false", run_true)),
        (
            "later.toml",
            &guest_test(
                "later",
                "launch = false",
                &format!("[[step]]\nlaunch = true\n{run_true}"),
            ),
        ),
        (
            "incoming.toml",
            &guest_test("incoming", &format!("incoming = \"defer\"\n{exits}"), ""),
        ),
        ("exits.toml", &guest_test("exits", exits, "")),
    ]);

    let run = kennel(&[path_str(dir.path()), "-j", "2"], &in_cache(&cache));

    booted_because(
        &run,
        "asked",
        &["main"],
        "the test asked with `warm = false`",
    );
    booted_because(
        &run,
        "later",
        &["main"],
        "`launch = false`: the test starts it itself",
    );
    booted_because(
        &run,
        "incoming",
        &["main"],
        "`incoming`: it waits for an incoming migration",
    );
    booted_because(
        &run,
        "exits",
        &["main"],
        "`expect_exit`: the test waits for it to exit",
    );
}

/// Issue 30: a machine that started warm under `--gdb` or `--wrapper` passed
/// the debugging tests, which only read gdb's output: QEMU must run from its
/// first instruction under the tool.
#[test]
fn gdb_and_wrapper_boot_every_machine_and_test_log_says_why() {
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[("a.toml", &writes_mark("a"))]);

    let gdb = kennel(&[path_str(dir.path()), "--gdb"], &in_cache(&cache));
    let wrapped = kennel(
        &[path_str(dir.path()), "--wrapper", "env"],
        &in_cache(&cache),
    );

    booted_because(
        &gdb,
        "a",
        &["main"],
        "--gdb: QEMU runs under gdb from its first instruction",
    );
    booted_because(
        &wrapped,
        "a",
        &["main"],
        "--wrapper: QEMU runs under the wrapper from its first instruction",
    );
}

#[test]
fn a_test_reading_the_boot_console_boots_its_machine() {
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[(
        "boot.toml",
        "name = \"boot\"\ntags = [\"arch:x86_64\"]\ntimeout = \"120s\"\n[machine]\nguest = \"busybox\"\n\
         [[step]]\nconsole = \"kennel-guest: ready\"\n[[step]]\nrun = \"true\"\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &in_cache(&cache));

    booted_because(&run, "boot", &["main"], "a `console` check reads its boot");
}

/// Issue 14: a Rust test starts warm through the machine core; under
/// `kennel run --cargo` its entry in results.json says so, with the template
/// its `test.log` names and its machine's accelerator, as a TOML test's does,
/// and the terminal and report.html show it.
#[test]
fn a_rust_test_under_kennel_run_records_its_warm_start_and_template() {
    let cache = kennel_testkit::private_cache();

    // `-t boot` selects one guest test of kennel-examples: `guest_sees_all_its_cpus`.
    let run = kennel(
        &["--cargo", "--package", "kennel-examples", "-t", "boot"],
        &in_cache(&cache),
    );

    let test = run.test("kennel-examples::guest_sees_all_its_cpus");
    assert_eq!(test["status"], "PASS", "{test}\n{}", run.stdout);
    assert_eq!(test["start"], "warm", "{test}");
    let template = test["template"].as_str().expect("a template id");
    let logdir = run.job_dir().join(test["logdir"].as_str().expect("logdir"));
    let log = std::fs::read_to_string(logdir.join("test.log")).expect("test.log");
    assert!(log.contains(&format!("template {template} ")), "{log}");
    assert!(test["accel"]["main"].is_string(), "{test}");
    assert!(
        run.stdout.contains(&format!("(warm: {template})")),
        "{}",
        run.stdout
    );
    let html = std::fs::read_to_string(run.job_dir().join("report.html")).expect("report.html");
    assert!(html.contains(&format!("warm (template {template})")));
}

/// Issue 30: the job's `--cold`, `--gdb` and `--wrapper` reach a Rust test's
/// machines as a TOML test's: each boots, and its start.json and test.log say
/// why.
#[test]
fn cold_gdb_and_wrapper_boot_a_rust_tests_machine_and_test_log_says_why() {
    let cache = kennel_testkit::private_cache();
    let name = "kennel-examples::guest_sees_all_its_cpus";
    let rust = ["--cargo", "--package", "kennel-examples", "-t", "boot"];
    for (flags, why) in [
        (&["--cold"][..], "--cold (KENNEL_COLD)"),
        (
            &["--gdb"][..],
            "--gdb: QEMU runs under gdb from its first instruction",
        ),
        (
            &["--wrapper", "env"][..],
            "--wrapper: QEMU runs under the wrapper from its first instruction",
        ),
    ] {
        let args: Vec<&str> = rust.iter().chain(flags).copied().collect();
        let run = kennel(&args, &in_cache(&cache));
        booted_because(&run, name, &["main"], why);
    }
}

/// A made-up template `id` in `cache` of `bytes` bytes, last used an hour ago.
fn old_template(cache: &std::path::Path, id: &str, bytes: usize) -> std::path::PathBuf {
    let dir = cache.join("warm").join(id);
    std::fs::create_dir_all(&dir).expect("template folder");
    let state = dir.join("state");
    std::fs::write(&state, vec![0u8; bytes]).expect("state");
    let file = std::fs::File::options()
        .append(true)
        .open(&state)
        .expect("state");
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .expect("age it");
    dir
}

/// Issue 30: `warm_cache_size` of kennel.toml reaching the test processes
/// (through the job's test settings) was untested. With the default bound
/// (2 GiB) an old 4 MiB template stays beside the new one; with 2M, the
/// test process that builds the new template drops it.
#[test]
fn kennel_toml_warm_cache_size_bounds_the_cache_a_test_process_fills() {
    let cache = kennel_testkit::private_cache();
    let old = old_template(cache.path(), "0123456789abcdef", 4 << 20);
    let dir = test_dir(&[
        ("kennel.toml", "warm_cache_size = \"2M\"\n"),
        ("a.toml", &writes_mark("a")),
    ]);

    let results = tempfile::tempdir().expect("results");

    // kennel.toml is read from the working folder.
    kennel_in(
        dir.path(),
        &["run", "a.toml", "--results-dir", path_str(results.path())],
        &cache,
    );

    let text =
        std::fs::read_to_string(results.path().join("latest/results.json")).expect("results.json");
    let results: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let test = &results["tests"][0];
    assert_eq!(test["start"], "warm", "{test}");
    let template = test["template"].as_str().expect("template");
    assert!(cache
        .path()
        .join("warm")
        .join(template)
        .join("state")
        .is_file());
    assert!(
        !old.exists(),
        "the old template was kept under warm_cache_size = 2M"
    );
}

/// `kennel ARGS` in the folder `dir` on the cache `cache`: its stdout.
fn kennel_in(dir: &std::path::Path, args: &[&str], cache: &tempfile::TempDir) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(args)
        .current_dir(dir)
        .env("KENNEL_CACHE_DIR", cache.path())
        .env_remove("KENNEL_WARM_CACHE_SIZE")
        .output()
        .expect("run kennel");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kennel {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Issue 30: `kennel assets list` and `purge` of saved states were untested.
/// `list` shows a template a run built and an old one; `purge --max-size`
/// keeps the one just used; `purge --all` removes both.
#[test]
fn assets_list_shows_saved_states_and_purge_removes_them() {
    let cache = kennel_testkit::private_cache();
    let old = old_template(cache.path(), "0123456789abcdef", 1 << 20);
    let dir = test_dir(&[("a.toml", &writes_mark("a"))]);
    let run = kennel(&[path_str(dir.path())], &in_cache(&cache));
    let template = run.test("a")["template"]
        .as_str()
        .expect("a warm start")
        .to_owned();
    let new = cache.path().join("warm").join(&template);

    let listed = kennel_in(dir.path(), &["assets", "list"], &cache);
    let bounded = kennel_in(dir.path(), &["assets", "purge", "--max-size", "1"], &cache);
    let left_after_bound = (old.exists(), new.exists());
    let all = kennel_in(dir.path(), &["assets", "purge", "--all"], &cache);
    let listed_after = kennel_in(dir.path(), &["assets", "list"], &cache);

    assert!(listed.contains(&format!("template {template}")), "{listed}");
    assert!(listed.contains("template 0123456789abcdef"), "{listed}");
    assert!(listed.contains("2 saved machine states"), "{listed}");
    assert!(
        bounded.contains("removed 1 saved machine states"),
        "{bounded}"
    );
    assert_eq!(left_after_bound, (false, true), "{bounded}");
    assert!(all.contains("removed 1 saved machine states"), "{all}");
    assert!(!new.exists(), "{all}");
    assert!(
        listed_after.contains("0 saved machine states"),
        "{listed_after}"
    );
}
