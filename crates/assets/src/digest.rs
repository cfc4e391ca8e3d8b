//! Content hashes: the algorithm, a checked hex digest, and streaming hashers.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use kennel_spec::AssetHash;
use sha2::Digest as _;

use crate::error::AssetError;

/// A hash algorithm an asset may be verified with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgo {
    /// SHA-256 (64 hex digits).
    Sha256,
    /// SHA-512 (128 hex digits).
    Sha512,
}

impl HashAlgo {
    /// The name used in test files and in the cache layout: `sha256`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha512 => "sha512",
        }
    }

    /// The algorithm called `name` (`sha256`, `sha512`).
    pub fn from_name(name: &str) -> Option<HashAlgo> {
        match name {
            "sha256" => Some(HashAlgo::Sha256),
            "sha512" => Some(HashAlgo::Sha512),
            _ => None,
        }
    }

    fn hex_len(self) -> usize {
        match self {
            HashAlgo::Sha256 => 64,
            HashAlgo::Sha512 => 128,
        }
    }
}

/// A checked digest: an algorithm and lowercase hex. Displays as `sha256:<hex>`.
///
/// # Examples
///
/// ```
/// use kennel_assets::{Digest, HashAlgo};
///
/// let d = Digest::of_bytes(HashAlgo::Sha256, b"abc");
/// assert_eq!(
///     d.to_string(),
///     "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// assert_eq!(Digest::new(HashAlgo::Sha256, &d.hex().to_uppercase()).unwrap(), d);
/// assert!(Digest::new(HashAlgo::Sha512, d.hex()).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algo: HashAlgo,
    hex: String,
}

impl Digest {
    /// A digest from hex text (either case); fails unless it has the
    /// algorithm's length and only hex digits.
    pub fn new(algo: HashAlgo, hex: &str) -> Result<Digest, AssetError> {
        let valid = hex.len() == algo.hex_len() && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(AssetError::InvalidHash {
                algo: algo.name(),
                value: hex.to_owned(),
            });
        }
        Ok(Digest {
            algo,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The expected digest declared by a test file.
    pub fn from_spec(hash: &AssetHash) -> Result<Digest, AssetError> {
        match hash {
            AssetHash::Sha256(hex) => Digest::new(HashAlgo::Sha256, hex),
            AssetHash::Sha512(hex) => Digest::new(HashAlgo::Sha512, hex),
        }
    }

    /// Parse the display form `sha256:<hex>`.
    pub fn parse(text: &str) -> Result<Digest, AssetError> {
        let invalid = || AssetError::InvalidHash {
            algo: "digest",
            value: text.to_owned(),
        };
        let (algo, hex) = text.split_once(':').ok_or_else(invalid)?;
        let algo = HashAlgo::from_name(algo).ok_or_else(invalid)?;
        Digest::new(algo, hex)
    }

    /// The digest of `bytes`.
    pub fn of_bytes(algo: HashAlgo, bytes: &[u8]) -> Digest {
        let mut hasher = Hasher::new(algo);
        hasher.update(bytes);
        hasher.finish()
    }

    /// The algorithm.
    pub fn algo(&self) -> HashAlgo {
        self.algo
    }

    /// Lowercase hex digits.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo.name(), self.hex)
    }
}

/// A streaming hasher for either algorithm.
#[derive(Clone)]
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub(crate) fn new(algo: HashAlgo) -> Hasher {
        match algo {
            HashAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    pub(crate) fn finish(self) -> Digest {
        let (algo, bytes) = match self {
            Hasher::Sha256(h) => (HashAlgo::Sha256, h.finalize().to_vec()),
            Hasher::Sha512(h) => (HashAlgo::Sha512, h.finalize().to_vec()),
        };
        Digest {
            algo,
            hex: kennel_config::text::hex(&bytes),
        }
    }
}

/// Feed everything `reader` yields to `hasher`; returns the byte count.
pub(crate) fn hash_reader(hasher: &mut Hasher, mut reader: impl Read) -> io::Result<u64> {
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// The digest of a whole file.
pub(crate) fn hash_file(path: &Path, algo: HashAlgo) -> io::Result<Digest> {
    let mut hasher = Hasher::new(algo);
    hash_reader(&mut hasher, File::open(path)?)?;
    Ok(hasher.finish())
}

/// A short stable key for a text (first 16 hex digits of its SHA-256).
pub(crate) fn short_key(text: &str) -> String {
    Digest::of_bytes(HashAlgo::Sha256, text.as_bytes()).hex[..16].to_owned()
}
