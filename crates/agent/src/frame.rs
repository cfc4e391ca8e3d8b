//! Framing: encoding frames and decoding them from a byte stream, without I/O of its own
//! beyond [`FrameDecoder::read_from`].

use std::fmt;
use std::io::{self, Read};

use serde::Serialize;

use crate::protocol::{DATA_CHUNK, MAX_PAYLOAD};

/// The bytes before a payload: length (4) and kind (1).
const HEADER_LEN: usize = 5;

/// How much of offending data a protocol error quotes.
const EXCERPT_BYTES: usize = 64;

/// The kind byte of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `J`: a JSON message.
    Json,
    /// `I`: standard input for a command (host → guest).
    Stdin,
    /// `O`: a command's standard output (guest → host).
    Stdout,
    /// `E`: a command's standard error (guest → host).
    Stderr,
    /// `F`: file contents (either way).
    File,
}

impl Kind {
    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Kind::Json => b'J',
            Kind::Stdin => b'I',
            Kind::Stdout => b'O',
            Kind::Stderr => b'E',
            Kind::File => b'F',
        }
    }

    /// The kind for a byte on the wire, if it is one.
    pub fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            b'J' => Kind::Json,
            b'I' => Kind::Stdin,
            b'O' => Kind::Stdout,
            b'E' => Kind::Stderr,
            b'F' => Kind::File,
            _ => return None,
        })
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A JSON message, still as bytes (parse it with [`Frame::parse_json`]).
    Json(Vec<u8>),
    /// A data frame: `kind` is anything but [`Kind::Json`].
    Data {
        /// Which stream the bytes belong to.
        kind: Kind,
        /// The request id.
        id: u32,
        /// The raw bytes; empty ends a host → guest stream.
        bytes: Vec<u8>,
    },
}

impl Frame {
    /// Parse a JSON frame as `T`; a data frame or invalid JSON is a [`ProtocolError`].
    pub fn parse_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProtocolError> {
        match self {
            Frame::Json(bytes) => serde_json::from_slice(bytes).map_err(|e| ProtocolError {
                detail: format!("invalid message ({e}): {}", excerpt(bytes)),
            }),
            Frame::Data { .. } => Err(ProtocolError {
                detail: format!("expected a JSON message, received {}", self.summary()),
            }),
        }
    }

    /// A short description for errors and logs, e.g. `stdout data (12 bytes) for request 3`.
    pub fn summary(&self) -> String {
        match self {
            Frame::Json(bytes) => format!("message {}", excerpt(bytes)),
            Frame::Data { kind, id, bytes } => {
                let what = match kind {
                    Kind::Json => "json",
                    Kind::Stdin => "stdin",
                    Kind::Stdout => "stdout",
                    Kind::Stderr => "stderr",
                    Kind::File => "file",
                };
                format!("{what} data ({} bytes) for request {id}", bytes.len())
            }
        }
    }
}

/// The peer sent something that is not this protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// What was wrong, quoting (the start of) the offending bytes.
    pub detail: String,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for ProtocolError {}

/// Encode a JSON message as a frame.
pub fn encode_json<T: Serialize>(message: &T) -> Vec<u8> {
    let mut frame = vec![0; HEADER_LEN];
    // Writing our own message types to a Vec cannot fail.
    serde_json::to_writer(&mut frame, message).unwrap_or_default();
    finish(frame, Kind::Json)
}

/// Encode a data frame; `bytes` must not exceed `MAX_PAYLOAD - 4` (callers send
/// at most [`DATA_CHUNK`] at a time).
pub fn encode_data(kind: Kind, id: u32, bytes: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_LEN + 4 + bytes.len());
    frame.extend_from_slice(&[0; HEADER_LEN]);
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(bytes);
    finish(frame, kind)
}

fn finish(mut frame: Vec<u8>, kind: Kind) -> Vec<u8> {
    let len = frame.len() - HEADER_LEN;
    debug_assert!(len <= MAX_PAYLOAD, "frame payload of {len} bytes");
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    frame[..4].copy_from_slice(&len.to_be_bytes());
    frame[4] = kind.byte();
    frame
}

