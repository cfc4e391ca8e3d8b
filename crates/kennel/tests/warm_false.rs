//! Issue 30: `.warm(false)` in the Rust builder makes its machine boot, and
//! the test's `start.json` and `test.log` say so and why (the TOML keys are
//! pinned end to end in `crates/cli/tests/run/warm.rs`). No template is
//! made: nothing here touches the user's template cache.

use std::time::Duration;

use kennel::prelude::*;

#[test]
fn a_machine_built_with_warm_false_boots_and_test_log_says_why() {
    let mut t = Test::new("warm-false", &[], Duration::from_secs(180)).expect("context");
    let logdir = t.logdir().to_path_buf();
    let launched = t.machine().guest_busybox().warm(false).launch();
    let mut vm = match launched {
        Ok(vm) => vm,
        Err(e) if e.skip_reason().is_some() => {
            kennel_testkit::missing(e.skip_reason().unwrap_or_default());
            return;
        }
        Err(e) => panic!("launch: {}", e.chain()),
    };

    let answer = vm.run_ok("echo up").expect("the guest answers");
    drop(vm);
    drop(t);

    let log = std::fs::read_to_string(logdir.join("test.log")).unwrap_or_default();
    let start = std::fs::read_to_string(logdir.join("start.json")).unwrap_or_default();
    let start: serde_json::Value = serde_json::from_str(&start).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&logdir);
    assert_eq!(answer.trim(), "up");
    assert_eq!(start["start"], "cold", "{start}");
    assert!(start.get("template").is_none(), "{start}");
    assert!(
        log.contains("machine `main` boots (cold): the test asked with `.warm(false)`"),
        "{log}"
    );
}
