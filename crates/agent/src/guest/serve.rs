//! The request loop: Ready, then one request at a time.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::time::Duration;

use super::channel::Channel;
use super::command::{self, Flow, RunRequest};
use crate::protocol::{
    encode_data, encode_json, AgentMessage, Frame, HostMessage, Kind, ReadyInfo, DATA_CHUNK,
    PROTOCOL_VERSION,
};

/// What the agent announces: its version, the kernel release and the uptime now.
pub fn ready_info() -> ReadyInfo {
    let kernel_release = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let uptime = fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .unwrap_or_default();
    ReadyInfo {
        protocol: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").into(),
        kernel_release,
        uptime,
        features: vec![crate::protocol::FEATURE_REFRESH.into()],
    }
}

/// Send Ready, then serve requests until the host goes away (`Ok`). Errors are
/// failures of the channel itself or a host that does not speak the protocol.
pub fn serve(channel: &mut Channel) -> io::Result<()> {
    channel.send(&encode_json(&AgentMessage::Ready(ready_info())))?;
    loop {
        let Some(frame) = channel.recv()? else {
            return Ok(());
        };
        let message = match &frame {
            Frame::Json(_) => frame
                .parse_json::<HostMessage>()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            // Left over from a request the host abandoned, or refused while busy.
            Frame::Data { .. } => continue,
        };
        let flow = match message {
            HostMessage::Run {
                id,
                argv,
                env,
                timeout_ms,
                stdin,
            } => {
                let stdin = if stdin {
                    match read_stream(channel, Kind::Stdin, id)? {
                        Some(bytes) => Some(bytes),
                        None => return Ok(()),
                    }
                } else {
                    None
                };
                command::run(
                    channel,
                    RunRequest {
                        id,
                        argv,
                        env,
                        timeout: Duration::from_millis(timeout_ms),
                        stdin,
                    },
                )?
            }
            HostMessage::CopyIn { id, path, mode } => copy_in(channel, id, &path, mode)?,
            HostMessage::CopyOut { id, path } => copy_out(channel, id, &path)?,
            HostMessage::Ping { id } => {
                channel.send(&encode_json(&AgentMessage::Pong { id }))?;
                Flow::Continue
            }
            // Nothing runs: the command ended before the cancel arrived.
            HostMessage::Cancel { .. } => Flow::Continue,
            HostMessage::Refresh {
                id,
                unix_time_ns,
                seed,
            } => {
                let reply = match super::sys::refresh_identity(unix_time_ns, &seed) {
                    Ok(()) => AgentMessage::Done {
                        id,
                        bytes: seed.len() as u64,
                    },
                    Err(e) => AgentMessage::Error {
                        id,
                        message: e.message(),
                    },
                };
                channel.send(&encode_json(&reply))?;
                Flow::Continue
            }
        };
        if let Flow::HostGone = flow {
            return Ok(());
        }
    }
}

/// The data frames of a host → guest stream up to its empty end frame; `None`
/// when the host went away.
fn read_stream(channel: &mut Channel, kind: Kind, id: u32) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let complete = for_each_chunk(channel, kind, id, |chunk| {
        data.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(complete.then_some(data))
}

/// Call `sink` with each data frame of a host → guest stream; false when the host
/// went away before its end. Once `sink` fails the rest of the stream is read
/// and dropped, and the first failure returned.
fn for_each_chunk(
    channel: &mut Channel,
    kind: Kind,
    id: u32,
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<bool> {
    loop {
        let Some(frame) = channel.recv()? else {
            return Ok(false);
        };
        match frame {
            Frame::Data {
                kind: k,
                id: i,
                bytes,
            } if k == kind && i == id => {
                if bytes.is_empty() {
                    return Ok(true);
                }
                sink(&bytes)?;
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "expected {kind:?} data for request {id}, received {}",
                        other.summary()
                    ),
                ))
            }
        }
    }
}

fn copy_in(channel: &mut Channel, id: u32, path: &str, mode: u32) -> io::Result<Flow> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("cannot create {path}: {e}"));
    let mut bytes = 0u64;
    let complete = for_each_chunk(channel, Kind::File, id, |chunk| {
        bytes += chunk.len() as u64;
        if let Ok(f) = &mut file {
            if let Err(e) = f.write_all(chunk) {
                file = Err(format!("cannot write {path}: {e}"));
            }
        }
        Ok(())
    })?;
    if !complete {
        return Ok(Flow::HostGone);
    }
    // The mode given to open(2) is masked by the umask; set it as asked.
    let result = file.and_then(|f| {
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot set the mode of {path} to {mode:o}: {e}"))
    });
    let reply = match result {
        Ok(()) => AgentMessage::Done { id, bytes },
        Err(message) => AgentMessage::Error { id, message },
    };
    channel.send(&encode_json(&reply))?;
    Ok(Flow::Continue)
}

fn copy_out(channel: &mut Channel, id: u32, path: &str) -> io::Result<Flow> {
    let error = |message: String| encode_json(&AgentMessage::Error { id, message });
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) => {
            channel.send(&error(format!("cannot open {path}: {e}")))?;
            return Ok(Flow::Continue);
        }
    };
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        channel.send(&error(format!("{path} is a directory")))?;
        return Ok(Flow::Continue);
    }
    let mut chunk = vec![0; DATA_CHUNK];
    let mut bytes = 0u64;
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                channel.send(&encode_data(Kind::File, id, &chunk[..n]))?;
                bytes += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                channel.send(&error(format!("cannot read {path}: {e}")))?;
                return Ok(Flow::Continue);
            }
        }
    }
    channel.send(&encode_json(&AgentMessage::Done { id, bytes }))?;
    Ok(Flow::Continue)
}
