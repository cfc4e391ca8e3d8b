//! Issue 27, item 5: `kennel run` without `--shard` takes the shard its CI's
//! variables name (GitLab `parallel:`, a Kubernetes Indexed Job).

use crate::harness::*;

/// Six QMP-only tests, `t1` to `t6`: three shards of two.
fn six_tests() -> tempfile::TempDir {
    let files: Vec<(String, String)> = (1..=6)
        .map(|i| {
            (
                format!("t{i}.toml"),
                GOOD.replace("\"good\"", &format!("\"t{i}\"")),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    test_dir(&files)
}

#[test]
fn gitlab_and_kubernetes_variables_run_the_shard_their_index_names() {
    let dir = six_tests();
    let tests = path_str(dir.path());

    let flag = kennel(&[tests, "--shard", "2/3"], &[]);
    let gitlab = kennel(&[tests], &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")]);
    let k8s = kennel(
        &[tests],
        &[("JOB_COMPLETION_INDEX", "1"), ("JOB_COMPLETIONS", "3")],
    );

    assert_eq!(flag.names().len(), 2, "{}", flag.stdout);
    assert_eq!(gitlab.names(), flag.names(), "{}", gitlab.stderr);
    assert_eq!(k8s.names(), flag.names(), "{}", k8s.stderr);
    assert!(
        gitlab
            .stderr
            .contains("kennel: shard 2/3 (from CI_NODE_INDEX=2 CI_NODE_TOTAL=3)"),
        "{}",
        gitlab.stderr
    );
    let options = &gitlab.results()["options"];
    assert_eq!(options["shard"], "2/3", "{options}");
    assert_eq!(
        options["shard_from"], "CI_NODE_INDEX=2 CI_NODE_TOTAL=3",
        "{options}"
    );
    assert_eq!(
        k8s.results()["options"]["shard_from"],
        "JOB_COMPLETION_INDEX=1 JOB_COMPLETIONS=3"
    );
}

#[test]
fn an_explicit_shard_wins_over_the_ci_variables() {
    let dir = six_tests();
    let tests = path_str(dir.path());

    let flag = kennel(&[tests, "--shard", "1/3"], &[]);
    let both = kennel(
        &[tests, "--shard", "1/3"],
        &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")],
    );

    assert_eq!(both.names(), flag.names());
    assert_eq!(both.results()["options"]["shard_from"], Value::Null);
}

#[test]
fn the_three_gitlab_shards_merged_are_the_whole_job() {
    let dir = six_tests();
    let tests = path_str(dir.path());
    let whole = kennel(&[tests], &[]);
    let shards: Vec<Run> = ["1", "2", "3"]
        .iter()
        .map(|k| kennel(&[tests], &[("CI_NODE_INDEX", k), ("CI_NODE_TOTAL", "3")]))
        .collect();
    let merged = tempfile::tempdir().expect("merged");
    let mut args: Vec<String> = vec!["report".into(), "merge".into()];
    args.extend(shards.iter().map(|s| s.job_dir().display().to_string()));
    args.extend(["--results-dir".into(), path_str(merged.path()).into()]);

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(&args)
        .output_within(RUN_BOUND);

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = std::fs::read_to_string(merged.path().join("latest/results.json")).expect("merged");
    let merged: Value = serde_json::from_str(&text).expect("JSON");
    let mut names: Vec<String> = merged["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    let mut all = whole.names();
    all.sort();
    assert_eq!(names, all);
    assert_eq!(all.len(), 6);
}

#[test]
fn a_bad_ci_shard_variable_is_an_error_naming_it() {
    let dir = six_tests();
    let tests = path_str(dir.path());

    let past = kennel(&[tests], &[("CI_NODE_INDEX", "4"), ("CI_NODE_TOTAL", "3")]);
    let no_count = kennel(&[tests], &[("JOB_COMPLETION_INDEX", "0")]);

    assert_eq!(past.code, 2, "{}", past.stderr);
    assert!(past.stderr.contains("CI_NODE_INDEX=4: "), "{}", past.stderr);
    assert_eq!(no_count.code, 2, "{}", no_count.stderr);
    assert!(
        no_count
            .stderr
            .contains("JOB_COMPLETION_INDEX=0 is set but JOB_COMPLETIONS is not"),
        "{}",
        no_count.stderr
    );
}
