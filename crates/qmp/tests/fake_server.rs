//! The client against an in-process fake QEMU on a socket pair: faults a real QEMU
//! will not produce on demand.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kennel_qmp::{CommandError, Options, Qmp, QmpError, Transcript, Value};
use serde_json::json;

const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}"#;

/// Generous bound for things that must happen "promptly".
const PROMPTLY: Duration = Duration::from_secs(5);

fn in_secs(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// Wait (up to [`PROMPTLY`]) until the client's reader has queued an event
/// named `name`: the event, not a guess at how long reading it takes.
fn wait_until_queued(qmp: &Qmp, name: &str) {
    let end = Instant::now() + PROMPTLY;
    while !qmp.pending_events().iter().any(|e| e["event"] == name) {
        assert!(
            Instant::now() < end,
            "{name} never reached the client's queue"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// The QEMU side of the socket pair.
struct Server {
    lines: BufReader<UnixStream>,
    out: UnixStream,
}

impl Server {
    fn new(stream: UnixStream) -> Server {
        stream
            .set_read_timeout(Some(PROMPTLY))
            .expect("set read timeout");
        Server {
            out: stream.try_clone().expect("clone server stream"),
            lines: BufReader::new(stream),
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.out.write_all(bytes).expect("server write");
    }

    fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    fn send_json(&mut self, message: Value) {
        self.send(&message.to_string());
    }

    /// The next command from the client.
    fn recv(&mut self) -> Value {
        let mut line = String::new();
        self.lines.read_line(&mut line).expect("server read");
        serde_json::from_str(&line).expect("client sent JSON")
    }

    /// Receive a command and answer it with `value`.
    fn reply(&mut self, value: Value) -> Value {
        let command = self.recv();
        self.send_json(json!({"return": value, "id": command["id"]}));
        command
    }

    fn hang_up(self) {
        drop(self);
    }
}

/// A connected client and server, handshake done.
fn connected_with(options: Options, transcript: Transcript) -> (Qmp, Server) {
    let (client, server) = UnixStream::pair().expect("socket pair");
    let mut server = Server::new(server);
    let handshake =
        thread::spawn(move || Qmp::handshake_with(client, transcript, in_secs(10), options));
    server.send(GREETING);
    let capabilities = server.reply(json!({}));
    assert_eq!(capabilities["execute"], "qmp_capabilities");
    let qmp = handshake
        .join()
        .expect("handshake thread")
        .expect("handshake");
    (qmp, server)
}

fn connected() -> (Qmp, Server) {
    connected_with(Options::default(), Transcript::discard())
}

/// Run `call` on a thread, so the test can play the server meanwhile.
fn spawn<T: Send + 'static>(
    qmp: &Arc<Qmp>,
    call: impl FnOnce(&Qmp) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let qmp = Arc::clone(qmp);
    thread::spawn(move || call(&qmp))
}

#[test]
fn qmp_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Qmp>();
    assert_send_sync::<Transcript>();
}

#[test]
fn handshake_keeps_the_greeting_and_version() {
    let (qmp, _server) = connected();

    assert_eq!(qmp.version(), Some((7, 2, 22)));
    assert_eq!(qmp.greeting()["capabilities"], json!(["oob"]));
    assert!(!qmp.is_closed());
}

#[test]
fn execute_sends_command_arguments_and_a_fresh_id() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);

    let call = spawn(&qmp, |qmp| {
        qmp.execute("query-cpus-fast", Some(&json!({"x": 1})), in_secs(10))
    });
    let sent = server.reply(json!([{"cpu-index": 0}]));

    assert_eq!(
        sent,
        json!({"execute": "query-cpus-fast", "arguments": {"x": 1}, "id": "kennel-2"})
    );
    assert_eq!(
        call.join().expect("join").expect("execute"),
        json!([{"cpu-index": 0}])
    );
}

#[test]
fn no_args_means_no_arguments_key() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);

    let call = spawn(&qmp, |qmp| qmp.execute("stop", None, in_secs(10)));
    let sent = server.reply(json!({}));

    assert_eq!(sent, json!({"execute": "stop", "id": "kennel-2"}));
    assert_eq!(call.join().expect("join").expect("execute"), json!({}));
}

