//! UEFI firmware, found the way QEMU's management tools find it: the firmware
//! descriptors (QEMU's `docs/interop/firmware.json`) in the QEMU install's own
//! `share/qemu/firmware` first, then `/etc/qemu/firmware` and
//! `/usr/share/qemu/firmware` (Debian's `ovmf` and `qemu-efi-aarch64` put
//! theirs there), each folder's files in name order. A descriptor names the
//! code and the variable template of a flash firmware, the architectures and
//! machine types it runs on (`pc-q35-*`, `virt-*`) and its features
//! (`secure-boot`, `enrolled-keys`, `requires-smm`).
//!
//! A machine with [`Pflash`] gets the code read-only as pflash unit 0 and its
//! own copy of the variables as unit 1 ([`MachineConfig::command_line`]); the
//! system's template is never opened for writing.
//!
//! [`MachineConfig::command_line`]: crate::MachineConfig::command_line

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::install::QemuInstall;

/// The firmware a machine boots: `firmware = "bios"` or `"uefi"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// QEMU's default firmware (SeaBIOS on x86; on other machines whatever
    /// QEMU loads by itself).
    Bios,
    /// UEFI from a firmware descriptor, without Secure Boot.
    Uefi,
}

impl Firmware {
    /// The names a test may write.
    pub const NAMES: [&'static str; 2] = ["bios", "uefi"];

    /// From a test's `firmware = "..."`.
    pub fn from_name(name: &str) -> Option<Firmware> {
        match name {
            "bios" => Some(Firmware::Bios),
            "uefi" => Some(Firmware::Uefi),
            _ => None,
        }
    }

    /// The name a test writes.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }
}

/// One firmware descriptor file, the parts kennel reads (other members are
/// allowed and ignored, as the schema grows).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Descriptor {
    /// A person's description.
    #[serde(default)]
    pub description: String,
    /// `uefi`, `bios`, `openfirmware`, `uboot`.
    #[serde(default)]
    pub interface_types: Vec<String>,
    /// How the firmware is loaded.
    pub mapping: Mapping,
    /// The architectures and machine types it runs on.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// `secure-boot`, `enrolled-keys`, `requires-smm`, `acpi-s3`, ...
    #[serde(default)]
    pub features: Vec<String>,
}

/// A descriptor's `mapping`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Mapping {
    /// `flash`, `memory` or `kernel`: kennel uses `flash`.
    pub device: String,
    /// The code (`flash`).
    pub executable: Option<FlashFile>,
    /// The variable store's template (`flash`, split mode).
    pub nvram_template: Option<FlashFile>,
}

/// A file of a flash mapping.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FlashFile {
    /// Its path.
    pub filename: PathBuf,
    /// `raw` or `qcow2`.
    #[serde(default = "raw")]
    pub format: String,
}

fn raw() -> String {
    "raw".into()
}

/// An architecture and the machine types (globs) a firmware runs on.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Target {
    /// `x86_64`, `aarch64`, ...
    pub architecture: String,
    /// Machine type globs: `pc-q35-*`, `virt-*`.
    #[serde(default)]
    pub machines: Vec<String>,
}

/// UEFI firmware chosen for a machine: the files pflash maps and what the
/// machine needs for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pflash {
    /// The code, mapped read-only as pflash unit 0.
    pub code: PathBuf,
    /// The variable store: the machine's own copy of [`Pflash::template`],
    /// mapped writable as unit 1. [`find`] sets it to the template; the
    /// caller points it at its copy ([`Pflash::copy_vars`]).
    pub vars: PathBuf,
    /// The system's variable template (never written).
    pub template: PathBuf,
    /// Its format (`raw` or `qcow2`), the same for code and variables.
    pub format: String,
    /// The firmware needs SMM: `-machine smm=on` and secure pflash.
    pub smm: bool,
    /// The descriptor it comes from.
    pub descriptor: PathBuf,
}

