//! Per-job key pairs.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::ssh_key::LineEnding;
use russh::keys::{HashAlg, PrivateKey, PublicKey};

use crate::SshError;

/// A per-job SSH key pair (never stored in a repository).
///
/// Generated keys are ed25519. [`KeyPair::load`] accepts any unencrypted
/// OpenSSH private key of an algorithm this crate supports (ed25519, ECDSA).
/// `Debug` shows the public fingerprint only.
#[derive(Clone)]
pub struct KeyPair {
    key: Arc<PrivateKey>,
    /// "ALGORITHM BASE64", without a comment; computed once so that
    /// [`KeyPair::public_openssh`] cannot fail.
    public_line: String,
}

impl KeyPair {
    /// Generates a new ed25519 key pair from operating-system randomness.
    pub fn generate() -> Result<KeyPair, SshError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(SshError::Randomness)?;
        let keypair = Ed25519Keypair::from_seed(&seed);
        seed.fill(0);
        let key = PrivateKey::new(KeypairData::from(keypair), "")
            .map_err(|e| SshError::KeyEncoding(Box::new(e)))?;
        KeyPair::from_private(key)
    }

    fn from_private(key: PrivateKey) -> Result<KeyPair, SshError> {
        let public = PublicKey::new(key.public_key().key_data().clone(), "");
        let public_line = public
            .to_openssh()
            .map_err(|e| SshError::KeyEncoding(Box::new(e)))?
            .trim()
            .to_owned();
        Ok(KeyPair {
            key: Arc::new(key),
            public_line,
        })
    }

    /// The public key as one OpenSSH line, `"ssh-ed25519 AAAA... comment"`,
    /// ready for `authorized_keys`.
    ///
    /// Line breaks in `comment` are replaced by spaces so the result is
    /// always one line; an empty comment gives a line without one.
    pub fn public_openssh(&self, comment: &str) -> String {
        let comment: String = comment
            .trim()
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        if comment.is_empty() {
            self.public_line.clone()
        } else {
            format!("{} {}", self.public_line, comment)
        }
    }

    /// The SHA256 fingerprint of the public key, as `ssh-keygen -l` shows it
    /// (`"SHA256:..."`).
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// Writes the private key in OpenSSH format (unencrypted) to a new file
    /// at `path`, created with mode 0600 so that `ssh -i path` accepts it.
    ///
    /// Fails if `path` already exists: an existing file would keep its own
    /// permission bits.
    pub fn write_private(&self, path: &Path) -> Result<(), SshError> {
        let text = self
            .key
            .to_openssh(LineEnding::LF)
            .map_err(|e| SshError::KeyEncoding(Box::new(e)))?;
        let write_err = |source| SshError::WriteKey {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(write_err)?;
        file.write_all(text.as_bytes()).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        Ok(())
    }

    /// Loads an unencrypted OpenSSH private key file (as written by
    /// [`KeyPair::write_private`] or `ssh-keygen -N ''`).
    pub fn load(path: &Path) -> Result<KeyPair, SshError> {
        let text = std::fs::read(path).map_err(|source| SshError::ReadKey {
            path: path.to_owned(),
            source,
        })?;
        let key = PrivateKey::from_openssh(&text).map_err(|e| SshError::ParseKey {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        if key.is_encrypted() {
            return Err(SshError::EncryptedKey {
                path: path.to_owned(),
            });
        }
        KeyPair::from_private(key)
    }

    pub(crate) fn private(&self) -> Arc<PrivateKey> {
        Arc::clone(&self.key)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("algorithm", &self.key.algorithm().as_str())
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}