#[test]
fn an_error_reply_is_a_value_from_execute_raw_and_an_error_from_execute() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);
    let refused = json!({"class": "GenericError", "desc": "The command is permitted only before the machine has been created"});
    let expected = CommandError {
        class: "GenericError".into(),
        desc: "The command is permitted only before the machine has been created".into(),
    };

    let raw = spawn(&qmp, |qmp| {
        qmp.execute_raw("set-numa-node", None, in_secs(10))
    });
    let id = server.recv()["id"].clone();
    server.send_json(json!({"id": id, "error": refused}));
    let plain = spawn(&qmp, |qmp| qmp.execute("set-numa-node", None, in_secs(10)));
    let id = server.recv()["id"].clone();
    server.send_json(json!({"id": id, "error": refused}));

    assert_eq!(
        raw.join().expect("join").expect("execute_raw"),
        Err(expected.clone())
    );
    let error = plain.join().expect("join").expect_err("execute must fail");
    assert!(
        matches!(&error, QmpError::Command(e) if *e == expected),
        "{error:?}"
    );
    assert_eq!(
        expected.to_string(),
        "GenericError: The command is permitted only before the machine has been created"
    );
}

#[test]
fn hmp_returns_the_output_text() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);

    let call = spawn(&qmp, |qmp| qmp.hmp("info version", in_secs(10)));
    let sent = server.reply(json!("7.2.22\r\n"));

    assert_eq!(sent["arguments"], json!({"command-line": "info version"}));
    assert_eq!(call.join().expect("join").expect("hmp"), "7.2.22\r\n");
}

#[test]
fn crlf_line_endings_are_accepted() {
    let (client, server) = UnixStream::pair().expect("socket pair");
    let mut server = Server::new(server);
    let handshake =
        thread::spawn(move || Qmp::handshake(client, Transcript::discard(), in_secs(10)));

    server.send_raw(format!("{GREETING}\r\n").as_bytes());
    let id = server.recv()["id"].clone();
    server.send_raw(format!("{}\r\n", json!({"return": {}, "id": id})).as_bytes());

    let qmp = handshake.join().expect("join").expect("handshake");
    assert_eq!(qmp.version(), Some((7, 2, 22)));
}

#[test]
fn garbage_is_a_protocol_error_quoting_it_and_ends_the_connection() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);

    let call = spawn(&qmp, |qmp| qmp.execute("query-status", None, in_secs(60)));
    server.recv();
    server.send("Segmentation fault (core dumped) }{");
    let error = call
        .join()
        .expect("join")
        .expect_err("garbage must fail the call");

    let QmpError::Protocol { detail } = &error else {
        panic!("expected a protocol error, got {error:?}");
    };
    assert!(
        detail.contains("Segmentation fault (core dumped) }{"),
        "{detail}"
    );
    assert!(qmp.is_closed());
    let later = qmp.execute("query-status", None, in_secs(60));
    assert!(matches!(later, Err(QmpError::Protocol { .. })), "{later:?}");
}

#[test]
fn protocol_error_quotes_at_most_about_200_bytes() {
    let (qmp, mut server) = connected();

    server.send(&"x".repeat(10_000));
    let error = qmp
        .wait_event("NEVER", None, in_secs(60))
        .expect_err("garbage must fail the wait");

    let QmpError::Protocol { detail } = &error else {
        panic!("expected a protocol error, got {error:?}");
    };
    assert!(detail.len() < 400, "{} bytes: {detail}", detail.len());
}

#[test]
fn a_json_value_that_is_not_an_object_is_a_protocol_error() {
    let (qmp, mut server) = connected();

    server.send("[1, 2, 3]");
    let error = qmp
        .wait_event("NEVER", None, in_secs(60))
        .expect_err("must fail");

    assert!(
        matches!(&error, QmpError::Protocol { detail } if detail.contains("not an object")),
        "{error:?}"
    );
}

