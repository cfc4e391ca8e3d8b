//! Issue 25: `Vm::migrate_to` migrates a running built-in guest in one call
//! and its command channel answers on the destination, through the machine
//! core's one migration (the `migrate` step is pinned end to end in
//! `crates/cli/tests/run/migrate.rs`); two machines described differently are
//! refused before anything starts.

use std::time::Duration;

use kennel::prelude::*;

/// The error's skip reason, after telling the harness (no guest here).
fn skipped(e: &Error) -> bool {
    match e.skip_reason() {
        Some(why) => {
            kennel_testkit::missing(why);
            true
        }
        None => false,
    }
}

#[test]
fn a_running_guest_migrated_with_migrate_to_answers_on_the_destination() {
    let mut t = Test::new("migrate-to", &[], Duration::from_secs(180)).expect("context");
    let logdir = t.logdir().to_path_buf();
    let mut a = match t.machine().name("a").guest_busybox().launch() {
        Ok(vm) => vm,
        Err(e) if skipped(&e) => return,
        Err(e) => panic!("launch: {}", e.chain()),
    };
    a.run_ok("echo before > /tmp/mark")
        .expect("the guest answers");
    let builder = t.machine().name("b").guest_busybox();

    let mut b = a
        .migrate_into(builder, &Migration::new().transport(Transport::Tcp))
        .unwrap_or_else(|e| panic!("migrate: {}", e.chain()));

    let read = b.run_ok("cat /tmp/mark").expect("the destination answers");
    let source = a.qmp("query-status", Value::Null).expect("source status");
    assert_eq!(read.trim(), "before");
    assert_eq!(b.channel(), Some(ChannelKind::Agent));
    assert_eq!(source["status"], "postmigrate");
    b.shutdown().expect("destination quits");
    drop((a, b, t));
    let log = std::fs::read_to_string(logdir.join("test.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&logdir);
    assert!(
        log.contains("migrated `a` to `b` over tcp:127.0.0.1:"),
        "{log}"
    );
}

#[test]
fn a_destination_described_differently_is_refused_before_anything_starts() {
    let mut t = Test::new("migrate-differs", &[], Duration::from_secs(60)).expect("context");
    let logdir = t.logdir().to_path_buf();
    let bare = |t: &mut Test, name: &str, memory: &str| {
        t.machine().name(name).memory(memory).args(["-nodefaults"])
    };
    let mut a = bare(&mut t, "a", "64M").launch().expect("a starts");
    let mut b = bare(&mut t, "b", "128M")
        .incoming("defer")
        .launch()
        .expect("b starts");

    let e = a
        .migrate_to(&mut b, &Migration::new())
        .expect_err("memory differs");

    let b_status = b.qmp("query-status", Value::Null).expect("b answers");
    let a_status = a.qmp("query-status", Value::Null).expect("a answers");
    drop((a, b, t));
    let _ = std::fs::remove_dir_all(&logdir);
    let chain = e.chain();
    assert!(
        chain.contains("machine `b` is not described like `a`, which migrates into it: memory: Some(\"64M\") against Some(\"128M\")"),
        "{chain}"
    );
    assert_eq!(b_status["status"], "inmigrate", "nothing started");
    assert_eq!(a_status["status"], "running");
}
