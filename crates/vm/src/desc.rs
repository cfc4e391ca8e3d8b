//! What a test asks for ([`MachineDesc`]), and where its machines keep their
//! files ([`Workspace`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kennel_machine::{LogSink, MachineConfig};

use crate::channel::ChannelKind;
use crate::log::TestLog;
use crate::warm::WarmCache;

/// The guests kennel builds itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinGuest {
    /// The host's (or a Debian package's) kernel, busybox and, where it builds,
    /// the kennel agent (`guest = "busybox"`).
    Busybox,
}

impl BuiltinGuest {
    /// From a test file's `guest = "..."`.
    pub fn from_name(name: &str) -> Option<BuiltinGuest> {
        (name == "busybox").then_some(BuiltinGuest::Busybox)
    }
}

/// A machine as a test describes it: plain data, already substituted and
/// validated. The TOML loader maps a `[machine]` table onto it; the Rust
/// builder fills it call by call.
#[derive(Clone)]
pub struct MachineDesc {
    /// QEMU's own options (binary, type, cpus, memory, kernel, args, logs...).
    /// With a guest or an image, [`prepare`](crate::prepare) adds what they need.
    pub config: MachineConfig,
    /// Boot a guest kennel builds; `config.kernel`, when set, is the kernel to
    /// build it around.
    pub guest: Option<BuiltinGuest>,
    /// Boot this disk image through a private overlay (never written itself).
    pub image: Option<PathBuf>,
    /// Seed cloud-init (NoCloud): `Some` with the test's own user-data, if any.
    pub cloud_init: Option<Option<String>>,
    /// The channel `run` uses; `None` picks: SSH with cloud-init, else the agent
    /// when the guest has one, else the console shell.
    pub channel: Option<ChannelKind>,
    /// Wait for the guest to come up before the start returns (off for a
    /// machine expected to exit by itself).
    pub wait_ready: bool,
    /// Why the machine must boot rather than start from a saved, booted
    /// state of the same configuration (a template, see [`crate::warm`]):
    /// the test reads the boot itself (`launch = false`, `incoming`,
    /// `expect_exit`, a `console` check) or asked (`warm = false`,
    /// `.warm(false)`); `test.log` gives it. `None`: it starts warm when it
    /// can (a built-in guest or a cloud-init guest without host resources in
    /// its own arguments, waited for).
    pub cold: Option<String>,
    /// `firmware = "uefi"` (or `"bios"`, QEMU's default); `None`: QEMU's default.
    pub firmware: Option<kennel_machine::firmware::Firmware>,
    /// A TPM of this version, emulated by swtpm.
    pub tpm: Option<kennel_machine::tpm::TpmVersion>,
    /// Its NICs on the test's networks ([`crate::network`]); none: QEMU's
    /// own networking as its arguments give it (user-mode by default).
    pub nics: Vec<crate::network::Nic>,
}

impl MachineDesc {
    /// A machine with QEMU options only.
    pub fn new(config: MachineConfig) -> MachineDesc {
        MachineDesc {
            config,
            guest: None,
            image: None,
            cloud_init: None,
            channel: None,
            wait_ready: true,
            cold: None,
            firmware: None,
            tpm: None,
            nics: Vec::new(),
        }
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

/// Where a test's machines put their files, and where they log.
#[derive(Clone)]
pub struct Workspace {
    /// The test's private scratch folder: overlays and seeds go here.
    pub scratch: PathBuf,
    /// The test's `test.log`.
    pub log: TestLog,
    /// The test's `cmdline` file: each machine's exact command line, and how to
    /// reach its guest.
    pub cmdline: LogSink,
    /// The test has several machines: name them in `cmdline`.
    pub several: bool,
    /// The test's log folder: `${logdir}` of a wrapper, failure artifacts; the
    /// job's SSH key is found from it (`kennel_layout::TestDir::job_key_dir`).
    pub logdir: PathBuf,
    /// Where the machines' templates live (warm starts,
    /// [`crate::warm::WarmCache::user_default`] for a test of the user's);
    /// `None`: no template, every machine boots and `test.log` says why.
    pub warm_cache: Option<WarmCache>,
}

/// The deadlines a start is bounded by.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// When the test's (or the step's) time runs out: nothing waits past it.
    pub until: Instant,
    /// When the test's own time runs out (`until` is earlier when a step's
    /// timeout bounds the start). A cloud guest's wait ends a reserve before
    /// it, to report that the guest never came up.
    pub test_until: Instant,
    /// The test's whole time limit, which sizes that reserve.
    pub timeout: Duration,
}

impl Deadlines {
    /// `timeout` from now.
    pub fn from_now(timeout: Duration) -> Deadlines {
        let until = Instant::now() + timeout;
        Deadlines {
            until,
            test_until: until,
            timeout,
        }
    }
}