#[test]
fn a_truncated_line_at_eof_is_a_protocol_error() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);

    let call = spawn(&qmp, |qmp| qmp.execute("query-status", None, in_secs(60)));
    let id = server.recv()["id"].clone();
    server.send_raw(format!(r#"{{"id": {id}, "return": {{"stat"#).as_bytes());
    server.hang_up();
    let error = call.join().expect("join").expect_err("must fail");

    assert!(
        matches!(&error, QmpError::Protocol { detail } if detail.contains("middle of a line") && detail.contains("stat")),
        "{error:?}"
    );
}

#[test]
fn an_oversized_line_is_refused_with_the_limit() {
    let (qmp, mut server) = connected_with(
        Options::default().with_max_line(1024),
        Transcript::discard(),
    );
    let qmp = Arc::new(qmp);

    let call = spawn(&qmp, |qmp| qmp.execute("query-status", None, in_secs(60)));
    let id = server.recv()["id"].clone();
    server.send_json(json!({"id": id, "return": "y".repeat(5000)}));
    let error = call.join().expect("join").expect_err("must fail");

    assert!(
        matches!(error, QmpError::LineTooLong { limit: 1024 }),
        "{error:?}"
    );
    assert!(qmp.is_closed());
}

#[test]
fn no_reply_times_out_at_the_deadline_naming_the_command_and_the_last_message() {
    let (qmp, mut server) = connected();
    server.send_json(json!({"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 0}}));
    wait_until_queued(&qmp, "RESUME");
    let start = Instant::now();

    let error = qmp
        .execute(
            "query-status",
            None,
            Instant::now() + Duration::from_millis(200),
        )
        .expect_err("must time out");

    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < PROMPTLY,
        "{elapsed:?}"
    );
    let QmpError::Timeout { waiting_for } = &error else {
        panic!("expected a timeout, got {error:?}");
    };
    assert!(
        waiting_for.contains("reply to query-status"),
        "{waiting_for}"
    );
    assert!(waiting_for.contains("RESUME"), "{waiting_for}");
}

#[test]
fn a_late_reply_is_dropped_and_does_not_answer_the_next_command() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);

    let late = qmp.execute("slow", None, Instant::now() + Duration::from_millis(100));
    let slow = server.recv();
    server.send_json(json!({"return": "late", "id": slow["id"]}));
    let next = spawn(&qmp, |qmp| qmp.execute("fast", None, in_secs(10)));
    server.reply(json!("fast"));

    assert!(matches!(late, Err(QmpError::Timeout { .. })), "{late:?}");
    assert_eq!(next.join().expect("join").expect("execute"), json!("fast"));
}

#[test]
fn a_deadline_already_past_times_out_without_sending() {
    let (qmp, _server) = connected();

    let error = qmp
        .execute("stop", None, Instant::now())
        .expect_err("must time out");

    assert!(matches!(error, QmpError::Timeout { .. }), "{error:?}");
}

#[test]
fn eof_while_waiting_fails_promptly_with_closed() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);
    let start = Instant::now();

    let call = spawn(&qmp, |qmp| qmp.execute("quit", None, in_secs(60)));
    let event = spawn(&qmp, |qmp| qmp.wait_event("SHUTDOWN", None, in_secs(60)));
    server.recv();
    server.hang_up();

    assert!(matches!(call.join().expect("join"), Err(QmpError::Closed)));
    assert!(matches!(event.join().expect("join"), Err(QmpError::Closed)));
    assert!(start.elapsed() < PROMPTLY);
    assert!(qmp.is_closed());
    assert!(matches!(
        qmp.execute("stop", None, in_secs(60)),
        Err(QmpError::Closed)
    ));
}

