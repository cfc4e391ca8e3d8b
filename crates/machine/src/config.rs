use std::path::PathBuf;
use std::time::Duration;

use kennel_qmp::Transcript;

use crate::accel::{Accel, AccelChoice};
use crate::binary::{find_qemu, QemuBinary};
use crate::display::DisplayDevice;
use crate::error::MachineError;
use crate::logsink::LogSink;

/// Everything needed to start one QEMU.
///
/// Fields are public: fill what you need, leave the rest at their defaults.
#[derive(Clone)]
pub struct MachineConfig {
    /// Name used in logs and messages (`main` for a single machine).
    pub name: String,
    /// Target architecture; default: the host's.
    pub arch: Option<String>,
    /// Explicit QEMU binary (wins over everything else).
    pub binary: Option<PathBuf>,
    /// `--qemu`: a binary or a build directory.
    pub qemu_option: Option<PathBuf>,
    /// `--qemu-arch ARCH=PATH`: architectures' binaries given on purpose.
    pub qemu_arch: Vec<crate::binary::ArchBinary>,
    /// `-machine` value.
    pub machine_type: Option<String>,
    /// Accelerator wanted.
    pub accel: Accel,
    /// `-smp`.
    pub cpus: Option<u64>,
    /// `-m`.
    pub memory: Option<String>,
    /// `-kernel`.
    pub kernel: Option<PathBuf>,
    /// `-initrd`.
    pub initrd: Option<PathBuf>,
    /// `-append`.
    pub append: Option<String>,
    /// `-dtb`.
    pub dtb: Option<PathBuf>,
    /// UEFI firmware on pflash ([`crate::firmware::find`], its variables a
    /// copy of the machine's own); `None`: QEMU's default firmware.
    pub pflash: Option<crate::firmware::Pflash>,
    /// A TPM emulated by swtpm, started with the machine and killed with it.
    pub tpm: Option<crate::tpm::TpmConfig>,
    /// Capture the first serial console.
    pub console: bool,
    /// The video device (`-device`), if any; QEMU's display stays `none`.
    pub display: Option<DisplayDevice>,
    /// Console text that fails every wait at once.
    pub console_fail: Vec<String>,
    /// Extra arguments, passed as they are.
    pub extra_args: Vec<String>,
    /// `-incoming` value.
    pub incoming: Option<String>,
    /// An absolute pointing device for QMP `input-send-event`: a USB tablet
    /// on its own xHCI controller ([`TABLET_ARGS`](crate::TABLET_ARGS)).
    pub tablet: bool,
    /// Connect a QMP monitor (off for machines expected to exit by themselves).
    pub qmp: bool,
    /// Extra character devices on sockets kennel listens on: for each id, QEMU gets
    /// `-chardev socket,id=<id>,path=<private dir>/<id>.sock` (the devices that use
    /// them go in `extra_args`), and [`crate::Machine::take_socket`] gives the
    /// connected stream after launch.
    pub sockets: Vec<String>,
    /// How long QEMU may take to connect its sockets and greet.
    pub launch_timeout: Duration,
    /// Where the console goes.
    pub console_log: LogSink,
    /// Where QEMU's stdout and stderr go.
    pub qemu_log: LogSink,
    /// Where QMP traffic goes.
    pub transcript: Transcript,
    /// Extra environment for QEMU.
    pub env: Vec<(String, String)>,
    /// A program QEMU runs under (`strace -f -o trace.log`, `valgrind`, `rr
    /// record`, `gdbserver 127.0.0.1:1234`): its words come before QEMU's binary
    /// on the command line. Empty: QEMU runs by itself.
    pub wrapper: Vec<String>,
}

impl MachineConfig {
    /// A config with defaults: host arch, `auto` accelerator, QMP on, no console.
    pub fn new(name: impl Into<String>) -> MachineConfig {
        MachineConfig {
            name: name.into(),
            arch: None,
            binary: None,
            qemu_option: None,
            qemu_arch: Vec::new(),
            machine_type: None,
            accel: Accel::Auto,
            cpus: None,
            memory: None,
            kernel: None,
            initrd: None,
            append: None,
            dtb: None,
            pflash: None,
            tpm: None,
            console: false,
            display: None,
            console_fail: vec!["Kernel panic - not syncing".into()],
            extra_args: Vec::new(),
            incoming: None,
            tablet: false,
            qmp: true,
            sockets: Vec::new(),
            launch_timeout: Duration::from_secs(60),
            console_log: LogSink::discard(),
            qemu_log: LogSink::discard(),
            transcript: Transcript::discard(),
            env: Vec::new(),
            wrapper: Vec::new(),
        }
    }

    /// The target architecture (explicit, or the host's).
    pub fn target_arch(&self) -> String {
        self.arch
            .clone()
            .unwrap_or_else(|| crate::accel::host_arch().to_string())
    }

    /// The QEMU binary this config resolves to.
    pub fn resolve_binary(&self) -> Result<QemuBinary, MachineError> {
        find_qemu(
            &self.target_arch(),
            self.binary.as_deref(),
            self.qemu_option.as_deref(),
            &self.qemu_arch,
        )
    }

    /// The accelerator a launch by `binary` (resolved) uses, and why: `accel`
    /// as asked, or for `auto` KVM when its probe runs a guest, else TCG.
    pub fn choose_accel(&self, binary: &std::path::Path) -> AccelChoice {
        crate::accel::choose(
            &self.accel,
            &self.target_arch(),
            self.machine_type.as_deref(),
            binary,
        )
    }
}
