//! `kennel doctor`.

use std::path::PathBuf;

use crate::args::DoctorArgs;
use crate::exit::{CliError, Ending};

/// `kennel doctor`: what is installed and usable, and the commands that fix what is missing.
pub fn doctor(a: DoctorArgs) -> Result<Ending, CliError> {
    let mut fixes: Vec<String> = Vec::new();
    println!("QEMU binaries:");
    let mut host_binary = None;
    for arch in ["x86_64", "aarch64", "ppc64"] {
        match kennel_machine::find_qemu(arch, None, a.qemu.as_deref()) {
            Ok(b) => {
                let info = kennel_runner::interpret::QemuInfo::of(&b.path);
                let ver = info
                    .version
                    .map(|(x, y, z)| format!("{x}.{y}.{z}"))
                    .unwrap_or_else(|| "version unknown".into());
                println!(
                    "  {arch:<8} {} (QEMU {ver}, via {})",
                    b.path.display(),
                    b.source
                );
                if arch == kennel_machine::host_arch() {
                    host_binary = Some(b.path);
                }
            }
            Err(e) => {
                println!("  {arch:<8} missing: {e}");
                fixes.push(format!(
                    "apt-get install {}",
                    kennel_machine::debian_package(arch)
                ));
            }
        }
    }
    println!("Accelerator:");
    match host_binary {
        Some(b) => match kennel_machine::probe_kvm(&b) {
            Ok(p) if p.usable => println!("  KVM usable: {}", p.detail),
            Ok(p) => println!("  KVM not usable ({}); tests run under TCG", p.detail),
            Err(e) => println!("  KVM probe failed: {e}; tests run under TCG"),
        },
        None => println!("  no QEMU for the host architecture, KVM not probed"),
    }
    println!("Guest pieces:");
    let kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
                })
                .collect()
        })
        .unwrap_or_default();
    match kernels.first() {
        Some(k) => println!("  kernel   {}", k.display()),
        None => {
            println!("  kernel   missing: no /boot/vmlinuz-*");
            fixes.push("apt-get install linux-image-amd64".into());
        }
    }
    match ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
    {
        Some(b) => println!("  busybox  {b}"),
        None => {
            println!("  busybox  missing");
            fixes.push("apt-get install busybox-static".into());
        }
    }
    // Cloud images: not needed by the examples, so no fix is demanded.
    println!("Cloud images:");
    let qemu_img = kennel_cloud::find_qemu_img(None);
    match std::process::Command::new(&qemu_img)
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => println!(
            "  qemu-img {}",
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
        ),
        _ => println!("  qemu-img missing (apt-get install qemu-utils): `image` tests will ERROR"),
    }
    match std::env::var(kennel_cloud::MIRROR_ENV) {
        Ok(m) if !m.is_empty() => println!("  provider mirror {m} ({})", kennel_cloud::MIRROR_ENV),
        _ => println!(
            "  provider: the distributions' own sites ({} unset)",
            kennel_cloud::MIRROR_ENV
        ),
    }
    if fixes.is_empty() {
        println!("Everything kennel's examples need is here.");
        Ok(Ending::Ok)
    } else {
        println!("To fix (as root):");
        for f in fixes {
            println!("  {f}");
        }
        Ok(Ending::Failed)
    }
}
