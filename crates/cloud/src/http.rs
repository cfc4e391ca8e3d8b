//! The little HTTP/1.1 the phone-home server speaks, with every part of a
//! request bounded: one request per connection, its head at most
//! [`MAX_HEAD`] bytes, its body at most what the caller accepts (a longer
//! declared `Content-Length` is refused before anything is read or
//! allocated for it), the whole exchange within [`CONNECTION_TIME`].
//!
//! (A general HTTP server crate drained an unread body into a buffer the
//! size the client declared: `Content-Length: 18446744073709551615` from a
//! guest killed the server thread, a few gigabytes took the memory.)

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The longest request line and headers read.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// How long one connection may take to send its request.
pub(crate) const CONNECTION_TIME: Duration = Duration::from_secs(10);

/// A request read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target: the path and any query.
    pub target: String,
    /// The body (empty without a `Content-Length`).
    pub body: Vec<u8>,
}

/// Why a request could not be read: the status to answer with and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// The answer's text.
    pub why: &'static str,
}

fn refused(status: u16, why: &'static str) -> Refused {
    Refused { status, why }
}

/// Read one request from `stream`, whose body may hold at most `max_body` bytes.
pub(crate) fn read_request(stream: &mut impl Read, max_body: usize) -> Result<Request, Refused> {
    let deadline = Instant::now() + CONNECTION_TIME;
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > MAX_HEAD {
            return Err(refused(431, "the request's head is too long\n"));
        }
        let room = MAX_HEAD + 4 - buf.len().min(MAX_HEAD);
        if read_some(stream, &mut buf, room, deadline)? == 0 {
            return Err(refused(400, "the request ended before its head did\n"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (first.next(), first.next(), first.next(), first.next())
    else {
        return Err(refused(
            400,
            "the request line is not `METHOD TARGET VERSION`\n",
        ));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(refused(400, "not an HTTP/1 request\n"));
    }
    let length = body_length(lines)?;
    if length > max_body {
        return Err(refused(413, "the request's body is too large\n"));
    }
    let mut body = buf.split_off(head_end + 4);
    while body.len() < length {
        let missing = length - body.len();
        if read_some(stream, &mut body, missing, deadline)? == 0 {
            return Err(refused(400, "the request ended before its body did\n"));
        }
    }
    body.truncate(length);
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        body,
    })
}

/// The body's length from the headers: `Content-Length`, or 0 without one.
fn body_length<'a>(headers: impl Iterator<Item = &'a str>) -> Result<usize, Refused> {
    let mut length = None;
    for line in headers {
        let Some((name, value)) = line.split_once(':') else {
            return Err(refused(400, "a header line without a `:`\n"));
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(refused(411, "send the body with a Content-Length\n"));
        }
        if name.eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            let parsed = if value.bytes().all(|b| b.is_ascii_digit()) {
                value.parse::<u64>().ok()
            } else {
                None
            };
            let Some(parsed) = parsed else {
                return Err(refused(400, "the Content-Length is not a number\n"));
            };
            if length.is_some_and(|l| l != parsed) {
                return Err(refused(400, "two different Content-Lengths\n"));
            }
            length = Some(parsed);
        }
    }
    Ok(usize::try_from(length.unwrap_or(0)).unwrap_or(usize::MAX))
}

/// Append at most `most` bytes read from `stream` to `buf`; 0 at end of file.
fn read_some(
    stream: &mut impl Read,
    buf: &mut Vec<u8>,
    most: usize,
    deadline: Instant,
) -> Result<usize, Refused> {
    let mut chunk = [0u8; 4096];
    let want = most.clamp(1, chunk.len());
    loop {
        if Instant::now() >= deadline {
            return Err(refused(408, "the request took too long\n"));
        }
        match stream.read(&mut chunk[..want]) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Err(refused(400, "the request could not be read\n")),
        }
    }
}

/// Answer with `status` and `body` as text, and end the exchange.
pub(crate) fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The client may have gone away; there is nobody to tell.
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> Result<Request, Refused> {
        read_request(&mut &text[..], 64)
    }

    #[test]
    fn a_post_with_its_body_is_read_whole() {
        let request = read(b"POST /t/i?x=1 HTTP/1.1\r\nHost: h\r\ncontent-length: 3\r\n\r\nabcdef")
            .expect("read");
        assert_eq!(
            request,
            Request {
                method: "POST".into(),
                target: "/t/i?x=1".into(),
                body: b"abc".to_vec()
            }
        );
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading_it() {
        let e = read(b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n")
            .expect_err("too large");
        assert_eq!(e.status, 413);
        let e = read(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n")
            .expect_err("not a u64");
        assert_eq!(e.status, 400);
    }

    #[test]
    fn a_body_cut_short_a_head_too_long_and_chunks_are_refused() {
        assert_eq!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
                .expect_err("short")
                .status,
            400
        );
        let long = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD + 10]].concat();
        assert_eq!(read(&long).expect_err("long").status, 431);
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(read(chunked).expect_err("chunked").status, 411);
        assert_eq!(read(b"hello\r\n\r\n").expect_err("not http").status, 400);
    }
}
