//! Loading: TOML text to a validated [`TestFile`].

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::check::{check_refs, BUILTINS};
use crate::convert::{to_json, Ty, EXIT_CODE};
use crate::error::{error_at_line, Source, SpecError};
use crate::firmware::{FIRMWARES, TPMS};
use crate::model::{
    AssetHash, AssetSource, AssetSpec, ExitExpect, MachineSpec, RequiresSpec, TestFile, TextCheck,
    CHANNELS, DISPLAYS,
};
use crate::raw::{RawAsset, RawCloudInit, RawExit, RawFile, RawMachine, S};
use crate::tags::apply_tag_defaults;
use crate::template::{check_value, is_var_name, Template, Vars};
use crate::version::VersionReq;
use crate::Value;

/// The name `[machine]` gives its machine, and the default target of steps
/// when there are several machines.
pub const MAIN_MACHINE: &str = "main";

/// The test timeout when the file sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The most cases one test file's `[variants]` may multiply into: each is a
/// test of the job, and the product of a few long lists is astronomical.
pub const MAX_CASES: usize = 1000;

/// Load a test file. `Ok(None)` when the file is not a test (it has none of
/// `[[step]]`, `[machine]`, `[machines.*]`), e.g. a `kennel.toml` met while
/// discovering a directory.
///
/// Variable references are checked as far as possible without the `-p`
/// parameters: call [`TestFile::check_vars`] with them.
pub fn load_file(path: &Path) -> Result<Option<TestFile>, SpecError> {
    let source = fs::read_to_string(path).map_err(|source| SpecError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_str(path, &source)
}

/// Load a file named explicitly: one that is not a test is an error.
pub fn load_test(path: &Path) -> Result<TestFile, SpecError> {
    load_file(path)?.ok_or_else(|| not_a_test(path))
}

fn not_a_test(path: &Path) -> SpecError {
    error_at_line(
        path,
        1,
        1,
        "not a test: no `[[step]]`, `[machine]` or `[machines.<name>]` table",
    )
}

/// Load a test from its text; `path` names it in errors and gives its
/// default name and directory. `Ok(None)` when the text is not a test.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// let text = "[machine]\ntype = \"none\"\n\n[[step]]\nrunning = true\n";
/// let test = kennel_spec::load_str(Path::new("tests/smoke.toml"), text).unwrap().unwrap();
/// assert_eq!(test.name, "smoke");
/// assert_eq!(test.steps[0].describe(), "running = true");
/// assert!(kennel_spec::load_str(Path::new("kennel.toml"), "jobs = 4\n").unwrap().is_none());
/// ```
pub fn load_str(path: &Path, source: &str) -> Result<Option<TestFile>, SpecError> {
    let src = Source { path, text: source };
    let doc = toml::de::DeTable::parse(source).map_err(|e| toml_error(src, &e))?;
    let is_test = doc
        .get_ref()
        .iter()
        .any(|(key, _)| matches!(key.get_ref().as_ref(), "step" | "machine" | "machines"));
    if !is_test {
        return Ok(None);
    }
    for (key, value) in doc.get_ref() {
        let key = key.get_ref().as_ref();
        let at = value.span().start;
        if key == "step" && !value.get_ref().is_array() {
            return Err(src.error_at(
                at,
                "`step` must be an array of tables: write `[[step]]`, not `[step]`",
            ));
        }
        if key == "machines" && value.get_ref().as_table().is_some_and(|t| t.is_empty()) {
            return Err(src.error_at(
                at,
                "`[machines]` holds no machine: expected `[machines.<name>]` tables",
            ));
        }
    }
    let mut test = load_with(src, None)?;
    check_refs(&test, None, Some(src.text)).map_err(|e| src.with_snippet(e))?;
    if !test.typed.is_empty() {
        test.source = Some(Arc::from(source));
    }
    Ok(Some(test))
}

/// Load a test from its text, rendering typed values written with `${...}`
/// with `vars` (a case's variants and `-p` parameters) when given.
fn load_with(src: Source<'_>, vars: Option<&dyn Vars>) -> Result<TestFile> {
    let raw: RawFile = toml::from_str(src.text).map_err(|e| toml_error(src, &e))?;
    let loader = Loader {
        src,
        vars,
        typed_templates: RefCell::new(Vec::new()),
    };
    let mut test = loader.file(raw)?;
    test.typed = loader.typed_templates.into_inner();
    Ok(test)
}

impl TestFile {
    /// The file with every typed value written with `${...}` (a `timeout`,
    /// `cpus`, `poll`, ...) rendered with `params` and checked like a literal:
    /// what one case runs. The file itself when it has none.
    pub(crate) fn resolve(self: &Arc<Self>, params: &dyn Vars) -> Result<Arc<TestFile>> {
        let Some(text) = &self.source else {
            return Ok(Arc::clone(self));
        };
        let src = Source {
            path: &self.path,
            text,
        };
        let mut test = load_with(src, Some(params))?;
        test.typed.clone_from(&self.typed);
        test.source = None;
        Ok(Arc::new(test))
    }
}

/// A TOML error at the mistake: a string or array left open is reported
/// where it opens, not where the parser gave up lines later.
fn toml_error(src: Source<'_>, error: &toml::de::Error) -> SpecError {
    let offset = error.span().map_or(0, |span| span.start);
    match crate::syntax::likely_mistake(src.text, offset) {
        Some((at, message)) => src.error_at(at, message),
        None => src.error_at(offset, error.message().trim_end()),
    }
}

pub(crate) struct Loader<'a> {
    pub(crate) src: Source<'a>,
    /// A case's variants and `-p` parameters, when loading for a case.
    pub(crate) vars: Option<&'a dyn Vars>,
    /// Typed values written with `${...}`, as met (see [`Loader::typed`]).
    pub(crate) typed_templates: RefCell<Vec<Template>>,
}

