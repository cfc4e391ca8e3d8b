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

/// An architecture's binary given on purpose: `--qemu-arch ARCH=PATH`.
pub type ArchBinary = (String, PathBuf);

/// Find the QEMU system emulator for `arch`.
///
/// Order: the machine's own `explicit` binary; `--qemu-arch ARCH=PATH` (`chosen`);
/// `--qemu` (`qemu_opt`: a binary, or a build directory holding
/// `qemu-system-<arch>`); `$QEMU_TEST_QEMU_BINARY`; `qemu-system-<arch>` on
/// `PATH`. A binary given by `--qemu` or the variable is for its own
/// architecture only: named `qemu-system-<other>`, it stands for the folder it
/// is in, and the `qemu-system-<arch>` beside it is used. One QEMU per run: a
/// binary from `PATH` serves only when it is the same QEMU as the one named
/// ([`same_qemu`](crate::same_qemu::same_qemu): version and build, install),
/// else the architecture has no binary ([`MachineError::NotTheSameQemu`]).
pub fn find_qemu(
    arch: &str,
    explicit: Option<&Path>,
    qemu_opt: Option<&Path>,
    chosen: &[ArchBinary],
) -> Result<QemuBinary, MachineError> {
    if let Some(path) = explicit {
        return existing(path, "the machine's `binary`", arch);
    }
    let wanted = format!("qemu-system-{arch}");
    let user_binary = format!("qemu-{arch}");
    let on_purpose = chosen
        .iter()
        .rev()
        .find(|(a, p)| a == arch && p.file_name().is_none_or(|n| *n != *user_binary));
    find_emulator(arch, &wanted, on_purpose, qemu_opt)
}

/// Find QEMU's user-mode emulator `qemu-<arch>` (for QEMU's `linuxuser` and
/// `bsduser` tests) by the rules of [`find_qemu`]: `--qemu-arch ARCH=PATH` naming
/// a `qemu-<arch>`, else in the build directory or beside the `--qemu` binary,
/// else the same QEMU's on `PATH`.
pub fn find_qemu_user(
    arch: &str,
    qemu_opt: Option<&Path>,
    chosen: &[ArchBinary],
) -> Result<QemuBinary, MachineError> {
    let wanted = format!("qemu-{arch}");
    let on_purpose = chosen
        .iter()
        .rev()
        .find(|(a, p)| a == arch && p.file_name().is_some_and(|n| n.to_string_lossy() == wanted));
    find_emulator(arch, &wanted, on_purpose, qemu_opt)
}

fn find_emulator(
    arch: &str,
    wanted: &str,
    on_purpose: Option<&ArchBinary>,
    qemu_opt: Option<&Path>,
) -> Result<QemuBinary, MachineError> {
    if let Some((_, path)) = on_purpose {
        return existing(path, "--qemu-arch", arch);
    }
    if let Some(opt) = qemu_opt {
        if opt.is_dir() {
            return in_build_directory(opt, wanted, arch);
        }
        if let Some(found) = sibling(opt, wanted, "beside --qemu") {
            return found;
        }
        return existing(opt, "--qemu", arch);
    }
    if let Some(env) = std::env::var_os(QEMU_BINARY_ENV).filter(|v| !v.is_empty()) {
        let env = Path::new(&env);
        if let Some(found) = sibling(env, wanted, "beside $QEMU_TEST_QEMU_BINARY") {
            return found;
        }
        return existing(env, "$QEMU_TEST_QEMU_BINARY", arch);
    }
    if let Some(path) = kennel_config::which(wanted) {
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

/// `wanted` in the build directory `dir` (or `dir/build`); else the same QEMU's
/// on `PATH` (the same as a `qemu-system-*` of the build).
fn in_build_directory(dir: &Path, wanted: &str, arch: &str) -> Result<QemuBinary, MachineError> {
    let folders = [dir.to_path_buf(), dir.join("build")];
    for candidate in folders.iter().map(|f| f.join(wanted)) {
        if is_executable(&candidate) {
            return Ok(QemuBinary {
                path: candidate,
                source: "--qemu build directory",
            });
        }
    }
    let reference = folders.iter().find_map(|f| {
        let mut names: Vec<PathBuf> = std::fs::read_dir(f)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("qemu-system-"))
                    && is_executable(p)
            })
            .collect();
        names.sort();
        names.into_iter().next()
    });
    let not_found = || MachineError::BinaryNotFound {
        arch: arch.to_string(),
        detail: format!(
            "--qemu {} has no {wanted}; --qemu-arch {arch}=PATH adds one",
            dir.display()
        ),
    };
    match reference {
        Some(reference) => from_path(&reference, wanted, arch).unwrap_or_else(|| Err(not_found())),
        None => Err(not_found()),
    }
}

/// `wanted` on `PATH` when it is the same QEMU as `reference`; `None` when
/// `PATH` has none.
fn from_path(
    reference: &Path,
    wanted: &str,
    arch: &str,
) -> Option<Result<QemuBinary, MachineError>> {
    let path = kennel_config::which(wanted)?;
    Some(match crate::same_qemu::same_qemu(reference, &path) {
        Ok(()) => Ok(QemuBinary {
            path,
            source: "PATH (the same QEMU)",
        }),
        Err(why) => Err(MachineError::NotTheSameQemu {
            arch: arch.to_string(),
            detail: format!("{} on PATH {why}", path.display()),
        }),
    })
}

/// `given` is a QEMU for another architecture (`qemu-system-<other>`): the
/// `wanted` binary beside it, else the same QEMU's on `PATH`; `None` when
/// `given` is the wanted one or not a `qemu-system-*` at all (a wrapper script
/// stands for every arch).
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
    let arch = wanted
        .trim_start_matches("qemu-system-")
        .trim_start_matches("qemu-");
    Some(from_path(given, wanted, arch).unwrap_or_else(|| {
        Err(MachineError::BinaryNotFound {
            detail: format!(
                "{} is for another architecture, and there is no {wanted} beside it or on PATH; \
                 --qemu-arch {arch}=PATH adds one",
                given.display()
            ),
            arch: arch.to_string(),
        })
    }))
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
        let err = find_qemu("x86_64", None, Some(dir.path()), &[]).expect_err("must fail");
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
        let found = find_qemu("aarch64", None, Some(dir.path()), &[]).expect("found");
        assert_eq!(found.path, bin);
    }

    #[test]
    fn missing_explicit_binary_is_an_error() {
        let err = find_qemu("x86_64", Some(Path::new("/nonexistent/qemu")), None, &[])
            .expect_err("must fail");
        assert!(err.to_string().contains("/nonexistent/qemu"), "{err}");
    }
}
