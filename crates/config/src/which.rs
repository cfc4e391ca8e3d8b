//! Finding a program the way a shell does.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The program `name` as a shell would run it: a name with a `/` is that
/// path; a bare name is looked up in the folders of `$PATH`, in order. Only an
/// executable regular file counts.
///
/// # Examples
///
/// ```
/// let sh = kennel_config::which("sh").expect("a shell on PATH");
/// assert!(sh.is_absolute());
/// assert_eq!(kennel_config::which("no-such-program-kennel"), None);
/// ```
pub fn which(name: &str) -> Option<PathBuf> {
    which_in(name, std::env::var_os("PATH").as_deref())
}

/// [`which`] with the search path given (`None`: no `PATH`).
pub fn which_in(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    if name.contains('/') {
        let p = Path::new(name);
        return is_executable(p).then(|| p.to_path_buf());
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// Whether `path` is a regular file (symlinks followed) with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, b"#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    #[test]
    fn the_first_executable_on_the_path_is_found() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        file(a.path(), "tool", 0o644);
        let wanted = file(b.path(), "tool", 0o755);
        let path = std::env::join_paths([a.path(), b.path()]).expect("join");

        assert_eq!(which_in("tool", Some(&path)), Some(wanted));
    }

    #[test]
    fn a_name_with_a_slash_is_not_searched() {
        let a = tempfile::tempdir().expect("tempdir");
        let tool = file(a.path(), "tool", 0o755);
        let name = tool.to_string_lossy().into_owned();

        assert_eq!(which_in(&name, None), Some(tool));
        assert_eq!(which_in("tool", None), None);
    }

    #[test]
    fn folders_are_not_programs() {
        let a = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(a.path().join("tool")).expect("mkdir");
        assert_eq!(which_in("tool", Some(a.path().as_os_str())), None);
    }
}
