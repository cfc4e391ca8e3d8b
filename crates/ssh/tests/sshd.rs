//! Integration tests against a private OpenSSH server on 127.0.0.1.
//!
//! Each test starts its own sshd (see `common`). Without
//! /usr/sbin/sshd a test prints `SKIP:` and returns, or fails under
//! `KENNEL_REQUIRE_ALL` (see kennel-testkit).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{chain, Fixture, Sshd};
use kennel_ssh::{AttemptError, ConnectOptions, KeyPair, Session, SshError};

const T: Duration = Duration::from_secs(20);

fn options(fixture: &Fixture, sshd: &Sshd) -> ConnectOptions {
    let mut opts = ConnectOptions::new(sshd.addr, fixture.user.clone(), T);
    opts.host_key = Some(fixture.host_key.clone());
    opts
}

/// A fixture with one authorized key, a running server and a session to it.
fn connected() -> Option<(Fixture, Sshd, Session)> {
    let fixture = Fixture::new()?;
    let key = KeyPair::generate().expect("generate key");
    fixture.authorize(&key);
    let sshd = fixture.start();
    let session = Session::connect(&options(&fixture, &sshd), &key)
        .unwrap_or_else(|e| panic!("connect: {}", chain(&e)));
    Some((fixture, sshd, session))
}

fn run(session: &Session, command: &str, stdin: &[u8]) -> kennel_ssh::CommandOutput {
    session
        .run(command, stdin, T)
        .unwrap_or_else(|e| panic!("run {command:?}: {}", chain(&e)))
}

use kennel_testkit::pseudo_random as noise;

#[test]
fn run_separates_stdout_stderr_and_exit_code() {
    let Some((_fixture, _sshd, session)) = connected() else {
        return;
    };
    let out = run(&session, "echo out; echo err >&2; echo more; exit 3", b"");
    assert_eq!(out.stdout_text(), "out\nmore\n");
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.exit_code, Some(3));
    assert_eq!(out.signal, None);
    assert!(!out.timed_out);
    assert!(!out.success());

    let ok = run(&session, "true", b"");
    assert!(ok.success(), "{ok:?}");
    assert_eq!(ok.exit_code, Some(0));
    assert!(ok.stdout.is_empty() && ok.stderr.is_empty());

    let failed = run(&session, "false", b"");
    assert_eq!(failed.exit_code, Some(1));
    assert!(!failed.success());
    session.close();
}

#[test]
fn stdin_is_passed_through_then_eof() {
    let Some((_fixture, _sshd, session)) = connected() else {
        return;
    };
    let input = noise(256 * 1024);
    // `cat` only ends when it sees end-of-file on its input.
    let out = run(&session, "cat; echo done >&2", &input);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "stdout differs from stdin");
    assert_eq!(out.stderr_text(), "done\n");

    let counted = run(&session, "wc -c", b"12345");
    assert_eq!(counted.stdout_text().trim(), "5");

    // A command that ignores its input still finishes.
    let ignored = run(&session, "echo ignored", &noise(1024 * 1024));
    assert_eq!(ignored.stdout_text(), "ignored\n");
    assert!(ignored.success());
}

#[test]
fn signal_killed_command_reports_signal_name() {
    let Some((_fixture, _sshd, session)) = connected() else {
        return;
    };
    let out = run(&session, "echo before; kill -KILL $$; echo after", b"");
    assert_eq!(out.signal.as_deref(), Some("KILL"), "{out:?}");
    assert_eq!(out.exit_code, None);
    assert_eq!(out.stdout_text(), "before\n");
    assert!(!out.success());
    assert_eq!(out.status_text(), "killed by signal KILL");
}

