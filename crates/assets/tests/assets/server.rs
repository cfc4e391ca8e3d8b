//! A small HTTP/1.1 server on loopback that misbehaves on purpose.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How a route answers.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// The body, honouring `Range` when `ranges`.
    Normal { ranges: bool },
    /// The first `times` responses stop after `bytes` body bytes and close the
    /// connection; later ones are normal.
    DropAfter {
        bytes: usize,
        times: usize,
        ranges: bool,
    },
    /// `Content-Length` claims `delta` bytes more (or fewer, negative) than the body.
    WrongLength { delta: i64 },
    /// Always this status, no body.
    Status(u16),
    /// This status for the first `times` requests, then normal.
    StatusThen { status: u16, times: usize },
    /// The body in `chunk`-sized pieces with `delay` between them.
    Slow {
        chunk: usize,
        delay: Duration,
        ranges: bool,
    },
    /// `bytes` of the body, then silence until the client gives up.
    Stall { bytes: usize },
}

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The request path.
    pub path: String,
    /// First byte of a `Range: bytes=N-` request.
    pub range: Option<u64>,
    /// The status answered (0 before the answer).
    pub status: u16,
    /// Body bytes written (so far, for a request still being served).
    pub sent: u64,
}

struct Route {
    body: Vec<u8>,
    behavior: Behavior,
    hits: usize,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    log: Vec<Logged>,
}

/// The server; stops accepting when dropped.
pub struct Server {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Listen on an ephemeral loopback port.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (state2, stop2) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = state2.clone();
                thread::spawn(move || serve(stream, &state));
            }
        });
        Server { addr, state, stop }
    }

    /// Serve `body` at `path` as `behavior` says (replacing an earlier route).
    pub fn route(&self, path: &str, body: &[u8], behavior: Behavior) -> String {
        let mut state = self.state.lock().expect("server state");
        state.routes.insert(
            path.to_owned(),
            Route {
                body: body.to_vec(),
                behavior,
                hits: 0,
            },
        );
        self.url(path)
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Requests for `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<Logged> {
        let state = self.state.lock().expect("server state");
        state
            .log
            .iter()
            .filter(|l| l.path == path)
            .cloned()
            .collect()
    }

    /// Body bytes sent for `path`, over all requests.
    pub fn sent(&self, path: &str) -> u64 {
        self.requests(path).iter().map(|l| l.sent).sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = value
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|v| v.strip_suffix('-'))
                    .and_then(|v| v.parse::<u64>().ok());
            }
        }
    }
    let (body, behavior, hit) = {
        let mut state = state.lock().expect("server state");
        match state.routes.get_mut(&path) {
            Some(route) => {
                route.hits += 1;
                (route.body.clone(), route.behavior.clone(), route.hits)
            }
            None => (Vec::new(), Behavior::Status(404), 1),
        }
    };
    let index = {
        let mut state = state.lock().expect("server state");
        state.log.push(Logged {
            path: path.clone(),
            range,
            status: 0,
            sent: 0,
        });
        state.log.len() - 1
    };
    let set_status = |status: u16| state.lock().expect("server state").log[index].status = status;
    let add_sent = |n: usize| state.lock().expect("server state").log[index].sent += n as u64;

    let status_only = |stream: &mut TcpStream, status: u16| {
        set_status(status);
        let _ = write!(
            stream,
            "HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    let (ranges, limit, chunk, delay, claimed_delta, stall) = match behavior {
        Behavior::Normal { ranges } => (ranges, None, 64 * 1024, None, 0, false),
        Behavior::DropAfter {
            bytes,
            times,
            ranges,
        } => (
            ranges,
            (hit <= times).then_some(bytes),
            64 * 1024,
            None,
            0,
            false,
        ),
        Behavior::WrongLength { delta } => (false, None, 64 * 1024, None, delta, false),
        Behavior::Status(status) => return status_only(&mut stream, status),
        Behavior::StatusThen { status, times } if hit <= times => {
            return status_only(&mut stream, status)
        }
        Behavior::StatusThen { .. } => (true, None, 64 * 1024, None, 0, false),
        Behavior::Slow {
            chunk,
            delay,
            ranges,
        } => (ranges, None, chunk, Some(delay), 0, false),
        Behavior::Stall { bytes } => (false, Some(bytes), 64 * 1024, None, 0, true),
    };
    let start = match range {
        Some(start) if ranges => start as usize,
        _ => 0,
    };
    if start > body.len() || (start == body.len() && start > 0) {
        return status_only(&mut stream, 416);
    }
    let part = &body[start..];
    let claimed = (part.len() as i64 + claimed_delta).max(0);
    let head = if start > 0 {
        set_status(206);
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {claimed}\r\n\
             Content-Range: bytes {start}-{}/{}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
            body.len() - 1,
            body.len()
        )
    } else {
        set_status(200);
        let accept = if ranges {
            "Accept-Ranges: bytes\r\n"
        } else {
            ""
        };
        format!("HTTP/1.1 200 OK\r\nContent-Length: {claimed}\r\n{accept}Connection: close\r\n\r\n")
    };
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let to_send = limit.map_or(part.len(), |l| l.min(part.len()));
    let mut sent = 0;
    while sent < to_send {
        if let Some(delay) = delay {
            thread::sleep(delay);
        }
        let n = chunk.min(to_send - sent);
        if stream.write_all(&part[sent..sent + n]).is_err() {
            return;
        }
        add_sent(n);
        sent += n;
    }
    let _ = stream.flush();
    if stall {
        thread::sleep(Duration::from_secs(5));
    }
    // Close at once, even with unread request bytes (no lingering reset issues).
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
