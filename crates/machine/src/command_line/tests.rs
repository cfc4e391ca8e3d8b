//! QEMU's command line, read without starting QEMU.

use std::path::{Path, PathBuf};

use super::*;
use crate::Accel;

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const SOCKETS: &str = "/tmp/kennel-sock-1-x";

/// The command line of `config` run by the distribution's QEMU under `accel`.
fn command_of(config: &MachineConfig, accel: &str) -> QemuCommand {
    command_with(config, accel, &QemuInstall::default())
}

fn command_with(config: &MachineConfig, accel: &str, install: &QemuInstall) -> QemuCommand {
    config.command_line(&QemuSetup {
        binary: Path::new(QEMU),
        install,
        accel,
        socket_dir: Path::new(SOCKETS),
    })
}

/// A machine without monitor or console: only the options under test.
fn bare() -> MachineConfig {
    let mut config = MachineConfig::new("main");
    config.qmp = false;
    config
}

fn words(text: &str) -> Vec<String> {
    text.split(' ').map(str::to_owned).collect()
}

/// Whether `args` holds `wanted` as consecutive words.
fn holds(args: &[String], wanted: &str) -> bool {
    let wanted = words(wanted);
    args.windows(wanted.len()).any(|w| w == wanted.as_slice())
}

#[test]
fn a_machine_has_no_display_and_no_vga() {
    let command = command_of(&bare(), "tcg");

    assert_eq!(command.program, PathBuf::from(QEMU));
    assert_eq!(command.args[..4], words("-display none -vga none"));
}

#[test]
fn a_vga_in_the_arguments_replaces_vga_none() {
    let mut config = bare();
    config.extra_args = words("-vga std");

    let command = command_of(&config, "tcg");

    assert_eq!(command.args, words("-display none -accel tcg -vga std"));
}

#[test]
fn kennels_monitor_and_the_console_are_sockets_qemu_connects_to() {
    let mut config = MachineConfig::new("main");
    config.console = true;

    let command = command_of(&config, "tcg");

    assert!(holds(
        &command.args,
        "-chardev socket,id=mon,path=/tmp/kennel-sock-1-x/qmp.sock -mon chardev=mon,mode=control \
         -chardev socket,id=console,path=/tmp/kennel-sock-1-x/console.sock -serial chardev:console \
         -accel tcg"
    ));
}

#[test]
fn a_person_attaches_to_two_monitors_qemu_listens_on_before_kennels_own() {
    let command = command_of(&MachineConfig::new("main"), "tcg");

    assert_eq!(
        command.args,
        words(
            "-display none -vga none \
             -chardev socket,id=attach-qmp,path=/tmp/kennel-sock-1-x/attach-qmp.sock,server=on,wait=off \
             -mon chardev=attach-qmp,mode=control \
             -chardev socket,id=attach-hmp,path=/tmp/kennel-sock-1-x/attach-hmp.sock,server=on,wait=off \
             -mon chardev=attach-hmp,mode=readline \
             -chardev socket,id=mon,path=/tmp/kennel-sock-1-x/qmp.sock -mon chardev=mon,mode=control \
             -accel tcg"
        )
    );
}

#[test]
fn a_machine_without_qmp_has_no_monitor_at_all() {
    let command = command_of(&bare(), "tcg");

    assert!(!command.args.iter().any(|a| a == "-mon" || a == "-chardev"));
}

#[test]
fn extra_sockets_are_chardevs_after_the_console_and_in_the_accept_order() {
    let mut config = MachineConfig::new("main");
    config.console = true;
    config.sockets = vec!["agent".into(), "serial1".into()];

    let command = command_of(&config, "tcg");

    assert!(holds(
        &command.args,
        "-serial chardev:console \
         -chardev socket,id=agent,path=/tmp/kennel-sock-1-x/agent.sock \
         -chardev socket,id=serial1,path=/tmp/kennel-sock-1-x/serial1.sock -accel tcg"
    ));
    assert_eq!(
        config.connections(),
        [
            Connection::Qmp,
            Connection::Console,
            Connection::Chardev("agent".into()),
            Connection::Chardev("serial1".into()),
        ]
    );
}

#[test]
fn the_chosen_accelerator_is_the_one_on_the_command_line() {
    assert!(holds(&command_of(&bare(), "kvm").args, "-accel kvm"));
    assert!(holds(&command_of(&bare(), "tcg").args, "-accel tcg"));
}

