//! The template key: a hash of everything a saved machine state depends on.
//! Two starts with the same key may share one state; anything that would make
//! a restored guest differ from a fresh boot is in it.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use kennel_config::text::hex;
use kennel_machine::{Accel, MachineConfig};
use sha2::{Digest as _, Sha256};

use super::template::Recipe;

/// Bumped when the template format (or what a state holds) changes: 4 keeps
/// the memory in a file beside the state (older templates are not read).
const FORMAT: u32 = 4;

/// How many hex digits of the hash name a template.
const ID_DIGITS: usize = 16;

/// Options that give QEMU a host resource (a disk, a share, a network, a
/// chardev, a memory file) or change how it starts: a machine whose own
/// arguments hold one starts cold, since a saved state cannot capture it.
const HOST_RESOURCE_OPTIONS: &[&str] = &[
    "-drive",
    "-blockdev",
    "-hda",
    "-hdb",
    "-hdc",
    "-hdd",
    "-cdrom",
    "-fda",
    "-fdb",
    "-sd",
    "-mtdblock",
    "-pflash",
    "-bios",
    "-fsdev",
    "-virtfs",
    "-netdev",
    "-nic",
    "-net",
    "-chardev",
    "-serial",
    "-parallel",
    "-monitor",
    "-qmp",
    "-mon",
    "-object",
    "-incoming",
    "-loadvm",
    "-S",
    "-snapshot",
    "-add-fd",
];

/// A template's identity: `id` names it on disk and in results, `text` is
/// what was hashed (kept beside the state, for people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateKey {
    /// The first hex digits of the hash.
    pub id: String,
    /// The description that was hashed, one `name value` a line.
    pub text: String,
}

/// Why a machine cannot start from a template, for the log: `None` when it can.
pub(crate) fn cold_reason(config: &MachineConfig) -> Option<String> {
    if let Some(flag) = config
        .extra_args
        .iter()
        .find(|a| HOST_RESOURCE_OPTIONS.contains(&a.as_str()))
    {
        return Some(format!("its arguments give QEMU `{flag}`"));
    }
    if config.incoming.is_some() {
        return Some("it waits for an incoming migration".into());
    }
    if !config.qmp {
        return Some("it has no QMP monitor".into());
    }
    if !config.wrapper.is_empty() {
        return Some("QEMU runs under a wrapper".into());
    }
    if config.target_arch() == "ppc64" {
        if let Ok(binary) = config.resolve_binary() {
            let accel = config.choose_accel(&binary.path).accel;
            return ppc64_decrementer_lost(&accel, &qemu_version(&binary.path));
        }
    }
    None
}

/// The first QEMU that carries a ppc64 guest's decrementer through a
/// migration under TCG ("target/ppc: Migrate DECR SPR", QEMU 8.2).
const PPC64_DECREMENTER_MIGRATES: (u64, u64, u64) = (8, 2, 0);

/// Why a ppc64 machine run by a QEMU whose `--version` says `version`, with
/// the accelerator `accel`, must boot: before QEMU 8.2, TCG neither saves the
/// decrementer nor restarts its timer on load, so a restored guest gets no
/// timer interrupt until its kernel happens to program the decrementer again
/// (it depends on the template). Its console still echoes (console input has
/// its own interrupt), but `sleep 1` never returns and soon no command does:
/// the test hangs. KVM keeps the decrementer itself.
fn ppc64_decrementer_lost(accel: &str, version: &str) -> Option<String> {
    if accel == "kvm" {
        return None;
    }
    match kennel_machine::parse_qemu_version(version) {
        Some(v) if v >= PPC64_DECREMENTER_MIGRATES => None,
        Some((major, minor, micro)) => Some(format!(
            "QEMU {major}.{minor}.{micro} loses a ppc64 guest's timer (decrementer) in a saved \
             state under TCG (fixed in QEMU 8.2)"
        )),
        None => Some(
            "QEMU's version is unknown, and before 8.2 a restored ppc64 guest under TCG \
             gets no timer interrupts"
                .into(),
        ),
    }
}