#[test]
fn timeout_returns_partial_output_and_session_stays_usable() {
    let Some((_fixture, sshd, session)) = connected() else {
        return;
    };
    let started = Instant::now();
    let out = session
        .run(
            "echo early; sleep 20; echo late",
            b"",
            Duration::from_millis(1500),
        )
        .unwrap_or_else(|e| panic!("run: {}", chain(&e)));
    let took = started.elapsed();
    assert!(out.timed_out, "{out:?}");
    assert!(!out.success());
    assert_eq!(out.stdout_text(), "early\n");
    assert!(
        took >= Duration::from_millis(1400),
        "returned after {took:?}"
    );
    assert!(took < Duration::from_secs(8), "returned after {took:?}");

    let after = run(&session, "echo still here", b"");
    assert_eq!(after.stdout_text(), "still here\n");
    // A root command is not killed by the timeout (OpenSSH refuses signal
    // requests for root), so take the server's process tree down with the
    // sleeping shell still in it.
    drop(sshd);
}

#[test]
fn copy_in_and_out_round_trip_with_mode() {
    let Some((fixture, _sshd, session)) = connected() else {
        return;
    };
    let data = noise(3 * 1024 * 1024);
    // The "guest" is this machine, so the file can be checked directly.
    let target = fixture.path("it's a file");
    let guest_path = target.to_str().expect("utf-8 temp path");

    session
        .copy_in(&data, guest_path, 0o640, T)
        .unwrap_or_else(|e| panic!("copy_in: {}", chain(&e)));
    let meta = std::fs::metadata(&target).expect("stat copied file");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert!(
        std::fs::read(&target).expect("read copied file") == data,
        "content differs"
    );

    let back = session
        .copy_out(guest_path, T)
        .unwrap_or_else(|e| panic!("copy_out: {}", chain(&e)));
    assert_eq!(back.len(), data.len());
    assert!(back == data, "copied-out content differs");

    // Overwriting changes both content and mode.
    session
        .copy_in(b"#!/bin/sh\necho hi\n", guest_path, 0o755, T)
        .unwrap_or_else(|e| panic!("copy_in again: {}", chain(&e)));
    let meta = std::fs::metadata(&target).expect("stat copied file");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
    let ran = run(
        &session,
        &format!("'{}'", guest_path.replace('\'', "'\\''")),
        b"",
    );
    assert_eq!(ran.stdout_text(), "hi\n");

    // Empty files work too.
    session
        .copy_in(b"", guest_path, 0o600, T)
        .expect("copy_in empty");
    assert_eq!(
        session.copy_out(guest_path, T).expect("copy_out empty"),
        b""
    );
}

#[test]
fn copy_errors_name_the_guest_stderr() {
    let Some((fixture, _sshd, session)) = connected() else {
        return;
    };
    let missing = fixture.path("no-such-dir/file");
    let missing = missing.to_str().expect("utf-8 temp path");

    let err = session
        .copy_out(missing, T)
        .expect_err("copy_out of a missing file");
    assert!(matches!(err, SshError::GuestCommand { .. }), "{err:?}");
    let text = chain(&err);
    assert!(text.contains("No such file"), "{text}");
    assert!(text.contains("exit status 1"), "{text}");

    let err = session
        .copy_in(b"x", missing, 0o644, T)
        .expect_err("copy_in into a missing dir");
    assert!(matches!(err, SshError::GuestCommand { .. }), "{err:?}");
    assert!(chain(&err).contains("No such file"), "{}", chain(&err));
}

#[test]
fn connect_retries_until_sshd_starts() {
    let Some(fixture) = Fixture::new() else {
        return;
    };
    let key = KeyPair::generate().expect("generate key");
    fixture.authorize(&key);
    let fixture = Arc::new(fixture);
    let port = common::free_port();
    let mut opts = ConnectOptions::new(([127, 0, 0, 1], port).into(), fixture.user.clone(), T);
    opts.host_key = Some(fixture.host_key.clone());

    let starter = {
        let fixture = Arc::clone(&fixture);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            fixture.start_on(port)
        })
    };
    let started = Instant::now();
    let result = Session::connect(&opts, &key);
    let took = started.elapsed();
    let sshd = starter
        .join()
        .expect("starter thread")
        .expect("start sshd on the chosen port");
    let session = result.unwrap_or_else(|e| panic!("connect: {}", chain(&e)));
    assert!(
        took >= Duration::from_millis(900),
        "connected after {took:?}"
    );
    assert_eq!(run(&session, "echo up", b"").stdout_text(), "up\n");
    session.close();
    drop(sshd);
}

