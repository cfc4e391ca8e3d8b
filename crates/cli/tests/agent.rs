//! The `kennel-agent` binary run on the host (`--connect` to a socket the test
//! listens on) against `AgentClient`, plus fake agents for faults.
//!
//! `KENNEL_AGENT_BIN=path` runs another agent build (e.g. the release one for
//! the round-trip benchmark).

use std::error::Error as _;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use kennel_agent::protocol::{
    encode_data, encode_json, AgentMessage, Frame, FrameDecoder, HostMessage, Kind, ReadyInfo,
    PROTOCOL_VERSION,
};
use kennel_agent::{AgentClient, AgentError};
use tempfile::TempDir;

const LONG: Duration = Duration::from_secs(20);

fn agent_bin() -> PathBuf {
    std::env::var_os("KENNEL_AGENT_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_kennel-agent").into(), PathBuf::from)
}

/// A `kennel-agent --connect` process and the host end of its socket.
struct Agent {
    child: Child,
    stream: Option<UnixStream>,
    dir: TempDir,
}

impl Agent {
    fn start() -> Agent {
        Agent::start_with(Stdio::inherit())
    }

    fn start_with(stderr: Stdio) -> Agent {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let mut child = Command::new(agent_bin())
            .arg("--connect")
            .arg(&socket)
            .stdin(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn kennel-agent");
        let deadline = Instant::now() + LONG;
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(1)),
                Err(e) => {
                    let _ = child.kill();
                    panic!("the agent never connected: {e}");
                }
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        Agent {
            child,
            stream: Some(stream),
            dir,
        }
    }

