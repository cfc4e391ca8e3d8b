//! The wire under [`AgentClient`]: sending whole frames, waiting for the next
//! frame or for the reply to one request (stale frames skipped), request ids, and
//! a channel marked broken once an error leaves it out of step.

use std::error::Error as _;
use std::io::{self, Write};
use std::time::Instant;

use crate::error::AgentError;
use crate::frame::excerpt;
use crate::protocol::{AgentMessage, Frame, Kind};

use super::AgentClient;

/// A reply frame for the current request (stale frames already skipped).
pub(super) enum Reply {
    Data(Kind, Vec<u8>),
    Message(AgentMessage),
}

impl AgentClient {
    /// Run `op` unless the channel is broken; mark it broken on errors that leave
    /// the stream out of step.
    pub(super) fn checked<T>(
        &mut self,
        op: impl FnOnce(&mut AgentClient) -> Result<T, AgentError>,
    ) -> Result<T, AgentError> {
        if let Some(first) = &self.broken {
            return Err(AgentError::Broken {
                first: first.clone(),
            });
        }
        let result = op(self);
        if let Err(
            e @ (AgentError::Io { .. }
            | AgentError::Disconnected { .. }
            | AgentError::Protocol { .. }),
        ) = &result
        {
            self.broken.get_or_insert_with(|| chain(e));
        }
        result
    }

    pub(super) fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Write whole frames; any failure leaves a partial frame, so the channel breaks.
    pub(super) fn send(&mut self, bytes: &[u8], request: &str) -> Result<(), AgentError> {
        let result = self
            .stream
            .set_write_timeout(Some(self.response_timeout))
            .and_then(|()| self.stream.write_all(bytes));
        let Err(source) = result else {
            return Ok(());
        };
        let error = match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => AgentError::Timeout {
                waiting_for: format!(
                    "the guest to accept {request} (a write blocked for {:?})",
                    self.response_timeout
                ),
            },
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
                AgentError::Disconnected {
                    during: format!("sending {request}"),
                }
            }
            _ => AgentError::Io {
                during: format!("sending {request}"),
                source,
            },
        };
        self.broken.get_or_insert_with(|| chain(&error));
        Err(error)
    }

    /// The next frame, waiting until `deadline`.
    pub(super) fn recv(
        &mut self,
        deadline: Instant,
        waiting_for: &dyn Fn() -> String,
    ) -> Result<Frame, AgentError> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    self.last_received = frame.summary();
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(source) => {
                    return Err(AgentError::Protocol {
                        during: format!("waiting for {}", waiting_for()),
                        source,
                    })
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(AgentError::Timeout {
                    waiting_for: format!(
                        "{}; last received: {}",
                        waiting_for(),
                        self.last_received
                    ),
                });
            }
            let read = self
                .stream
                .set_read_timeout(Some(remaining))
                .and_then(|()| self.decoder.read_from(&mut self.stream));
            match read {
                Ok(0) => {
                    let pending = self.decoder.pending();
                    let partial = if pending.is_empty() {
                        String::new()
                    } else {
                        format!(" (in the middle of a frame: {})", excerpt(pending))
                    };
                    return Err(AgentError::Disconnected {
                        during: format!("waiting for {}{partial}", waiting_for()),
                    });
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                // A guest dying with our request unread resets the connection.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(AgentError::Disconnected {
                        during: format!("waiting for {}", waiting_for()),
                    })
                }
                Err(source) => {
                    return Err(AgentError::Io {
                        during: format!("waiting for {}", waiting_for()),
                        source,
                    })
                }
            }
        }
    }

    /// The next message, skipping data frames (left over from an earlier host of
    /// the same port, or of an abandoned request), waiting until `deadline`.
    pub(super) fn next_message(
        &mut self,
        deadline: Instant,
        waiting_for: &dyn Fn() -> String,
    ) -> Result<AgentMessage, AgentError> {
        loop {
            let frame = self.recv(deadline, waiting_for)?;
            if let Frame::Data { .. } = frame {
                continue;
            }
            return frame
                .parse_json::<AgentMessage>()
                .map_err(|source| AgentError::Protocol {
                    during: waiting_for(),
                    source,
                });
        }
    }

    /// The next frame for request `id`, skipping frames of earlier (abandoned) requests.
    pub(super) fn reply(
        &mut self,
        id: u32,
        deadline: Instant,
        waiting_for: &dyn Fn() -> String,
    ) -> Result<Reply, AgentError> {
        loop {
            let frame = self.recv(deadline, waiting_for)?;
            let protocol_error = |detail: String| AgentError::Protocol {
                during: format!("waiting for {}", waiting_for()),
                source: crate::protocol::ProtocolError { detail },
            };
            let (frame_id, reply) = match frame {
                Frame::Data { kind, id, bytes } => (id, Reply::Data(kind, bytes)),
                Frame::Json(_) => {
                    let message = frame
                        .parse_json::<AgentMessage>()
                        .map_err(|e| protocol_error(e.detail))?;
                    if let AgentMessage::Ready(_) = message {
                        return Err(protocol_error(format!(
                            "the agent restarted: {}",
                            frame.summary()
                        )));
                    }
                    (message.id(), Reply::Message(message))
                }
            };
            if frame_id == id {
                return Ok(reply);
            }
            if frame_id > id {
                return Err(protocol_error(format!(
                    "a reply for request {frame_id}, which was never sent: {}",
                    self.last_received
                )));
            }
            // A late frame of an abandoned request: skip it.
        }
    }

    pub(super) fn unexpected(&self, reply: Reply, request: &str) -> AgentError {
        let what = match reply {
            Reply::Data(kind, bytes) => format!("a {:?} data frame ({} bytes)", kind, bytes.len()),
            Reply::Message(message) => format!("{message:?}"),
        };
        AgentError::Protocol {
            during: format!("waiting for the result of {request}"),
            source: crate::protocol::ProtocolError {
                detail: format!("unexpected reply {what}"),
            },
        }
    }
}

/// `error` and its causes on one line.
fn chain(error: &AgentError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