#[test]
fn an_accelerator_asked_for_is_used_as_it_is() {
    let mut config = bare();
    config.accel = Accel::Named("kvm".into());

    let chosen = config.choose_accel(Path::new(QEMU));

    assert_eq!(chosen.accel, "kvm");
    assert!(holds(
        &command_of(&config, &chosen.accel).args,
        "-accel kvm"
    ));
}

#[test]
fn auto_runs_machine_none_under_tcg_without_a_probe() {
    let mut config = bare();
    config.machine_type = Some("none".into());

    let chosen = config.choose_accel(Path::new("/nonexistent/qemu"));

    assert_eq!(chosen.accel, "tcg");
    assert!(holds(
        &command_of(&config, &chosen.accel).args,
        "-machine none -accel tcg"
    ));
}

#[test]
fn the_machine_options_come_after_the_sockets_in_a_fixed_order() {
    let mut config = bare();
    config.machine_type = Some("q35".into());
    config.cpus = Some(2);
    config.memory = Some("512M".into());
    config.kernel = Some("/k/vmlinuz".into());
    config.initrd = Some("/k/initrd.img".into());
    config.dtb = Some("/k/virt.dtb".into());
    config.append = Some("console=ttyS0 quiet".into());
    config.incoming = Some("defer".into());

    let command = command_of(&config, "kvm");

    assert_eq!(command.args[4..], {
        let mut expected = words(
            "-machine q35 -accel kvm -smp 2 -m 512M -kernel /k/vmlinuz -initrd /k/initrd.img \
             -dtb /k/virt.dtb -append",
        );
        expected.push("console=ttyS0 quiet".into());
        expected.extend(words("-incoming defer"));
        expected
    });
}

#[test]
fn the_tests_own_arguments_come_last_as_they_are() {
    let mut config = bare();
    config.machine_type = Some("pc".into());
    config.extra_args = vec!["-device".into(), "virtio-rng-pci".into(), "-S".into()];

    let command = command_of(&config, "tcg");

    assert_eq!(
        command.args,
        words("-display none -vga none -machine pc -accel tcg -device virtio-rng-pci -S")
    );
}

#[test]
fn a_wrapper_runs_qemu_as_its_argument() {
    let mut config = bare();
    config.wrapper = words("strace -f -o /logs/strace.log");

    let command = command_of(&config, "tcg");

    assert_eq!(command.program, PathBuf::from("strace"));
    assert_eq!(
        command.args,
        words(&format!(
            "-f -o /logs/strace.log {QEMU} -display none -vga none -accel tcg"
        ))
    );
}

#[test]
fn a_qemu_outside_usr_gets_its_firmware_folders_and_module_folder() {
    let install = QemuInstall {
        data_dirs: vec![
            "/opt/qemu/share/qemu".into(),
            "/opt/qemu/share/seabios".into(),
        ],
        module_dir: Some("/opt/qemu/lib/qemu".into()),
    };
    let mut config = bare();
    config.env = vec![("G_SLICE".into(), "always-malloc".into())];

    let command = command_with(&config, "tcg", &install);

    assert_eq!(
        command.args[..6],
        words("-display none -L /opt/qemu/share/qemu -L /opt/qemu/share/seabios")
    );
    assert_eq!(
        command.env,
        [
            (
                "QEMU_MODULE_DIR".to_string(),
                "/opt/qemu/lib/qemu".to_string()
            ),
            ("G_SLICE".to_string(), "always-malloc".to_string()),
        ]
    );
}

#[test]
fn the_distributions_qemu_gets_no_environment() {
    assert!(command_of(&MachineConfig::new("main"), "tcg")
        .env
        .is_empty());
}

#[test]
fn the_text_quotes_each_word_for_a_shell() {
    let command = QemuCommand {
        program: PathBuf::from(QEMU),
        args: vec!["-append".into(), "console=ttyS0 quiet".into(), "-S".into()],
        env: Vec::new(),
    };

    assert_eq!(
        command.to_string(),
        "/usr/bin/qemu-system-x86_64 -append 'console=ttyS0 quiet' -S"
    );
}

#[test]
fn the_text_puts_the_environment_first_as_a_shell_takes_it() {
    let command = QemuCommand {
        program: PathBuf::from(QEMU),
        args: vec!["-S".into()],
        env: vec![("QEMU_MODULE_DIR".into(), "/opt/my qemu/lib".into())],
    };

    assert_eq!(
        command.to_string(),
        "QEMU_MODULE_DIR='/opt/my qemu/lib' /usr/bin/qemu-system-x86_64 -S"
    );
}

