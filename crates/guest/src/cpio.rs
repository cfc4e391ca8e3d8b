//! The initramfs: a cpio "newc" archive built in memory, written
//! deterministically with [`kennel_assets::cpio::Writer`].

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use kennel_config::text::hex;

use crate::error::io_err;
use crate::GuestError;

/// How an initramfs is compressed. The kernel unpacks either; plain archives
/// skip the guest's decompression (which is slow under TCG) at the price of a
/// larger file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// A plain cpio archive.
    #[default]
    None,
    /// gzip, as most initramfs tools write (no name, mtime 0: deterministic).
    Gzip,
}

impl Compression {
    /// The file name suffix for an archive compressed this way (`.cpio`, `.cpio.gz`).
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => ".cpio",
            Compression::Gzip => ".cpio.gz",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
}

use kennel_assets::cpio::{Writer, S_IFDIR, S_IFLNK, S_IFREG};

/// An initramfs under construction: directories, files and symlinks, all
/// owned by root, written as a cpio "newc" archive.
///
/// The output is deterministic: entries are written sorted by path, every
/// mtime is 0, inode numbers count up from 1, and parent directories that
/// were not added explicitly appear with mode 0755. Adding a path twice
/// replaces the first entry.
///
/// # Examples
///
/// ```
/// use kennel_guest::{Compression, Initramfs};
/// let mut fs = Initramfs::new();
/// fs.file("init", b"#!/bin/sh\necho hi\n".to_vec(), 0o755)?
///     .symlink("bin/sh", "busybox")?
///     .dir("proc", 0o555)?;
/// let bytes = fs.to_bytes(Compression::None);
/// assert!(bytes.starts_with(b"070701"));
/// assert_eq!(fs.paths().collect::<Vec<_>>(), ["bin/sh", "init", "proc"]);
/// # Ok::<(), kennel_guest::GuestError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Initramfs {
    entries: BTreeMap<String, Entry>,
    /// Host files already copied in (canonical host path -> guest path), so a
    /// file reached under two names is stored once and linked to.
    pub(crate) copied: BTreeMap<PathBuf, String>,
    pub(crate) library_dirs: Option<Vec<PathBuf>>,
}

/// Normalises a guest path: no leading `/`, no `.` or empty components; `..` is refused.
pub(crate) fn guest_path(path: &str) -> Result<String, GuestError> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(GuestError::BadGuestPath {
                    path: path.to_owned(),
                })
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(GuestError::BadGuestPath {
            path: path.to_owned(),
        });
    }
    Ok(parts.join("/"))
}

impl Initramfs {
    /// An empty initramfs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory with permission bits `mode` (e.g. `0o755`).
    pub fn dir(&mut self, path: &str, mode: u32) -> Result<&mut Self, GuestError> {
        self.entries.insert(
            guest_path(path)?,
            Entry::Dir {
                mode: mode & 0o7777,
            },
        );
        Ok(self)
    }

    /// Adds a file with the given content and permission bits.
    pub fn file(&mut self, path: &str, data: Vec<u8>, mode: u32) -> Result<&mut Self, GuestError> {
        self.entries.insert(
            guest_path(path)?,
            Entry::File {
                mode: mode & 0o7777,
                data,
            },
        );
        Ok(self)
    }

    /// Adds a copy of the host file `host` (symlinks followed) at `path`,
    /// with permission bits `mode`, or the host file's own when `None`.
    pub fn file_from_host(
        &mut self,
        host: &Path,
        path: &str,
        mode: Option<u32>,
    ) -> Result<&mut Self, GuestError> {
        let data = std::fs::read(host).map_err(io_err("read", host))?;
        let mode = match mode {
            Some(m) => m,
            None => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(host)
                    .map_err(io_err("read", host))?
                    .permissions()
                    .mode()
            }
        };
        self.file(path, data, mode)
    }

    /// Adds a symbolic link at `path` pointing to `target` (stored as given).
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<&mut Self, GuestError> {
        self.entries.insert(
            guest_path(path)?,
            Entry::Symlink {
                target: target.to_owned(),
            },
        );
        Ok(self)
    }

    /// Whether something was added at `path`.
    pub fn contains(&self, path: &str) -> bool {
        guest_path(path).is_ok_and(|p| self.entries.contains_key(&p))
    }

    /// The paths added so far, sorted (parent directories added implicitly are not listed).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The total size of the files' contents, in bytes.
    pub fn content_size(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match e {
                Entry::File { data, .. } => data.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// Every entry to write, with implicit parent directories, sorted.
    fn complete(&self) -> BTreeMap<&str, Entry> {
        let mut all: BTreeMap<&str, Entry> = BTreeMap::new();
        for (path, entry) in &self.entries {
            let mut end = 0;
            while let Some(i) = path[end..].find('/') {
                end += i;
                all.entry(&path[..end])
                    .or_insert(Entry::Dir { mode: 0o755 });
                end += 1;
            }
            all.insert(path, entry.clone());
        }
        all
    }

    /// Writes the archive to `out`, compressed as asked.
    pub fn write_to<W: Write>(&self, out: W, compression: Compression) -> io::Result<()> {
        match compression {
            Compression::None => self.write_plain(out),
            Compression::Gzip => {
                let mut gz = flate2::GzBuilder::new()
                    .mtime(0)
                    .write(out, flate2::Compression::new(6));
                self.write_plain(&mut gz)?;
                gz.finish()?;
                Ok(())
            }
        }
    }

    /// The archive as bytes, compressed as asked.
    pub fn to_bytes(&self, compression: Compression) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.content_size() as usize + 64 * 1024);
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out, compression);
        out
    }

    /// The SHA-256 of the plain (uncompressed) archive, in hex: equal
    /// content gives an equal digest.
    pub fn sha256_hex(&self) -> String {
        let mut hasher = Sha256::new();
        // Writing to a hasher cannot fail.
        let _ = self.write_plain(&mut HashWriter(&mut hasher));
        hex(&hasher.finalize())
    }

    fn write_plain<W: Write>(&self, out: W) -> io::Result<()> {
        let mut archive = Writer::new(out);
        for (path, entry) in self.complete() {
            match &entry {
                Entry::Dir { mode } => archive.entry(path, S_IFDIR | mode, 2, &[])?,
                Entry::File { mode, data } => archive.entry(path, S_IFREG | mode, 1, data)?,
                Entry::Symlink { target } => {
                    archive.entry(path, S_IFLNK | 0o777, 1, target.as_bytes())?
                }
            }
        }
        archive.finish()?;
        Ok(())
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_and_dotdot_is_refused() {
        assert_eq!(guest_path("/usr//bin/./x").expect("valid"), "usr/bin/x");
        assert!(matches!(
            guest_path("a/../b"),
            Err(GuestError::BadGuestPath { .. })
        ));
        assert!(matches!(
            guest_path("/"),
            Err(GuestError::BadGuestPath { .. })
        ));
    }

    #[test]
    fn parents_come_before_children_and_are_implicit() {
        let mut fs = Initramfs::new();
        fs.file("a/b/c", vec![1], 0o644)
            .expect("valid")
            .file("a-b", vec![2], 0o600)
            .expect("valid");
        let names: Vec<_> = fs.complete().into_keys().collect();
        assert_eq!(names, ["a", "a-b", "a/b", "a/b/c"]);
    }
}