impl Pflash {
    /// Copy the variable template to `dest` (a file of the test's own) and map
    /// that copy.
    pub fn copy_vars(&mut self, dest: &Path) -> Result<(), FirmwareError> {
        std::fs::copy(&self.template, dest).map_err(|source| FirmwareError::CopyVars {
            from: self.template.clone(),
            to: dest.to_path_buf(),
            source,
        })?;
        // The template may be read-only (a store's file): the copy is ours to write.
        let mut perms = std::fs::metadata(dest)
            .map_err(|source| FirmwareError::CopyVars {
                from: self.template.clone(),
                to: dest.to_path_buf(),
                source,
            })?
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        let _ = std::fs::set_permissions(dest, perms);
        self.vars = dest.to_path_buf();
        Ok(())
    }

    /// Its QEMU arguments: the two pflash drives and, with SMM, the secure
    /// flash (the machine's `smm=on` is [`Pflash::machine_option`]).
    pub fn args(&self) -> Vec<String> {
        let drive = |unit: u8, file: &Path, readonly: bool| {
            format!(
                "if=pflash,format={},unit={unit},{}file={}",
                self.format,
                if readonly { "readonly=on," } else { "" },
                file.to_string_lossy().replace(',', ",,")
            )
        };
        let mut args = vec![
            "-drive".into(),
            drive(0, &self.code, true),
            "-drive".into(),
            drive(1, &self.vars, false),
        ];
        if self.smm {
            args.extend([
                "-global".into(),
                "driver=cfi.pflash01,property=secure,value=on".into(),
            ]);
        }
        args
    }

    /// What the `-machine` value gains: `smm=on` when the firmware needs it.
    pub fn machine_option(&self) -> Option<&'static str> {
        self.smm.then_some("smm=on")
    }
}

/// Why no firmware was found.
#[derive(Debug, thiserror::Error)]
pub enum FirmwareError {
    /// No descriptor fits the machine.
    #[error(
        "no UEFI firmware descriptor for {arch} machine `{machine}` in {searched} ({found}; \
         install {package})"
    )]
    NoDescriptor {
        /// The architecture.
        arch: String,
        /// The machine type.
        machine: String,
        /// The folders searched.
        searched: String,
        /// What the descriptors there offer.
        found: String,
        /// The package that has the firmware.
        package: &'static str,
    },
    /// A descriptor does not read.
    #[error("{}:{line}:{column}: not a firmware descriptor: {message}", path.display())]
    Descriptor {
        /// The file.
        path: PathBuf,
        /// Where.
        line: usize,
        /// Where.
        column: usize,
        /// Why.
        message: String,
    },
    /// The variable template could not be copied.
    #[error("copying the UEFI variable template {} to {}", from.display(), to.display())]
    CopyVars {
        /// The template.
        from: PathBuf,
        /// The copy.
        to: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The Debian package with the UEFI firmware of `arch`.
pub fn package_for(arch: &str) -> &'static str {
    match arch {
        "aarch64" => "qemu-efi-aarch64",
        "arm" => "qemu-efi-arm",
        "riscv64" => "qemu-efi-riscv64",
        _ => "ovmf",
    }
}

/// The folders searched for descriptors, in order: the install's own
/// (`<data dir>/firmware`, a build tree's `pc-bios/descriptors`), then
/// `/etc/qemu/firmware` and `/usr/share/qemu/firmware`.
pub fn descriptor_dirs(install: &QemuInstall) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = install
        .data_dirs
        .iter()
        .flat_map(|d| [d.join("firmware"), d.join("descriptors")])
        .collect();
    dirs.push("/etc/qemu/firmware".into());
    dirs.push("/usr/share/qemu/firmware".into());
    dirs
}

/// Every descriptor in `dirs` (a missing folder has none), in search order;
/// a file of the same name in an earlier folder hides a later one.
pub fn descriptors(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, Descriptor)>, FirmwareError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for path in files {
            let Some(name) = path.file_name().map(|n| n.to_owned()) else {
                continue;
            };
            if !seen.insert(name) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            // An empty file masks a descriptor of the same name (firmware.json).
            if text.trim().is_empty() {
                continue;
            }
            let descriptor = serde_json::from_str::<Descriptor>(&text).map_err(|e| {
                FirmwareError::Descriptor {
                    path: path.clone(),
                    line: e.line(),
                    column: e.column(),
                    message: e.to_string(),
                }
            })?;
            out.push((path, descriptor));
        }
    }
    Ok(out)
}