#[test]
fn connect_retries_until_key_is_authorized() {
    let Some(fixture) = Fixture::new() else {
        return;
    };
    let key = KeyPair::generate().expect("generate key");
    let sshd = fixture.start();
    let fixture = Arc::new(fixture);
    let authorizer = {
        let fixture = Arc::clone(&fixture);
        let key = key.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            fixture.authorize(&key);
        })
    };
    let started = Instant::now();
    let session = Session::connect(&options(&fixture, &sshd), &key)
        .unwrap_or_else(|e| panic!("connect: {}", chain(&e)));
    authorizer.join().expect("authorizer thread");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(run(&session, "true", b"").success());
}

#[test]
fn connect_fails_clearly_when_nothing_listens() {
    let user = common::current_user();
    let key = KeyPair::generate().expect("generate key");
    let port = common::free_port();
    let mut opts = ConnectOptions::new(
        ([127, 0, 0, 1], port).into(),
        user,
        Duration::from_millis(1500),
    );
    opts.retry_interval = Duration::from_millis(100);
    let started = Instant::now();
    let err = Session::connect(&opts, &key).expect_err("nothing listens");
    let took = started.elapsed();
    let text = chain(&err);
    match &err {
        SshError::Connect {
            attempts,
            last,
            addr,
            ..
        } => {
            assert!(*attempts >= 3, "{text}");
            assert_eq!(*addr, opts.addr);
            assert!(matches!(last, AttemptError::Tcp(_)), "{text}");
        }
        other => panic!("expected SshError::Connect, got {other:?}"),
    }
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("attempt"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(
        took >= Duration::from_millis(1300),
        "gave up after {took:?}"
    );
    assert!(took < Duration::from_secs(5), "gave up after {took:?}");
}

#[test]
fn wrong_pinned_host_key_is_refused_without_retrying() {
    let Some(fixture) = Fixture::new() else {
        return;
    };
    let key = KeyPair::generate().expect("generate key");
    fixture.authorize(&key);
    let sshd = fixture.start();
    let other = KeyPair::generate()
        .expect("generate other key")
        .public_openssh("impostor");
    let mut opts = options(&fixture, &sshd);
    opts.host_key = Some(other);
    opts.deadline = Instant::now() + Duration::from_secs(30);

    let started = Instant::now();
    let err = Session::connect(&opts, &key).expect_err("wrong host key");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, SshError::HostKeyMismatch { .. }),
        "{}",
        chain(&err)
    );
    assert!(chain(&err).contains("SHA256:"), "{}", chain(&err));

    // Unpinned and correctly pinned both work.
    opts.host_key = None;
    Session::connect(&opts, &key)
        .expect("unpinned connect")
        .close();
    opts.host_key = Some(fixture.host_key.clone());
    Session::connect(&opts, &key)
        .expect("pinned connect")
        .close();

    opts.host_key = Some("not a key".into());
    let err = Session::connect(&opts, &key).expect_err("garbage host key");
    assert!(matches!(err, SshError::InvalidHostKey { .. }), "{err:?}");
}

