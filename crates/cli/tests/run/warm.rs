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
