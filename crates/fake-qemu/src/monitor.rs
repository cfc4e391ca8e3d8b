//! The fake QMP monitor.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// When to misbehave while serving, counted in commands after `qmp_capabilities`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Limits {
    /// Answer this many commands, then hang on the next.
    pub(crate) hang_after: Option<usize>,
    /// Answer this many commands, then abort on the next.
    pub(crate) crash_after: Option<usize>,
}

/// Stay alive, doing nothing, until killed.
pub(crate) fn hang() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The greeting, shaped like QEMU 7.2's.
pub(crate) fn send_greeting(out: &mut UnixStream) -> io::Result<()> {
    send(
        out,
        &json!({"QMP": {
            "version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "kennel-fake-qemu"},
            "capabilities": ["oob"],
        }}),
    )
}

/// A line that is not JSON.
pub(crate) fn send_garbage(out: &mut UnixStream) -> io::Result<()> {
    out.write_all(b"fake-qemu garbage: this is not JSON }{\n")
}

/// Answer commands until the client closes the connection. Returns at end of file;
/// exits the process on `quit`.
pub(crate) fn serve(stream: &mut UnixStream, limits: Limits) -> io::Result<()> {
    let lines = BufReader::new(stream.try_clone()?).lines();
    let mut negotiated = false;
    let mut answered = 0;
    let mut running = true;
    for line in lines {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let request: Value = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(e) => {
                send(
                    stream,
                    &error(None, "GenericError", &format!("JSON parse error, {e}")),
                )?;
                continue;
            }
        };
        let id = request.get("id");
        let Some(command) = request.get("execute").and_then(Value::as_str) else {
            send(
                stream,
                &error(id, "GenericError", "QMP input lacks member 'execute'"),
            )?;
            continue;
        };
        if !negotiated {
            let reply = if command == "qmp_capabilities" {
                negotiated = true;
                ok(id, json!({}))
            } else {
                error(
                    id,
                    "CommandNotFound",
                    "Expecting capabilities negotiation with 'qmp_capabilities'",
                )
            };
            send(stream, &reply)?;
            continue;
        }
        if limits.hang_after == Some(answered) {
            eprintln!("fake-qemu: hanging on {command}");
            hang();
        }
        if limits.crash_after == Some(answered) {
            eprintln!("fake-qemu: crashing on {command}");
            std::process::abort();
        }
        answered += 1;
        match command {
            "qmp_capabilities" => send(
                stream,
                &error(
                    id,
                    "CommandNotFound",
                    "Capabilities negotiation is already complete, command ignored",
                ),
            )?,
            "query-status" => {
                let status = if running { "running" } else { "paused" };
                let reply = json!({"status": status, "singlestep": false, "running": running});
                send(stream, &ok(id, reply))?;
            }
            "stop" | "cont" => {
                running = command == "cont";
                send(
                    stream,
                    &event(if running { "RESUME" } else { "STOP" }, None),
                )?;
                send(stream, &ok(id, json!({})))?;
            }
            "quit" => {
                let data = json!({"guest": false, "reason": "host-qmp-quit"});
                send(stream, &event("SHUTDOWN", Some(data)))?;
                send(stream, &ok(id, json!({})))?;
                std::process::exit(0);
            }
            _ => send(
                stream,
                &error(
                    id,
                    "CommandNotFound",
                    &format!("The command {command} has not been found"),
                ),
            )?,
        }
    }
    Ok(())
}

fn send(out: &mut UnixStream, message: &Value) -> io::Result<()> {
    out.write_all(format!("{message}\n").as_bytes())
}

fn ok(id: Option<&Value>, value: Value) -> Value {
    with_id(json!({"return": value}), id)
}

fn error(id: Option<&Value>, class: &str, desc: &str) -> Value {
    with_id(json!({"error": {"class": class, "desc": desc}}), id)
}

fn with_id(mut reply: Value, id: Option<&Value>) -> Value {
    if let (Some(id), Some(object)) = (id, reply.as_object_mut()) {
        object.insert("id".into(), id.clone());
    }
    reply
}

fn event(name: &str, data: Option<Value>) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut event = json!({
        "timestamp": {"seconds": now.as_secs(), "microseconds": now.subsec_micros()},
        "event": name,
    });
    if let (Some(data), Some(object)) = (data, event.as_object_mut()) {
        object.insert("data".into(), data);
    }
    event
}
