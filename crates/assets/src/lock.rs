//! Exclusive per-entry locks shared by every kennel process (Unix `flock`).
//!
//! `flock(2)` locks belong to the open file description, so they exclude
//! other processes *and* other threads of this process that opened the file
//! themselves. The kernel releases a lock when its holder exits, however it
//! exits (`kill -9` included): a lock file left behind by a dead process is
//! just a file, and the next process takes it over at once.
//!
//! Lock files may be removed (by [`Cache::purge`](crate::Cache::purge)) only
//! while held. A process that opened the old file before the removal notices
//! after acquiring it (the path no longer names the inode it locked) and
//! retries on the new file.
//!
//! The same locks guard other caches built by one process while others wait
//! (kennel-vm's saved machine states).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

/// A held lock; dropping it releases the lock (the file stays).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    /// Block until the lock at `path` is ours (creating the file).
    pub fn acquire(path: &Path) -> io::Result<FileLock> {
        loop {
            if let Some(lock) = Self::lock(path, FlockOperation::LockExclusive)? {
                return Ok(lock);
            }
        }
    }

    /// The lock at `path` if no one holds it, else `None`.
    pub fn try_acquire(path: &Path) -> io::Result<Option<FileLock>> {
        loop {
            match Self::lock(path, FlockOperation::NonBlockingLockExclusive) {
                Ok(Some(lock)) => return Ok(Some(lock)),
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// `None` when the file was replaced while we waited (retry).
    fn lock(path: &Path, op: FlockOperation) -> io::Result<Option<FileLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        loop {
            match flock(&file, op) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let held = file.metadata()?;
        match fs::metadata(path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => Ok(Some(FileLock {
                _file: file,
                path: path.to_owned(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Remove the lock file while holding it (see the module docs).
    pub(crate) fn remove_file(self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
