//! The typed model of a declarative test file.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

pub use crate::asset::{AssetHash, AssetSource, AssetSpec};
use crate::keys::{KeyCombo, MouseAction};
use crate::network::{LinkStep, NetworkSpec};
use crate::template::{RenderError, Templ, Template, Vars};
use crate::version::VersionReq;
use crate::Value;

/// A loaded and validated test file. One file is one test, times its variants
/// (see [`TestFile::cases`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TestFile {
    /// The file, as given to the loader.
    pub path: PathBuf,
    /// The directory holding the file (`${dir}`).
    pub dir: PathBuf,
    /// Display name; defaults to the file stem. `${...}` in it takes the
    /// case's parameters (see [`crate::TestCase`]).
    pub name: String,
    /// Free text shown in reports. Not substituted.
    pub description: Option<String>,
    /// Tags, for `--tags` filtering.
    pub tags: Vec<String>,
    /// `covers`: the source files whose change can affect the test (patterns
    /// relative to the repository's top, for `kennel run --changed`: a path, a
    /// folder ending in `/`, or a glob that matches at its own depth).
    pub covers: Vec<String>,
    /// Wall-clock limit for the whole test (default 120 s).
    pub timeout: Duration,
    /// Extra attempts after a FAIL, ERROR or INTERRUPTED outcome.
    pub retries: u32,
    /// Run alone: no other test runs while this one does (`exclusive = true`).
    pub exclusive: bool,
    /// Requirements, as written (strings may hold `${...}`); render them
    /// with [`RequiresSpec::render`]. An unmet one makes the test SKIP.
    pub requires: RequiresSpec,
    /// The machines, in file order; `[machine]` yields one named `main`.
    pub machines: Vec<MachineSpec>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// `[variants]`: parameter name to its values, in file order.
    pub variants: IndexMap<String, Vec<Value>>,
    /// `[assets.<name>]`, in file order.
    pub assets: IndexMap<String, AssetSpec>,
    /// `[[network]]`, in file order (a link's number is its place from 1).
    pub networks: Vec<NetworkSpec>,
    /// Typed values (a number, boolean or duration: `timeout`, `cpus`,
    /// `poll`, ...) written as a string holding `${...}`, with their
    /// positions. Each is rendered per case with its variants and `-p`
    /// parameters and checked like a literal (see [`TestFile::cases`]); in the
    /// file as loaded, such a key holds its default (a single `${name}` in a
    /// [`Templ`] place holds [`Templ::Var`]).
    pub typed: Vec<Template>,
    /// The file's text, kept when `typed` is not empty: each case re-reads
    /// it with its values.
    pub source: Option<std::sync::Arc<str>>,
}

impl TestFile {
    /// The machine called `name`.
    pub fn machine(&self, name: &str) -> Option<&MachineSpec> {
        self.machines.iter().find(|m| m.name == name)
    }
}

/// `[requires]` as written: every string may hold `${...}` (a variant, a `-p`
/// parameter, a built-in), substituted by [`RequiresSpec::render`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequiresSpec {
    /// See [`Requires::arch`].
    pub arch: Vec<Template>,
    /// See [`Requires::machines`].
    pub machines: Vec<Template>,
    /// See [`Requires::devices`].
    pub devices: Vec<Template>,
    /// See [`Requires::netdevs`].
    pub netdevs: Vec<Template>,
    /// See [`Requires::accel`].
    pub accel: Option<Template>,
    /// See [`Requires::commands`].
    pub commands: Vec<Template>,
    /// See [`Requires::qemu_version`]; parsed at load when it holds no `${...}`.
    pub qemu_version: Option<Template>,
}

