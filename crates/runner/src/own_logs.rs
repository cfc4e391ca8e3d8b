//! The logs a test keeps outside kennel's results, brought into its log folder.
//!
//! QEMU's `tests/functional` (10.x) write each test's own logs (`base.log`,
//! `console.log`, a machine's logs) under
//! `$QEMU_BUILD_ROOT/tests/functional/<arch>/<test id>/`, a place no variable
//! moves (the build root also locates `qemu-img`, firmware and plugins, so it
//! cannot point elsewhere). When a producer ends, each of its points named by a
//! unittest id that has such a folder, written during this run, is copied (without
//! its `scratch/`) to `<test log folder>/<test id>/`, where `report.html` links it.
//! Copied, not moved: the paths the tests print ("More information on ... could be
//! found here") stay true. Without a build directory kennel points
//! `QEMU_BUILD_ROOT` at the log folder itself (`qemu_tree`): there the folders are
//! moved up to `<test log folder>/<test id>/`, so nothing is kept twice.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The variable that names a QEMU build tree for its functional tests.
pub(crate) const QEMU_BUILD_ROOT: &str = "QEMU_BUILD_ROOT";

/// Files larger than this are not copied (their place is named in `own-logs.txt`).
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// Copy the own logs of the points `ids` (unittest ids) written since `since`
/// from under `build_root` into `logdir`.
pub(crate) fn collect(build_root: &Path, ids: &[&str], since: SystemTime, logdir: &Path) {
    let base = build_root.join("tests").join("functional");
    let Ok(arches) = std::fs::read_dir(&base) else {
        return;
    };
    let arches: Vec<PathBuf> = arches
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    // File systems that keep coarse times (2 s on FAT) must not hide this run's logs.
    let since = since - std::time::Duration::from_secs(2);
    let inside_logdir = build_root == logdir;
    for id in ids {
        for arch in &arches {
            let from = arch.join(id);
            if from.is_dir() && newest(&from).is_some_and(|t| t >= since) {
                let to = logdir.join(id);
                if !(inside_logdir && std::fs::rename(&from, &to).is_ok()) {
                    copy_dir(&from, &to);
                }
            }
        }
    }
    if inside_logdir {
        // Only the emptied `tests/functional/<arch>` folders go.
        for arch in &arches {
            let _ = std::fs::remove_dir(arch);
        }
        let _ = std::fs::remove_dir(&base);
        let _ = std::fs::remove_dir(build_root.join("tests"));
    }
}

/// The newest modification time of the files directly in `dir`.
fn newest(dir: &Path) -> Option<SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max()
}

fn copy_dir(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    if std::fs::create_dir_all(to).is_err() {
        return;
    }
    for e in entries.flatten() {
        let name = e.file_name();
        let Ok(kind) = e.file_type() else {
            continue;
        };
        if kind.is_dir() && name != "scratch" {
            copy_dir(&e.path(), &to.join(&name));
        } else if kind.is_file() {
            let big = e.metadata().map(|m| m.len() > MAX_FILE).unwrap_or(true);
            if big {
                let note = format!("not copied (over 64 MiB): {}\n", e.path().display());
                let _ = append(&to.join("own-logs.txt"), &note);
            } else {
                let _ = std::fs::copy(e.path(), to.join(&name));
            }
        }
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_written_under_the_log_folder_itself_are_moved_up_not_kept_twice() {
        let logdir = tempfile::tempdir().expect("tempdir");
        let since = SystemTime::now() - std::time::Duration::from_secs(5);
        let own = logdir
            .path()
            .join("tests/functional/x86_64/test_v.Version.test_x");
        std::fs::create_dir_all(&own).expect("mkdir");
        std::fs::write(own.join("base.log"), "base\n").expect("write");

        collect(
            logdir.path(),
            &["test_v.Version.test_x"],
            since,
            logdir.path(),
        );

        let moved = logdir.path().join("test_v.Version.test_x/base.log");
        assert_eq!(std::fs::read_to_string(moved).expect("moved"), "base\n");
        assert!(!logdir.path().join("tests").exists());
    }

    #[test]
    fn a_qemu_tests_own_logs_are_copied_without_its_scratch() {
        let root = tempfile::tempdir().expect("tempdir");
        let logdir = tempfile::tempdir().expect("tempdir");
        let since = SystemTime::now() - std::time::Duration::from_secs(5);
        let own = root
            .path()
            .join("tests/functional/x86_64/test_v.Version.test_x");
        std::fs::create_dir_all(own.join("scratch")).expect("mkdir");
        std::fs::write(own.join("base.log"), "base\n").expect("write");
        std::fs::write(own.join("scratch/disk.img"), "img").expect("write");

        collect(
            root.path(),
            &["test_v.Version.test_x"],
            since,
            logdir.path(),
        );

        let copied = logdir.path().join("test_v.Version.test_x");
        assert_eq!(
            std::fs::read_to_string(copied.join("base.log"))
                .ok()
                .as_deref(),
            Some("base\n")
        );
        assert!(!copied.join("scratch").exists());
    }

    #[test]
    fn logs_left_by_an_earlier_run_are_not_copied() {
        let root = tempfile::tempdir().expect("tempdir");
        let logdir = tempfile::tempdir().expect("tempdir");
        let own = root.path().join("tests/functional/x86_64/t.T.test_old");
        std::fs::create_dir_all(&own).expect("mkdir");
        std::fs::write(own.join("base.log"), "old\n").expect("write");
        let later = SystemTime::now() + std::time::Duration::from_secs(60);

        collect(root.path(), &["t.T.test_old"], later, logdir.path());

        assert!(!logdir.path().join("t.T.test_old").exists());
    }
}
