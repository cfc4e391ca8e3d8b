//! Reading newline-terminated lines with a length limit.

use std::io::{self, BufRead, BufReader, Read};

/// Why [`LineReader::next_line`] produced no line.
#[derive(Debug)]
pub(crate) enum LineError {
    /// Reading failed.
    Io(io::Error),
    /// End of file in the middle of a line; carries the partial line.
    Truncated(Vec<u8>),
    /// The line exceeds the limit (newline excluded).
    TooLong,
}

/// Splits a byte stream into lines, never buffering more than `max_line` bytes
/// of one line. Accepts `\n` and `\r\n` endings.
pub(crate) struct LineReader<R> {
    inner: BufReader<R>,
    max_line: usize,
}

impl<R: Read> LineReader<R> {
    pub(crate) fn new(inner: R, max_line: usize) -> Self {
        LineReader {
            inner: BufReader::new(inner),
            max_line,
        }
    }

    /// The next line without its line ending, or `Ok(None)` at a clean end of file.
    pub(crate) fn next_line(&mut self) -> Result<Option<Vec<u8>>, LineError> {
        let mut line = Vec::new();
        loop {
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LineError::Io(e)),
            };
            if available.is_empty() {
                return if line.is_empty() {
                    Ok(None)
                } else {
                    Err(LineError::Truncated(line))
                };
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.unwrap_or(available.len());
            // One more byte is allowed for a `\r` that the ending strips.
            if line.len() + take > self.max_line + 1 {
                return Err(LineError::TooLong);
            }
            line.extend_from_slice(&available[..take]);
            match newline {
                Some(position) => {
                    self.inner.consume(position + 1);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > self.max_line {
                        return Err(LineError::TooLong);
                    }
                    return Ok(Some(line));
                }
                None => self.inner.consume(take),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max_line: usize) -> Vec<Result<Option<Vec<u8>>, String>> {
        let mut reader = LineReader::new(input, max_line);
        let mut out = Vec::new();
        loop {
            let next = reader.next_line().map_err(|e| format!("{e:?}"));
            let done = !matches!(next, Ok(Some(_)));
            out.push(next);
            if done {
                return out;
            }
        }
    }

    #[test]
    fn splits_on_lf_and_crlf() {
        assert_eq!(
            lines(b"a\r\nbc\n\n", 10),
            vec![
                Ok(Some(b"a".to_vec())),
                Ok(Some(b"bc".to_vec())),
                Ok(Some(Vec::new())),
                Ok(None)
            ]
        );
    }

    #[test]
    fn partial_line_at_eof_is_truncated() {
        assert_eq!(
            lines(b"ok\npart", 10),
            vec![
                Ok(Some(b"ok".to_vec())),
                Err("Truncated([112, 97, 114, 116])".into())
            ]
        );
    }

    #[test]
    fn line_at_the_limit_is_accepted_one_byte_more_is_not() {
        assert_eq!(lines(b"abcd\r\n", 4)[0], Ok(Some(b"abcd".to_vec())));
        assert_eq!(lines(b"abcde\n", 4)[0], Err("TooLong".into()));
        assert_eq!(lines(b"abcdef", 4)[0], Err("TooLong".into()));
    }

    #[test]
    fn long_line_is_refused_before_its_end_arrives() {
        // An endless stream without newlines must not be buffered without bound.
        let endless = io::repeat(b'x');
        let mut reader = LineReader::new(endless, 1000);

        assert!(matches!(reader.next_line(), Err(LineError::TooLong)));
    }
}
