use std::path::{Path, PathBuf};

use kennel_config::is_executable;

use crate::error::MachineError;

/// Environment variable naming the QEMU binary to test (as in QEMU's own tests).
pub const QEMU_BINARY_ENV: &str = kennel_config::env::QEMU_BINARY;

/// A QEMU system emulator binary, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuBinary {
    /// Path to the executable.
    pub path: PathBuf,
    /// How it was chosen (for logs): "binary key", "--qemu", env var, or "PATH".
    pub source: &'static str,
}

/// Find the QEMU binary for `arch`.
///
/// Order: the machine's own `explicit` binary; `--qemu` (`qemu_opt`: a binary, or a
/// build directory holding `qemu-system-<arch>`); `$QEMU_TEST_QEMU_BINARY`;
/// `qemu-system-<arch>` on `PATH`. A binary given by `--qemu` or the variable is
/// for its own architecture only: named `qemu-system-<other>`, it stands for the
/// folder it is in, and the `qemu-system-<arch>` beside it (else on `PATH`) is used.
pub fn find_qemu(
    arch: &str,
    explicit: Option<&Path>,
    qemu_opt: Option<&Path>,
) -> Result<QemuBinary, MachineError> {
    let wanted = format!("qemu-system-{arch}");
    if let Some(path) = explicit {
        return existing(path, "the machine's `binary`", arch);
    }
    if let Some(opt) = qemu_opt {
        if opt.is_dir() {
            for candidate in [opt.join(&wanted), opt.join("build").join(&wanted)] {
                if is_executable(&candidate) {
                    return Ok(QemuBinary {
                        path: candidate,
                        source: "--qemu build directory",
                    });
                }
            }
            return Err(MachineError::BinaryNotFound {
                arch: arch.to_string(),
                detail: format!("--qemu {} has no {wanted}", opt.display()),
            });
        }
        if let Some(found) = sibling(opt, &wanted, "beside --qemu") {
            return found;
        }
        return existing(opt, "--qemu", arch);
    }
    if let Some(env) = std::env::var_os(QEMU_BINARY_ENV).filter(|v| !v.is_empty()) {
        let env = Path::new(&env);
        if let Some(found) = sibling(env, &wanted, "beside $QEMU_TEST_QEMU_BINARY") {
            return found;
        }
        return existing(env, "$QEMU_TEST_QEMU_BINARY", arch);
    }
    if let Some(path) = kennel_config::which(&wanted) {
        return Ok(QemuBinary {
            path,
            source: "PATH",
        });
    }
    Err(MachineError::BinaryNotFound {
        arch: arch.to_string(),
        detail: format!(
            "{wanted} is not on PATH; install it (Debian: apt-get install {}) or pass --qemu PATH",
            debian_package(arch)
        ),
    })
}

/// `given` is a QEMU for another architecture (`qemu-system-<other>`): the
/// `wanted` binary beside it, else on `PATH`; `None` when `given` is the wanted
/// one or not a `qemu-system-*` at all (a wrapper script stands for every arch).
fn sibling(
    given: &Path,
    wanted: &str,
    source: &'static str,
) -> Option<Result<QemuBinary, MachineError>> {
    let name = given.file_name()?.to_str()?;
    if !name.starts_with("qemu-system-") || name == wanted {
        return None;
    }
    let beside = given.with_file_name(wanted);
    if is_executable(&beside) {
        return Some(Ok(QemuBinary {
            path: beside,
            source,
        }));
    }
    let arch = wanted.trim_start_matches("qemu-system-").to_string();
    Some(match kennel_config::which(wanted) {
        Some(path) => Ok(QemuBinary {
            path,
            source: "PATH",
        }),
        None => Err(MachineError::BinaryNotFound {
            detail: format!(
                "{} is for another architecture, and there is no {wanted} beside it or on PATH",
                given.display()
            ),
            arch,
        }),
    })
}

fn existing(path: &Path, source: &'static str, arch: &str) -> Result<QemuBinary, MachineError> {
    let resolved = if path.components().count() == 1 && !path.exists() {
        kennel_config::which(&path.to_string_lossy())
    } else {
        Some(path.to_path_buf())
    };
    match resolved {
        Some(p) if is_executable(&p) => Ok(QemuBinary { path: p, source }),
        _ => Err(MachineError::BinaryNotFound {
            arch: arch.to_string(),
            detail: format!("{source} {} is not an executable file", path.display()),
        }),
    }
}

/// The Debian package that ships `qemu-system-<arch>` (what `kennel doctor` and the
/// "not on PATH" error tell the user to install).
pub fn debian_package(arch: &str) -> &'static str {
    match arch {
        "x86_64" | "i386" => "qemu-system-x86",
        "aarch64" | "arm" => "qemu-system-arm",
        "ppc64" | "ppc" => "qemu-system-ppc",
        "riscv64" | "riscv32" => "qemu-system-misc",
        "s390x" => "qemu-system-s390x",
        _ => "qemu-system",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_directory_without_the_binary_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = find_qemu("x86_64", None, Some(dir.path())).expect_err("must fail");
        assert!(
            err.to_string().contains("has no qemu-system-x86_64"),
            "{err}"
        );
    }

    #[test]
    fn build_directory_with_the_binary_is_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("qemu-system-aarch64");
        std::fs::write(&bin, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let found = find_qemu("aarch64", None, Some(dir.path())).expect("found");
        assert_eq!(found.path, bin);
    }

    #[test]
    fn missing_explicit_binary_is_an_error() {
        let err =
            find_qemu("x86_64", Some(Path::new("/nonexistent/qemu")), None).expect_err("must fail");
        assert!(err.to_string().contains("/nonexistent/qemu"), "{err}");
    }
}