    fn client(&mut self) -> AgentClient {
        let stream = self.stream.take().expect("stream taken once");
        AgentClient::connect(stream, Instant::now() + LONG).expect("ready")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `error` with its causes, as a person would read it.
fn chain(error: &AgentError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// A fake agent on the other end of a socketpair running `script`.
fn fake_agent(script: impl FnOnce(UnixStream) + Send + 'static) -> UnixStream {
    let (host, guest) = UnixStream::pair().expect("socketpair");
    thread::spawn(move || script(guest));
    host
}

/// Keep the fake guest's end open until the host closes its end (the test is
/// over with it): waiting on that event rather than for a while.
fn hold_until_the_host_hangs_up(mut guest: UnixStream) {
    let _ = std::io::copy(&mut guest, &mut std::io::sink());
}

/// The children of process `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    let after_name = stat.rsplit_once(") ")?.1.to_string();
                    after_name.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

fn ready_frame() -> Vec<u8> {
    encode_json(&AgentMessage::Ready(ReadyInfo {
        protocol: PROTOCOL_VERSION,
        version: "fake".into(),
        kernel_release: "0.0".into(),
        uptime: Duration::from_secs(1),
        features: Vec::new(),
    }))
}

/// Read frames from `stream` until one is complete.
fn read_frame(stream: &mut UnixStream, decoder: &mut FrameDecoder) -> Frame {
    loop {
        if let Some(frame) = decoder.next_frame().expect("valid frame") {
            return frame;
        }
        assert!(decoder.read_from(stream).expect("read") > 0, "closed");
    }
}

use kennel_testkit::pseudo_random;

#[test]
fn ready_handshake_reports_version_kernel_and_uptime() {
    let mut agent = Agent::start();

    let client = agent.client();

    let ready = client.ready_info();
    assert_eq!(ready.protocol, PROTOCOL_VERSION);
    assert_eq!(ready.version, env!("CARGO_PKG_VERSION"));
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(ready.kernel_release, release.trim());
    assert!(ready.uptime > Duration::ZERO);
}

#[test]
fn run_keeps_stdout_and_stderr_apart_with_the_exit_code() {
    let mut agent = Agent::start();
    let mut client = agent.client();

    let out = client
        .run("echo out; echo err >&2; exit 3", LONG)
        .expect("runs");

    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.exit_code, Some(3));
    assert_eq!(out.signal, None);
    assert!(!out.timed_out);
}

#[test]
fn command_killed_by_a_signal_reports_the_signal() {
    let mut agent = Agent::start();
    let mut client = agent.client();

    let out = client.run("kill -9 $$", LONG).expect("runs");

    assert_eq!(out.exit_code, None);
    assert_eq!(out.signal, Some(9));
}

#[test]
fn command_past_its_timeout_is_killed_with_its_process_group() {
    let mut agent = Agent::start();
    let mut client = agent.client();
    let started = Instant::now();

    let out = client
        .run("sleep 30 & echo $!; wait", Duration::from_millis(300))
        .expect("runs");

    assert!(out.timed_out);
    assert_eq!(out.signal, Some(9));
    // Killed: the command alone would have taken 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let background: u32 = out.stdout_text().trim().parse().expect("a pid");
    let stat = format!("/proc/{background}/stat");
    let deadline = Instant::now() + Duration::from_secs(5);
    let gone = loop {
        // Killed: gone, or a zombie where nobody reaps orphans.
        let state = fs::read_to_string(&stat).unwrap_or_default();
        let gone = state.is_empty() || state.contains(") Z");
        if gone || Instant::now() > deadline {
            break gone;
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert!(
        gone,
        "the background sleep {background} survived the timeout"
    );
    assert!(client.run("true", LONG).expect("still usable").success());
}

#[test]
fn ten_megabytes_of_output_arrive_intact_beside_stderr() {
    let mut agent = Agent::start();
    let mut client = agent.client();
    let expected_out: String = (1..=1_500_000).map(|n| format!("{n}\n")).collect();
    let expected_err: String = (1..=100_000).map(|n| format!("{n}\n")).collect();

    let out = client
        .run("seq 1 1500000; seq 1 100000 >&2", LONG)
        .expect("runs");

    assert!(out.stdout.len() > 10_000_000);
    assert!(out.stdout == expected_out.as_bytes(), "stdout differs");
    assert!(out.stderr == expected_err.as_bytes(), "stderr differs");
    assert!(out.success());
}

#[test]
fn stdin_reaches_the_command_byte_for_byte() {
    let mut agent = Agent::start();
    let mut client = agent.client();
    let input = pseudo_random(2_000_000);

    let out = client
        .run_argv(&["cat"], &[], Some(&input), LONG)
        .expect("runs");

    assert!(out.stdout == input, "cat echoed something else");
    assert!(out.success());
}

#[test]
fn empty_stdin_is_end_of_file_at_once() {
    let mut agent = Agent::start();
    let mut client = agent.client();

    let out = client
        .run_argv(&["cat"], &[], Some(b""), Duration::from_secs(5))
        .expect("runs");

    assert!(!out.timed_out);
    assert!(out.stdout.is_empty());
    assert!(out.success());
}

#[test]
fn env_is_added_to_the_command_environment() {
    let mut agent = Agent::start();
    let mut client = agent.client();

    let out = client
        .run_argv(
            &["sh", "-c", "echo \"$A-$B\""],
            &[("A", "1"), ("B", "two words")],
            None,
            LONG,
        )
        .expect("runs");

    assert_eq!(out.stdout_text(), "1-two words\n");
}

#[test]
fn program_that_cannot_start_is_a_guest_error_and_the_channel_goes_on() {
    let mut agent = Agent::start();
    let mut client = agent.client();

    let error = client
        .run_argv(&["/nonexistent/program"], &[], None, LONG)
        .expect_err("cannot start");

    assert!(matches!(error, AgentError::Guest { .. }), "{error:?}");
    assert!(
        chain(&error).starts_with(
            "the guest agent could not run `/nonexistent/program`: cannot start /nonexistent/program:"
        ),
        "{}",
        chain(&error)
    );
    assert!(client.run("true", LONG).expect("usable").success());
}

#[test]
fn copy_in_then_out_round_trips_five_megabytes_with_the_mode() {
    let mut agent = Agent::start();
    let mut client = agent.client();
    let dir = agent.dir.path().to_owned();
    let original = pseudo_random(5 * 1024 * 1024 + 17);
    let host_in = dir.join("in.bin");
    fs::write(&host_in, &original).expect("write");
    let guest_path = dir.join("guest.bin").to_str().expect("utf-8").to_owned();
    let host_out = dir.join("out.bin");

    client
        .copy_in(&host_in, &guest_path, 0o751)
        .expect("copy in");
    let size = client.copy_out(&guest_path, &host_out).expect("copy out");

    assert_eq!(size, original.len() as u64);
    assert!(
        fs::read(&host_out).expect("read") == original,
        "contents differ"
    );
    let mode = fs::metadata(&guest_path)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o751);
    let stat = client
        .run(&format!("stat -c %a {guest_path}"), LONG)
        .expect("runs");
    assert_eq!(stat.stdout_text(), "751\n");
}

#[test]
fn copy_out_of_a_missing_file_is_a_guest_error_and_leaves_no_host_file() {
    let mut agent = Agent::start();
    let mut client = agent.client();
    let host_out = agent.dir.path().join("out.bin");

    let error = client
        .copy_out("/nonexistent/file", &host_out)
        .expect_err("missing");

    assert_eq!(
        chain(&error),
        "the guest agent could not copy /nonexistent/file out: \
         cannot open /nonexistent/file: No such file or directory (os error 2)"
    );
    assert!(!host_out.exists());
}

#[test]
fn copy_in_to_a_missing_directory_is_a_guest_error() {
    let mut agent = Agent::start();
    let mut client = agent.client();
    let host_in = agent.dir.path().join("in.bin");
    fs::write(&host_in, b"x").expect("write");

    let error = client
        .copy_in(&host_in, "/nonexistent/dir/file", 0o644)
        .expect_err("no directory");

    assert!(
        chain(&error).ends_with(
            "cannot create /nonexistent/dir/file: No such file or directory (os error 2)"
        ),
        "{}",
        chain(&error)
    );
    assert!(client.ping().is_ok());
}

#[test]
fn agent_killed_mid_command_ends_the_wait_at_once() {
    let mut agent = Agent::start();
    let mut client = agent.client();
    let pid = agent.child.id();
    let killer = thread::spawn(move || {
        // Kill it once the command is running (the agent has a child), not
        // after a guess at how long that takes.
        let deadline = Instant::now() + LONG;
        while children_of(pid).is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill")
    });
    let started = Instant::now();

    let error = client.run("sleep 10", LONG).expect_err("agent gone");

    let waited = started.elapsed();
    assert!(killer.join().expect("killer").success());
    assert!(
        matches!(error, AgentError::Disconnected { .. }),
        "{error:?}"
    );
    // At once: long before the command itself would have ended.
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    assert!(chain(&error).contains("the result of request 1 (run `/bin/sh -c sleep 10`)"));
    let again = client.ping().expect_err("broken");
    assert!(matches!(again, AgentError::Broken { .. }), "{again:?}");
}

#[test]
fn silent_guest_times_out_naming_the_ready_message() {
    let (host, _guest) = UnixStream::pair().expect("socketpair");
    let started = Instant::now();

    let error = AgentClient::connect(host, Instant::now() + Duration::from_millis(200))
        .expect_err("no ready");

    // The silent guest would never answer: any end is the deadline's.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(matches!(error, AgentError::Timeout { .. }), "{error:?}");
    let text = chain(&error);
    assert!(
        text.starts_with("timed out waiting for the agent's ready message"),
        "{text}"
    );
    assert!(text.ends_with("; last received: nothing"), "{text}");
}

#[test]
fn console_text_instead_of_ready_is_a_protocol_error() {
    let host = fake_agent(|mut guest| {
        guest
            .write_all(b"Welcome to Buildroot\nlogin: ")
            .expect("write");
        hold_until_the_host_hangs_up(guest);
    });

    let error = AgentClient::connect(host, Instant::now() + LONG).expect_err("garbage");

    assert!(matches!(error, AgentError::Protocol { .. }), "{error:?}");
    let text = chain(&error);
    assert!(
        text.starts_with("agent protocol error while waiting for the agent's ready message ("),
        "{text}"
    );
    assert!(
        text.ends_with("unknown frame kind 0x6f, received: \"Welcome to Buildroot\\nlogin: \""),
        "{text}"
    );
}

#[test]
fn oversized_frame_after_ready_breaks_the_channel() {
    let host = fake_agent(|mut guest| {
        guest.write_all(&ready_frame()).expect("ready");
        let mut decoder = FrameDecoder::new();
        let _request = read_frame(&mut guest, &mut decoder);
        guest.write_all(b"\x7f\0\0\0O").expect("header");
        hold_until_the_host_hangs_up(guest);
    });
    let mut client = AgentClient::connect(host, Instant::now() + LONG).expect("ready");

    let error = client.run("true", LONG).expect_err("oversized");

    assert!(matches!(error, AgentError::Protocol { .. }), "{error:?}");
    assert!(
        chain(&error).ends_with(
            "frame of 2130706432 bytes exceeds the limit of 1048576, received: \"\\x7f\\x00\\x00\\x00O\""
        ),
        "{}",
        chain(&error)
    );
    let again = client.ping().expect_err("broken");
    assert!(chain(&again)
        .starts_with("the agent channel is unusable after an earlier error: agent protocol error"));
}

#[test]
fn host_timeout_cancels_the_command_and_skips_its_late_report() {
    let host = fake_agent(|mut guest| {
        guest.write_all(&ready_frame()).expect("ready");
        let mut decoder = FrameDecoder::new();
        let _run = read_frame(&mut guest, &mut decoder);
        let cancel = read_frame(&mut guest, &mut decoder);
        assert_eq!(
            cancel.parse_json::<HostMessage>().expect("json"),
            HostMessage::Cancel { id: 1 }
        );
        let late = AgentMessage::Exit {
            id: 1,
            exit_code: None,
            signal: Some(9),
            duration_us: 1,
            timed_out: true,
        };
        guest
            .write_all(&encode_data(Kind::Stdout, 1, b"late"))
            .expect("late output");
        guest.write_all(&encode_json(&late)).expect("late exit");
        let _ping = read_frame(&mut guest, &mut decoder);
        guest
            .write_all(&encode_json(&AgentMessage::Pong { id: 2 }))
            .expect("pong");
        hold_until_the_host_hangs_up(guest);
    });
    let mut client = AgentClient::connect(host, Instant::now() + LONG).expect("ready");
    client.set_run_grace(Duration::from_millis(100));

    let error = client
        .run("sleep 10", Duration::ZERO)
        .expect_err("no answer in time");

    assert!(matches!(error, AgentError::Timeout { .. }), "{error:?}");
    assert!(
        chain(&error).starts_with(
            "timed out waiting for the result of request 1 (run `/bin/sh -c sleep 10`) \
             (timeout 0ns + grace 100ms); last received: message"
        ),
        "{}",
        chain(&error)
    );
    client.ping().expect("the late report is skipped");
}

#[test]
fn agent_exits_with_failure_on_garbage_from_the_host() {
    let mut agent = Agent::start_with(Stdio::piped());
    let mut stream = agent.stream.take().expect("stream");
    let mut decoder = FrameDecoder::new();
    let ready = read_frame(&mut stream, &mut decoder);
    assert!(matches!(
        ready.parse_json::<AgentMessage>(),
        Ok(AgentMessage::Ready(_))
    ));

    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    // Bounded: an agent that does not exit is killed when `agent` is dropped.
    let exited = kennel_testkit::wait_until(Duration::from_secs(60), || {
        matches!(agent.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "the agent did not exit on a frame it cannot read");
    let status = agent.child.wait().expect("wait");

    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    agent
        .child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(
        stderr.contains("unknown frame kind 0x2f, received: \"GET / HTTP/1.1\\r\\n\\r\\n\""),
        "{stderr}"
    );
}

#[test]
fn agent_answers_ping_and_obeys_cancel_while_a_command_runs() {
    let mut agent = Agent::start();
    let mut stream = agent.stream.take().expect("stream");
    let mut decoder = FrameDecoder::new();
    let _ready = read_frame(&mut stream, &mut decoder);
    let run = HostMessage::Run {
        id: 1,
        argv: vec!["sleep".into(), "30".into()],
        env: Vec::new(),
        timeout_ms: 60_000,
        stdin: false,
    };
    stream.write_all(&encode_json(&run)).expect("run");
    let started = Instant::now();

    stream
        .write_all(&encode_json(&HostMessage::Ping { id: 2 }))
        .expect("ping");
    let pong = read_frame(&mut stream, &mut decoder);
    stream
        .write_all(&encode_json(&HostMessage::Cancel { id: 1 }))
        .expect("cancel");
    let exit = read_frame(&mut stream, &mut decoder);

    assert_eq!(
        pong.parse_json::<AgentMessage>().expect("json"),
        AgentMessage::Pong { id: 2 }
    );
    let AgentMessage::Exit {
        id,
        exit_code,
        signal,
        timed_out,
        ..
    } = exit.parse_json::<AgentMessage>().expect("json")
    else {
        panic!("expected exit, got {}", exit.summary());
    };
    assert_eq!((id, exit_code, signal, timed_out), (1, None, Some(9), true));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn agent_sends_output_as_raw_data_frames() {
    let mut agent = Agent::start();
    let mut stream = agent.stream.take().expect("stream");
    let mut decoder = FrameDecoder::new();
    let _ready = read_frame(&mut stream, &mut decoder);
    let run = HostMessage::Run {
        id: 1,
        argv: vec!["printf".into(), "\\000\\377\"".into()],
        env: Vec::new(),
        timeout_ms: 60_000,
        stdin: false,
    };

    stream.write_all(&encode_json(&run)).expect("run");
    let data = read_frame(&mut stream, &mut decoder);

    assert_eq!(
        data,
        Frame::Data {
            kind: Kind::Stdout,
            id: 1,
            bytes: b"\0\xff\"".to_vec()
        }
    );
}

/// Not a pass/fail test: prints the round-trip figures (run with --nocapture).
#[test]
fn round_trip_benchmark_prints_the_median() {
    let mut agent = Agent::start();
    let mut client = agent.client();
    let median = |mut samples: Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };

    let runs: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            let out = client.run("true", LONG).expect("runs");
            assert!(out.success());
            started.elapsed()
        })
        .collect();
    let pings: Vec<Duration> = (0..200).map(|_| client.ping().expect("pong")).collect();

    println!(
        "round trip over a socket ({}): run(\"true\") median {:?}, min {:?}; ping median {:?}",
        agent_bin().display(),
        median(runs.clone()),
        runs.iter().min().expect("samples"),
        median(pings),
    );
}

/// A guest restored from a saved state: its agent is still in the session of
/// the host that built the state, so it sends no new Ready; `resume` syncs
/// with a ping and takes the template's ready message.
#[test]
fn resume_takes_over_an_agent_still_serving_its_old_session() {
    let host = fake_agent(|mut guest| {
        let mut decoder = FrameDecoder::new();
        let Frame::Json(_) = read_frame(&mut guest, &mut decoder) else {
            panic!("expected a ping");
        };
        guest
            .write_all(&encode_json(&AgentMessage::Pong { id: 1 }))
            .expect("pong");
        hold_until_the_host_hangs_up(guest);
    });
    let saved = ReadyInfo {
        protocol: PROTOCOL_VERSION,
        version: "template".into(),
        kernel_release: "6.1".into(),
        uptime: Duration::from_secs(2),
        features: vec!["refresh".into()],
    };

    let client = AgentClient::resume(host, saved.clone(), Instant::now() + LONG).expect("resume");

    assert_eq!(client.ready_info(), &saved);
}

/// An agent that noticed its old host leave announces itself again before it
/// answers the ping: `resume` takes the new Ready.
#[test]
fn resume_takes_a_new_ready_sent_before_the_pong() {
    let host = fake_agent(|mut guest| {
        guest.write_all(&ready_frame()).expect("ready");
        let mut decoder = FrameDecoder::new();
        let _ping = read_frame(&mut guest, &mut decoder);
        guest
            .write_all(&encode_json(&AgentMessage::Pong { id: 1 }))
            .expect("pong");
        hold_until_the_host_hangs_up(guest);
    });
    let saved = ReadyInfo {
        protocol: PROTOCOL_VERSION,
        version: "template".into(),
        kernel_release: "6.1".into(),
        uptime: Duration::from_secs(2),
        features: Vec::new(),
    };

    let client = AgentClient::resume(host, saved, Instant::now() + LONG).expect("resume");

    assert_eq!(client.ready_info().version, "fake");
}