/// The `cmdline` of a built-in guest test, as kennel has written it since the
/// attach monitors came.
#[test]
fn the_text_of_a_guest_machine_is_the_cmdline_file_kennel_writes() {
    let mut config = MachineConfig::new("main");
    config.console = true;
    config.sockets = vec!["agent".into()];
    config.machine_type = Some("pc".into());
    config.cpus = Some(1);
    config.memory = Some("512".into());
    config.kernel = Some("/cache/vmlinux".into());
    config.initrd = Some("/cache/initramfs.cpio".into());
    config.append = Some("console=ttyS0 quiet panic=-1 rdinit=/init".into());
    config.incoming = Some("exec:cat '/cache/warm/0123/state'".into());
    config.extra_args = words(
        "-no-reboot -nodefaults -device virtio-serial-pci,id=kennel-vser \
         -device virtserialport,bus=kennel-vser.0,chardev=agent,name=org.kennel.agent",
    );

    let text = command_of(&config, "tcg").to_string();

    assert_eq!(
        text,
        "/usr/bin/qemu-system-x86_64 -display none -vga none \
         -chardev 'socket,id=attach-qmp,path=/tmp/kennel-sock-1-x/attach-qmp.sock,server=on,wait=off' \
         -mon 'chardev=attach-qmp,mode=control' \
         -chardev 'socket,id=attach-hmp,path=/tmp/kennel-sock-1-x/attach-hmp.sock,server=on,wait=off' \
         -mon 'chardev=attach-hmp,mode=readline' \
         -chardev 'socket,id=mon,path=/tmp/kennel-sock-1-x/qmp.sock' -mon 'chardev=mon,mode=control' \
         -chardev 'socket,id=console,path=/tmp/kennel-sock-1-x/console.sock' -serial chardev:console \
         -chardev 'socket,id=agent,path=/tmp/kennel-sock-1-x/agent.sock' \
         -machine pc -accel tcg -smp 1 -m 512 -kernel /cache/vmlinux -initrd /cache/initramfs.cpio \
         -append 'console=ttyS0 quiet panic=-1 rdinit=/init' \
         -incoming \"exec:cat '/cache/warm/0123/state'\" -no-reboot -nodefaults \
         -device 'virtio-serial-pci,id=kennel-vser' \
         -device 'virtserialport,bus=kennel-vser.0,chardev=agent,name=org.kennel.agent'"
    );
}

#[test]
fn a_display_adds_its_device_and_keeps_qemus_display_off() {
    let mut config = bare();
    config.arch = Some("x86_64".into());
    config.display = Some(crate::DisplayDevice::Std);

    let command = command_of(&config, "tcg");

    assert_eq!(
        command.args,
        words("-display none -vga none -device VGA -accel tcg")
    );
}

#[test]
fn a_virtio_display_is_a_vga_only_where_the_architecture_has_vga() {
    let mut config = bare();
    config.arch = Some("aarch64".into());
    config.display = Some(crate::DisplayDevice::Virtio);

    let command = command_of(&config, "tcg");

    assert!(holds(&command.args, "-device virtio-gpu-pci"));
}

#[test]
fn a_tablet_is_a_usb_tablet_on_kennels_own_controller_before_the_own_arguments() {
    let mut config = bare();
    config.tablet = true;
    config.extra_args = words("-device virtio-rng-pci");

    let command = command_of(&config, "tcg");

    assert!(
        command.args.ends_with(&words(
            "-accel tcg -device qemu-xhci,id=kennel-usb -device usb-tablet,bus=kennel-usb.0 -device virtio-rng-pci"
        )),
        "{command}"
    );
}

#[test]
fn a_machine_has_no_tablet_unless_asked() {
    let command = command_of(&bare(), "tcg");

    assert!(
        !holds(&command.args, "-device usb-tablet,bus=kennel-usb.0"),
        "{command}"
    );
}

#[test]
fn a_display_with_a_monitor_gets_a_vnc_server_listening_nowhere() {
    let mut config = MachineConfig::new("main");
    config.display = Some(crate::DisplayDevice::Std);

    let command = command_of(&config, "tcg");

    assert!(holds(&command.args, "-device VGA -vnc none"), "{command}");
    assert!(!holds(
        &command_of(&MachineConfig::new("main"), "tcg").args,
        "-vnc none"
    ));
}
