//! SSH into test guests: per-job ed25519 keys, connecting with retries,
//! running commands and copying files.
//!
//! The API is blocking. Each [`Session`] owns a current-thread tokio runtime
//! driven by a thread of its own, so callers are plain threads and the
//! connection keeps being serviced between calls.
//!
//! ```no_run
//! use std::time::Duration;
//! use kennel_ssh::{ConnectOptions, KeyPair, Session};
//!
//! # fn main() -> Result<(), kennel_ssh::SshError> {
//! let key = KeyPair::generate()?;
//! // Put this line into the guest's authorized_keys (e.g. via cloud-init):
//! let _authorized = key.public_openssh("kennel-job-42");
//! let addr = "127.0.0.1:2222".parse().expect("valid address");
//! let session = Session::connect(&ConnectOptions::new(addr, "root", Duration::from_secs(60)), &key)?;
//! let out = session.run("uname -r", b"", Duration::from_secs(10))?;
//! println!("{} -> {}", out.stdout_text().trim(), out.status_text());
//! session.copy_in(b"hello\n", "/tmp/greeting", 0o644, Duration::from_secs(10))?;
//! assert_eq!(session.copy_out("/tmp/greeting", Duration::from_secs(10))?, b"hello\n");
//! session.close();
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod connect;
mod driver;
mod error;
mod exec;
mod key;
mod session;

pub use connect::ConnectOptions;
pub use error::{AttemptError, BoxError, SshError};
pub use exec::CommandOutput;
pub use key::KeyPair;
pub use session::Session;
