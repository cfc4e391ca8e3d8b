//! Where prepared kernels and initramfs images are kept: a content-addressed
//! directory, written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::io_err;
use crate::GuestError;

/// The guest cache: `<kennel cache>/guest/`, holding `vmlinux-<sha256>`,
/// `initramfs-<sha256>.cpio[.gz]`, unpacked packages and the memos that let
/// an unchanged [`GuestSpec`](crate::GuestSpec) skip straight to its
/// artefacts. Every file appears whole or not at all (written to a temporary
/// file in the same directory, then renamed), so concurrent builders do not
/// see each other's partial files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestCache {
    dir: PathBuf,
}

impl GuestCache {
    /// The guest cache under the kennel cache directory `root` (`root/guest`).
    pub fn new(root: &Path) -> GuestCache {
        GuestCache {
            dir: root.join("guest"),
        }
    }

    /// The guest cache under the user's kennel cache directory
    /// ([`kennel_config::cache_dir`]: `$KENNEL_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/kennel` when absolute, else `$HOME/.cache/kennel`).
    pub fn user_default() -> Result<GuestCache, GuestError> {
        kennel_config::cache_dir()
            .map(|root| GuestCache::new(&root))
            .ok_or(GuestError::NoCacheDir)
    }

    /// The directory the artefacts are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub(crate) fn ensure_dir(&self) -> Result<(), GuestError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err("create", &self.dir))
    }

    /// Writes `name` atomically with what `fill` writes, readable by all
    /// ([`kennel_config::write_atomic_with`]).
    pub(crate) fn write_atomic(
        &self,
        name: &str,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<PathBuf, GuestError> {
        self.ensure_dir()?;
        let target = self.path(name);
        kennel_config::write_atomic_with(&target, fill).map_err(io_err("write", &target))?;
        Ok(target)
    }
}

/// A file's identity and state ([`kennel_config::file_stamp`]); `None` when it
/// cannot be read.
pub(crate) fn stamp(path: &Path) -> Option<String> {
    kennel_config::file_stamp(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_leave_no_temporary_files() {
        let root = tempfile::tempdir().expect("temp dir");
        let cache = GuestCache::new(root.path());
        let path = cache
            .write_atomic("x", |w| w.write_all(b"hello"))
            .expect("written");
        assert_eq!(std::fs::read(&path).expect("read"), b"hello");
        let names: Vec<_> = std::fs::read_dir(cache.dir())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("x")]);
    }
}