/// The machine type names a glob of a descriptor is tried against: the type
/// without its options, and for QEMU's aliases (`q35`, `pc`, `virt`) the
/// versioned family they stand for.
fn machine_names(machine: &str) -> Vec<String> {
    let base = machine.split(',').next().unwrap_or(machine).to_string();
    let family = match base.as_str() {
        "q35" => Some("pc-q35-latest"),
        "pc" => Some("pc-i440fx-latest"),
        "virt" => Some("virt-latest"),
        _ => None,
    };
    std::iter::once(base.clone())
        .chain(family.map(str::to_owned))
        .collect()
}

/// A descriptor's glob (`*` only) against a name.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => name.strip_prefix(head).is_some_and(|rest| {
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob(tail, &rest[i..]))
        }),
    }
}

impl Descriptor {
    /// Whether it is UEFI flash firmware for `arch` machine `machine`.
    pub fn fits(&self, arch: &str, machine: &str) -> bool {
        let names = machine_names(machine);
        self.interface_types.iter().any(|t| t == "uefi")
            && self.mapping.device == "flash"
            && self.mapping.executable.is_some()
            && self.targets.iter().any(|t| {
                t.architecture == arch
                    && t.machines.iter().any(|m| names.iter().any(|n| glob(m, n)))
            })
    }

    /// Whether its code and variable template exist.
    pub fn files_exist(&self) -> bool {
        let code = self.mapping.executable.iter();
        code.chain(self.mapping.nvram_template.iter())
            .all(|f| f.filename.is_file())
    }

    fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// What it offers, for an error's list: `x86_64 pc-q35-* [secure-boot]`.
    fn offer(&self, path: &Path) -> String {
        let targets: Vec<String> = self
            .targets
            .iter()
            .map(|t| format!("{} {}", t.architecture, t.machines.join("|")))
            .collect();
        format!(
            "{}: {} [{}]{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            targets.join(", "),
            self.features.join(" "),
            if self.files_exist() {
                ""
            } else {
                " (its files are missing)"
            }
        )
    }
}

/// The UEFI firmware for `arch` machine `machine` from the descriptors in
/// `dirs`: of those that fit, the first without Secure Boot or enrolled keys
/// (plain `uefi`), else the first.
pub fn find(arch: &str, machine: &str, dirs: &[PathBuf]) -> Result<Pflash, FirmwareError> {
    let all = descriptors(dirs)?;
    // Debian 12's `50-edk2-aarch64-secure.json` names a code file that
    // `qemu-efi-aarch64` does not ship: a descriptor counts when its files exist.
    let fitting = all
        .iter()
        .filter(|(_, d)| d.fits(arch, machine) && d.files_exist());
    let best = fitting.min_by_key(|(_, d)| (d.has("secure-boot"), d.has("enrolled-keys")));
    let Some((path, d)) = best else {
        let found: Vec<String> = all.iter().map(|(p, d)| d.offer(p)).collect();
        return Err(FirmwareError::NoDescriptor {
            arch: arch.to_string(),
            machine: machine.to_string(),
            searched: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            found: if found.is_empty() {
                "there are none".into()
            } else {
                format!("there are: {}", found.join("; "))
            },
            package: package_for(arch),
        });
    };
    let code = d.mapping.executable.clone().ok_or_else(|| no_code(path))?;
    let template = d
        .mapping
        .nvram_template
        .as_ref()
        .map(|t| t.filename.clone())
        .unwrap_or_default();
    Ok(Pflash {
        code: code.filename,
        vars: template.clone(),
        template,
        format: code.format,
        smm: d.has("requires-smm"),
        descriptor: path.clone(),
    })
}

fn no_code(path: &Path) -> FirmwareError {
    FirmwareError::Descriptor {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
        message: "a flash mapping without `executable`".into(),
    }
}

/// The machine type a UEFI machine of `arch` gets when the test names none.
pub fn default_machine(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("q35"),
        "aarch64" => Some("virt"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