/// The key of a machine launched with `config` by the QEMU at `binary`
/// (resolved) with the accelerator `accel` (chosen), holding the guest of
/// `recipe`: the binary's path, identity and version, machine type, CPU,
/// memory (and whether a template keeps it in a file, [`super::ram::plan`]),
/// accelerator, the kernel, initrd and device tree by content, the
/// kernel command line, every other argument and device, and for a cloud
/// guest its image (path and file stamp: size, times, inode), host name and
/// user-data.
///
/// It hashes what [`MachineConfig::command_line`] makes QEMU's command line
/// of, not the command line itself, which holds per-launch things (the socket
/// folder) and names files by path where a template depends on their content;
/// the tests below pin that whatever changes the command line changes the key.
pub(crate) fn template_key(
    config: &MachineConfig,
    recipe: &Recipe<'_>,
    binary: &Path,
    accel: &str,
) -> std::io::Result<TemplateKey> {
    let mut text = format!("format {FORMAT}\n");
    let mut line = |name: &str, value: &str| {
        text.push_str(name);
        text.push(' ');
        text.push_str(value);
        text.push('\n');
    };
    line("binary", &binary.display().to_string());
    line("binary-file", &content_hash(binary)?);
    line("version", &qemu_version(binary));
    line("arch", &config.target_arch());
    line("machine", config.machine_type.as_deref().unwrap_or("-"));
    line(
        "accel",
        &match &config.accel {
            Accel::Auto => format!("auto={accel}"),
            Accel::Named(name) => name.clone(),
        },
    );
    line("cpus", &config.cpus.map_or("-".into(), |c| c.to_string()));
    line("memory", config.memory.as_deref().unwrap_or("-"));
    line("ram", super::ram::plan(config).key_value());
    for (name, file) in [
        ("kernel", &config.kernel),
        ("initrd", &config.initrd),
        ("dtb", &config.dtb),
    ] {
        match file {
            Some(path) => line(name, &content_hash(path)?),
            None => line(name, "-"),
        }
    }
    line("append", config.append.as_deref().unwrap_or("-"));
    line("console", &config.console.to_string());
    // Only when set: the keys of machines without a screen stay as they were.
    if let Some(display) = config.display {
        line("display", display.name());
    }
    line("sockets", &config.sockets.join(","));
    for arg in &config.extra_args {
        line("arg", arg);
    }
    for (k, v) in &config.env {
        line("env", &format!("{k}={v}"));
    }
    match recipe {
        Recipe::Builtin { agent } => line(
            "guest",
            if *agent {
                "busybox agent"
            } else {
                "busybox console"
            },
        ),
        Recipe::Cloud(source) => {
            line("guest", "cloud-init");
            match &source.image {
                Some(image) => line(
                    "image",
                    &format!("{} {}", image.display(), kennel_config::file_stamp(image)?),
                ),
                None => line("image", "-"),
            }
            line("hostname", &crate::cloud::host_name(&config.name));
            line("user", crate::cloud::GUEST_USER);
            line(
                "user-data",
                &source
                    .user_data
                    .as_deref()
                    .map_or("-".into(), |u| hex(&Sha256::digest(u.as_bytes()))),
            );
        }
    }
    let hash = hex(&Sha256::digest(text.as_bytes()));
    Ok(TemplateKey {
        id: hash[..ID_DIGITS].to_string(),
        text,
    })
}

/// The SHA-256 of a file's contents, remembered for this process by the
/// file's identity (size, times, inode), so a job hashes its kernel once.
fn content_hash(path: &Path) -> std::io::Result<String> {
    static MEMO: OnceLock<Mutex<HashMap<(std::path::PathBuf, String), String>>> = OnceLock::new();
    let stamp = kennel_config::file_stamp(path)?;
    let memo = MEMO.get_or_init(Default::default);
    let key = (path.to_path_buf(), stamp);
    if let Some(hash) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(hash.clone());
    }
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let hash = hex(&hasher.finalize());
    memo.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, hash.clone());
    Ok(hash)
}

