//! The host side of cloud-init's `phone_home` module: a small HTTP server on
//! the loopback interface that records the reports guests post to it.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http;
use crate::CloudError;
use kennel_config::text::hex;

/// How often [`PhoneHome::wait`] polls its cancel callback, and how often the
/// server thread checks whether it should stop.
const POLL: Duration = Duration::from_millis(100);

/// The largest request body read; cloud-init's reports are a few hundred
/// bytes. A request declaring a longer one is refused (413) unread.
const MAX_BODY: usize = 64 * 1024;

/// How often the server looks for a new connection.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// What a guest reported when it phoned home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneHomeReport {
    /// When the report arrived.
    pub at: Instant,
    /// The instance id, taken from the request path.
    pub instance_id: String,
    /// The `hostname` form field.
    pub hostname: Option<String>,
    /// The `pub_key_ed25519` form field (the guest's SSH host key), trimmed.
    pub host_key_ed25519: Option<String>,
    /// Every form field as posted, decoded.
    pub fields: BTreeMap<String, String>,
}

/// A phone-home server bound to `127.0.0.1` on a free port, serving on its
/// own thread until dropped.
///
/// Guests reach it through QEMU user-mode networking at
/// [`guest_url`](PhoneHome::guest_url). Only requests whose path starts with
/// the server's random token are accepted, and one server can serve several
/// machines: reports are kept per instance id, the first one of each standing
/// (a later POST for the same instance is refused with 409: the report's host
/// key is what SSH pins). A body over 64 KiB is refused unread.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use kennel_cloud::PhoneHome;
///
/// let server = PhoneHome::start()?;
/// assert!(server.guest_url().starts_with("http://10.0.2.2:"));
/// assert!(server.guest_url().ends_with("/$INSTANCE_ID"));
///
/// // Nobody posts here, so waiting ends with a timeout error.
/// let deadline = Instant::now() + Duration::from_millis(200);
/// let err = server.wait("vm-1", deadline, &mut || false).unwrap_err();
/// assert!(err.to_string().starts_with("no phone-home from instance vm-1"));
/// # Ok::<(), kennel_cloud::CloudError>(())
/// ```
pub struct PhoneHome {
    addr: SocketAddr,
    token: String,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    arrived: Condvar,
}

