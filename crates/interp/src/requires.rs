//! `[requires]`: what a test needs from the host and the QEMU binary.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::Stdio;

use kennel_spec::Requires;
use serde::{Deserialize, Serialize};

/// What a QEMU binary offers, read from its `help` outputs (cached on disk).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QemuInfo {
    /// `(major, minor, micro)` from `--version`.
    pub version: Option<(u64, u64, u64)>,
    /// Machine types (`-machine help`), aliases included.
    pub machines: BTreeSet<String>,
    /// Device types (`-device help`).
    pub devices: BTreeSet<String>,
    /// Network backends (`-netdev help`).
    pub netdevs: BTreeSet<String>,
}

impl QemuInfo {
    /// Read (or load from the cache) what `binary` offers.
    pub fn of(binary: &Path) -> QemuInfo {
        let mtime = binary
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (binary, mtime).hash(&mut h);
        let cache = kennel_machine::fsutil::cache_dir()
            .map(|d| d.join(format!("qemu-info-{:016x}.json", h.finish())));
        if let Some(c) = &cache {
            if let Ok(text) = std::fs::read_to_string(c) {
                if let Ok(info) = serde_json::from_str(&text) {
                    return info;
                }
            }
        }
        let info = QemuInfo {
            version: kennel_machine::parse_qemu_version(&help(binary, &["--version"])),
            machines: first_words(&help(binary, &["-machine", "help"]), true),
            devices: device_names(&help(binary, &["-device", "help"])),
            netdevs: first_words(&help(binary, &["-netdev", "help"]), false),
        };
        if let Some(c) = &cache {
            if let Ok(bytes) = serde_json::to_vec(&info) {
                let _ = kennel_machine::fsutil::write_atomic(c, &bytes);
            }
        }
        info
    }
}

fn help(binary: &Path, args: &[&str]) -> String {
    kennel_machine::QemuInstall::command(binary)
        .args(args)
        .args(["-display", "none"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn first_words(text: &str, skip_header: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines().skip(usize::from(skip_header)) {
        if line.ends_with(':') {
            continue;
        }
        if let Some(w) = line.split_whitespace().next() {
            out.insert(w.to_string());
        }
        // "pc                   Standard PC (alias of pc-i440fx-7.2)"
        if let Some(alias) = line.split("(alias of ").nth(1) {
            out.insert(alias.trim_end_matches(')').to_string());
        }
    }
    out
}

fn device_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("name \""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The first unmet requirement, as a reason to SKIP; `None` when all are met.
///
/// `binary` is the main machine's QEMU (None when no binary was found).
pub(crate) fn unmet(
    req: &Requires,
    binary: Option<&Path>,
    binary_for: &dyn Fn(&str) -> bool,
) -> Option<String> {
    if !req.arch.is_empty() && !req.arch.iter().any(|a| binary_for(a)) {
        return Some(format!(
            "requires a QEMU binary for {}: none found",
            req.arch.join(" or ")
        ));
    }
    for cmd in &req.commands {
        if kennel_config::which(cmd).is_none() {
            return Some(format!("requires the command `{cmd}` on PATH"));
        }
    }
    let needs_info = !req.machines.is_empty()
        || !req.devices.is_empty()
        || !req.netdevs.is_empty()
        || req.qemu_version.is_some();
    if needs_info || req.accel.is_some() {
        let Some(binary) = binary else {
            return Some("requires a QEMU binary: none found".into());
        };
        if needs_info {
            let info = QemuInfo::of(binary);
            for (what, wanted, have) in [
                ("machine type", &req.machines, &info.machines),
                ("device", &req.devices, &info.devices),
                ("netdev backend", &req.netdevs, &info.netdevs),
            ] {
                if let Some(missing) = wanted.iter().find(|w| !have.contains(*w)) {
                    return Some(format!(
                        "requires {what} `{missing}`, which {} does not have",
                        binary.display()
                    ));
                }
            }
            if let Some(vr) = &req.qemu_version {
                match info.version {
                    Some((a, b, c)) if vr.matches(a, b, c) => {}
                    Some((a, b, c)) => {
                        return Some(format!("requires QEMU {vr}, found {a}.{b}.{c}"))
                    }
                    None => return Some(format!("requires QEMU {vr}, version unknown")),
                }
            }
        }
        if let Some(accel) = &req.accel {
            if accel == "kvm" {
                match kennel_machine::probe_kvm(binary) {
                    Ok(p) if p.usable => {}
                    Ok(p) => return Some(format!("requires KVM, not usable here: {}", p.detail)),
                    Err(e) => return Some(format!("requires KVM, probe failed: {e}")),
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_help_yields_names_and_alias_targets() {
        let text = "Supported machines are:\npc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\nnone                 empty machine\n";
        let m = first_words(text, true);
        assert!(m.contains("pc") && m.contains("pc-i440fx-7.2") && m.contains("none"));
    }

    #[test]
    fn device_help_yields_quoted_names() {
        let text = "Network devices:\nname \"e1000\", bus PCI, alias \"e1000-82540em\"\nname \"virtio-net-pci\", bus PCI\n";
        let d = device_names(text);
        assert!(d.contains("virtio-net-pci") && d.contains("e1000"));
    }
}