impl RequiresSpec {
    /// The requirements with every `${...}` substituted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::path::Path;
    /// use indexmap::IndexMap;
    ///
    /// let text = "[requires]\nmachines = [\"${machine}\"]\n\n[machine]\ntype = \"${machine}\"\n";
    /// let test = kennel_spec::load_str(Path::new("t.toml"), text).unwrap().unwrap();
    /// let mut vars = IndexMap::new();
    /// vars.insert("machine".to_owned(), serde_json::json!("q35"));
    /// assert_eq!(test.requires.render(&vars).unwrap().machines, ["q35"]);
    /// ```
    pub fn render(&self, vars: &dyn Vars) -> Result<Requires, RenderError> {
        let all = |list: &[Template]| -> Result<Vec<String>, RenderError> {
            list.iter().map(|t| t.render(vars)).collect()
        };
        let qemu_version = match &self.qemu_version {
            Some(t) => {
                let text = t.render(vars)?;
                Some(VersionReq::parse(&text).map_err(|e| {
                    RenderError::invalid(t.vars().next().unwrap_or_default(), e.to_string())
                })?)
            }
            None => None,
        };
        Ok(Requires {
            arch: all(&self.arch)?,
            machines: all(&self.machines)?,
            devices: all(&self.devices)?,
            netdevs: all(&self.netdevs)?,
            accel: self.accel.as_ref().map(|t| t.render(vars)).transpose()?,
            commands: all(&self.commands)?,
            qemu_version,
        })
    }
}

/// `[requires]`: what the host and QEMU must offer, or the test is SKIPped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requires {
    /// A QEMU system binary for one of these targets must be available.
    pub arch: Vec<String>,
    /// The binary must know these machine types.
    pub machines: Vec<String>,
    /// The binary must know these device types.
    pub devices: Vec<String>,
    /// The binary must have these network backends.
    pub netdevs: Vec<String>,
    /// This accelerator must be usable (probed).
    pub accel: Option<String>,
    /// Host commands that must be on `PATH`.
    pub commands: Vec<String>,
    /// The QEMU binary's version must satisfy this.
    pub qemu_version: Option<VersionReq>,
}

impl Requires {
    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        *self == Requires::default()
    }
}

/// How `run` steps reach the guest.
pub const CHANNELS: [&str; 3] = ["agent", "ssh", "console"];

/// A `screen` step: the references (the first that matches wins) and how
/// they are compared. Checked at load: each reference is a PNG or PPM image
/// holding the region; the threshold is from 0 to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenCheck {
    /// The reference images, relative paths resolved against the test file's folder.
    pub references: Vec<PathBuf>,
    /// `[x, y, width, height]` of the references compared (default: all).
    pub region: Option<[u32; 4]>,
    /// Rectangles ignored.
    pub exclude: Vec<[u32; 4]>,
    /// How far (pixels) the region may be found from its place.
    pub margin: u32,
    /// The similarity needed (default 0.96).
    pub threshold: f64,
}

/// The video devices a machine may have (`display = "std"`).
pub const DISPLAYS: [&str; 5] = ["std", "virtio", "cirrus", "ramfb", "bochs"];

