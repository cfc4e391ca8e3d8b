//! The file as written: serde structures mirroring the TOML, with spans.
//!
//! `deny_unknown_fields` everywhere: an unknown key is an error naming it and
//! the keys expected there. `load` turns these into the model.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_spanned::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a test file")]
pub(crate) struct RawFile {
    pub name: Option<String>,
    pub description: Option<S<String>>,
    pub tags: Option<S<StringsOrVar>>,
    pub covers: Option<S<Vec<S<String>>>>,
    pub timeout: Option<S<toml::Value>>,
    pub retries: Option<S<toml::Value>>,
    pub exclusive: Option<S<toml::Value>>,
    pub requires: Option<RawRequires>,
    pub machine: Option<S<RawMachine>>,
    #[serde(default)]
    pub machines: IndexMap<String, S<RawMachine>>,
    #[serde(default)]
    pub variants: IndexMap<String, S<Vec<toml::Value>>>,
    #[serde(default)]
    pub assets: IndexMap<String, S<RawAsset>>,
    #[serde(default)]
    pub step: Vec<S<RawStep>>,
    #[serde(default)]
    pub network: Vec<S<RawNetwork>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a network table like { name = \"lan\", capture = true }"
)]
pub(crate) struct RawNetwork {
    pub name: Option<S<String>>,
    pub capture: Option<S<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { machine = \"b\", network = \"lan\", up = false }"
)]
pub(crate) struct RawLink {
    pub machine: Option<S<String>>,
    pub network: Option<S<String>>,
    pub up: Option<S<toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { arch = [\"x86_64\"], qemu_version = \">=7.2\" }"
)]
pub(crate) struct RawRequires {
    #[serde(default)]
    pub arch: Vec<S<String>>,
    #[serde(default)]
    pub machines: Vec<S<String>>,
    #[serde(default)]
    pub devices: Vec<S<String>>,
    #[serde(default)]
    pub netdevs: Vec<S<String>>,
    pub accel: Option<S<String>>,
    #[serde(default)]
    pub commands: Vec<S<String>>,
    pub qemu_version: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a machine table like { type = \"q35\", cpus = 2 }"
)]
pub(crate) struct RawMachine {
    pub arch: Option<S<toml::Value>>,
    pub binary: Option<S<String>>,
    pub r#type: Option<S<String>>,
    pub accel: Option<S<toml::Value>>,
    pub cpus: Option<S<toml::Value>>,
    pub memory: Option<S<String>>,
    pub kernel: Option<S<String>>,
    pub initrd: Option<S<String>>,
    pub append: Option<S<String>>,
    pub dtb: Option<S<String>>,
    pub guest: Option<S<String>>,
    pub image: Option<S<String>>,
    pub cloud_init: Option<S<toml::Value>>,
    pub channel: Option<S<String>>,
    pub display: Option<S<String>>,
    pub firmware: Option<S<String>>,
    pub tpm: Option<S<String>>,
    pub console: Option<S<toml::Value>>,
    pub console_fail: Option<S<StringsOrVar>>,
    pub args: Option<S<StringsOrVar>>,
    pub incoming: Option<S<String>>,
    pub launch: Option<S<toml::Value>>,
    pub warm: Option<S<toml::Value>>,
    pub tablet: Option<S<toml::Value>>,
    pub expect_exit: Option<S<RawExit>>,
    pub networks: Option<S<Vec<S<String>>>>,
    pub nic_model: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { code = 1, stderr = \"...\" }"
)]
pub(crate) struct RawExit {
    pub code: Option<S<toml::Value>>,
    pub stdout: Option<S<String>>,
    pub stdout_regex: Option<S<String>>,
    pub stderr: Option<S<String>>,
    pub stderr_regex: Option<S<String>>,
    pub output: Option<S<String>>,
    pub output_regex: Option<S<String>>,
    pub timeout: Option<S<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { user_data = \"#cloud-config ...\" }"
)]
pub(crate) struct RawCloudInit {
    #[allow(dead_code)] // validated only; the model keeps the value
    pub user_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { url = \"https://...\", sha256 = \"...\" }"
)]
pub(crate) struct RawAsset {
    pub url: Option<S<String>>,
    pub path: Option<S<String>>,
    pub cloud: Option<S<String>>,
    pub sha256: Option<S<String>>,
    pub sha512: Option<S<String>>,
    pub uncompress: Option<S<toml::Value>>,
    pub extract: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { class = \"GenericError\", desc = \"...\" }"
)]
pub(crate) struct RawQmpError {
    pub class: Option<S<String>>,
    pub desc: Option<S<String>>,
    pub desc_contains: Option<S<String>>,
    pub desc_regex: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { contains = \"...\", lacks = \"...\" }"
)]
pub(crate) struct RawOutput {
    pub contains: Option<S<String>>,
    pub contains_regex: Option<S<String>>,
    pub lacks: Option<S<String>>,
    pub lacks_regex: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table like { code = 0 }")]
pub(crate) struct RawShutdown {
    pub code: Option<S<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { move = [100, 200], click = \"left\" }"
)]
pub(crate) struct RawMouse {
    pub r#move: Option<S<Vec<S<toml::Value>>>>,
    pub click: Option<S<String>>,
}

/// `migrate = { from, to, transport, capabilities, parameters, postcopy }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { from = \"a\", to = \"b\" }"
)]
pub(crate) struct RawMigrate {
    pub from: S<String>,
    pub to: S<String>,
    pub transport: Option<S<String>>,
    pub capabilities: Option<S<Vec<S<String>>>>,
    pub parameters: Option<S<toml::Value>>,
    pub postcopy: Option<S<toml::Value>>,
}

