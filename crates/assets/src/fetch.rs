//! Bringing a source's bytes into a `.partial` file: HTTP(S) with resume and
//! retries, or a copy of a local file. The caller holds the entry's lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread;

use crate::digest::{hash_reader, Digest, HashAlgo, Hasher};
use crate::error::{AssetError, TransferError};
use crate::policy::{FetchEvent, FetchOptions};

/// Where an asset's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// `http://` or `https://`.
    Http(String),
    /// `path = ...` or `file://`: `label` is what the test file said.
    File { path: PathBuf, label: String },
}

impl Source {
    /// The URL or path, for messages.
    pub(crate) fn label(&self) -> &str {
        match self {
            Source::Http(url) => url,
            Source::File { label, .. } => label,
        }
    }
}

/// One fetch: who asks, how, and whom to tell.
pub(crate) struct Fetch<'a> {
    pub(crate) agent: &'a ureq::Agent,
    pub(crate) options: &'a FetchOptions,
    pub(crate) name: &'a str,
    pub(crate) progress: &'a mut dyn FnMut(&FetchEvent<'_>),
}

/// The `.partial` file and the hash of what it holds.
struct Partial {
    path: PathBuf,
    file: File,
    hasher: Hasher,
    len: u64,
    algo: HashAlgo,
}

impl Partial {
    /// Open (or create) `path`, hashing what an earlier attempt left there.
    fn open(path: &Path, algo: HashAlgo) -> io::Result<Partial> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut hasher = Hasher::new(algo);
        let len = hash_reader(&mut hasher, &mut file)?;
        file.seek(SeekFrom::Start(len))?;
        Ok(Partial {
            path: path.to_owned(),
            file,
            hasher,
            len,
            algo,
        })
    }

    fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.hasher = Hasher::new(self.algo);
        self.len = 0;
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn digest(&self) -> Digest {
        self.hasher.clone().finish()
    }
}

/// How an attempt failed.
enum Failure {
    /// Worth another attempt.
    Transient(TransferError),
    /// Not.
    Final(AssetError),
}