/// A machine: `[machine]` (named `main`) or `[machines.<name>]`.
///
/// `None` means "not written": the runner applies the contract's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineSpec {
    /// `main` for `[machine]`, else the table's key.
    pub name: String,
    /// Line of the table's header.
    pub line: usize,
    /// Target, selecting `qemu-system-<arch>` (tag `arch:` fills it in for the main machine).
    pub arch: Option<Templ<String>>,
    /// Explicit QEMU binary.
    pub binary: Option<Template>,
    /// `-machine` value, key `type` (tag `machine:` fills it in for the main machine).
    pub machine_type: Option<Template>,
    /// `tcg`, `kvm` or `auto` (tag `accel:` fills it in for the main machine).
    pub accel: Option<Templ<String>>,
    /// `-smp`.
    pub cpus: Option<Templ<u64>>,
    /// `-m`.
    pub memory: Option<Template>,
    /// Direct kernel boot: `-kernel`.
    pub kernel: Option<Template>,
    /// `-initrd`.
    pub initrd: Option<Template>,
    /// `-append` (added to a `guest`'s own command line).
    pub append: Option<Template>,
    /// `-dtb`.
    pub dtb: Option<Template>,
    /// A guest the framework provides, e.g. `busybox`.
    pub guest: Option<Template>,
    /// A disk image, booted through a private overlay.
    pub image: Option<Template>,
    /// `true`, or a table such as `{ user_data = "..." }` (strings may hold templates).
    pub cloud_init: Option<Value>,
    /// `agent`, `ssh` or `console`; see [`CHANNELS`].
    pub channel: Option<String>,
    /// The video device, one of [`DISPLAYS`] (QEMU's display stays `none`).
    pub display: Option<String>,
    /// The firmware, one of [`FIRMWARES`](crate::FIRMWARES) (`None`: QEMU's default).
    pub firmware: Option<String>,
    /// A TPM emulated by swtpm, one of [`TPMS`](crate::TPMS).
    pub tpm: Option<String>,
    /// Capture the first serial console.
    pub console: Option<bool>,
    /// Strings failing the test when seen on the console (replaces the default).
    pub console_fail: Option<Vec<Template>>,
    /// Extra QEMU arguments, as-is.
    pub args: Vec<Template>,
    /// `-incoming <value>`.
    pub incoming: Option<Template>,
    /// Launch before the first step (default `true`).
    pub launch: bool,
    /// May start from a saved, booted state of the same configuration (default
    /// `true`; `warm = false` boots it every time). The runner also boots
    /// machines whose test reads the boot.
    pub warm: bool,
    /// An absolute pointing device (a USB tablet) for `mouse` steps
    /// (`tablet = true`; default `false`).
    pub tablet: bool,
    /// QEMU must exit by itself like this; no step may target the machine.
    pub expect_exit: Option<ExitExpect>,
    /// `networks = ["lan"]`: the test's networks it joins, a NIC on each.
    pub networks: Vec<String>,
    /// `nic_model`: the device of those NICs (`None`: `virtio-net-pci`).
    pub nic_model: Option<String>,
}

/// The console patterns failing a test by default.
pub const DEFAULT_CONSOLE_FAIL: [&str; 1] = ["Kernel panic - not syncing"];

impl MachineSpec {
    /// Whether the console is captured: as written, else `true` when a kernel
    /// or guest is set.
    pub fn console_enabled(&self) -> bool {
        self.console
            .unwrap_or(self.kernel.is_some() || self.guest.is_some())
    }

    /// The command channel: as written, else `agent` with `guest`, `ssh` with
    /// `cloud_init`, else `console`.
    pub fn channel_or_default(&self) -> &str {
        match &self.channel {
            Some(channel) => channel,
            None if self.guest.is_some() => "agent",
            None if self
                .cloud_init
                .as_ref()
                .is_some_and(|c| *c != Value::Bool(false)) =>
            {
                "ssh"
            }
            None => "console",
        }
    }
}

/// What a QEMU exiting by itself must look like (`expect_exit`, `exit` step).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExitExpect {
    /// Exit code, 0 to 255 (a value outside is a load error, or a render
    /// error when it comes from a variable).
    pub code: Option<Templ<u8>>,
    /// Check on stdout (`stdout` / `stdout_regex`).
    pub stdout: Option<TextCheck>,
    /// Check on stderr (`stderr` / `stderr_regex`).
    pub stderr: Option<TextCheck>,
    /// Check passing when either stream matches (`output` / `output_regex`).
    pub output: Option<TextCheck>,
    /// `expect_exit` only: time allowed from launch (runner default 30 s).
    pub timeout: Option<Duration>,
}

/// A text check: plain substring or regex (keys `x` vs `x_regex`).
///
/// A regex without `${...}` was compiled at load time; one with references is
/// compiled when rendered. Build regexes with [`crate::compile_regex`] (multi-line mode).
#[derive(Debug, Clone, PartialEq)]
pub enum TextCheck {
    /// The text must appear.
    Contains(Template),
    /// The regex must match.
    Regex(Template),
}

impl TextCheck {
    /// The pattern or text template.
    pub fn template(&self) -> &Template {
        match self {
            TextCheck::Contains(t) | TextCheck::Regex(t) => t,
        }
    }
}

