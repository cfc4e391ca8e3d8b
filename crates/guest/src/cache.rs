//! Where prepared kernels and initramfs images are kept: a content-addressed
//! directory, written atomically.

use std::ffi::OsString;
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

    /// The guest cache under the user's kennel cache directory:
    /// `$KENNEL_CACHE_DIR`, else `$XDG_CACHE_HOME/kennel` (when absolute),
    /// else `$HOME/.cache/kennel`.
    pub fn user_default() -> Result<GuestCache, GuestError> {
        default_root(|name| std::env::var_os(name)).map(|root| GuestCache::new(&root))
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

    /// Writes `name` atomically with what `fill` writes, readable by all.
    pub(crate) fn write_atomic(
        &self,
        name: &str,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<PathBuf, GuestError> {
        use std::os::unix::fs::PermissionsExt;
        self.ensure_dir()?;
        let target = self.path(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempfile_in(&self.dir)
            .map_err(io_err("create a temporary file in", &self.dir))?;
        {
            let mut out = std::io::BufWriter::new(tmp.as_file_mut());
            fill(&mut out).map_err(io_err("write", &target))?;
            out.flush().map_err(io_err("write", &target))?;
        }
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io_err("write", &target))?;
        tmp.persist(&target).map_err(|e| GuestError::Io {
            action: "rename into",
            path: target.clone(),
            source: e.error,
        })?;
        Ok(target)
    }
}

fn default_root(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, GuestError> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set("KENNEL_CACHE_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = set("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
        return Ok(dir.join("kennel"));
    }
    set("HOME")
        .map(|home| home.join(".cache").join("kennel"))
        .ok_or(GuestError::NoCacheDir)
}

/// A file's identity and state, cheap to read: size, mtime, ctime, inode, device.
pub(crate) fn stamp(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{}:{}.{:09}:{}.{:09}:{}:{}",
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.ino(),
        m.dev()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_cache_root_follows_kennel_then_xdg_then_home() {
        assert_eq!(
            default_root(env(&[("KENNEL_CACHE_DIR", "/k"), ("HOME", "/h")])).expect("dir"),
            PathBuf::from("/k")
        );
        assert_eq!(
            default_root(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])).expect("dir"),
            PathBuf::from("/x/kennel")
        );
        assert_eq!(
            default_root(env(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/h")])).expect("dir"),
            PathBuf::from("/h/.cache/kennel")
        );
        assert!(matches!(
            default_root(env(&[])),
            Err(GuestError::NoCacheDir)
        ));
    }

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
        assert_eq!(names, [OsString::from("x")]);
    }
}
