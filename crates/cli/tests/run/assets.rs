//! Assets, executables, TAP, retries, shards, big output, kennel.toml, Rust tests.

use crate::harness::*;

#[test]
fn asset_example_is_verified_uncompressed_and_used() {
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);

    let run = kennel(&["examples/assets"], &[(k, v.as_str())]);

    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.statuses(), ["PASS"]);
}

/// A test declaring an asset behind a URL that is never fetched in these tests.
const URL_ASSET: &str = r#"
name = "needs a download"
[assets.image]
url = "http://127.0.0.1:9/image.raw"
sha256 = "de0ce093c3d099f6f38de02602ff7cb7148f70bfdd43c720c766468044ba14a1"
[machine]
type = "none"
args = ["-nodefaults", "-S", "-blockdev", "driver=file,filename=${asset:image},node-name=d"]
[[step]]
running = true
"#;

#[test]
fn offline_run_with_an_uncached_asset_skips_and_says_how_to_fetch_it() {
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);
    let dir = test_dir(&[("needs.toml", URL_ASSET)]);

    let run = kennel(&[path_str(dir.path()), "--offline"], &[(k, v.as_str())]);

    let test = run.test("needs a download");
    assert_eq!(test["status"], "SKIP", "{test}");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("kennel assets fetch"),
        "{test}"
    );
}

#[test]
fn no_download_variable_means_offline() {
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);
    let dir = test_dir(&[("needs.toml", URL_ASSET)]);

    let run = kennel(
        &[path_str(dir.path())],
        &[(k, v.as_str()), ("KENNEL_NO_DOWNLOAD", "1")],
    );

    assert_eq!(run.statuses(), ["SKIP"]);
}

#[test]
fn offline_run_requiring_assets_errors_on_an_uncached_asset() {
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);
    let dir = test_dir(&[("needs.toml", URL_ASSET)]);

    let run = kennel(
        &[path_str(dir.path()), "--offline", "--require-assets"],
        &[(k, v.as_str())],
    );

    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.statuses(), ["ERROR"]);
}

/// A folder of executable scripts.
fn script_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = test_dir(files);
    for (name, _) in files {
        let path = dir.path().join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

#[test]
fn executables_pass_skip_and_fail_by_exit_status() {
    let dir = script_dir(&[
        ("a-pass.sh", "#!/bin/sh\nexit 0\n"),
        ("b-skip.sh", "#!/bin/sh\necho 'needs a gpu' >&2\nexit 77\n"),
        ("c-fail.sh", "#!/bin/sh\necho 'broken'\nexit 3\n"),
    ]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.statuses(), ["PASS", "SKIP", "FAIL"]);
    let fail = &run.results()["tests"][2];
    assert!(
        fail["reason"]
            .as_str()
            .expect("reason")
            .contains("exit code 3"),
        "{fail}"
    );
    assert_eq!(run.results()["tests"][1]["reason"], "needs a gpu");
}

/// Issue 11: the runner upper-cased `-p` names (`KENNEL_PARAM_CPU-MODEL`)
/// where `t.param("cpu-model")` reads `KENNEL_PARAM_CPU_MODEL`. Executables
/// and Rust tests get their parameters from the same function; the Rust
/// side is pinned in crates/kennel/src/test.rs.
#[test]
fn parameters_reach_executables_by_one_naming_rule() {
    let dir = script_dir(&[(
        "param.sh",
        "#!/bin/sh\n[ \"$KENNEL_PARAM_CPU_MODEL\" = max ] || { echo \"got '$KENNEL_PARAM_CPU_MODEL'\"; exit 1; }\n",
    )]);

    let run = kennel(&[path_str(dir.path()), "-p", "cpu-model=max"], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
}

#[test]
fn each_tap_test_point_is_its_own_result() {
    let dir = script_dir(&[(
        "suite.sh",
        "#!/bin/sh\necho 'TAP version 13'\necho '1..3'\necho 'ok 1 - boots'\necho 'not ok 2 - migrates'\necho '# got failed'\necho 'ok 3 - kvm # SKIP no KVM'\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let names: Vec<String> = run.results()["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t["status"].as_str().unwrap_or(""),
                t["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let file = dir.path().join("suite.sh");
    assert_eq!(
        names,
        [
            format!("PASS {}: boots", file.display()),
            format!("FAIL {}: migrates", file.display()),
            format!("SKIP {}: kvm", file.display()),
        ]
    );
}

#[test]
fn tap_producer_that_stops_early_is_an_error() {
    let dir = script_dir(&[("short.sh", "#!/bin/sh\necho '1..3'\necho 'ok 1 - one'\n")]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS", "ERROR"]);
    let last = &run.results()["tests"][1];
    assert!(
        last["reason"]
            .as_str()
            .expect("reason")
            .contains("planned 3 tests but ran 1"),
        "{last}"
    );
}

#[test]
fn executable_past_its_timeout_is_killed_and_interrupted() {
    let dir = script_dir(&[("slow.sh", "#!/bin/sh\nsleep 300\n")]);

    let run = kennel(&[path_str(dir.path()), "--timeout-factor", "0.01"], &[]);

    assert_eq!(run.statuses(), ["INTERRUPTED"]);
    // Killed: the script alone would have slept 300 s.
    assert!(run.elapsed < Duration::from_secs(300), "{:?}", run.elapsed);
}

#[test]
fn a_hundred_megabytes_of_output_are_streamed_to_the_log() {
    let dir = script_dir(&[(
        "loud.sh",
        "#!/bin/sh\nhead -c 100000000 /dev/zero | tr '\\0' 'x' | fold -w 100\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
    let logdir = run.job_dir().join(
        run.results()["tests"][0]["logdir"]
            .as_str()
            .expect("logdir"),
    );
    let size = std::fs::metadata(logdir.join("test.log"))
        .expect("test.log")
        .len();
    assert!(size >= 100_000_000, "{size}");
}

#[test]
fn a_pass_after_a_failure_is_flaky() {
    let dir = script_dir(&[(
        "qemu-once-broken.sh",
        "#!/bin/sh\nd=$(dirname \"$0\")\nif [ -e \"$d/seen\" ]; then exit 0; fi\ntouch \"$d/seen\"\nexit 1\n",
    )]);
    std::fs::write(
        dir.path().join("flaky.toml"),
        "name = \"flaky\"\n[machine]\nbinary = \"${dir}/qemu-once-broken.sh\"\naccel = \"tcg\"\nexpect_exit = { code = 0 }\n",
    )
    .expect("write");

    let run = kennel(
        &[path_str(&dir.path().join("flaky.toml")), "--retries", "2"],
        &[],
    );

    let test = run.test("flaky");
    assert_eq!(test["status"], "PASS", "{test}");
    assert_eq!(test["flaky"], true, "{test}");
    assert_eq!(test["attempts"], 2, "{test}");
    assert!(run.stdout.contains("FLAKY"), "{}", run.stdout);
}

#[test]
fn shards_together_run_every_test_exactly_once() {
    let mut all = kennel(&["tests/functional/pass", "tests/functional/variants"], &[]).names();
    all.sort();

    let mut sharded: Vec<String> = (1..=3)
        .flat_map(|k| {
            kennel(
                &[
                    "tests/functional/pass",
                    "tests/functional/variants",
                    "--shard",
                    &format!("{k}/3"),
                ],
                &[],
            )
            .names()
        })
        .collect();
    sharded.sort();

    assert_eq!(sharded, all);
}
