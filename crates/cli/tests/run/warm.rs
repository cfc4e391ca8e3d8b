//! Warm starts end to end: guest tests start from one template, built once
//! by the job's parallel test processes; `--cold` and tests that read the
//! boot start cold; results.json says which, and from which template.

use crate::harness::*;

/// A guest test that finds `/tmp/mark` absent, then writes it.
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
fn guest_tests_start_warm_from_one_template_built_once_and_see_only_their_own_files() {
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

#[test]
fn cold_flag_boots_every_machine() {
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[("a.toml", &writes_mark("a"))]);

    let run = kennel(&[path_str(dir.path()), "--cold"], &in_cache(&cache));

    let test = run.test("a");
    assert_eq!(test["status"], "PASS", "{test}");
    assert_eq!(test["start"], "cold", "{test}");
    assert!(test.get("template").is_none(), "{test}");
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

    let test = run.test("boot");
    assert_eq!(test["status"], "PASS", "{test}");
    assert_eq!(test["start"], "cold", "{test}");
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
