//! `kennel doctor`.

use kennel_config::text::visible;

use crate::args::DoctorArgs;
use crate::exit::{CliError, Ending};

/// `kennel doctor`: what is installed and usable, and the commands that fix what is missing.
pub fn doctor(a: DoctorArgs) -> Result<Ending, CliError> {
    let mut fixes: Vec<String> = Vec::new();
    println!("QEMU binaries:");
    let mut host_binary = None;
    for arch in ["x86_64", "aarch64", "ppc64"] {
        match kennel_machine::find_qemu(arch, None, a.qemu.as_deref(), &a.qemu_arch) {
            Ok(b) => {
                let info = kennel_interp::QemuInfo::of(&b.path);
                let ver = info
                    .version
                    .map(|(x, y, z)| format!("{x}.{y}.{z}"))
                    .unwrap_or_else(|| "version unknown".into());
                println!(
                    "  {arch:<8} {} (QEMU {ver}, via {})",
                    b.path.display(),
                    b.source
                );
                if let Some(foreign) = kennel_machine::modules::ForeignModules::once(&b.path) {
                    println!("  {:<8} {}", "modules", visible(&foreign.to_string()));
                }
                if arch == kennel_machine::host_arch() {
                    host_binary = Some(b.path);
                }
            }
            Err(e) => {
                println!("  {arch:<8} missing: {}", visible(&e.to_string()));
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
            Ok(p) if p.usable => println!("  KVM usable: {}", visible(&p.detail)),
            Ok(p) => println!(
                "  KVM not usable ({}); tests run under TCG",
                visible(&p.detail)
            ),
            Err(e) => println!(
                "  KVM probe failed: {}; tests run under TCG",
                visible(&e.to_string())
            ),
        },
        None => println!("  no QEMU for the host architecture, KVM not probed"),
    }
    guest_pieces(&mut fixes);
    firmware(a.qemu.as_deref(), &mut fixes);
    // Cloud images: not needed by the examples, so no fix is demanded.
    println!("Cloud images:");
    let qemu_img = kennel_cloud::find_qemu_img(None);
    match std::process::Command::new(&qemu_img)
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => println!(
            "  qemu-img {}",
            visible(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
            )
        ),
        _ => println!("  qemu-img missing (apt-get install qemu-utils): `image` tests will ERROR"),
    }
    // `KENNEL_IMAGE_MIRROR`, else `kennel.toml`'s `image_mirror`.
    match kennel_config::Config::get().map(kennel_config::Config::image_mirror_url) {
        Ok(Some(m)) => println!("  provider mirror {m} ({})", kennel_cloud::MIRROR_ENV),
        _ => println!(
            "  provider: the distributions' own sites ({} unset)",
            kennel_cloud::MIRROR_ENV
        ),
    }
    debugging(&mut fixes);
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

/// The kernel and busybox the built-in guest of this machine's architecture
/// would be built from, as its builder chooses them.
fn guest_pieces(fixes: &mut Vec<String>) {
    println!("Guest pieces:");
    let Some(arch) = kennel_guest::Arch::host() else {
        println!("  missing: the built-in guest has no pieces for this machine's architecture");
        return;
    };
    let pieces = kennel_guest::host_pieces(arch);
    for (name, piece) in [("kernel", pieces.kernel), ("busybox", pieces.busybox)] {
        match piece {
            Ok(path) => println!("  {name:<8} {}", path.display()),
            Err(missing) => {
                println!("  {name:<8} missing: {}", visible(&missing.to_string()));
                if let Some(package) = missing.debian_package() {
                    fixes.push(format!("apt-get install {package}"));
                }
            }
        }
    }
    match kennel_vm::guest::agent_binary() {
        Some(agent) => println!("  {:<8} {}", "agent", agent.display()),
        None => {
            println!(
                "  {:<8} missing: no kennel-agent beside kennel nor KENNEL_AGENT; guest commands \
                 go through the console shell",
                "agent"
            );
            fixes.push(
                "install kennel-agent beside kennel (`cargo install --path crates/cli` installs \
                 both), or set KENNEL_AGENT"
                    .into(),
            );
        }
    }
    for foreign in kennel_guest::Arch::ALL.into_iter().filter(|a| *a != arch) {
        let name = foreign.name();
        match kennel_vm::guest::foreign_tree(foreign) {
            Some(dir) => println!("  {name:<8} {}", dir.display()),
            None => {
                println!("  {name:<8} missing: no {name} guest kernel and busybox");
                fixes.push(format!(
                    "{name}: {}",
                    kennel_vm::guest::foreign_fix(foreign)
                ));
            }
        }
    }
}

/// UEFI firmware per architecture, from the firmware descriptors of each
/// architecture's QEMU (docs/firmware.md), the one `firmware = "uefi"` picks
/// marked; and swtpm for `tpm`.
fn firmware(qemu: Option<&std::path::Path>, fixes: &mut Vec<String>) {
    use kennel_machine::firmware::{
        default_machine, descriptor_dirs, descriptors, find, package_for,
    };
    println!("Firmware (UEFI):");
    for arch in ["x86_64", "aarch64"] {
        let install = kennel_machine::find_qemu(arch, None, qemu, &[])
            .map(|b| kennel_machine::QemuInstall::of(&b.path))
            .unwrap_or_default();
        let dirs = descriptor_dirs(&install);
        let machine = default_machine(arch).unwrap_or_default();
        let chosen = find(arch, machine, &dirs).ok().map(|p| p.descriptor);
        let all = match descriptors(&dirs) {
            Ok(all) => all,
            Err(e) => {
                println!("  {arch:<8} {}", visible(&e.to_string()));
                continue;
            }
        };
        let mine: Vec<_> = all
            .iter()
            .filter(|(_, d)| d.targets.iter().any(|t| t.architecture == arch))
            .collect();
        for (path, d) in &mine {
            let code = d
                .mapping
                .executable
                .as_ref()
                .map(|c| c.filename.display().to_string());
            println!(
                "  {arch:<8} {} {} [{}]{}{}",
                path.display(),
                code.unwrap_or_default(),
                d.features.join(" "),
                if d.files_exist() {
                    ""
                } else {
                    " (its files are missing)"
                },
                if chosen.as_ref() == Some(path) {
                    " <- firmware = \"uefi\""
                } else {
                    ""
                }
            );
        }
        if chosen.is_none() {
            println!("  {arch:<8} missing: no UEFI firmware for `{machine}`");
            fixes.push(format!("apt-get install {}", package_for(arch)));
        }
    }
    match kennel_machine::tpm::swtpm_version() {
        Some(v) => println!("  {:<8} {}", "swtpm", visible(&v)),
        None => {
            println!("  {:<8} missing (`tpm` tests SKIP)", "swtpm");
            fixes.push(format!(
                "apt-get install {}",
                kennel_machine::tpm::SWTPM_PACKAGES
            ));
        }
    }
}

/// Debugging (docs/debugging.md): gdb and strace, and whether gdb may attach
/// to a running QEMU for `qemu-backtrace.txt` (Yama's ptrace scope, a
/// container without ptrace), found by attaching to a process kennel starts.
fn debugging(fixes: &mut Vec<String>) {
    println!("Debugging:");
    for (tool, what) in [
        ("gdb", "QEMU's backtrace on a timeout, --gdb"),
        ("strace", "--wrapper 'strace ...'"),
    ] {
        match kennel_config::which(tool) {
            Some(p) => println!("  {tool:<8} {}", p.display()),
            None => {
                println!("  {tool:<8} missing ({what})");
                fixes.push(format!("apt-get install {tool}"));
            }
        }
    }
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .map(|s| s.trim().to_string())
        .ok();
    let scope_text = match scope.as_deref() {
        None => "no Yama ptrace restriction".to_string(),
        Some("0") => "Yama ptrace_scope 0".to_string(),
        Some(v) => format!("Yama ptrace_scope {v} (/proc/sys/kernel/yama/ptrace_scope)"),
    };
    if kennel_config::which("gdb").is_none() {
        return;
    }
    match gdb_can_attach() {
        Ok(()) => println!("  ptrace   gdb can attach to QEMU ({scope_text})"),
        Err(problem) => {
            let why = kennel_machine::error_chain(&problem);
            println!(
                "  ptrace   gdb cannot attach to a running process ({scope_text}): {}; \
                 qemu-backtrace.txt will say so",
                visible(&why)
            );
            if scope.as_deref().is_some_and(|v| v != "0") {
                fixes.push("sysctl kernel.yama.ptrace_scope=0".into());
            }
        }
    }
}

/// Why gdb cannot attach to a process started as QEMU is.
#[derive(Debug, thiserror::Error)]
enum AttachProblem {
    /// The stand-in process did not start.
    #[error("cannot start `sleep`")]
    Sleep(#[source] std::io::Error),
    /// gdb itself did not run.
    #[error("gdb did not run")]
    Gdb(#[source] std::io::Error),
    /// gdb ran and said why it could not attach.
    #[error("{0}")]
    Refused(String),
}

/// Start a process the way QEMU is started, and attach gdb to it.
fn gdb_can_attach() -> Result<(), AttachProblem> {
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("30");
    kennel_machine::process::kill_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(AttachProblem::Sleep)?;
    let out = std::process::Command::new("gdb")
        .args([
            "-nx",
            "-batch",
            "-p",
            &child.id().to_string(),
            "-ex",
            "info threads",
        ])
        .stdin(std::process::Stdio::null())
        .output();
    let _ = child.kill();
    let _ = child.wait();
    let out = out.map_err(AttachProblem::Gdb)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Thread ") || (text.contains("process ") && !text.contains("ptrace")) {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(AttachProblem::Refused(
            err.lines()
                .find(|l| l.contains("ptrace") || l.contains("attach"))
                .unwrap_or("gdb did not attach")
                .trim()
                .to_string(),
        ))
    }
}