#[test]
fn close_ends_a_wait_on_another_thread_promptly() {
    let (qmp, _server) = connected();
    let qmp = Arc::new(qmp);
    let start = Instant::now();

    let event = spawn(&qmp, |qmp| qmp.wait_event("STOP", None, in_secs(60)));
    // Not synchronisation: closing before the wait starts ends it with Closed
    // too; the pause only makes "during the wait" the likely case.
    thread::sleep(Duration::from_millis(50));
    qmp.close();

    assert!(matches!(event.join().expect("join"), Err(QmpError::Closed)));
    assert!(start.elapsed() < PROMPTLY);
    assert!(qmp.is_closed());
}

#[test]
fn events_received_before_and_after_the_wait_are_both_found() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);
    server.send_json(json!({"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}}));

    let stop = qmp.wait_event("STOP", None, in_secs(10)).expect("STOP");
    let resume = spawn(&qmp, |qmp| qmp.wait_event("RESUME", None, in_secs(10)));
    // Not synchronisation: RESUME is found whether it lands before or after
    // the wait starts; the pause only makes "after" the likely case.
    thread::sleep(Duration::from_millis(50));
    server.send_json(json!({"event": "RESUME", "timestamp": {"seconds": 2, "microseconds": 0}}));

    assert_eq!(stop["timestamp"]["seconds"], 1);
    assert_eq!(
        resume.join().expect("join").expect("RESUME")["event"],
        "RESUME"
    );
}

#[test]
fn an_event_is_consumed_once() {
    let (qmp, mut server) = connected();
    server.send_json(json!({"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}}));

    qmp.wait_event("STOP", None, in_secs(10))
        .expect("first wait");
    let second = qmp.wait_event("STOP", None, Instant::now() + Duration::from_millis(100));

    let Err(QmpError::Timeout { waiting_for }) = &second else {
        panic!("expected a timeout, got {second:?}");
    };
    assert!(waiting_for.contains("event STOP"), "{waiting_for}");
    assert!(qmp.pending_events().is_empty());
}

#[test]
fn wait_event_takes_the_first_match_and_leaves_the_rest_queued_in_order() {
    let (qmp, mut server) = connected();
    for (reason, seconds) in [
        ("guest-reset", 1),
        ("host-qmp-quit", 2),
        ("host-qmp-quit", 3),
    ] {
        server.send_json(
            json!({"event": "SHUTDOWN", "data": {"guest": false, "reason": reason},
                                "timestamp": {"seconds": seconds, "microseconds": 0}}),
        );
    }
    server.send_json(json!({"event": "STOP", "timestamp": {"seconds": 4, "microseconds": 0}}));
    qmp.wait_event("STOP", None, in_secs(10)).expect("STOP");

    let quit = qmp
        .wait_event(
            "SHUTDOWN",
            Some(&json!({"data": {"reason": "host-qmp-quit"}})),
            in_secs(10),
        )
        .expect("SHUTDOWN");

    assert_eq!(quit["timestamp"]["seconds"], 2);
    let left: Vec<Value> = qmp
        .pending_events()
        .iter()
        .map(|event| event["timestamp"]["seconds"].clone())
        .collect();
    assert_eq!(left, vec![json!(1), json!(3)]);
}

#[test]
fn a_timed_out_event_wait_names_the_pattern_and_the_unconsumed_events() {
    let (qmp, mut server) = connected();
    server.send_json(json!({"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 0}}));
    wait_until_queued(&qmp, "RESUME");

    let error = qmp
        .wait_event(
            "STOP",
            Some(&json!({"data": {}})),
            Instant::now() + Duration::from_millis(100),
        )
        .expect_err("must time out");

    let message = error.to_string();
    assert!(
        message.contains(r#"event STOP matching {"data":{}}"#),
        "{message}"
    );
    assert!(message.contains("unconsumed events: RESUME"), "{message}");
}

#[test]
fn events_queued_before_eof_are_still_returned() {
    let (qmp, mut server) = connected();
    server.send_json(json!({"event": "SHUTDOWN", "timestamp": {"seconds": 1, "microseconds": 0}}));
    server.hang_up();
    let start = Instant::now();
    while !qmp.is_closed() && start.elapsed() < PROMPTLY {
        thread::sleep(Duration::from_millis(10));
    }

    let shutdown = qmp.wait_event("SHUTDOWN", None, in_secs(10));

    assert!(shutdown.is_ok(), "{shutdown:?}");
}

#[test]
fn replies_arriving_out_of_order_reach_their_callers() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);

    let first = spawn(&qmp, |qmp| qmp.execute("first", None, in_secs(10)));
    let a = server.recv();
    let second = spawn(&qmp, |qmp| qmp.execute("second", None, in_secs(10)));
    let b = server.recv();
    server.send_json(json!({"return": b["execute"], "id": b["id"]}));
    server.send_json(json!({"return": a["execute"], "id": a["id"]}));

    assert_eq!(first.join().expect("join").expect("first"), json!("first"));
    assert_eq!(
        second.join().expect("join").expect("second"),
        json!("second")
    );
}

#[test]
fn replies_without_or_with_unknown_ids_are_ignored() {
    let (qmp, mut server) = connected();
    let qmp = Arc::new(qmp);

    let call = spawn(&qmp, |qmp| qmp.execute("query-status", None, in_secs(10)));
    let id = server.recv()["id"].clone();
    server.send_json(json!({"return": "no id"}));
    server.send_json(json!({"return": "unknown id", "id": "someone-else"}));
    server.send_json(json!({"return": "mine", "id": id}));

    assert_eq!(call.join().expect("join").expect("execute"), json!("mine"));
}

#[test]
fn handshake_without_a_greeting_is_a_protocol_error() {
    let (client, server) = UnixStream::pair().expect("socket pair");
    let mut server = Server::new(server);
    server.send(r#"{"return": {}}"#);

    let error = Qmp::handshake(client, Transcript::discard(), in_secs(10)).expect_err("must fail");

    assert!(
        matches!(&error, QmpError::Protocol { detail } if detail.contains("greeting")),
        "{error:?}"
    );
}

#[test]
fn handshake_times_out_when_qemu_stays_silent() {
    let (client, _server) = UnixStream::pair().expect("socket pair");

    let error = Qmp::handshake(
        client,
        Transcript::discard(),
        Instant::now() + Duration::from_millis(100),
    )
    .expect_err("must time out");

    assert!(
        matches!(&error, QmpError::Timeout { waiting_for } if waiting_for.contains("greeting")),
        "{error:?}"
    );
}

#[test]
fn handshake_fails_when_capabilities_are_refused() {
    let (client, server) = UnixStream::pair().expect("socket pair");
    let mut server = Server::new(server);
    let handshake =
        thread::spawn(move || Qmp::handshake(client, Transcript::discard(), in_secs(10)));

    server.send(GREETING);
    let id = server.recv()["id"].clone();
    server.send_json(json!({"id": id, "error": {"class": "CommandNotFound", "desc": "no"}}));

    let error = handshake.join().expect("join").expect_err("must fail");
    assert!(matches!(error, QmpError::Command(_)), "{error:?}");
}

/// A transcript sink the test can read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_transcript_logs_every_message_in_both_directions() {
    let sink = Captured::default();
    let (qmp, _server) = connected_with(
        Options::default(),
        Transcript::new(Box::new(sink.clone()), Some("vm1".into())),
    );

    let text =
        String::from_utf8_lossy(&sink.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    let lines: Vec<&str> = text.lines().collect();

    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains(r#" [vm1] << {"QMP":{"version""#),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(r#" [vm1] >> {"execute":"qmp_capabilities","id":"kennel-1"}"#),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with(r#" [vm1] << {"return":{},"id":"kennel-1"}"#),
        "{}",
        lines[2]
    );
    assert_eq!(qmp.transcript().last_lines(3).len(), 3);
}

#[test]
fn dropping_the_client_closes_the_connection() {
    let (qmp, mut server) = connected();

    drop(qmp);
    let mut line = String::new();
    let read = server.lines.read_line(&mut line).expect("server read");

    assert_eq!(read, 0, "expected EOF, got {line:?}");
}
