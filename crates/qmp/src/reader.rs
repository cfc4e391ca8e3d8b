//! The reader thread: owns the read half, routes replies, queues events.

use std::io;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;

use serde_json::Value;

use crate::line::{LineError, LineReader};
use crate::state::{Closure, Shared};
use crate::transcript::{truncate, Direction, Transcript};

/// How much of an offending line a protocol error quotes.
const EXCERPT_BYTES: usize = 200;

/// Start the reader thread. It ends at end of file or on the first error, after
/// recording why in the shared state.
pub(crate) fn spawn(
    read_half: UnixStream,
    max_line: usize,
    shared: Arc<Shared>,
    transcript: Transcript,
) -> io::Result<()> {
    thread::Builder::new()
        .name("kennel-qmp-reader".into())
        .spawn(move || run(read_half, max_line, &shared, &transcript))
        .map(drop)
}

fn run(read_half: UnixStream, max_line: usize, shared: &Shared, transcript: &Transcript) {
    let mut lines = LineReader::new(read_half, max_line);
    let closure = loop {
        match lines.next_line() {
            Ok(Some(line)) => {
                if let Err(closure) = handle_line(&line, shared, transcript) {
                    break closure;
                }
            }
            Ok(None) => break Closure::Eof,
            // QEMU dying with our command unread in its buffer resets the connection:
            // for the caller that is the same as QEMU closing it.
            Err(LineError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                break Closure::Eof
            }
            Err(LineError::Io(e)) => break Closure::Io(e.kind(), e.to_string()),
            Err(LineError::Truncated(partial)) => {
                transcript.record(Direction::Received, &String::from_utf8_lossy(&partial));
                break Closure::Protocol(format!(
                    "connection closed in the middle of a line: {}",
                    excerpt(&partial)
                ));
            }
            Err(LineError::TooLong) => {
                transcript.record(
                    Direction::Received,
                    &format!("(a line longer than {max_line} bytes; connection abandoned)"),
                );
                break Closure::LineTooLong(max_line);
            }
        }
    };
    shared.lock().closed.get_or_insert(closure);
    shared.notify();
}

/// Log one line and hand it to whoever waits for it.
pub(crate) fn handle_line(
    line: &[u8],
    shared: &Shared,
    transcript: &Transcript,
) -> Result<(), Closure> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let message: Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(e) => {
            transcript.record(Direction::Received, &String::from_utf8_lossy(line));
            return Err(Closure::Protocol(format!(
                "QEMU sent a line that is not JSON ({e}): {}",
                excerpt(line)
            )));
        }
    };
    let compact = message.to_string();
    transcript.record(Direction::Received, &compact);
    let Value::Object(object) = message else {
        return Err(Closure::Protocol(format!(
            "QEMU sent a JSON value that is not an object: {}",
            excerpt(compact.as_bytes())
        )));
    };

    let mut state = shared.lock();
    state.last_received = Some(truncate(compact, EXCERPT_BYTES));
    if state.greeting.is_none() {
        match object.get("QMP") {
            Some(greeting @ Value::Object(_)) => state.greeting = Some(greeting.clone()),
            _ => {
                return Err(Closure::Protocol(format!(
                    "expected the QMP greeting, got: {}",
                    excerpt(line)
                )))
            }
        }
    } else if object.contains_key("event") {
        state.events.push_back(Value::Object(object));
    } else if object.contains_key("return") || object.contains_key("error") {
        // Replies nobody waits for (no id, unknown id, or a caller that gave up)
        // are only logged.
        let id = object
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(slot @ None) = state.pending.get_mut(&id) {
            *slot = Some(object);
        }
    }
    drop(state);
    shared.notify();
    Ok(())
}

/// The start of `bytes` as text, for error messages.
fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.len().min(EXCERPT_BYTES + 4);
    truncate(
        String::from_utf8_lossy(&bytes[..cut]).into_owned(),
        EXCERPT_BYTES,
    )
}