impl Fetch<'_> {
    /// Fill `partial` with the source's complete content, hashed with
    /// `expected`'s algorithm (SHA-256 without one). On a hash mismatch the
    /// partial file is removed and the error is final.
    pub(crate) fn run(
        &mut self,
        source: &Source,
        partial: &Path,
        expected: Option<&Digest>,
    ) -> Result<Digest, AssetError> {
        let algo = expected.map_or(HashAlgo::Sha256, Digest::algo);
        match source {
            Source::Http(url) => self.http(url, partial, algo, expected),
            Source::File { path, label } => self.copy(path, label, partial, algo, expected),
        }
    }

    fn copy(
        &mut self,
        path: &Path,
        label: &str,
        partial: &Path,
        algo: HashAlgo,
        expected: Option<&Digest>,
    ) -> Result<Digest, AssetError> {
        let name = self.name;
        let mut input = File::open(path).map_err(|source| AssetError::Source {
            name: name.to_owned(),
            path: path.to_owned(),
            source,
        })?;
        let total = input.metadata().ok().map(|m| m.len());
        let mut out = Partial::open(partial, algo).map_err(AssetError::io("write", partial))?;
        out.restart().map_err(AssetError::io("write", partial))?;
        (self.progress)(&FetchEvent::Started {
            name,
            url: label,
            offset: 0,
            total,
        });
        let mut buf = vec![0; 256 * 1024];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(AssetError::Source {
                        name: name.to_owned(),
                        path: path.to_owned(),
                        source,
                    })
                }
            };
            out.append(&buf[..n])
                .map_err(AssetError::io("write", partial))?;
            (self.progress)(&FetchEvent::Progress {
                name,
                bytes: out.len,
                total,
            });
        }
        self.finish(out, label, expected)
    }

    fn http(
        &mut self,
        url: &str,
        partial: &Path,
        algo: HashAlgo,
        expected: Option<&Digest>,
    ) -> Result<Digest, AssetError> {
        let name = self.name;
        let mut out = Partial::open(partial, algo).map_err(AssetError::io("write", partial))?;
        let mut resumed = false;
        let mut restarted = false;
        let mut attempt = 0;
        loop {
            // A complete file left by a process killed before renaming it.
            let complete = expected.is_some_and(|e| out.len > 0 && out.digest() == *e);
            let result = if complete {
                Ok(())
            } else {
                attempt += 1;
                resumed |= out.len > 0;
                self.attempt(url, &mut out)
            };
            match result {
                Ok(()) => {
                    if let Some(expected) = expected {
                        if out.digest() != *expected && resumed && !restarted {
                            // The server may have changed the file under an earlier
                            // partial download: one clean download decides.
                            restarted = true;
                            out.restart().map_err(AssetError::io("write", partial))?;
                            continue;
                        }
                    }
                    return self.finish(out, url, expected);
                }
                Err(Failure::Final(error)) => {
                    let _ = fs::remove_file(partial);
                    return Err(error);
                }
                Err(Failure::Transient(error)) if attempt >= self.options.attempts => {
                    return Err(AssetError::Download {
                        name: name.to_owned(),
                        url: url.to_owned(),
                        attempts: attempt,
                        source: error,
                    });
                }
                Err(Failure::Transient(error)) => {
                    let delay = self.options.delay_after(attempt);
                    (self.progress)(&FetchEvent::Retrying {
                        name,
                        url,
                        attempt,
                        delay,
                        error: &error,
                    });
                    thread::sleep(delay);
                }
            }
        }
    }

    /// One request, appending to `out` (or restarting it when the server
    /// ignores the range).
    fn attempt(&mut self, url: &str, out: &mut Partial) -> Result<(), Failure> {
        let name = self.name;
        let write_err = |path: &Path| {
            let path = path.to_owned();
            move |e| Failure::Final(AssetError::io("write", path)(e))
        };
        let offset = out.len;
        let mut request = self.agent.get(url);
        if offset > 0 {
            request = request.set("Range", &format!("bytes={offset}-"));
        }
        let response = match request.call() {
            Ok(response) => response,
            Err(ureq::Error::Status(416, _)) if offset > 0 => {
                out.restart().map_err(write_err(&out.path))?;
                return Err(Failure::Transient(TransferError::BadRange {
                    requested: offset,
                    answered: "416 Range Not Satisfiable".to_owned(),
                }));
            }
            Err(ureq::Error::Status(status, _)) => return Err(status_failure(name, url, status)),
            Err(ureq::Error::Transport(transport)) => {
                return Err(transport_failure(name, url, transport))
            }
        };
        let length = response
            .header("Content-Length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let total = if response.status() == 206 {
            let range = response.header("Content-Range").unwrap_or("");
            match parse_content_range(range) {
                Some((start, total)) if start == offset => total.or(length.map(|l| offset + l)),
                _ => {
                    let answered = format!("206 with Content-Range {range:?}");
                    out.restart().map_err(write_err(&out.path))?;
                    return Err(Failure::Transient(TransferError::BadRange {
                        requested: offset,
                        answered,
                    }));
                }
            }
        } else {
            // 200: the whole file, from the first byte.
            if offset > 0 {
                out.restart().map_err(write_err(&out.path))?;
            }
            length
        };
        (self.progress)(&FetchEvent::Started {
            name,
            url,
            offset: out.len,
            total,
        });
        let mut body = response.into_reader();
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Failure::Transient(TransferError::Body {
                        bytes: out.len,
                        source,
                    }))
                }
            };
            out.append(&buf[..n]).map_err(write_err(&out.path))?;
            (self.progress)(&FetchEvent::Progress {
                name,
                bytes: out.len,
                total,
            });
        }
        match total {
            Some(total) if out.len < total => Err(Failure::Transient(TransferError::Incomplete {
                bytes: out.len,
                total,
            })),
            _ => Ok(()),
        }
    }

    /// Check the hash; make the partial file durable.
    fn finish(
        &mut self,
        out: Partial,
        label: &str,
        expected: Option<&Digest>,
    ) -> Result<Digest, AssetError> {
        let actual = out.digest();
        if let Some(expected) = expected {
            if actual != *expected {
                drop(out.file);
                let _ = fs::remove_file(&out.path);
                return Err(AssetError::HashMismatch {
                    name: self.name.to_owned(),
                    url: label.to_owned(),
                    expected: expected.clone(),
                    actual,
                    bytes: out.len,
                });
            }
        }
        out.file
            .sync_all()
            .map_err(AssetError::io("write", &out.path))?;
        (self.progress)(&FetchEvent::Finished {
            name: self.name,
            url: label,
            bytes: out.len,
        });
        Ok(actual)
    }
}

fn status_failure(name: &str, url: &str, status: u16) -> Failure {
    match status {
        404 => Failure::Final(AssetError::NotFound {
            name: name.to_owned(),
            url: url.to_owned(),
        }),
        408 | 429 | 500..=599 => Failure::Transient(TransferError::Status { status }),
        _ => Failure::Final(AssetError::HttpStatus {
            name: name.to_owned(),
            url: url.to_owned(),
            status,
        }),
    }
}

/// Configuration errors (bad URL, unknown scheme, redirect loop, proxy
/// settings) are final, reported as a download that failed after one attempt;
/// the rest (DNS, connection refused or reset, timeouts) are worth retrying.
fn transport_failure(name: &str, url: &str, transport: ureq::Transport) -> Failure {
    use ureq::ErrorKind as K;
    let is_final = matches!(
        transport.kind(),
        K::InvalidUrl
            | K::UnknownScheme
            | K::InsecureRequestHttpsOnly
            | K::TooManyRedirects
            | K::InvalidProxyUrl
            | K::ProxyUnauthorized
    );
    let error = TransferError::Transport(Box::new(transport));
    if is_final {
        Failure::Final(AssetError::Download {
            name: name.to_owned(),
            url: url.to_owned(),
            attempts: 1,
            source: error,
        })
    } else {
        Failure::Transient(error)
    }
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`) → (START, TOTAL).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_parsed() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }
}
