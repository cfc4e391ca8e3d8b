//! What a test process is told, and how.
//!
//! Every test process `kennel run` starts (a TOML case's `kennel __run-test`, a
//! Rust test binary, an executable, a TAP producer, a QEMU tree test) gets the
//! job's settings the same way: as the variables [`TestSettings::env`] writes,
//! which the process reads back through [`Config`](crate::Config) like any
//! other setting. A TOML case's own identity (which file and case, its log
//! folder, its timeout, `-p`, `--qemu`) is on its command line
//! ([`CaseArgs::to_args`]).

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::env;
use crate::Debug;

/// How a test's `[assets]` are resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssetPolicy {
    /// Never download (`--offline`, `KENNEL_NO_DOWNLOAD=1`): a missing asset SKIPs the test.
    pub offline: bool,
    /// With `offline`, a missing asset is an ERROR instead (`--require-assets`,
    /// `KENNEL_REQUIRE_ASSETS=1`).
    pub require: bool,
    /// Accept assets without a hash (`--allow-unverified`, `KENNEL_ALLOW_UNVERIFIED=1`).
    pub allow_unverified: bool,
}

/// The job's settings every test process gets, whatever its kind: what
/// `kennel run`'s flags and its configuration say (the flags winning).
///
/// # Examples
///
/// ```
/// use kennel_config::{AssetPolicy, TestSettings};
///
/// let settings = TestSettings {
///     assets: AssetPolicy { offline: true, ..AssetPolicy::default() },
///     ..TestSettings::default()
/// };
/// assert_eq!(settings.env(), [("KENNEL_NO_DOWNLOAD", "1".to_string())]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestSettings {
    /// How assets may be fetched.
    pub assets: AssetPolicy,
    /// Keep each test's scratch folder.
    pub keep_tmp: bool,
    /// Every machine boots; none starts from a saved state.
    pub cold: bool,
    /// The most bytes saved machine states may take (kennel-vm's default when `None`).
    pub warm_cache_size: Option<u64>,
    /// The cloud image mirror's URL.
    pub image_mirror: Option<String>,
    /// The debugging settings.
    pub debug: Debug,
    /// `--qemu-arch ARCH=PATH`: architectures' QEMU binaries given on purpose.
    pub qemu_arch: Vec<(String, PathBuf)>,
}

impl TestSettings {
    /// The variables that give a test process these settings, read back by
    /// [`Config`](crate::Config) (a setting at its default is left out: the
    /// process's [`Config`](crate::Config) has the same default).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        for (on, name) in [
            (self.assets.offline, env::NO_DOWNLOAD),
            (self.assets.require, env::REQUIRE_ASSETS),
            (self.assets.allow_unverified, env::ALLOW_UNVERIFIED),
            (self.keep_tmp, env::KEEP_TMP),
            (self.cold, env::COLD),
            (!self.debug.artifacts, env::NO_ARTIFACTS),
            (self.debug.gdb, env::GDB),
            (self.debug.gdb_wait, env::GDB_WAIT),
            (self.debug.pause_on_failure, env::PAUSE_ON_FAILURE),
        ] {
            if on {
                vars.push((name, "1".to_owned()));
            }
        }
        for (value, name) in [
            (self.debug.wrapper.clone(), env::WRAPPER),
            (
                self.warm_cache_size.map(|b| b.to_string()),
                env::WARM_CACHE_SIZE,
            ),
            (self.image_mirror.clone(), env::IMAGE_MIRROR),
        ] {
            if let Some(value) = value {
                vars.push((name, value));
            }
        }
        if !self.qemu_arch.is_empty() {
            let lines: Vec<String> = self
                .qemu_arch
                .iter()
                .map(|(arch, path)| format!("{arch}={}", path.display()))
                .collect();
            vars.push((env::QEMU_ARCH, lines.join("\n")));
        }
        vars
    }
}

/// What the test process of a TOML case (`kennel __run-test`) is told on its
/// command line.
#[derive(Debug, Clone)]
pub struct CaseArgs {
    /// The test file.
    pub file: PathBuf,
    /// Which of the file's cases.
    pub case_index: usize,
    /// `-p` overrides (the same the runner expanded the cases with).
    pub overrides: IndexMap<String, Value>,
    /// The attempt's log folder.
    pub logdir: PathBuf,
    /// Effective test timeout.
    pub timeout: Duration,
    /// `--qemu` (a binary, or a build directory for every architecture).
    pub qemu: Option<PathBuf>,
    /// How assets may be fetched: not on the command line; the test process
    /// reads it from its configuration ([`Config::asset_policy`](crate::Config::asset_policy)),
    /// where [`TestSettings::env`] put it.
    pub assets: AssetPolicy,
}

impl CaseArgs {
    /// The arguments after `__run-test`.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--file".into(),
            self.file.to_string_lossy().into_owned(),
            "--case".into(),
            self.case_index.to_string(),
            "--logdir".into(),
            self.logdir.to_string_lossy().into_owned(),
            "--timeout-ms".into(),
            self.timeout.as_millis().to_string(),
            "--params-json".into(),
            Value::Object(self.overrides.clone().into_iter().collect()).to_string(),
        ];
        if let Some(q) = &self.qemu {
            a.push("--qemu".into());
            a.push(q.to_string_lossy().into_owned());
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::vars;
    use crate::Config;

    fn read_back(settings: &TestSettings) -> TestSettings {
        let owned = settings.env();
        let env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let dir = tempfile::tempdir().expect("tempdir");
        Config::load_in(dir.path(), vars(&env))
            .expect("config")
            .test_settings()
    }

    #[test]
    fn every_setting_a_test_process_is_given_is_read_back_by_its_config() {
        let all = TestSettings {
            assets: AssetPolicy {
                offline: true,
                require: true,
                allow_unverified: true,
            },
            keep_tmp: true,
            cold: true,
            warm_cache_size: Some(3 << 30),
            image_mirror: Some("file:///srv/mirror".into()),
            debug: Debug {
                wrapper: Some("strace -f -o ${logdir}/strace.log".into()),
                artifacts: false,
                gdb: true,
                gdb_wait: true,
                pause_on_failure: true,
            },
            qemu_arch: vec![("ppc64".into(), "/opt/q/bin/qemu-system-ppc64".into())],
        };

        assert_eq!(read_back(&all), all);
        assert_eq!(read_back(&TestSettings::default()), TestSettings::default());
        assert!(TestSettings::default().env().is_empty());
    }
}
