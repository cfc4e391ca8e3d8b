//! Fuzz targets for what QEMU sends on QMP (see the `kennel-fuzz` crate):
//! lines and their routing, and whole sessions through the client.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use kennel_fuzz::{Rng, Target};

use crate::line::{LineError, LineReader};
use crate::state::Shared;
use crate::transcript::Transcript;
use crate::{Options, Qmp};

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

const TOKENS: &[&[u8]] = &[
    b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n",
    b"{\"return\": {}, \"id\": \"kennel-1\"}\n",
    b"{\"return\": {}, \"id\": \"kennel-2\"}\n",
    b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": \"kennel-2\"}\n",
    b"{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\n",
    b"\"id\"",
    b"\"return\"",
    b"\"error\"",
    b"\"event\"",
    b"\\u0000",
    b"\\ud800",
    b"[[[[[[[[[[[[[[[[",
    b"\r\n",
];

/// One line QEMU might send in a session, right or wrong.
fn session_line(rng: &mut Rng) -> String {
    let id = format!("kennel-{}", rng.below(5));
    match rng.below(9) {
        0 => format!("{{\"return\": {{\"status\": \"running\"}}, \"id\": \"{id}\"}}"),
        1 => format!("{{\"return\": \"text\\r\\n\", \"id\": \"{id}\"}}"),
        2 => format!(
            "{{\"error\": {{\"class\": \"GenericError\", \"desc\": \"d\"}}, \"id\": \"{id}\"}}"
        ),
        3 => format!("{{\"error\": 3, \"id\": \"{id}\"}}"),
        4 => "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}"
            .to_string(),
        5 => format!("{{\"return\": {{}}, \"id\": {}}}", rng.edgy_u64()),
        6 => "[1, 2]".to_string(),
        7 => "x".repeat(rng.below(3000)),
        _ => format!(
            "{{\"return\": {}, \"id\": \"{id}\"}}",
            "[".repeat(rng.below(300))
        ),
    }
}

fn session(rng: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    if !rng.one_in(8) {
        text.push_str("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\n");
    }
    for _ in 0..rng.below(8) {
        text.push_str(&session_line(rng));
        text.push_str(if rng.one_in(4) { "\r\n" } else { "\n" });
    }
    text.into_bytes()
}

/// Every line is read within the limit, and routing one never panics.
#[test]
fn fuzz_qmp_lines() {
    const MAX_LINE: usize = 4096;
    Target::new("qmp_lines")
        .dictionary(TOKENS)
        .generator(session)
        .run(|input| {
            let shared = Shared::default();
            shared.lock().pending.insert("kennel-2".into(), None);
            let transcript = Transcript::discard();
            let mut lines = LineReader::new(input, MAX_LINE);
            loop {
                match lines.next_line() {
                    Ok(Some(line)) => {
                        assert!(
                            line.len() <= MAX_LINE,
                            "a line of {} bytes passed the limit",
                            line.len()
                        );
                        if crate::reader::handle_line(&line, &shared, &transcript).is_err() {
                            break;
                        }
                    }
                    Ok(None) | Err(LineError::TooLong | LineError::Truncated(_)) => break,
                    Err(LineError::Io(e)) => panic!("reading from a slice failed: {e}"),
                }
            }
        });
}

/// A whole session against the client: the handshake, a command, an HMP
/// command and an event wait each end (with a value or an error) well
/// before their deadline once QEMU's side has said its piece and closed.
#[test]
fn fuzz_qmp_session() {
    Target::new("qmp_session")
        .dictionary(TOKENS)
        .generator(session)
        .run(|input| {
            let (client, qemu) = UnixStream::pair().expect("a socket pair");
            let script = input.to_vec();
            let speaker = std::thread::spawn(move || {
                let mut qemu = qemu;
                let _ = qemu.write_all(&script);
                let _ = qemu.shutdown(std::net::Shutdown::Write);
                // Swallow what the client sends until it hangs up.
                let _ = std::io::copy(&mut qemu, &mut std::io::sink());
            });
            let started = Instant::now();
            let deadline = started + Duration::from_secs(5);
            let options = Options::default().with_max_line(1 << 20);
            if let Ok(qmp) = Qmp::handshake_with(client, Transcript::discard(), deadline, options) {
                let _ = qmp.version();
                let _ = qmp.execute("query-status", None, deadline);
                let _ = qmp.hmp("info version", deadline);
                let _ = qmp.wait_event("STOP", None, deadline);
                let _ = qmp.pending_events();
            }
            assert!(
                Instant::now() < deadline,
                "the session waited for its deadline after QEMU closed"
            );
            let _ = speaker.join();
        });
}