/// Cuts a byte stream into frames. Feed it with [`FrameDecoder::read_from`] (or
/// [`FrameDecoder::push`]) and take frames with [`FrameDecoder::next_frame`];
/// partial frames stay buffered across reads, so a read timeout loses nothing.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    scratch: Vec<u8>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            scratch: vec![0; DATA_CHUNK + 64],
        }
    }

    /// One `read` from `source` into the buffer; returns what `read` returned
    /// (0 at end of file).
    pub fn read_from(&mut self, source: &mut impl Read) -> io::Result<usize> {
        let n = source.read(&mut self.scratch)?;
        let (buf, scratch) = (&mut self.buf, &self.scratch);
        buf.extend_from_slice(&scratch[..n]);
        Ok(n)
    }

    /// Append bytes received some other way.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes of an incomplete frame still buffered (for "closed mid-frame" errors).
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        let pending = &self.buf[self.start..];
        if pending.len() < HEADER_LEN {
            self.compact();
            return Ok(None);
        }
        let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
        let kind = Kind::from_byte(pending[4]).ok_or_else(|| ProtocolError {
            detail: format!(
                "unknown frame kind 0x{:02x}, received: {}",
                pending[4],
                excerpt(pending)
            ),
        })?;
        if len > MAX_PAYLOAD {
            return Err(ProtocolError {
                detail: format!(
                    "frame of {len} bytes exceeds the limit of {MAX_PAYLOAD}, received: {}",
                    excerpt(pending)
                ),
            });
        }
        if kind != Kind::Json && len < 4 {
            return Err(ProtocolError {
                detail: format!(
                    "data frame of {len} bytes has no request id, received: {}",
                    excerpt(pending)
                ),
            });
        }
        if pending.len() < HEADER_LEN + len {
            self.compact();
            return Ok(None);
        }
        let payload = &pending[HEADER_LEN..HEADER_LEN + len];
        let frame = match kind {
            Kind::Json => Frame::Json(payload.to_vec()),
            kind => Frame::Data {
                kind,
                id: u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]),
                bytes: payload[4..].to_vec(),
            },
        };
        self.start += HEADER_LEN + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(frame))
    }

    /// Drop consumed bytes once they are the larger part of the buffer.
    fn compact(&mut self) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

/// The start of `bytes`, printable: `b"..."` escapes plus the total length.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let more = if bytes.len() > shown.len() {
        format!("... ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    format!("\"{}\"{more}", shown.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::HostMessage;

    fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, ProtocolError> {
        let mut decoder = FrameDecoder::new();
        decoder.push(bytes);
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame()? {
            frames.push(frame);
        }
        Ok(frames)
    }

    #[test]
    fn frames_split_at_every_byte_decode_the_same() {
        let mut stream = encode_json(&HostMessage::Ping { id: 1 });
        stream.extend(encode_data(Kind::Stdout, 1, b"\0\xffraw"));
        stream.extend(encode_data(Kind::File, 2, b""));
        let mut decoder = FrameDecoder::new();
        let mut frames = Vec::new();

        for byte in &stream {
            decoder.push(std::slice::from_ref(byte));
            while let Some(frame) = decoder.next_frame().expect("valid") {
                frames.push(frame);
            }
        }

        assert_eq!(frames, decode_all(&stream).expect("valid"));
        assert_eq!(
            frames,
            vec![
                Frame::Json(br#"{"type":"ping","id":1}"#.to_vec()),
                Frame::Data {
                    kind: Kind::Stdout,
                    id: 1,
                    bytes: b"\0\xffraw".to_vec()
                },
                Frame::Data {
                    kind: Kind::File,
                    id: 2,
                    bytes: Vec::new()
                },
            ]
        );
        assert!(decoder.pending().is_empty());
    }

    #[test]
    fn frame_over_the_limit_is_refused_before_its_payload_arrives() {
        let mut header = u32::try_from(MAX_PAYLOAD + 1)
            .expect("fits")
            .to_be_bytes()
            .to_vec();
        header.push(b'O');

        let error = decode_all(&header).expect_err("refused");

        assert_eq!(
            error.detail,
            "frame of 1048577 bytes exceeds the limit of 1048576, received: \"\\x00\\x10\\x00\\x01O\""
        );
    }

    #[test]
    fn text_instead_of_frames_is_an_unknown_kind() {
        let error = decode_all(b"hello, world\n").expect_err("refused");

        assert_eq!(
            error.detail,
            "unknown frame kind 0x6f, received: \"hello, world\\n\""
        );
    }

    #[test]
    fn data_frame_without_an_id_is_refused() {
        let error = decode_all(b"\0\0\0\x02Oab").expect_err("refused");

        assert!(error
            .detail
            .starts_with("data frame of 2 bytes has no request id"));
    }

    #[test]
    fn invalid_json_message_quotes_it() {
        let frame = Frame::Json(b"{nope".to_vec());

        let error = frame.parse_json::<HostMessage>().expect_err("refused");

        assert!(error
            .detail
            .starts_with("invalid message (key must be a string"));
        assert!(error.detail.ends_with("\"{nope\""));
    }
}
