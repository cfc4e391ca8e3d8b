//! Establishing a connection: options, host-key pinning, one attempt
//! (TCP, handshake, authentication) under a time budget.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};

use crate::driver::lock;
use crate::{AttemptError, SshError};

/// Upper bound of one connection attempt (TCP connect, handshake and
/// authentication), so that a port that accepts but never answers (as a
/// QEMU user-network forward does before the guest is up) is retried.
pub(crate) const ATTEMPT_LIMIT: Duration = Duration::from_secs(30);
/// The first attempt gets at least this long even when the deadline is nearer.
pub(crate) const FIRST_ATTEMPT_MIN: Duration = Duration::from_secs(1);
/// Lower bound of the pause between attempts.
pub(crate) const MIN_RETRY_INTERVAL: Duration = Duration::from_millis(10);
/// Keepalives detect a connection whose peer vanished without a reset.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_MAX: usize = 6;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The SSH server's address (for a guest, usually a forwarded host port).
    pub addr: SocketAddr,
    /// The user to log in as.
    pub user: String,
    /// Expected host key, OpenSSH public key text
    /// (`"ssh-ed25519 AAAA... [comment]"`). When `Some`, any other host key is
    /// refused with [`SshError::HostKeyMismatch`], which is not retried. When
    /// `None` any host key is accepted.
    pub host_key: Option<String>,
    /// When to stop retrying.
    pub deadline: Instant,
    /// Pause between attempts, e.g. 250 ms.
    pub retry_interval: Duration,
}

impl ConnectOptions {
    /// Options with no pinned host key, a deadline `timeout` from now and a
    /// 250 ms retry interval.
    pub fn new(addr: SocketAddr, user: impl Into<String>, timeout: Duration) -> ConnectOptions {
        ConnectOptions {
            addr,
            user: user.into(),
            host_key: None,
            deadline: Instant::now() + timeout,
            retry_interval: Duration::from_millis(250),
        }
    }
}

/// Checks the server's host key against the pinned one, remembering what a
/// refused server presented so that [`Session::connect`](crate::Session::connect) can say so.
pub(crate) struct Verifier {
    expected: Option<PublicKey>,
    refused: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let Some(expected) = &self.expected else {
            return Ok(true);
        };
        let (accepted, description) = match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                (key.key_data() == expected.key_data(), describe_key(key))
            }
            PublicKeyOrCertificate::Certificate(cert) => (
                false,
                format!("a {} certificate", cert.algorithm().as_str()),
            ),
        };
        if !accepted {
            *lock(&self.refused) = Some(description);
        }
        Ok(accepted)
    }
}

pub(crate) fn describe_key(key: &PublicKey) -> String {
    format!(
        "{} {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    )
}

pub(crate) fn client_config(expected: Option<&PublicKey>) -> client::Config {
    let mut preferred = russh::Preferred::default();
    if let Some(expected) = expected {
        // Ask for the pinned key's algorithm first, so that a server with
        // several host keys presents the one we can compare.
        let want = std::mem::discriminant(&expected.algorithm());
        let mut keys = preferred.key.to_vec();
        keys.sort_by_key(|alg| std::mem::discriminant(alg) != want);
        preferred.key = Cow::Owned(keys);
    }
    client::Config {
        preferred,
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        ..Default::default()
    }
}

pub(crate) async fn attempt(
    config: Arc<client::Config>,
    opts: &ConnectOptions,
    key: Arc<PrivateKey>,
    expected: Option<PublicKey>,
    budget: Duration,
) -> Result<client::Handle<Verifier>, AttemptOutcome> {
    let refused = Arc::new(Mutex::new(None));
    let verifier = Verifier {
        refused: Arc::clone(&refused),
        expected: expected.clone(),
    };
    let steps = async {
        let tcp = tokio::net::TcpStream::connect(opts.addr)
            .await
            .map_err(AttemptError::Tcp)?;
        let _ = tcp.set_nodelay(true);
        let mut handle = client::connect_stream(config, tcp, verifier)
            .await
            .map_err(|e| AttemptError::Handshake(Box::new(e)))?;
        let auth = handle
            .authenticate_publickey(opts.user.clone(), PrivateKeyWithHashAlg::new(key, None))
            .await
            .map_err(|e| AttemptError::Auth(Box::new(e)))?;
        if !auth.success() {
            return Err(AttemptError::AuthRejected {
                user: opts.user.clone(),
            });
        }
        Ok(handle)
    };
    let result = match tokio::time::timeout(budget, steps).await {
        Ok(result) => result,
        Err(_) => Err(AttemptError::Timeout(budget)),
    };
    result.map_err(|err| match (lock(&refused).take(), expected) {
        (Some(presented), Some(expected)) => AttemptOutcome::Fatal(SshError::HostKeyMismatch {
            addr: opts.addr,
            expected: describe_key(&expected),
            presented,
        }),
        _ => AttemptOutcome::Retry(err),
    })
}

/// Outcome of one attempt: retry, or give up at once.
pub(crate) enum AttemptOutcome {
    Retry(AttemptError),
    Fatal(SshError),
}