/// One `[[step]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Line of the `[[step]]` header.
    pub line: usize,
    /// The machine it targets (resolved: `on`, else the only machine or `main`).
    pub on: String,
    /// Own timeout (default: what is left of the test's time).
    pub timeout: Option<Duration>,
    /// Repeat until it passes or its timeout runs out.
    pub poll: bool,
    /// `save = { name = "/json/pointer" }`, in file order.
    pub save: Vec<(String, String)>,
    /// What the step does.
    pub kind: StepKind,
}

/// What a step does and when it passes.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `qmp = "<command>"`, `args`, and `returns` / `returns_exact` / `error`.
    Qmp {
        /// The command.
        command: Template,
        /// Arguments; strings may hold templates (see [`crate::render_value`]).
        args: Option<Value>,
        /// The expected outcome.
        expect: QmpExpect,
    },
    /// `hmp = "..."` through `human-monitor-command`.
    Hmp {
        /// The command line.
        command: Template,
        /// Text the output must contain.
        contains: Option<Template>,
        /// Text the output must not contain.
        lacks: Option<Template>,
        /// Regex the output must match.
        regex: Option<Template>,
    },
    /// `event = "<NAME>"`, optional `match`.
    Event {
        /// Event name.
        name: Template,
        /// Recursive subset of the whole event object.
        matches: Option<Value>,
    },
    /// `console` / `console_regex`.
    Console(TextCheck),
    /// `send = "text"` (no newline added).
    Send(Template),
    /// `exec = "cmd"` (sent with `\r`), optional `expect`.
    Exec {
        /// Command line.
        command: Template,
        /// Text expected after the echo of the command.
        expect: Option<Template>,
    },
    /// `run = "command"` in the guest.
    Run {
        /// The command.
        command: Template,
        /// Expected exit code, 0 to 255 (runner default 0).
        exit_code: Option<Templ<u8>>,
        /// Exact stdout, after trimming.
        stdout: Option<Template>,
        /// Text stdout must contain.
        stdout_contains: Option<Template>,
        /// Regex stdout must match.
        stdout_regex: Option<Template>,
        /// Text stderr must contain.
        stderr_contains: Option<Template>,
    },
    /// `output = { contains, lacks, contains_regex, lacks_regex }` on QEMU's stdout+stderr.
    Output {
        /// Must appear.
        contains: Option<TextCheck>,
        /// Must not appear.
        lacks: Option<TextCheck>,
    },
    /// `running = true|false`.
    Running(bool),
    /// `launch = true`.
    Launch,
    /// `exit = { ... }`: QEMU exits by itself.
    Exit(ExitExpect),
    /// `shutdown = { code = N }`: QMP `quit`, then this exit code.
    Shutdown {
        /// Expected exit code, 0 to 255.
        code: Option<Templ<u8>>,
    },
    /// `kill = true`: SIGKILL.
    Kill,
    /// `screendump = "<name>"`: save the screen as `<name>.png` in the test's folder.
    Screendump(String),
    /// `screen = "ref.png"` (or a list): wait until the screen matches a reference.
    Screen(ScreenCheck),
    /// `keys = ["ctrl-alt-f2", "ret"]`: each combination pressed, in order.
    Keys(Vec<KeyCombo>),
    /// `type = "root\n"`: the text typed on a US keyboard (checked with
    /// [`crate::keys::text_keys`] at load when it holds no `${...}`).
    Type(Template),
    /// `mouse = { move = [x, y], click = "left" }`.
    Mouse(MouseAction),
    /// `screen_text = "Welcome"`, optional `region`: the text OCR reads on
    /// the settled screen.
    ScreenText {
        /// The text that must be read.
        text: Template,
        /// `[x, y, width, height]` read (default: the whole screen).
        region: Option<[u32; 4]>,
    },
    /// `migrate = { from, to, ... }`: one machine's state moved into another.
    Migrate(crate::migrate::MigrateSpec),
    /// `link = { machine = "b", network = "lan", up = false }`.
    Link(LinkStep),
}

