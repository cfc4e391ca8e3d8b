//! Accelerator choice: KVM only when a probe guest really runs under it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What a machine asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Accel {
    /// KVM when it really works, else TCG.
    #[default]
    Auto,
    /// Exactly this accelerator (`kvm`, `tcg`, `hvf`, ...).
    Named(String),
}

impl Accel {
    /// Parse `auto`, `kvm`, `tcg`, ...
    pub fn parse(s: &str) -> Accel {
        match s {
            "auto" | "" => Accel::Auto,
            other => Accel::Named(other.to_string()),
        }
    }
}

/// The accelerator used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccelChoice {
    /// `kvm` or `tcg` (or what was named).
    pub accel: String,
    /// Why this one (shown in logs and results).
    pub reason: String,
}

/// The result of probing KVM with a real (tiny) guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvmProbe {
    /// A guest ran under KVM and signalled back.
    pub usable: bool,
    /// What happened.
    pub detail: String,
    /// How long the probe took, in milliseconds (0 when read from the cache).
    pub millis: u64,
}

#[derive(Serialize, Deserialize)]
struct CachedProbe {
    #[serde(default)]
    version: u32,
    boot_id: String,
    binary: PathBuf,
    binary_mtime: u64,
    probe: KvmProbe,
}

/// Bumped whenever the probe changes, so cached verdicts of an older probe are not trusted.
const PROBE_VERSION: u32 = 2;

/// The QEMU architecture name of the host (`x86_64`, `aarch64`, `ppc64`, ...).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        other => other,
    }
}

/// Decide the accelerator for a machine.
///
/// `auto` picks TCG without probing when KVM cannot matter or cannot work (a
/// foreign target, machine type `none`, no usable `/dev/kvm`); otherwise it probes
/// (once per boot and QEMU binary; the result is cached on disk).
pub fn choose(accel: &Accel, arch: &str, machine_type: Option<&str>, binary: &Path) -> AccelChoice {
    match accel {
        Accel::Named(name) => AccelChoice {
            accel: name.clone(),
            reason: "asked for".into(),
        },
        Accel::Auto => {
            if arch != host_arch() {
                return tcg(format!("auto: {arch} guest on a {} host", host_arch()));
            }
            if machine_type == Some("none") {
                return tcg("auto: machine `none` runs no guest code, KVM not probed".into());
            }
            match probe_kvm(binary) {
                Ok(p) if p.usable => AccelChoice {
                    accel: "kvm".into(),
                    reason: format!("auto: KVM probe guest ran ({})", p.detail),
                },
                Ok(p) => tcg(format!(
                    "auto: KVM not usable ({}), falling back to TCG",
                    p.detail
                )),
                Err(e) => tcg(format!("auto: KVM not usable ({e}), falling back to TCG")),
            }
        }
    }
}

fn tcg(reason: String) -> AccelChoice {
    AccelChoice {
        accel: "tcg".into(),
        reason,
    }
}

/// Whether KVM really runs a guest with this QEMU binary: cached per boot and binary.
///
/// The probe boots a 64 KiB firmware image that switches to long mode and then
/// writes to an `isa-debug-exit` port: only a guest that really executes makes
/// QEMU exit with the expected code. A hang (killed after 1.5 s), an assertion, or any other exit
/// means KVM is not usable. Only x86 hosts have a probe guest; elsewhere QEMU
/// starting with `-accel kvm` and answering is taken as enough.
pub fn probe_kvm(binary: &Path) -> Result<KvmProbe, std::io::Error> {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Ok(KvmProbe {
            usable: false,
            detail: format!("/dev/kvm: {e}"),
            millis: 0,
        });
    }
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap_or_default()
        .trim()
        .to_string();
    let mtime = binary
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cache = crate::fsutil::cache_dir().map(|d| d.join("kvm-probe.json"));
    if let Some(path) = &cache {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(c) = serde_json::from_str::<CachedProbe>(&text) {
                if c.version == PROBE_VERSION
                    && c.boot_id == boot_id
                    && c.binary == binary
                    && c.binary_mtime == mtime
                {
                    return Ok(KvmProbe {
                        millis: 0,
                        ..c.probe
                    });
                }
            }
        }
    }
    let probe = run_probe(binary)?;
    if let Some(path) = &cache {
        let record = CachedProbe {
            version: PROBE_VERSION,
            boot_id,
            binary: binary.to_path_buf(),
            binary_mtime: mtime,
            probe: probe.clone(),
        };
        let _ = crate::fsutil::write_atomic(path, &serde_json::to_vec(&record).unwrap_or_default());
    }
    Ok(probe)
}

fn run_probe(binary: &Path) -> Result<KvmProbe, std::io::Error> {
    let start = Instant::now();
    let dir = tempfile::tempdir()?;
    let mut args: Vec<String> = vec![
        "-nodefaults".into(),
        "-display".into(),
        "none".into(),
        "-accel".into(),
        "kvm".into(),
        "-no-reboot".into(),
    ];
    let x86 = matches!(host_arch(), "x86_64" | "i386");
    if x86 {
        let bios = dir.path().join("probe.bin");
        std::fs::write(&bios, crate::kvm_probe_x86::firmware())?;
        args.extend([
            "-machine".into(),
            "pc".into(),
            "-m".into(),
            "16".into(),
            "-bios".into(),
            bios.to_string_lossy().into_owned(),
            "-device".into(),
            "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
        ]);
    } else {
        args.extend(["-machine".into(), "none".into(), "-S".into()]);
    }
    let mut cmd = crate::QemuInstall::command(binary);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    crate::process::kill_with_parent(&mut cmd);
    let mut child = cmd.spawn()?;
    let limit = Duration::from_millis(1500);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    let millis = start.elapsed().as_millis() as u64;
    let first_err = stderr.lines().next().unwrap_or("").to_string();
    let (usable, detail) = match status {
        None if x86 => (
            false,
            "the probe guest hung switching to long mode under KVM".to_string(),
        ),
        None => (true, "QEMU started with -accel kvm".to_string()),
        Some(s) if x86 && s.code() == Some(crate::kvm_probe_x86::PROBE_EXIT) => {
            (true, format!("probe guest ran in {millis} ms"))
        }
        Some(s) => (
            false,
            format!(
                "QEMU with -accel kvm exited with {s}{}",
                if first_err.is_empty() {
                    String::new()
                } else {
                    format!(": {first_err}")
                }
            ),
        ),
    };
    Ok(KvmProbe {
        usable,
        detail,
        millis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_targets_use_tcg_without_probing() {
        let c = choose(&Accel::Auto, "ppc64", None, Path::new("/nonexistent"));
        assert_eq!(c.accel, "tcg");
        assert!(c.reason.contains("ppc64"), "{}", c.reason);
    }

    #[test]
    fn named_accelerator_is_used_as_is() {
        let c = choose(&Accel::parse("kvm"), "x86_64", None, Path::new("/x"));
        assert_eq!(c.accel, "kvm");
    }
}
