//! Whether two QEMU binaries are the same QEMU: one version and build, one
//! install. A run whose `--qemu` names one QEMU takes another architecture's
//! binary from `PATH` only when it is the same QEMU as that one; anything else
//! (the distribution's older QEMU beside a build tree's) would test another
//! QEMU under the same name.
//!
//! The rule, checked by [`same_qemu`]:
//! - the same `--version` text: its first line from `version ` on (`version
//!   10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)`: the version and the
//!   package or `git describe` string in parentheses, which names the build), and
//! - the same install: the same firmware and module folders
//!   ([`QemuInstall::of`], which is where a QEMU's modules, checked by QEMU
//!   itself to be "from the same build", come from), and the same `qemu-bundle`
//!   beside the binary (or none beside either).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::install::QemuInstall;

/// How long `QEMU --version` may take before the binary counts as unknown.
const VERSION_LIMIT: Duration = Duration::from_secs(10);

/// What makes a QEMU binary the QEMU it is (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuIdentity {
    /// `--version`'s first line from `version ` on.
    pub version: String,
    /// Its firmware and module folders.
    pub install: QemuInstall,
    /// The `qemu-bundle` folder beside it, resolved, if there is one.
    pub bundle: Option<PathBuf>,
}

impl QemuIdentity {
    /// The identity of `binary`, asked once per process and path; the error
    /// says why it could not be told (it does not run, no version, too slow).
    pub fn of(binary: &Path) -> Result<QemuIdentity, String> {
        static CACHE: OnceLock<Mutex<HashMap<PathBuf, Result<QemuIdentity, String>>>> =
            OnceLock::new();
        let cache = CACHE.get_or_init(Mutex::default);
        let key = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
        if let Some(known) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return known;
        }
        // QEMU finds its `qemu-bundle` beside its own executable, links resolved.
        let identity = version_line(binary).map(|version| QemuIdentity {
            version,
            install: QemuInstall::of(binary),
            bundle: key
                .parent()
                .map(|d| d.join("qemu-bundle"))
                .and_then(|b| std::fs::canonicalize(b).ok()),
        });
        if let Ok(mut c) = cache.lock() {
            c.insert(key, identity.clone());
        }
        identity
    }
}

/// `Ok` when `candidate` is the same QEMU as `reference`; else why not, for
/// a message such as "is another QEMU (version 7.2.22 (...), where ... is version 10.0.2 (...))".
pub fn same_qemu(reference: &Path, candidate: &Path) -> Result<(), String> {
    let want = QemuIdentity::of(reference)
        .map_err(|e| format!("cannot be compared with {}: {e}", reference.display()))?;
    let got = QemuIdentity::of(candidate)?;
    if got.version != want.version {
        return Err(format!(
            "is another QEMU: {}, where {} is {}",
            got.version,
            reference.display(),
            want.version
        ));
    }
    if got.install != want.install || got.bundle != want.bundle {
        return Err(format!(
            "is another install of {} than {} (other firmware, module or qemu-bundle folders)",
            got.version,
            reference.display()
        ));
    }
    Ok(())
}

/// `binary --version`'s first line from `version ` on, the run bounded by
/// [`VERSION_LIMIT`].
fn version_line(binary: &Path) -> Result<String, String> {
    let mut child = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {} --version: {e}", binary.display()))?;
    let deadline = Instant::now() + VERSION_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} --version did not answer within {VERSION_LIMIT:?}",
                    binary.display()
                ));
            }
        }
    }
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    let first = text.lines().next().unwrap_or_default();
    first
        .find("version ")
        .map(|at| first[at..].trim().to_string())
        .ok_or_else(|| {
            format!(
                "{} --version prints no version ({:?})",
                binary.display(),
                kennel_config::text::visible(first)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{text}'\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    #[test]
    fn the_same_version_and_build_in_one_folder_is_the_same_qemu() {
        let dir = tempfile::tempdir().expect("tempdir");
        let line = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)";
        let a = script(dir.path(), "qemu-system-x86_64", line);
        let b = script(dir.path(), "qemu-system-ppc", line);

        assert_eq!(same_qemu(&a, &b), Ok(()));
    }

    #[test]
    fn another_build_string_is_another_qemu_named_with_both_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = script(
            dir.path(),
            "a",
            "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)",
        );
        let b = script(
            dir.path(),
            "b",
            "QEMU emulator version 10.0.2 (v10.0.2-dirty)",
        );

        let why = same_qemu(&a, &b).expect_err("another build");

        assert!(why.contains("version 10.0.2 (v10.0.2-dirty)"), "{why}");
        assert!(
            why.contains("version 10.0.2 (Debian 1:10.0.2+ds-2)"),
            "{why}"
        );
    }

    #[test]
    fn the_same_version_in_another_install_is_another_qemu() {
        let root = tempfile::tempdir().expect("tempdir");
        let line = "QEMU emulator version 10.0.2";
        for prefix in ["one", "two"] {
            std::fs::create_dir_all(root.path().join(prefix).join("bin")).expect("mkdir");
            std::fs::create_dir_all(root.path().join(prefix).join("share/qemu")).expect("mkdir");
        }
        let a = script(&root.path().join("one/bin"), "qemu-system-x86_64", line);
        let b = script(&root.path().join("two/bin"), "qemu-system-ppc", line);

        let why = same_qemu(&a, &b).expect_err("another install");

        assert!(why.contains("another install"), "{why}");
    }

    #[test]
    fn a_binary_that_prints_no_version_is_not_the_same_qemu() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = script(dir.path(), "a", "QEMU emulator version 10.0.2");
        let b = script(dir.path(), "b", "hello");

        let why = same_qemu(&a, &b).expect_err("no version");

        assert!(why.contains("prints no version"), "{why}");
    }
}