/// Outcome a QMP step expects.
#[derive(Debug, Clone, PartialEq)]
pub enum QmpExpect {
    /// The command succeeds (any return value).
    Success,
    /// `returns`: recursive subset match.
    Returns(Value),
    /// `returns_exact`: equality.
    ReturnsExact(Value),
    /// `error = { class, desc | desc_contains | desc_regex }`.
    Error {
        /// Error class, e.g. `GenericError`.
        class: Option<Template>,
        /// Check on the description.
        desc: Option<DescCheck>,
    },
}

/// Check on a QMP error description.
#[derive(Debug, Clone, PartialEq)]
pub enum DescCheck {
    /// `desc`: equality.
    Exact(Template),
    /// `desc_contains`.
    Contains(Template),
    /// `desc_regex`.
    Regex(Template),
}

impl StepKind {
    /// The key naming the kind: `qmp`, `console_regex`, `kill`, ...
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Qmp { .. } => "qmp",
            StepKind::Hmp { .. } => "hmp",
            StepKind::Event { .. } => "event",
            StepKind::Console(TextCheck::Contains(_)) => "console",
            StepKind::Console(TextCheck::Regex(_)) => "console_regex",
            StepKind::Send(_) => "send",
            StepKind::Exec { .. } => "exec",
            StepKind::Run { .. } => "run",
            StepKind::Output { .. } => "output",
            StepKind::Running(_) => "running",
            StepKind::Launch => "launch",
            StepKind::Exit(_) => "exit",
            StepKind::Shutdown { .. } => "shutdown",
            StepKind::Kill => "kill",
            StepKind::Screendump(_) => "screendump",
            StepKind::Screen(_) => "screen",
            StepKind::Keys(_) => "keys",
            StepKind::Type(_) => "type",
            StepKind::Mouse(_) => "mouse",
            StepKind::ScreenText { .. } => "screen_text",
            StepKind::Migrate(_) => "migrate",
            StepKind::Link(_) => "link",
        }
    }
}

impl Step {
    /// The key naming the step's kind: `qmp`, `console_regex`, `kill`, ...
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// A short description for messages, e.g. `qmp set-numa-node` or
    /// `console "login:"`.
    pub fn describe(&self) -> String {
        let quoted = |t: &Template| format!("{:?}", shorten(t.source()));
        let name = self.kind_name();
        match &self.kind {
            StepKind::Qmp { command, .. }
            | StepKind::Hmp { command, .. }
            | StepKind::Exec { command, .. }
            | StepKind::Run { command, .. } => format!("{name} {}", shorten(command.source())),
            StepKind::Event { name: event, .. } => format!("{name} {}", event.source()),
            StepKind::Console(check) => format!("{name} {}", quoted(check.template())),
            StepKind::Send(text) | StepKind::Type(text) | StepKind::ScreenText { text, .. } => {
                format!("{name} {}", quoted(text))
            }
            StepKind::Keys(combos) => {
                let combos: Vec<String> = combos.iter().map(ToString::to_string).collect();
                format!("{name} {}", shorten(&combos.join(" ")))
            }
            StepKind::Mouse(action) => format!("{name} {action}"),
            StepKind::Migrate(m) => format!("{name} {} to {}", m.from, m.to),
            StepKind::Running(running) => format!("{name} = {running}"),
            StepKind::Link(link) => format!("{name} {link}"),
            StepKind::Screendump(file) => format!("{name} {file:?}"),
            StepKind::Screen(check) => {
                let files: Vec<String> = check
                    .references
                    .iter()
                    .filter_map(|r| r.file_name())
                    .map(|f| f.to_string_lossy().into_owned())
                    .collect();
                format!("{name} {:?}", files.join(", "))
            }
            StepKind::Output { .. }
            | StepKind::Launch
            | StepKind::Exit(_)
            | StepKind::Shutdown { .. }
            | StepKind::Kill => name.to_owned(),
        }
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX - 3).collect();
        out.push_str("...");
        out
    }
}