/// Every key a step may have; which apply depends on its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a step table")]
pub(crate) struct RawStep {
    // Common keys.
    pub on: Option<S<String>>,
    pub timeout: Option<S<toml::Value>>,
    pub poll: Option<S<toml::Value>>,
    pub save: Option<S<IndexMap<String, String>>>,
    // Kinds.
    pub qmp: Option<S<String>>,
    pub hmp: Option<S<String>>,
    pub event: Option<S<String>>,
    pub console: Option<S<String>>,
    pub console_regex: Option<S<String>>,
    pub send: Option<S<String>>,
    pub exec: Option<S<String>>,
    pub run: Option<S<String>>,
    pub output: Option<S<RawOutput>>,
    pub running: Option<S<toml::Value>>,
    pub launch: Option<S<toml::Value>>,
    pub exit: Option<S<RawExit>>,
    pub shutdown: Option<S<RawShutdown>>,
    pub kill: Option<S<toml::Value>>,
    pub keys: Option<S<Vec<S<String>>>>,
    pub r#type: Option<S<String>>,
    pub mouse: Option<S<RawMouse>>,
    pub screen_text: Option<S<String>>,
    pub migrate: Option<S<RawMigrate>>,
    pub link: Option<S<RawLink>>,
    // qmp
    pub args: Option<S<toml::Value>>,
    pub returns: Option<S<toml::Value>>,
    pub returns_exact: Option<S<toml::Value>>,
    pub error: Option<S<RawQmpError>>,
    // hmp
    pub contains: Option<S<String>>,
    pub lacks: Option<S<String>>,
    pub regex: Option<S<String>>,
    // event
    pub r#match: Option<S<toml::Value>>,
    // exec
    pub expect: Option<S<String>>,
    // run
    pub exit_code: Option<S<toml::Value>>,
    pub stdout: Option<S<String>>,
    pub stdout_contains: Option<S<String>>,
    pub stdout_regex: Option<S<String>>,
    pub stderr_contains: Option<S<String>>,
    // screendump, screen
    pub screendump: Option<S<String>>,
    pub screen: Option<S<toml::Value>>,
    pub region: Option<S<toml::Value>>,
    pub exclude: Option<S<toml::Value>>,
    pub margin: Option<S<toml::Value>>,
    pub threshold: Option<S<toml::Value>>,
}

/// The keys naming a step's kind, in the order messages list them.
pub(crate) const KIND_KEYS: [&str; 22] = [
    "qmp",
    "hmp",
    "event",
    "console",
    "console_regex",
    "send",
    "exec",
    "run",
    "output",
    "running",
    "launch",
    "exit",
    "shutdown",
    "kill",
    "screendump",
    "screen",
    "keys",
    "type",
    "mouse",
    "screen_text",
    "migrate",
    "link",
];

