//! QEMU's command line as a value: [`MachineConfig::command_line`] turns a
//! machine's configuration, and what a launch decided (the binary, its install,
//! the accelerator, the socket folder), into the program, arguments and
//! environment to run. It does no I/O: a test, the warm-start key, `kennel
//! guest shell` and `kennel doctor` see the command a launch would run without
//! starting QEMU.

use std::path::{Path, PathBuf};

use crate::config::MachineConfig;
use crate::install::QemuInstall;
use kennel_config::text::shell_word;

/// The socket of the QMP monitor a person attaches to, in the machine's
/// private socket folder (QEMU listens on it).
pub const ATTACH_QMP: &str = "attach-qmp.sock";
/// The socket of the HMP monitor a person attaches to.
pub const ATTACH_HMP: &str = "attach-hmp.sock";

/// The devices of [`MachineConfig::tablet`]: an xHCI controller of kennel's
/// and a USB tablet on it (any machine with PCI has room for them).
pub const TABLET_ARGS: [&str; 4] = [
    "-device",
    "qemu-xhci,id=kennel-usb",
    "-device",
    "usb-tablet,bus=kennel-usb.0",
];

/// What a command line takes besides the machine's configuration: the values a
/// launch decides (or a caller that only wants to see the command line picks).
#[derive(Debug, Clone, Copy)]
pub struct QemuSetup<'a> {
    /// QEMU's binary, resolved ([`MachineConfig::resolve_binary`]).
    pub binary: &'a Path,
    /// Its install's firmware and module folders ([`QemuInstall::of`] the binary).
    pub install: &'a QemuInstall,
    /// The accelerator chosen (`kvm`, `tcg`: [`MachineConfig::choose_accel`]).
    pub accel: &'a str,
    /// The private folder of the sockets kennel listens on (unused by a machine
    /// without monitor, console or extra sockets).
    pub socket_dir: &'a Path,
}

/// A QEMU command: the program to start, its arguments and the environment it
/// gets on top of kennel's own. Its [`Display`](std::fmt::Display) is the
/// shell-quoted line a person can paste (the test's `cmdline` file): the
/// environment as leading `NAME=value` words, then the program and arguments.
///
/// ```
/// use std::path::PathBuf;
/// use kennel_machine::QemuCommand;
///
/// let command = QemuCommand {
///     program: PathBuf::from("/usr/bin/qemu-system-x86_64"),
///     args: vec!["-append".into(), "console=ttyS0 quiet".into()],
///     env: vec![("QEMU_MODULE_DIR".into(), "/opt/qemu/lib".into())],
/// };
/// assert_eq!(
///     command.to_string(),
///     "QEMU_MODULE_DIR=/opt/qemu/lib /usr/bin/qemu-system-x86_64 -append 'console=ttyS0 quiet'"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuCommand {
    /// The program started: QEMU's binary, or the wrapper's first word.
    pub program: PathBuf,
    /// Its arguments; under a wrapper, the wrapper's other words, QEMU's binary
    /// and QEMU's arguments.
    pub args: Vec<String>,
    /// Environment variables set for it, in order: the install's
    /// (`QEMU_MODULE_DIR`), then the configuration's own.
    pub env: Vec<(String, String)>,
}

impl QemuCommand {
    /// A [`std::process::Command`] that runs it (standard streams and the rest
    /// left to the caller).
    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

impl std::fmt::Display for QemuCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", shell_word(v))?;
        }
        write!(f, "{}", shell_word(&self.program.to_string_lossy()))?;
        for a in &self.args {
            write!(f, " {}", shell_word(a))?;
        }
        Ok(())
    }
}

/// A socket kennel listens on in the private folder and QEMU connects to
/// before the guest runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Connection {
    /// kennel's QMP monitor.
    Qmp,
    /// The first serial port.
    Console,
    /// An extra character device ([`MachineConfig::sockets`]), by id.
    Chardev(String),
}