#[derive(Default)]
struct State {
    reports: HashMap<String, PhoneHomeReport>,
    wrong_token: usize,
    other_rejected: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PhoneHome {
    /// Bind to `127.0.0.1:0`, pick a random token and start serving.
    pub fn start() -> Result<PhoneHome, CloudError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(CloudError::Random)?;
        let token = hex(&bytes);

        let server = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| CloudError::Server(Box::new(e)))?;
        let addr = server
            .local_addr()
            .map_err(|e| CloudError::Server(Box::new(e)))?;
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop, token) = (Arc::clone(&shared), Arc::clone(&stop), token.clone());
            std::thread::Builder::new()
                .name("kennel-phone-home".into())
                .spawn(move || serve(&server, &token, &shared, &stop))
                .map_err(|e| CloudError::Server(Box::new(e)))?
        };
        Ok(PhoneHome {
            addr,
            token,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// The TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address the server listens on; always a loopback address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The random token (32 hex characters) that every accepted request's path starts with.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The URL as the guest sees it through QEMU user-mode networking, for
    /// cloud-init's `phone_home.url`:
    /// `http://10.0.2.2:<port>/<token>/$INSTANCE_ID` (cloud-init replaces
    /// `$INSTANCE_ID`).
    pub fn guest_url(&self) -> String {
        format!(
            "http://10.0.2.2:{}/{}/$INSTANCE_ID",
            self.port(),
            self.token
        )
    }

    /// The URL at which the host itself reaches the server for `instance_id`
    /// (useful in tests and for port forwarding).
    pub fn host_url(&self, instance_id: &str) -> String {
        format!("http://{}/{}/{}", self.addr, self.token, instance_id)
    }

    /// Block until instance `instance_id` has phoned home, and return its
    /// report, also when it arrived before this call.
    ///
    /// Fails with [`CloudError::PhoneHomeTimeout`] at `deadline` (the message
    /// counts requests rejected meanwhile, a hint at a wrong URL), and with
    /// [`CloudError::Cancelled`] as soon as `cancel` returns true; `cancel`
    /// is called about every 100 ms, e.g. to notice that QEMU has exited.
    pub fn wait(
        &self,
        instance_id: &str,
        deadline: Instant,
        cancel: &mut dyn FnMut() -> bool,
    ) -> Result<PhoneHomeReport, CloudError> {
        let started = Instant::now();
        loop {
            {
                let state = self.shared.lock();
                if let Some(report) = state.reports.get(instance_id) {
                    return Ok(report.clone());
                }
                let timeout = deadline.saturating_duration_since(Instant::now()).min(POLL);
                if !timeout.is_zero() {
                    let (state, _) = self
                        .shared
                        .arrived
                        .wait_timeout(state, timeout)
                        .unwrap_or_else(PoisonError::into_inner);
                    if let Some(report) = state.reports.get(instance_id) {
                        return Ok(report.clone());
                    }
                }
            }
            if cancel() {
                return Err(CloudError::Cancelled {
                    instance_id: instance_id.to_string(),
                });
            }
            if Instant::now() >= deadline {
                let state = self.shared.lock();
                return Err(CloudError::PhoneHomeTimeout {
                    instance_id: instance_id.to_string(),
                    waited: deadline.saturating_duration_since(started),
                    wrong_token: state.wrong_token,
                    other_rejected: state.other_rejected,
                });
            }
        }
    }
}

impl Drop for PhoneHome {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread has nothing left to report to.
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for PhoneHome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneHome")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn serve(server: &TcpListener, token: &str, shared: &Shared, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match server.accept() {
            Ok((stream, _)) => handle(stream, token, shared),
            // Nobody is calling, or an accept error (e.g. out of file
            // descriptors): look again shortly.
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

fn handle(mut stream: TcpStream, token: &str, shared: &Shared) {
    // A connection is served alone, each read bounded: one that trickles holds
    // the server for at most `http::CONNECTION_TIME`.
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let request = match http::read_request(&mut stream, MAX_BODY) {
        Ok(request) => request,
        Err(refused) => {
            shared.lock().other_rejected += 1;
            http::respond(&mut stream, refused.status, refused.why);
            return;
        }
    };
    let url = request.target.as_str();
    let path = url.split_once('?').map_or(url, |(path, _)| path);
    let instance_id = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(token))
        .and_then(|p| p.strip_prefix('/'))
        .filter(|id| !id.is_empty())
        .map(|id| {
            percent_encoding::percent_decode_str(id)
                .decode_utf8_lossy()
                .into_owned()
        });
    let Some(instance_id) = instance_id else {
        shared.lock().wrong_token += 1;
        http::respond(&mut stream, 404, "not found\n");
        return;
    };
    if request.method != "POST" {
        shared.lock().other_rejected += 1;
        http::respond(&mut stream, 405, "only POST is accepted\n");
        return;
    }
    let fields = parse_form(&request.body);
    let report = PhoneHomeReport {
        at: Instant::now(),
        hostname: fields.get("hostname").cloned(),
        host_key_ed25519: fields.get("pub_key_ed25519").map(|k| k.trim().to_string()),
        instance_id: instance_id.clone(),
        fields,
    };
    {
        let mut state = shared.lock();
        if state.reports.contains_key(&instance_id) {
            // The first report stands: its host key is what SSH pins.
            state.other_rejected += 1;
            drop(state);
            http::respond(&mut stream, 409, "this instance has reported already\n");
            return;
        }
        state.reports.insert(instance_id, report);
    }
    shared.arrived.notify_all();
    http::respond(&mut stream, 200, "ok\n");
}

/// Decode an `application/x-www-form-urlencoded` body. Later duplicates win.
pub(crate) fn parse_form(body: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// "30s", "1.5s" or "300ms", for the timeout message: rounded to a tenth of
/// a second, since the deadline is usually computed just before waiting.
pub(crate) fn fmt_waited(waited: Duration) -> String {
    let tenths = (waited.as_millis() + 50) / 100;
    match tenths {
        0 => format!("{}ms", waited.as_millis()),
        1..=9 => format!("{}ms", tenths * 100),
        _ if tenths.is_multiple_of(10) => format!("{}s", tenths / 10),
        _ => format!("{}.{}s", tenths / 10, tenths % 10),
    }
}

/// " (1 request with a wrong token)" and the like, or "" when nothing was rejected.
pub(crate) fn fmt_rejected(wrong_token: usize, other: usize) -> String {
    let plural = |n: usize| if n == 1 { "request" } else { "requests" };
    let mut notes = Vec::new();
    if wrong_token > 0 {
        notes.push(format!(
            "{wrong_token} {} with a wrong token",
            plural(wrong_token)
        ));
    }
    if other > 0 {
        notes.push(format!("{other} other rejected {}", plural(other)));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let form = parse_form(b"pub_key_ed25519=ssh-ed25519+AAAA%2B%2F%3D+root%40vm%0A&hostname=vm1&empty=&bare&bad=%zz%4");
        assert_eq!(form["pub_key_ed25519"], "ssh-ed25519 AAAA+/= root@vm\n");
        assert_eq!(form["hostname"], "vm1");
        assert_eq!(form["empty"], "");
        assert_eq!(form["bare"], "");
        assert_eq!(form["bad"], "%zz%4");
    }

    #[test]
    fn messages() {
        assert_eq!(fmt_waited(Duration::from_millis(29_999)), "30s");
        assert_eq!(fmt_waited(Duration::from_millis(999)), "1s");
        assert_eq!(fmt_waited(Duration::from_millis(1_520)), "1.5s");
        assert_eq!(fmt_waited(Duration::from_millis(299)), "300ms");
        assert_eq!(fmt_waited(Duration::from_millis(20)), "20ms");
        assert_eq!(fmt_rejected(0, 0), "");
        assert_eq!(fmt_rejected(1, 0), " (1 request with a wrong token)");
        assert_eq!(
            fmt_rejected(2, 1),
            " (2 requests with a wrong token, 1 other rejected request)"
        );
    }
}