impl RawStep {
    /// The kind-specific keys present (kinds and their options), in a fixed order.
    pub(crate) fn present_keys(&self) -> Vec<&'static str> {
        let keys: [(&'static str, bool); 42] = [
            ("qmp", self.qmp.is_some()),
            ("hmp", self.hmp.is_some()),
            ("event", self.event.is_some()),
            ("console", self.console.is_some()),
            ("console_regex", self.console_regex.is_some()),
            ("send", self.send.is_some()),
            ("exec", self.exec.is_some()),
            ("run", self.run.is_some()),
            ("output", self.output.is_some()),
            ("running", self.running.is_some()),
            ("launch", self.launch.is_some()),
            ("exit", self.exit.is_some()),
            ("shutdown", self.shutdown.is_some()),
            ("kill", self.kill.is_some()),
            ("keys", self.keys.is_some()),
            ("type", self.r#type.is_some()),
            ("mouse", self.mouse.is_some()),
            ("screen_text", self.screen_text.is_some()),
            ("migrate", self.migrate.is_some()),
            ("link", self.link.is_some()),
            ("args", self.args.is_some()),
            ("returns", self.returns.is_some()),
            ("returns_exact", self.returns_exact.is_some()),
            ("error", self.error.is_some()),
            ("contains", self.contains.is_some()),
            ("lacks", self.lacks.is_some()),
            ("regex", self.regex.is_some()),
            ("match", self.r#match.is_some()),
            ("expect", self.expect.is_some()),
            ("exit_code", self.exit_code.is_some()),
            ("stdout", self.stdout.is_some()),
            ("stdout_contains", self.stdout_contains.is_some()),
            ("stdout_regex", self.stdout_regex.is_some()),
            ("stderr_contains", self.stderr_contains.is_some()),
            ("save", self.save.is_some()),
            ("poll", self.poll.is_some()),
            ("screendump", self.screendump.is_some()),
            ("screen", self.screen.is_some()),
            ("region", self.region.is_some()),
            ("exclude", self.exclude.is_some()),
            ("margin", self.margin.is_some()),
            ("threshold", self.threshold.is_some()),
        ];
        keys.iter()
            .filter(|(_, present)| *present)
            .map(|(key, _)| *key)
            .collect()
    }
}

/// The options a step kind takes, besides `on`, `timeout`, `poll`, `save`.
pub(crate) fn kind_options(kind: &str) -> &'static [&'static str] {
    match kind {
        "qmp" => &["args", "returns", "returns_exact", "error"],
        "hmp" => &["contains", "lacks", "regex"],
        "event" => &["match"],
        "exec" => &["expect"],
        "run" => &[
            "exit_code",
            "stdout",
            "stdout_contains",
            "stdout_regex",
            "stderr_contains",
        ],
        "screen" => &["region", "exclude", "margin", "threshold"],
        "screen_text" => &["region"],
        _ => &[],
    }
}

/// Kinds that may take `poll = true`.
pub(crate) const POLL_KINDS: [&str; 5] = ["qmp", "hmp", "run", "output", "running"];

/// Kinds that produce a value, so may take `save`.
pub(crate) const SAVE_KINDS: [&str; 6] = ["qmp", "hmp", "event", "run", "console_regex", "screen"];

/// A list of strings, or one string standing for a whole list (`args =
/// "${extra}"`, a variant whose values are arrays). Read item by item, so each
/// string keeps its own span.
#[derive(Debug)]
pub(crate) enum StringsOrVar {
    /// `["a", "${b}"]`.
    List(Vec<S<String>>),
    /// `"${name}"`.
    One(String),
}

impl<'de> Deserialize<'de> for StringsOrVar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = StringsOrVar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of strings, or a string that is exactly one `${name}`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringsOrVar, E> {
                Ok(StringsOrVar::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StringsOrVar, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<S<String>>()? {
                    items.push(item);
                }
                Ok(StringsOrVar::List(items))
            }
        }
        d.deserialize_any(Visit)
    }
}