/// The first line of `binary --version` (remembered per binary for this
/// process); empty when it does not run.
fn qemu_version(binary: &Path) -> String {
    static MEMO: OnceLock<Mutex<HashMap<std::path::PathBuf, String>>> = OnceLock::new();
    let memo = MEMO.get_or_init(Default::default);
    if let Some(v) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(binary) {
        return v.clone();
    }
    let version = std::process::Command::new(binary)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    memo.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(binary.to_path_buf(), version.clone());
    version
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest_config(dir: &Path) -> MachineConfig {
        let kernel = dir.join("vmlinux");
        let initrd = dir.join("initrd");
        std::fs::write(&kernel, b"kernel").expect("kernel");
        std::fs::write(&initrd, b"initrd one").expect("initrd");
        let mut c = MachineConfig::new("main");
        c.kernel = Some(kernel);
        c.initrd = Some(initrd);
        c.append = Some("console=ttyS0".into());
        c.memory = Some("256M".into());
        c
    }

    fn key_of(c: &MachineConfig, dir: &Path) -> TemplateKey {
        template_key(
            c,
            &Recipe::Builtin { agent: true },
            &dir.join("vmlinux"),
            "tcg",
        )
        .expect("key")
    }

    #[test]
    fn the_same_machine_has_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = guest_config(dir.path());

        assert_eq!(key_of(&c, dir.path()), key_of(&c.clone(), dir.path()));
    }

    #[test]
    fn a_changed_kernel_command_line_makes_a_new_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = guest_config(dir.path());
        let mut changed = c.clone();
        changed.append = Some("console=ttyS0 quiet".into());

        assert_ne!(key_of(&c, dir.path()).id, key_of(&changed, dir.path()).id);
    }

    #[test]
    fn a_changed_initramfs_makes_a_new_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = guest_config(dir.path());
        let before = key_of(&c, dir.path());
        std::fs::write(c.initrd.as_ref().expect("initrd"), b"initrd two!").expect("rewrite");

        assert_ne!(before.id, key_of(&c, dir.path()).id);
    }

    #[test]
    fn per_test_logs_and_names_are_not_in_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = guest_config(dir.path());
        let mut other = c.clone();
        other.console_log = kennel_machine::LogSink::discard();
        other.launch_timeout = std::time::Duration::from_secs(1);

        assert_eq!(key_of(&c, dir.path()), key_of(&other, dir.path()));
    }

    /// The command line `c` launches with by a fixed QEMU, socket folder and
    /// accelerator.
    fn command_of(c: &MachineConfig) -> kennel_machine::QemuCommand {
        c.command_line(&kennel_machine::QemuSetup {
            binary: Path::new("/usr/bin/qemu-system-x86_64"),
            install: &kennel_machine::QemuInstall::default(),
            accel: "tcg",
            socket_dir: Path::new("/sockets"),
        })
    }

    /// One change to a machine's configuration.
    type Change = fn(&mut MachineConfig);

    #[test]
    fn whatever_changes_qemus_command_line_changes_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = guest_config(dir.path());
        let changes: [(&str, Change); 10] = [
            ("machine type", |c| c.machine_type = Some("q35".into())),
            ("cpus", |c| c.cpus = Some(4)),
            ("memory", |c| c.memory = Some("1G".into())),
            ("kernel command line", |c| c.append = Some("quiet".into())),
            ("console", |c| c.console = true),
            ("display", |c| {
                c.display = Some(kennel_machine::DisplayDevice::Std)
            }),
            ("extra socket", |c| c.sockets.push("serial1".into())),
            ("argument", |c| c.extra_args.push("-no-hpet".into())),
            ("device", |c| {
                c.extra_args
                    .extend(["-device".into(), "virtio-rng-pci".into()])
            }),
            ("environment", |c| {
                c.env.push(("G_SLICE".into(), "x".into()))
            }),
        ];

        for (what, change) in changes {
            let mut changed = c.clone();
            change(&mut changed);
            assert_ne!(command_of(&c), command_of(&changed), "{what}");
            assert_ne!(
                key_of(&c, dir.path()).id,
                key_of(&changed, dir.path()).id,
                "{what} changes the command line, not the key"
            );
        }
    }

    /// A stand-in QEMU at `path` whose `--version` says `version`.
    fn qemu_saying(path: &Path, version: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(
            path,
            format!("#!/bin/sh\necho 'QEMU emulator version {version}'\n"),
        )
        .expect("script");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn key_with(c: &MachineConfig, binary: &Path, accel: &str) -> TemplateKey {
        template_key(c, &Recipe::Builtin { agent: true }, binary, accel).expect("key")
    }

    /// Issue 30: the key was tested for the kernel command line and the
    /// initrd only.
    #[test]
    fn qemus_path_contents_and_version_each_make_a_new_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = guest_config(dir.path());
        let qemu = dir.path().join("qemu-a");
        qemu_saying(&qemu, "9.1.0");
        let before = key_with(&c, &qemu, "tcg");

        let copy = dir.path().join("qemu-b");
        std::fs::copy(&qemu, &copy).expect("copy");
        let newer = dir.path().join("qemu-c");
        qemu_saying(&newer, "9.2.0");

        assert_ne!(before.id, key_with(&c, &copy, "tcg").id, "another path");
        assert!(
            before
                .text
                .contains("version QEMU emulator version 9.1.0\n"),
            "{}",
            before.text
        );
        assert!(key_with(&c, &newer, "tcg")
            .text
            .contains("version QEMU emulator version 9.2.0\n"));
        std::fs::write(
            &qemu,
            "#!/bin/sh\necho 'QEMU emulator version 9.1.0' # rebuilt\n",
        )
        .expect("rewrite");
        assert_ne!(before.id, key_with(&c, &qemu, "tcg").id, "other contents");
    }

    #[test]
    fn the_accelerator_chosen_or_named_makes_a_new_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = guest_config(dir.path());
        let qemu = dir.path().join("qemu");
        qemu_saying(&qemu, "9.1.0");
        let mut named = c.clone();
        named.accel = Accel::Named("kvm".into());
        let mut named_tcg = c.clone();
        named_tcg.accel = Accel::Named("tcg".into());

        let auto_tcg = key_with(&c, &qemu, "tcg").id;
        assert_ne!(auto_tcg, key_with(&c, &qemu, "kvm").id, "auto picked kvm");
        assert_ne!(
            key_with(&named, &qemu, "kvm").id,
            key_with(&named_tcg, &qemu, "tcg").id
        );
    }

    #[test]
    fn the_same_kernel_at_another_path_keeps_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = guest_config(dir.path());
        let mut moved = c.clone();
        let elsewhere = dir.path().join("vmlinux-copy");
        std::fs::copy(c.kernel.as_ref().expect("kernel"), &elsewhere).expect("copy");
        moved.kernel = Some(elsewhere);

        assert_ne!(command_of(&c), command_of(&moved));
        assert_eq!(key_of(&c, dir.path()), key_of(&moved, dir.path()));
    }

    #[test]
    fn a_disk_in_the_arguments_keeps_a_machine_cold() {
        let mut c = MachineConfig::new("main");
        c.extra_args = vec!["-drive".into(), "file=disk.img".into()];

        assert!(cold_reason(&c).is_some_and(|r| r.contains("-drive")));
    }

    #[test]
    fn ppc64_starts_warm_only_where_qemu_keeps_its_decrementer() {
        let debian_12 = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)";
        let backports = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)";

        assert!(ppc64_decrementer_lost("tcg", debian_12).is_some_and(|r| r.contains("7.2.22")));
        assert!(ppc64_decrementer_lost("tcg", "QEMU emulator version 8.1.5").is_some());
        assert!(ppc64_decrementer_lost("tcg", "").is_some());
        assert_eq!(
            ppc64_decrementer_lost("tcg", "QEMU emulator version 8.2.0"),
            None
        );
        assert_eq!(ppc64_decrementer_lost("tcg", backports), None);
        assert_eq!(ppc64_decrementer_lost("kvm", debian_12), None);
    }
}