pub(crate) type Result<T, E = SpecError> = std::result::Result<T, E>;

impl Loader<'_> {
    pub(crate) fn err<T>(&self, offset: usize, message: impl Into<String>) -> Result<T> {
        Err(self.src.error_at(offset, message))
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.src.line_col(offset).0
    }

    fn file(&self, raw: RawFile) -> Result<TestFile> {
        let path = self.src.path.to_path_buf();
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Absolute, so that `${dir}` means the same from any working directory.
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        let name = match raw.name {
            Some(name) => name,
            None => path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let timeout = self
            .opt_duration(raw.timeout.as_ref(), "timeout")?
            .unwrap_or(DEFAULT_TIMEOUT);
        let requires = self.requires(raw.requires.unwrap_or_default())?;
        let variants = self.variants(raw.variants)?;
        let assets = self.assets(raw.assets)?;
        let tags = match &raw.tags {
            Some(tags) => self.texts_or_var(tags, "tags")?,
            None => Vec::new(),
        };
        let covers = self.covers(raw.covers.as_ref())?;
        let description = raw
            .description
            .as_ref()
            .map(|d| self.text_per_case(d, "description"))
            .transpose()?;
        let networks = self.networks(&raw.network, raw.machine.as_ref(), &raw.machines)?;
        let mut machines = self.machines(raw.machine, raw.machines)?;
        apply_tag_defaults(&tags, &mut machines);
        let steps = self.steps(raw.step, &machines)?;
        Ok(TestFile {
            path,
            dir,
            name,
            description,
            tags,
            covers,
            timeout,
            retries: match &raw.retries {
                Some(retries) => self.count(retries, "retries")?.unwrap_or(0),
                None => 0,
            },
            exclusive: self.opt_boolean(raw.exclusive.as_ref(), "exclusive", false)?,
            requires,
            machines,
            steps,
            variants,
            assets,
            networks,
            typed: Vec::new(),
            source: None,
        })
    }

    fn requires(&self, raw: crate::raw::RawRequires) -> Result<RequiresSpec> {
        let qemu_version = match &raw.qemu_version {
            Some(req) => {
                let template = self.tmpl(req)?;
                if let Some(text) = template.literal() {
                    VersionReq::parse(text)
                        .or_else(|e| self.err(req.span().start, e.to_string()))?;
                }
                Some(template)
            }
            None => None,
        };
        Ok(RequiresSpec {
            arch: self.tmpl_list(&raw.arch)?,
            machines: self.tmpl_list(&raw.machines)?,
            devices: self.tmpl_list(&raw.devices)?,
            netdevs: self.tmpl_list(&raw.netdevs)?,
            accel: self.opt_tmpl(raw.accel.as_ref())?,
            commands: self.tmpl_list(&raw.commands)?,
            qemu_version,
        })
    }

    fn variants(
        &self,
        raw: IndexMap<String, S<Vec<toml::Value>>>,
    ) -> Result<IndexMap<String, Vec<Value>>> {
        let mut variants = IndexMap::new();
        let mut cases: usize = 1;
        for (name, values) in raw {
            let at = values.span().start;
            if !is_var_name(&name) || name.starts_with("asset:") {
                return self.err(
                    at,
                    format!("bad variant name `{name}` (expected letters, digits, `_`, `-`, `.`)"),
                );
            }
            if BUILTINS.contains(&name.as_str()) {
                return self.err(
                    at,
                    format!("variant `{name}` would hide the built-in `${{{name}}}`"),
                );
            }
            if values.get_ref().is_empty() {
                return self.err(at, format!("variant `{name}` has no values"));
            }
            cases = cases.saturating_mul(values.get_ref().len());
            if cases > MAX_CASES {
                return self.err(
                    at,
                    format!(
                        "with variant `{name}` the variants make {} cases, more than the {MAX_CASES} one test file may have",
                        if cases == usize::MAX { "countless".to_string() } else { cases.to_string() }
                    ),
                );
            }
            let values: Vec<Value> = values.get_ref().iter().map(to_json).collect();
            for value in &values {
                check_value(value).or_else(|e| self.err(at, e.to_string()))?;
            }
            variants.insert(name, values);
        }
        Ok(variants)
    }

    fn assets(&self, raw: IndexMap<String, S<RawAsset>>) -> Result<IndexMap<String, AssetSpec>> {
        let mut assets = IndexMap::new();
        for (name, asset) in raw {
            let at = asset.span().start;
            let line = self.line(at);
            let asset = asset.into_inner();
            let uncompress = self.opt_boolean(asset.uncompress.as_ref(), "uncompress", false)?;
            if !is_var_name(&name) || name.contains(':') {
                return self.err(
                    at,
                    format!("bad asset name `{name}` (expected letters, digits, `_`, `-`, `.`)"),
                );
            }
            if let Some(cloud) = &asset.cloud {
                if let Some(other) = asset.url.as_ref().or(asset.path.as_ref()) {
                    return self.err(
                        other.span().start,
                        format!("asset `{name}` has `cloud` and `url`/`path`: expected one"),
                    );
                }
                if uncompress || asset.extract.is_some() {
                    return self.err(
                        cloud.span().start,
                        format!("asset `{name}`: `cloud` images take no `uncompress` or `extract`"),
                    );
                }
            }
            let source = match (&asset.url, &asset.path, &asset.cloud) {
                (None, None, Some(cloud)) => AssetSource::Cloud(self.tmpl(cloud)?),
                (Some(url), None, _) => {
                    let text = url.get_ref();
                    let template = self.tmpl(url)?;
                    if !["http://", "https://", "file://", "${"]
                        .iter()
                        .any(|scheme| template.source().starts_with(scheme))
                    {
                        return self.err(
                            url.span().start,
                            format!(
                                "asset URL {text:?} must start with http://, https:// or file://"
                            ),
                        );
                    }
                    AssetSource::Url(text.clone())
                }
                (None, Some(path), _) => AssetSource::Path(self.tmpl(path)?),
                (Some(_), Some(path), _) => {
                    return self.err(
                        path.span().start,
                        format!("asset `{name}` has both `url` and `path`: expected one"),
                    )
                }
                (None, None, None) => {
                    return self.err(at, format!("asset `{name}` needs `url`, `path` or `cloud`"))
                }
            };
            let hash = match (&asset.sha256, &asset.sha512) {
                (Some(_), Some(sha512)) => {
                    return self.err(
                        sha512.span().start,
                        format!("asset `{name}` has both `sha256` and `sha512`: expected one"),
                    )
                }
                (Some(sha256), None) => self.hex(sha256, 64, "sha256")?.map(AssetHash::Sha256),
                (None, Some(sha512)) => self.hex(sha512, 128, "sha512")?.map(AssetHash::Sha512),
                (None, None) => None,
            };
            assets.insert(
                name.clone(),
                AssetSpec {
                    name,
                    line,
                    source,
                    hash,
                    uncompress,
                    extract: match &asset.extract {
                        Some(member) => Some(self.tmpl(member)?.source().to_owned()),
                        None => None,
                    },
                },
            );
        }
        Ok(assets)
    }

    /// A hash of `digits` hexadecimal digits; `None` while loading the file
    /// as written when it holds `${...}`.
    fn hex(&self, value: &S<String>, digits: usize, key: &str) -> Result<Option<String>> {
        let Some(text) = self.checked_text(value, key)? else {
            return Ok(None);
        };
        if text.len() != digits || !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return self.err(
                value.span().start,
                format!("`{key}` must be {digits} hexadecimal digits"),
            );
        }
        Ok(Some(text.to_ascii_lowercase()))
    }

    fn machines(
        &self,
        machine: Option<S<RawMachine>>,
        machines: IndexMap<String, S<RawMachine>>,
    ) -> Result<Vec<MachineSpec>> {
        if let (Some(main), Some((name, other))) = (&machine, machines.first()) {
            let at = main.span().start.max(other.span().start);
            return self.err(
                at,
                format!("`[machine]` and `[machines.{name}]` cannot be combined: use `[machines.main]` and `[machines.{name}]`"),
            );
        }
        let mut out = Vec::new();
        if let Some(main) = machine {
            out.push(self.machine(MAIN_MACHINE.to_owned(), main)?);
        }
        for (name, raw) in machines {
            if !is_var_name(&name) || name.contains(':') {
                return self.err(
                    raw.span().start,
                    format!("bad machine name `{name}` (expected letters, digits, `_`, `-`, `.`)"),
                );
            }
            out.push(self.machine(name, raw)?);
        }
        Ok(out)
    }

    fn machine(&self, name: String, raw: S<RawMachine>) -> Result<MachineSpec> {
        let at = raw.span().start;
        let line = self.line(at);
        let raw = raw.into_inner();
        let channel = match self.choice(raw.channel.as_ref(), "channel", &CHANNELS)? {
            Some((channel, at))
                if channel == "ssh"
                    && raw
                        .cloud_init
                        .as_ref()
                        .is_none_or(|c| *c.get_ref() == toml::Value::Boolean(false)) =>
            {
                return self.err(
                    at,
                    "`channel = \"ssh\"` needs `cloud_init` (it makes the guest's user and key)",
                )
            }
            channel => channel.map(|(channel, _)| channel),
        };
        let launch = self.opt_boolean(raw.launch.as_ref(), "launch", true)?;
        let expect_exit = match &raw.expect_exit {
            Some(exit) => Some(self.exit(exit, true)?),
            None => None,
        };
        if expect_exit.is_some() && !launch {
            return self.err(
                at,
                format!("machine `{name}` has `expect_exit` and `launch = false`, but no step may launch it"),
            );
        }
        Ok(MachineSpec {
            line,
            arch: self.opt_templ(raw.arch.as_ref(), Ty::Text, "arch", "a string")?,
            binary: self.opt_tmpl(raw.binary.as_ref())?,
            machine_type: self.opt_tmpl(raw.r#type.as_ref())?,
            accel: self.opt_templ(raw.accel.as_ref(), Ty::Text, "accel", "a string")?,
            cpus: match &raw.cpus {
                Some(cpus) => self.positive(cpus, "cpus")?,
                None => None,
            },
            memory: self.opt_tmpl(raw.memory.as_ref())?,
            kernel: self.opt_tmpl(raw.kernel.as_ref())?,
            initrd: self.opt_tmpl(raw.initrd.as_ref())?,
            append: self.opt_tmpl(raw.append.as_ref())?,
            dtb: self.opt_tmpl(raw.dtb.as_ref())?,
            guest: self.opt_tmpl(raw.guest.as_ref())?,
            image: self.opt_tmpl(raw.image.as_ref())?,
            cloud_init: match &raw.cloud_init {
                Some(value) => Some(self.cloud_init(value)?),
                None => None,
            },
            channel,
            // As written while it holds `${...}`: each case checks its own value.
            display: match self.choice(raw.display.as_ref(), "display", &DISPLAYS)? {
                Some((display, _)) => Some(display),
                None => raw.display.as_ref().map(|d| d.get_ref().clone()),
            },
            firmware: match self.choice(raw.firmware.as_ref(), "firmware", &FIRMWARES)? {
                Some((firmware, _)) => Some(firmware),
                None => raw.firmware.as_ref().map(|d| d.get_ref().clone()),
            },
            tpm: match self.choice(raw.tpm.as_ref(), "tpm", &TPMS)? {
                Some((tpm, _)) => Some(tpm),
                None => raw.tpm.as_ref().map(|d| d.get_ref().clone()),
            },
            console: match &raw.console {
                Some(console) => self.boolean(console, "console")?,
                None => None,
            },
            console_fail: match &raw.console_fail {
                Some(items) => Some(self.tmpl_list_or_var(items, "console_fail")?),
                None => None,
            },
            args: match &raw.args {
                Some(items) => self.tmpl_list_or_var(items, "args")?,
                None => Vec::new(),
            },
            incoming: self.opt_tmpl(raw.incoming.as_ref())?,
            launch,
            warm: self.opt_boolean(raw.warm.as_ref(), "warm", true)?,
            tablet: self.opt_boolean(raw.tablet.as_ref(), "tablet", false)?,
            expect_exit,
            networks: raw
                .networks
                .as_ref()
                .map(|list| list.get_ref().iter().map(|n| n.get_ref().clone()).collect())
                .unwrap_or_default(),
            nic_model: self.nic_model(raw.nic_model.as_ref())?,
            name,
        })
    }

    fn cloud_init(&self, value: &S<toml::Value>) -> Result<Value> {
        let at = value.span().start;
        match value.get_ref() {
            toml::Value::Boolean(_) => {}
            toml::Value::Table(_) => {
                RawCloudInit::deserialize(value.get_ref().clone())
                    .or_else(|e| self.err(at, format!("in `cloud_init`: {}", e.message())))?;
            }
            other => {
                return self.err(
                    at,
                    format!(
                        "`cloud_init` must be `true` or a table like {{ user_data = \"#cloud-config ...\" }}, found {}",
                        other.type_str()
                    ),
                )
            }
        }
        self.value(value)
    }

    pub(crate) fn exit(&self, raw: &S<RawExit>, in_machine: bool) -> Result<ExitExpect> {
        let exit = raw.get_ref();
        let timeout = match &exit.timeout {
            Some(_) if !in_machine => {
                return self.err(
                    raw.span().start,
                    "`timeout` goes on the step, not inside `exit`",
                )
            }
            Some(timeout) => self.duration(timeout, "timeout")?,
            None => None,
        };
        Ok(ExitExpect {
            code: self.opt_templ(exit.code.as_ref(), Ty::Integer, "code", EXIT_CODE)?,
            stdout: self.text_check(
                ("stdout", &exit.stdout),
                ("stdout_regex", &exit.stdout_regex),
            )?,
            stderr: self.text_check(
                ("stderr", &exit.stderr),
                ("stderr_regex", &exit.stderr_regex),
            )?,
            output: self.text_check(
                ("output", &exit.output),
                ("output_regex", &exit.output_regex),
            )?,
            timeout,
        })
    }

    /// A text check from a `key` / `key_regex` pair, at most one of them set.
    pub(crate) fn text_check(
        &self,
        (plain_key, plain): (&str, &Option<S<String>>),
        (regex_key, regex): (&str, &Option<S<String>>),
    ) -> Result<Option<TextCheck>> {
        match (plain, regex) {
            (Some(_), Some(regex)) => self.err(
                regex.span().start,
                format!("`{plain_key}` and `{regex_key}` cannot be combined: expected one"),
            ),
            (Some(plain), None) => Ok(Some(TextCheck::Contains(self.tmpl(plain)?))),
            (None, Some(regex)) => Ok(Some(TextCheck::Regex(self.regex(regex)?))),
            (None, None) => Ok(None),
        }
    }
}