impl Connection {
    /// The chardev's id.
    fn id(&self) -> &str {
        match self {
            Connection::Qmp => "mon",
            Connection::Console => "console",
            Connection::Chardev(id) => id,
        }
    }

    /// Its socket in the private folder `dir`.
    pub(crate) fn path(&self, dir: &Path) -> PathBuf {
        let file = match self {
            Connection::Qmp => "qmp".to_string(),
            Connection::Console => "console".to_string(),
            Connection::Chardev(id) => id.clone(),
        };
        dir.join(format!("{file}.sock"))
    }

    /// The front end QEMU puts on the chardev (none for an extra one: the
    /// devices that use it are in the configuration's arguments).
    fn front_end(&self) -> Vec<String> {
        match self {
            Connection::Qmp => vec!["-mon".into(), "chardev=mon,mode=control".into()],
            Connection::Console => vec!["-serial".into(), "chardev:console".into()],
            Connection::Chardev(_) => Vec::new(),
        }
    }
}

impl MachineConfig {
    /// The sockets QEMU connects to, in the order the launch accepts them: the
    /// QMP monitor, the console, then [`MachineConfig::sockets`].
    pub(crate) fn connections(&self) -> Vec<Connection> {
        let qmp = self.qmp.then_some(Connection::Qmp);
        let console = self.console.then_some(Connection::Console);
        qmp.into_iter()
            .chain(console)
            .chain(self.sockets.iter().cloned().map(Connection::Chardev))
            .collect()
    }

    /// The command a launch of this configuration by `setup` runs, built
    /// without I/O:
    /// - `-display none`, the install's `-L` folders, and `-vga none` unless
    ///   the arguments choose a `-vga`; the [`MachineConfig::display`]
    ///   device, if any (`-device VGA`);
    /// - with QMP, two monitors QEMU listens on for a person to attach to
    ///   ([`ATTACH_QMP`], [`ATTACH_HMP`]), then kennel's own QMP monitor;
    ///   the console on the first serial port; the extra sockets
    ///   ([`MachineConfig::sockets`]), each a chardev socket in
    ///   `setup.socket_dir` that QEMU connects to;
    /// - `-machine`, `-accel` (the chosen one), `-smp`, `-m`, `-kernel`,
    ///   `-initrd`, `-dtb`, `-append`, `-incoming` as configured;
    /// - UEFI's pflash drives ([`crate::firmware::Pflash::args`], `smm=on`
    ///   added to `-machine` when the firmware needs it), the TPM's chardev,
    ///   backend and device ([`crate::tpm::TpmConfig::qemu_args`]);
    /// - the tablet's devices ([`TABLET_ARGS`]) when asked for;
    /// - the configuration's own arguments, last and as they are;
    /// - under a [`MachineConfig::wrapper`], the wrapper's words first;
    /// - the environment: the install's (`QEMU_MODULE_DIR`), then the
    ///   configuration's.
    ///
    /// ```
    /// use std::path::Path;
    /// use kennel_machine::{MachineConfig, QemuInstall, QemuSetup};
    ///
    /// let mut config = MachineConfig::new("main");
    /// config.qmp = false;
    /// config.machine_type = Some("none".into());
    /// let command = config.command_line(&QemuSetup {
    ///     binary: Path::new("/usr/bin/qemu-system-x86_64"),
    ///     install: &QemuInstall::default(),
    ///     accel: "tcg",
    ///     socket_dir: Path::new("/run/sockets"),
    /// });
    /// assert_eq!(
    ///     command.to_string(),
    ///     "/usr/bin/qemu-system-x86_64 -display none -vga none -machine none -accel tcg"
    /// );
    /// ```
    pub fn command_line(&self, setup: &QemuSetup<'_>) -> QemuCommand {
        let mut args: Vec<String> = vec!["-display".into(), "none".into()];
        args.extend(setup.install.args());
        if !self.extra_args.iter().any(|a| a == "-vga") {
            args.extend(["-vga".into(), "none".into()]);
        }
        if let Some(display) = self.display {
            let device = display.qemu_device(&self.target_arch());
            args.extend(["-device".into(), device.into()]);
        }
        if self.has_vnc() {
            args.extend(crate::vnc::VNC_ARGS.map(String::from));
        }
        if self.qmp {
            args.extend(attach_monitors(setup.socket_dir));
        }
        for connection in self.connections() {
            args.push("-chardev".into());
            args.push(format!(
                "socket,id={},path={}",
                connection.id(),
                connection.path(setup.socket_dir).display()
            ));
            args.extend(connection.front_end());
        }
        args.extend(self.machine_args(setup.accel));
        if let Some(pflash) = &self.pflash {
            args.extend(pflash.args());
        }
        if let Some(tpm) = &self.tpm {
            args.extend(tpm.qemu_args(&self.target_arch(), setup.socket_dir));
        }
        if self.tablet {
            args.extend(TABLET_ARGS.map(String::from));
        }
        args.extend(self.extra_args.iter().cloned());
        let env = setup
            .install
            .env()
            .into_iter()
            .chain(self.env.iter().cloned())
            .collect();
        let binary = setup.binary.to_string_lossy().into_owned();
        let (program, args) = match self.wrapper.split_first() {
            Some((program, before)) => {
                let all = before.iter().cloned().chain([binary]).chain(args);
                (PathBuf::from(program), all.collect())
            }
            None => (setup.binary.to_path_buf(), args),
        };
        QemuCommand { program, args, env }
    }