#[test]
fn written_key_works_with_openssh_client_and_load() {
    let Some(fixture) = Fixture::new() else {
        return;
    };
    if common::skip_without(common::SSH) {
        return;
    }
    let key = KeyPair::generate().expect("generate key");
    fixture.authorize(&key);
    let sshd = fixture.start();
    let path = fixture.path("id_ed25519");
    key.write_private(&path).expect("write private key");
    let mode = std::fs::metadata(&path)
        .expect("stat key")
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o600);
    assert!(
        key.write_private(&path).is_err(),
        "overwrote an existing key file"
    );

    let out = Command::new(common::SSH)
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "LogLevel=ERROR",
            "-i",
        ])
        .arg(&path)
        .arg("-p")
        .arg(sshd.port().to_string())
        .arg(format!("{}@127.0.0.1", fixture.user))
        .arg("echo via-openssh")
        .output()
        .expect("run ssh");
    assert!(
        out.status.success(),
        "ssh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via-openssh\n");

    // ssh-keygen agrees on the public half.
    let derived = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("ssh-keygen -y");
    assert!(derived.status.success());
    assert_eq!(
        String::from_utf8_lossy(&derived.stdout).trim(),
        key.public_openssh("")
    );

    let loaded = KeyPair::load(&path).expect("load key");
    assert_eq!(loaded.fingerprint(), key.fingerprint());
    let session = Session::connect(&options(&fixture, &sshd), &loaded)
        .unwrap_or_else(|e| panic!("connect with loaded key: {}", chain(&e)));
    assert!(run(&session, "true", b"").success());
}

#[test]
fn key_generated_by_ssh_keygen_loads() {
    if common::skip_without("/usr/bin/ssh-keygen") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "c", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let key = KeyPair::load(&path).expect("load");
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("read pub");
    assert_eq!(key.public_openssh("c"), public.trim());

    let err = KeyPair::load(&dir.path().join("missing")).expect_err("missing file");
    assert!(matches!(err, SshError::ReadKey { .. }), "{err:?}");
    std::fs::write(dir.path().join("junk"), "junk").expect("write junk");
    let err = KeyPair::load(&dir.path().join("junk")).expect_err("junk file");
    assert!(matches!(err, SshError::ParseKey { .. }), "{err:?}");
}

#[test]
fn connection_lost_mid_command_is_an_error_not_a_hang() {
    let Some(fixture) = Fixture::new() else {
        return;
    };
    let key = KeyPair::generate().expect("generate key");
    fixture.authorize(&key);
    let sshd = fixture.start();
    let session = Session::connect(&options(&fixture, &sshd), &key)
        .unwrap_or_else(|e| panic!("connect: {}", chain(&e)));
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        drop(sshd); // SIGKILL to the server and its per-connection processes
    });
    let started = Instant::now();
    let result = session.run("echo started; sleep 10", b"", Duration::from_secs(30));
    killer.join().expect("killer thread");
    let took = started.elapsed();
    let err = result.expect_err("connection was killed");
    assert!(
        matches!(err, SshError::ConnectionLost { .. }),
        "{}",
        chain(&err)
    );
    assert!(took < Duration::from_secs(8), "noticed after {took:?}");
    println!("error: {}", chain(&err));

    let again = session.run("true", b"", T).expect_err("session is gone");
    assert!(matches!(again, SshError::SessionLost { .. }), "{again:?}");
    session.close();
}

#[test]
fn runs_from_several_threads_each_get_their_own_output() {
    let Some((_fixture, _sshd, session)) = connected() else {
        return;
    };
    let session = Arc::new(session);
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let session = Arc::clone(&session);
            std::thread::spawn(move || {
                let out = session
                    .run(&format!("echo {i}"), b"", T)
                    .unwrap_or_else(|e| panic!("run: {}", chain(&e)));
                assert_eq!(out.stdout_text(), format!("{i}\n"));
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    // A session can move to another thread and be closed there.
    let session = Arc::into_inner(session).expect("sole owner");
    std::thread::spawn(move || session.close())
        .join()
        .expect("close thread");
}

#[test]
fn public_key_line_format() {
    let key = KeyPair::generate().expect("generate key");
    let line = key.public_openssh("job 42\nx");
    assert!(
        line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
        "{line}"
    );
    assert!(line.ends_with(" job 42 x"), "{line}");
    assert_eq!(line.lines().count(), 1);
    assert_eq!(key.public_openssh("").split(' ').count(), 2);
    assert_ne!(
        KeyPair::generate().expect("second key").fingerprint(),
        key.fingerprint()
    );
    assert!(key.fingerprint().starts_with("SHA256:"));
    assert!(!format!("{key:?}").contains("PRIVATE"));
}
