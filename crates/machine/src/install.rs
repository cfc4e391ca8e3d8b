//! Where a QEMU binary's own firmware and modules are. A QEMU outside the
//! distribution's `/usr` (a build tree, a `make install` prefix, packages
//! unpacked into a folder) was configured with paths it does not live at: left
//! alone it loads the system's older firmware (SeaBIOS) and, worse, the system's
//! modules, which abort a QEMU of another version. kennel passes its own.

use std::path::{Path, PathBuf};

/// The firmware folders (`-L`) and module folder (`QEMU_MODULE_DIR`) that go
/// with one QEMU binary. Empty for the distribution's QEMU in `/usr/bin`, whose
/// compiled-in paths are right.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuInstall {
    /// Firmware and data folders, in search order: each becomes `-L DIR`.
    pub data_dirs: Vec<PathBuf>,
    /// Its modules, for `QEMU_MODULE_DIR`.
    pub module_dir: Option<PathBuf>,
}

impl QemuInstall {
    /// The install `binary` belongs to:
    /// - a build tree (`BUILD/qemu-system-*` beside `BUILD/pc-bios`): `pc-bios`;
    ///   QEMU finds a build tree's modules beside its binary by itself;
    /// - a prefix (`PREFIX/bin/qemu-system-*`, `PREFIX` other than `/usr`):
    ///   `PREFIX/share/qemu`, and `PREFIX/share/seabios` where the distribution
    ///   keeps SeaBIOS apart; modules from `PREFIX/lib/<multiarch>/qemu`,
    ///   `PREFIX/lib64/qemu` or `PREFIX/lib/qemu`.
    pub fn of(binary: &Path) -> QemuInstall {
        let binary = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
        let Some(dir) = binary.parent() else {
            return QemuInstall::default();
        };
        let pc_bios = dir.join("pc-bios");
        if pc_bios.is_dir() {
            return QemuInstall {
                data_dirs: vec![pc_bios],
                module_dir: None,
            };
        }
        let Some(prefix) = dir
            .file_name()
            .filter(|n| *n == "bin")
            .and_then(|_| dir.parent())
        else {
            return QemuInstall::default();
        };
        if prefix == Path::new("/usr") {
            return QemuInstall::default();
        }
        let data_dirs: Vec<PathBuf> = ["share/qemu", "share/seabios"]
            .iter()
            .map(|d| prefix.join(d))
            .filter(|d| d.is_dir())
            .collect();
        let multiarch = format!("lib/{}-linux-gnu/qemu", std::env::consts::ARCH);
        let module_dir = [multiarch.as_str(), "lib64/qemu", "lib/qemu"]
            .iter()
            .map(|d| prefix.join(d))
            .find(|d| d.is_dir());
        QemuInstall {
            data_dirs,
            module_dir,
        }
    }

    /// The `-L DIR` arguments.
    pub fn args(&self) -> Vec<String> {
        self.data_dirs
            .iter()
            .flat_map(|d| ["-L".to_string(), d.to_string_lossy().into_owned()])
            .collect()
    }

    /// The environment QEMU needs: `QEMU_MODULE_DIR` when the install has modules.
    pub fn env(&self) -> Vec<(String, String)> {
        self.module_dir
            .iter()
            .map(|d| {
                (
                    "QEMU_MODULE_DIR".to_string(),
                    d.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    /// A command that runs the QEMU `binary` with its install's firmware
    /// folders (`-L`) and module folder already given; add the rest of its
    /// arguments.
    pub fn command(binary: &Path) -> std::process::Command {
        let install = QemuInstall::of(binary);
        let mut cmd = std::process::Command::new(binary);
        cmd.envs(install.env()).args(install.args());
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, b"").expect("write");
    }

    #[test]
    fn the_distributions_qemu_needs_nothing() {
        assert_eq!(
            QemuInstall::of(Path::new("/usr/bin/qemu-system-x86_64")),
            QemuInstall::default()
        );
    }

    #[test]
    fn a_prefix_gives_its_firmware_seabios_and_modules() {
        let root = tempfile::tempdir().expect("tempdir");
        let prefix = root.path().join("qemu-10/usr");
        let binary = prefix.join("bin/qemu-system-x86_64");
        touch(&binary);
        touch(&prefix.join("share/qemu/kvmvapic.bin"));
        touch(&prefix.join("share/seabios/bios-256k.bin"));
        let modules = prefix.join(format!(
            "lib/{}-linux-gnu/qemu/ui-opengl.so",
            std::env::consts::ARCH
        ));
        touch(&modules);
        let prefix = std::fs::canonicalize(&prefix).expect("canonical");

        let install = QemuInstall::of(&binary);

        assert_eq!(
            install.data_dirs,
            [prefix.join("share/qemu"), prefix.join("share/seabios")]
        );
        assert_eq!(
            install.module_dir.as_deref(),
            modules
                .parent()
                .map(|d| std::fs::canonicalize(d).expect("dir"))
                .as_deref()
        );
        assert_eq!(install.args()[0], "-L");
        assert_eq!(install.env()[0].0, "QEMU_MODULE_DIR");
    }

    #[test]
    fn a_build_tree_gives_its_pc_bios() {
        let root = tempfile::tempdir().expect("tempdir");
        let binary = root.path().join("build/qemu-system-aarch64");
        touch(&binary);
        touch(&root.path().join("build/pc-bios/efi-virtio.rom"));
        let build = std::fs::canonicalize(root.path().join("build")).expect("canonical");

        let install = QemuInstall::of(&binary);

        assert_eq!(install.data_dirs, [build.join("pc-bios")]);
        assert_eq!(install.module_dir, None);
    }
}
