//! [`HeadTail`]: the one rule for holding output of any size in bounded memory.
//!
//! A guest command, a test process or a console may print without end; kennel
//! keeps the first and the last part of such a stream in memory and counts
//! what it left out between them. Where a log file exists the full bytes go
//! there as they pass; what is kept is for messages, checks and results.

use std::collections::VecDeque;

use crate::size::human_bytes;

/// How many bytes of one output stream kennel keeps in memory: the first half
/// and the last half of it, 4 MiB in all.
pub const KEPT_OUTPUT: usize = 4 << 20;

/// The first and the last bytes of a stream, at most a limit in all, and how
/// many bytes were left out between them.
///
/// ```
/// use kennel_config::text::HeadTail;
///
/// let mut out = HeadTail::with_limit(8);
/// out.push(b"0123");
/// out.push(b"456789abcdef");
/// assert_eq!(out.total(), 16);
/// assert_eq!(out.left_out(), 8);
/// assert_eq!(
///     String::from_utf8_lossy(&out.into_bytes()),
///     "0123\n[kennel: 8 bytes (8 B) left out here: only the first and last 4 B are kept]\ncdef"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct HeadTail {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl HeadTail {
    /// Keeps at most [`KEPT_OUTPUT`] bytes.
    pub fn new() -> HeadTail {
        HeadTail::with_limit(KEPT_OUTPUT)
    }

    /// Keeps at most `limit` bytes: its first half and its last half.
    pub fn with_limit(limit: usize) -> HeadTail {
        HeadTail {
            half: limit / 2,
            ..HeadTail::default()
        }
    }

    /// Append bytes of the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.half.saturating_sub(self.head.len());
        let into_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        if bytes.len() >= self.half {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.half..]);
            return;
        }
        let over = (self.tail.len() + bytes.len()).saturating_sub(self.half);
        self.tail.drain(..over);
        self.tail.extend(bytes);
    }

    /// How many bytes the stream had.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many bytes were left out between the head and the tail.
    pub fn left_out(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// The kept bytes: the head, then (when bytes were left out) [`left_out_marker`], then the tail.
    pub fn into_bytes(self) -> Vec<u8> {
        let left_out = self.left_out();
        let mut bytes = self.head;
        if left_out > 0 {
            bytes.extend_from_slice(left_out_marker(left_out, self.half as u64).as_bytes());
        }
        bytes.extend(self.tail);
        bytes
    }

    /// [`into_bytes`](HeadTail::into_bytes) as text, invalid UTF-8 replaced.
    pub fn into_text(self) -> String {
        match String::from_utf8(self.into_bytes()) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

/// The line that stands for `left_out` bytes between a kept head and tail of
/// `half` bytes each.
pub fn left_out_marker(left_out: u64, half: u64) -> String {
    format!(
        "\n[kennel: {left_out} bytes ({}) left out here: only the first and last {} are kept]\n",
        human_bytes(left_out),
        human_bytes(half)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_stream_is_kept_whole_without_a_marker() {
        let mut out = HeadTail::with_limit(16);
        out.push(b"hello ");
        out.push(b"world");

        assert_eq!(out.left_out(), 0);
        assert_eq!(out.into_text(), "hello world");
    }

    #[test]
    fn a_long_stream_keeps_its_ends_in_any_chunking() {
        let stream: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        for chunk in [1, 3, 7, 100, 1000] {
            let mut out = HeadTail::with_limit(64);
            for piece in stream.chunks(chunk) {
                out.push(piece);
            }

            assert_eq!(out.total(), 1000);
            assert_eq!(out.left_out(), 936);
            let kept = out.into_bytes();
            assert_eq!(&kept[..32], &stream[..32], "chunks of {chunk}");
            assert_eq!(
                &kept[kept.len() - 32..],
                &stream[968..],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn a_gigabyte_holds_only_the_limit() {
        let mut out = HeadTail::with_limit(1024);
        let chunk = vec![b'x'; 1 << 16];
        for _ in 0..(1 << 14) {
            out.push(&chunk);
        }

        assert_eq!(out.total(), 1 << 30);
        assert!(out.tail.capacity() < 4096, "{}", out.tail.capacity());
        assert!(out
            .into_text()
            .contains("[kennel: 1073740800 bytes (1024.0 MiB) left out here"));
    }
}
