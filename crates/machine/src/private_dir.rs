//! Private temporary folders (mode 0700) named after their owner process, so that
//! the ones a killed process left behind can be found and removed later.
//!
//! A folder is `<prefix><pid>-<random>` under the temporary folder. A process killed
//! with its runner (`kill -9`, a closed terminal) cannot remove its folders; the
//! next job does, with [`remove_orphans`], once the owner pid is gone.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The machine core's socket folders (QMP, consoles) are named `kennel-sock-<pid>-...`.
pub const SOCKET_DIR_PREFIX: &str = "kennel-sock-";

/// A new folder `<prefix><this pid>-<random>` in the temporary folder, mode 0700,
/// removed when the returned value is dropped.
pub fn private_tempdir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
}

/// Remove the folders in `tmp` named `<prefix><pid>-...` for one of `prefixes`,
/// owned by this user, whose pid is no longer a live process. Returns how many were
/// removed. Best effort: what cannot be read or removed is left.
pub fn remove_orphans(tmp: &Path, prefixes: &[&str]) -> usize {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = prefixes
            .iter()
            .find_map(|p| name.to_str()?.strip_prefix(p))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        let ours = entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if ours && pid > 0 && !alive(pid) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// True while `pid` is a process (a zombie included).
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_folder_is_0700_and_named_after_its_owner() {
        let dir = private_tempdir("kennel-unit-").expect("made");

        let mode = std::fs::metadata(dir.path())
            .expect("stat")
            .permissions()
            .mode();
        let name = dir
            .path()
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();

        assert_eq!(mode & 0o777, 0o700);
        assert!(name.starts_with(&format!("kennel-unit-{}-", std::process::id())));
    }

    #[test]
    fn only_folders_of_owners_that_are_gone_are_removed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let gone = child.id();
        child.wait().expect("reaped");
        let orphan = tmp.path().join(format!("kennel-tmp-{gone}-abc"));
        let owned = tmp
            .path()
            .join(format!("kennel-tmp-{}-abc", std::process::id()));
        let other = tmp.path().join(format!("other-{gone}-abc"));
        for d in [&orphan, &owned, &other] {
            std::fs::create_dir(d).expect("mkdir");
        }

        let removed = remove_orphans(tmp.path(), &["kennel-tmp-", SOCKET_DIR_PREFIX]);

        assert_eq!(removed, 1);
        assert!(!orphan.exists());
        assert!(owned.exists());
        assert!(other.exists());
    }
}