    /// Whether the machine gets a VNC server (listening nowhere until
    /// [`Machine::vnc_listen`](crate::Machine::vnc_listen)): with a display
    /// and a monitor to make it listen.
    pub(crate) fn has_vnc(&self) -> bool {
        self.display.is_some() && self.qmp
    }

    /// The machine's own options: `-machine`, `-accel accel`, `-smp`, `-m`,
    /// the kernel, initrd, device tree and kernel command line, `-incoming`.
    fn machine_args(&self, accel: &str) -> Vec<String> {
        let mut args = Vec::new();
        let smm = self.pflash.as_ref().and_then(|p| p.machine_option());
        match (&self.machine_type, smm) {
            (Some(t), Some(o)) => args.extend(["-machine".into(), format!("{t},{o}")]),
            (Some(t), None) => args.extend(["-machine".into(), t.clone()]),
            (None, Some(o)) => args.extend(["-machine".into(), o.to_string()]),
            (None, None) => {}
        }
        args.extend(["-accel".into(), accel.to_string()]);
        if let Some(n) = self.cpus {
            args.extend(["-smp".into(), n.to_string()]);
        }
        if let Some(m) = &self.memory {
            args.extend(["-m".into(), m.clone()]);
        }
        for (flag, value) in [
            ("-kernel", &self.kernel),
            ("-initrd", &self.initrd),
            ("-dtb", &self.dtb),
        ] {
            if let Some(v) = value {
                args.extend([flag.into(), v.to_string_lossy().into_owned()]);
            }
        }
        if let Some(a) = &self.append {
            args.extend(["-append".into(), a.clone()]);
        }
        if let Some(i) = &self.incoming {
            args.extend(["-incoming".into(), i.clone()]);
        }
        args
    }
}

/// A second QMP monitor and an HMP one, QEMU listening, for a person to attach
/// to (`kennel attach`) without disturbing kennel's session. They come before
/// kennel's own monitor: tools that read only one `-mon` (the fake QEMU) take
/// the last.
fn attach_monitors(dir: &Path) -> Vec<String> {
    let mut args = Vec::new();
    for (sock, mode) in [(ATTACH_QMP, "control"), (ATTACH_HMP, "readline")] {
        let id = sock.trim_end_matches(".sock");
        args.push("-chardev".into());
        args.push(format!(
            "socket,id={id},path={},server=on,wait=off",
            dir.join(sock).display()
        ));
        args.extend(["-mon".into(), format!("chardev={id},mode={mode}")]);
    }
    args
}

#[cfg(test)]
mod tests;
