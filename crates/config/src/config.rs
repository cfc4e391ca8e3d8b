//! [`Config`]: `kennel.toml` and the environment, read once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::env::{self, flag_from, non_empty};
use crate::project::{find_project_file, ProjectFile};
use crate::{cache_dir_from, AssetPolicy, ConfigError, TestSettings};

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The environment variable of this name.
    Env(&'static str),
    /// `kennel.toml` (this file).
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Env(name) => write!(f, "${name}"),
            Origin::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The cloud image mirror and where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// A URL (`http(s)://` or `file://`) without a trailing `/`; a folder
    /// named in `kennel.toml` is made a `file://` URL of its absolute path.
    pub url: String,
    /// `$KENNEL_IMAGE_MIRROR` or `kennel.toml`.
    pub origin: Origin,
}

/// kennel's configuration: `kennel.toml` (in the working directory or the
/// nearest folder above it) merged with the environment, the environment
/// winning. Both front ends read it the same way: `kennel run` and a Rust
/// test binary under plain `cargo test` (whose working directory is its
/// package's folder) see the same settings. `docs/configuration.md` lists
/// every setting.
///
/// # Examples
///
/// ```
/// use std::ffi::OsString;
/// use kennel_config::Config;
///
/// let env = |name: &str| match name {
///     "KENNEL_KEEP_TMP" => Some(OsString::from("yes")),
///     "HOME" => Some(OsString::from("/home/me")),
///     _ => None,
/// };
/// let dir = tempfile::tempdir()?;
/// let config = Config::load_in(dir.path(), env)?;
/// assert!(config.keep_tmp);
/// assert!(!config.no_download);
/// assert_eq!(config.cache_dir.as_deref(), Some("/home/me/.cache/kennel".as_ref()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The `kennel.toml` read, if one was found (relative to the folder the
    /// search started in: `kennel.toml`, `../../kennel.toml`).
    pub project_file: Option<PathBuf>,
    /// `paths` of `kennel.toml`, relative ones joined to the file's folder;
    /// empty when not given (see [`Config::test_paths`]).
    pub paths: Vec<PathBuf>,
    /// `$KENNEL_IMAGE_MIRROR`, else `image_mirror` of `kennel.toml`.
    pub image_mirror: Option<Mirror>,
    /// kennel's cache directory ([`cache_dir`](crate::cache_dir)'s rule).
    pub cache_dir: Option<PathBuf>,
    /// `$KENNEL_NO_DOWNLOAD`: download nothing (the CLI's `--offline` too).
    pub no_download: bool,
    /// `$KENNEL_REQUIRE_ASSETS`: with downloads off, a missing asset is an
    /// ERROR (the CLI's `--require-assets` too).
    pub require_assets: bool,
    /// `$KENNEL_ALLOW_UNVERIFIED`: accept assets without a hash (the CLI's
    /// `--allow-unverified` too).
    pub allow_unverified: bool,
    /// `$KENNEL_KEEP_TMP`: keep each test's scratch folder.
    pub keep_tmp: bool,
    /// `$KENNEL_GUEST_DIR`: the foreign-architecture guest pieces (`<dir>/<arch>`).
    pub guest_dir: Option<PathBuf>,
    /// `$KENNEL_AGENT`: the agent binary for host-architecture guests.
    pub agent: Option<PathBuf>,
    /// `$QEMU_TEST_QEMU_BINARY`: the QEMU binary.
    pub qemu_binary: Option<PathBuf>,
    /// `$KENNEL_RESULTS_DIR`: where `kennel run` puts its jobs.
    pub results_dir: Option<PathBuf>,
    /// `$KENNEL_TAGS`: the tag filter of a Rust test binary.
    pub tags: Option<String>,
    /// `$KENNEL_COLD`: every machine boots; none starts from a saved state.
    pub cold: bool,
    /// `$KENNEL_WARM_CACHE_SIZE`, else `warm_cache_size` of `kennel.toml`:
    /// the most bytes saved machine states may take in the cache
    /// (kennel-vm's default when `None`).
    pub warm_cache_size: Option<u64>,
    /// `$KENNEL_WARM_STREAM`: warm starts restore a template's memory through
    /// the migration stream rather than mapping its memory file copy-on-write.
    pub warm_stream: bool,
    /// How machines are started and what is kept for debugging (`--wrapper`,
    /// `--gdb`, `--no-artifacts`).
    pub debug: Debug,
    /// `$KENNEL_QEMU_ARCH`: architectures' QEMU binaries given on purpose
    /// (`--qemu-arch ARCH=PATH`).
    pub qemu_arch: Vec<(String, PathBuf)>,
}

/// The debugging settings: the same for `kennel run` (which hands them to its
/// test processes as variables, [`TestSettings::env`](crate::TestSettings::env))
/// and for a Rust test binary under plain `cargo test`. The default is what no
/// variable set means: artifacts on, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debug {
    /// `$KENNEL_WRAPPER`: QEMU runs under this command line (shell words;
    /// `${logdir}` and `${machine}` are replaced when a machine starts).
    pub wrapper: Option<String>,
    /// Collect failure artifacts: on unless `$KENNEL_NO_ARTIFACTS` is set.
    pub artifacts: bool,
    /// `$KENNEL_GDB` (or `$KENNEL_GDB_WAIT`): a gdbstub on a free loopback port.
    pub gdb: bool,
    /// `$KENNEL_GDB_WAIT`: the guest waits for gdb before its first instruction.
    pub gdb_wait: bool,
    /// `$KENNEL_PAUSE_ON_FAILURE`: a failing test keeps its machines up until
    /// it is resumed.
    pub pause_on_failure: bool,
}

impl Default for Debug {
    fn default() -> Debug {
        Debug {
            wrapper: None,
            artifacts: true,
            gdb: false,
            gdb_wait: false,
            pause_on_failure: false,
        }
    }
}

impl Debug {
    /// How much longer test timeouts are: under gdb a person steps through the
    /// guest, so its timeouts are suspended in effect (two minutes become two
    /// weeks); otherwise 1.
    pub fn timeout_factor(&self) -> f64 {
        if self.gdb {
            10_000.0
        } else {
            1.0
        }
    }
}

static CONFIG: OnceLock<Result<Config, ConfigError>> = OnceLock::new();

impl Config {
    /// The process's configuration, read on first use from the working
    /// directory and the environment ([`Config::load`]) and kept. For library
    /// code; a program that changes its environment or working directory
    /// should call [`Config::load`] before and pass the result on.
    pub fn get() -> Result<&'static Config, ConfigError> {
        CONFIG
            .get_or_init(Config::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Read the configuration now, from the working directory and this
    /// process's environment.
    pub fn load() -> Result<Config, ConfigError> {
        Config::load_in(Path::new(""), |name| std::env::var_os(name))
    }

    /// Read the configuration with `kennel.toml` looked for in `dir` and the
    /// folders above it (`dir` empty: the working directory, and paths stay
    /// relative to it), and the variables from `var`.
    pub fn load_in(
        dir: &Path,
        var: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Config, ConfigError> {
        let search = if dir.as_os_str().is_empty() {
            std::env::current_dir().map_err(|e| ConfigError::WorkingDir {
                message: e.to_string(),
            })?
        } else {
            dir.to_path_buf()
        };
        let mut config = Config {
            cache_dir: cache_dir_from(&var),
            no_download: flag_from(env::NO_DOWNLOAD, &var)?,
            require_assets: flag_from(env::REQUIRE_ASSETS, &var)?,
            allow_unverified: flag_from(env::ALLOW_UNVERIFIED, &var)?,
            keep_tmp: flag_from(env::KEEP_TMP, &var)?,
            guest_dir: non_empty(env::GUEST_DIR, &var).map(PathBuf::from),
            agent: non_empty(env::AGENT, &var).map(PathBuf::from),
            qemu_binary: non_empty(env::QEMU_BINARY, &var).map(PathBuf::from),
            results_dir: non_empty(env::RESULTS_DIR, &var).map(PathBuf::from),
            tags: text(env::TAGS, &var)?,
            cold: flag_from(env::COLD, &var)?,
            warm_cache_size: size_from(env::WARM_CACHE_SIZE, &var)?,
            warm_stream: flag_from(env::WARM_STREAM, &var)?,
            qemu_arch: arch_binaries_from(&var)?,
            debug: Debug {
                wrapper: text(env::WRAPPER, &var)?,
                artifacts: !flag_from(env::NO_ARTIFACTS, &var)?,
                gdb: flag_from(env::GDB, &var)? || flag_from(env::GDB_WAIT, &var)?,
                gdb_wait: flag_from(env::GDB_WAIT, &var)?,
                pause_on_failure: flag_from(env::PAUSE_ON_FAILURE, &var)?,
            },
            ..Config::default()
        };
        if let Some(mirror) = text(env::IMAGE_MIRROR, &var)? {
            config.image_mirror = Some(Mirror {
                url: mirror.trim().trim_end_matches('/').to_string(),
                origin: Origin::Env(env::IMAGE_MIRROR),
            });
        }
        if let Some(found) = find_project_file(&search) {
            let file = dir.join(found);
            let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::Read {
                path: file.clone(),
                message: e.to_string(),
            })?;
            let project = ProjectFile::parse(&file, &text)?;
            config.apply(&file, project);
        }
        Ok(config)
    }

    /// Merge `kennel.toml`'s keys in, below what the environment set.
    fn apply(&mut self, file: &Path, project: ProjectFile) {
        let folder = file.parent().unwrap_or(Path::new(""));
        self.paths = project.paths.iter().map(|p| folder.join(p)).collect();
        if self.image_mirror.is_none() {
            self.image_mirror = project
                .image_mirror
                .filter(|m| !m.trim().is_empty())
                .map(|m| Mirror {
                    url: mirror_url(folder, m.trim()),
                    origin: Origin::File(file.to_path_buf()),
                });
        }
        self.warm_cache_size = self.warm_cache_size.or(project.warm_cache_size);
        self.project_file = Some(file.to_path_buf());
    }

    /// Where `kennel run` looks for tests when given no paths: `paths` of
    /// `kennel.toml`, else `tests`.
    pub fn test_paths(&self) -> Vec<PathBuf> {
        if self.paths.is_empty() {
            vec![PathBuf::from("tests")]
        } else {
            self.paths.clone()
        }
    }

    /// The mirror's URL, if one is configured.
    pub fn image_mirror_url(&self) -> Option<&str> {
        self.image_mirror.as_ref().map(|m| m.url.as_str())
    }

    /// How this process may fetch assets: `no_download`, `require_assets`
    /// and `allow_unverified`.
    pub fn asset_policy(&self) -> AssetPolicy {
        AssetPolicy {
            offline: self.no_download,
            require: self.require_assets,
            allow_unverified: self.allow_unverified,
        }
    }

    /// The settings a test process started under this configuration gets
    /// ([`TestSettings::env`] hands them on).
    pub fn test_settings(&self) -> TestSettings {
        TestSettings {
            assets: self.asset_policy(),
            keep_tmp: self.keep_tmp,
            cold: self.cold,
            warm_cache_size: self.warm_cache_size,
            image_mirror: self.image_mirror_url().map(str::to_owned),
            debug: self.debug.clone(),
            qemu_arch: self.qemu_arch.clone(),
        }
    }
}

/// `ARCH=PATH` (`--qemu-arch`, a line of `KENNEL_QEMU_ARCH`): an architecture's
/// QEMU binary given on purpose.
///
/// ```
/// use kennel_config::parse_arch_binary;
/// let (arch, path) = parse_arch_binary("ppc64=/opt/q/bin/qemu-system-ppc64").unwrap();
/// assert_eq!((arch.as_str(), path.to_str()), ("ppc64", Some("/opt/q/bin/qemu-system-ppc64")));
/// assert!(parse_arch_binary("/opt/q/bin/qemu-system-ppc64").is_err());
/// ```
pub fn parse_arch_binary(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((arch, path))
            if !arch.is_empty()
                && !path.is_empty()
                && arch.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((arch.to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!(
            "{text:?} is not ARCH=PATH (an architecture such as ppc64, `=`, its QEMU binary)"
        )),
    }
}

/// `KENNEL_QEMU_ARCH`, one `ARCH=PATH` a line.
fn arch_binaries_from(
    var: &impl Fn(&str) -> Option<OsString>,
) -> Result<Vec<(String, PathBuf)>, ConfigError> {
    let Some(text) = text(env::QEMU_ARCH, var)? else {
        return Ok(Vec::new());
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            parse_arch_binary(l.trim()).map_err(|why| ConfigError::ArchBinary {
                name: env::QEMU_ARCH,
                why,
            })
        })
        .collect()
}

/// A URL as it is; a folder (relative to `folder`) as a `file://` URL.
fn mirror_url(folder: &Path, mirror: &str) -> String {
    let url = if mirror.contains("://") {
        mirror.to_string()
    } else {
        let dir = folder.join(mirror);
        let dir = std::fs::canonicalize(&dir)
            .or_else(|_| std::path::absolute(&dir))
            .unwrap_or(dir);
        format!("file://{}", dir.display())
    };
    url.trim_end_matches('/').to_string()
}

/// A size variable ([`parse_size`](crate::parse_size)), when set and not empty.
fn size_from(
    name: &'static str,
    var: &impl Fn(&str) -> Option<OsString>,
) -> Result<Option<u64>, ConfigError> {
    let Some(text) = text(name, var)? else {
        return Ok(None);
    };
    crate::parse_size(&text)
        .map(Some)
        .ok_or_else(|| ConfigError::Size {
            name,
            value: text.trim().to_owned(),
        })
}

/// A variable that must be text, when set and not empty.
fn text(
    name: &'static str,
    var: &impl Fn(&str) -> Option<OsString>,
) -> Result<Option<String>, ConfigError> {
    match non_empty(name, var) {
        None => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .map_err(|_| ConfigError::NotUnicode {
                name: name.to_string(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::vars;

    fn project(toml: &str) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("kennel.toml"), toml).expect("write");
        let deep = root.path().join("crates/examples-rust");
        std::fs::create_dir_all(&deep).expect("mkdir");
        std::fs::create_dir_all(root.path().join("build/mirror")).expect("mkdir");
        (root, deep)
    }

    /// Issue 11: `cargo test -p kennel-examples` runs in crates/examples-rust
    /// and must see the repository's `image_mirror`.
    #[test]
    fn a_kennel_toml_above_the_working_directory_is_read() {
        let (root, deep) = project("image_mirror = \"build/mirror\"\npaths = [\"tests/kennel\"]\n");

        let config = Config::load_in(&deep, vars(&[])).expect("config");

        let mirror_dir = std::fs::canonicalize(root.path().join("build/mirror")).expect("dir");
        assert_eq!(
            config.image_mirror_url(),
            Some(format!("file://{}", mirror_dir.display()).as_str())
        );
        assert_eq!(config.project_file, Some(deep.join("../../kennel.toml")));
        assert_eq!(config.paths, [deep.join("../../tests/kennel")]);
    }

    #[test]
    fn the_environment_beats_kennel_toml() {
        let (_root, deep) = project("image_mirror = \"build/mirror\"\n");

        let config = Config::load_in(
            &deep,
            vars(&[("KENNEL_IMAGE_MIRROR", "http://127.0.0.1:8000/m/")]),
        )
        .expect("config");

        let mirror = config.image_mirror.expect("a mirror");
        assert_eq!(mirror.url, "http://127.0.0.1:8000/m");
        assert_eq!(mirror.origin, Origin::Env("KENNEL_IMAGE_MIRROR"));
    }

    #[test]
    fn a_mirror_url_in_kennel_toml_is_kept() {
        let (_root, deep) = project("image_mirror = \"https://mirror.example/images/\"\n");
        let config = Config::load_in(&deep, vars(&[])).expect("config");
        assert_eq!(
            config.image_mirror_url(),
            Some("https://mirror.example/images")
        );
    }

    #[test]
    fn without_kennel_toml_tests_are_under_tests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::load_in(dir.path(), vars(&[])).expect("config");
        assert_eq!(config.project_file, None);
        assert_eq!(config.test_paths(), [PathBuf::from("tests")]);
    }

    #[test]
    fn a_malformed_kennel_toml_is_an_error_at_its_line_and_column() {
        let (_root, deep) = project("paths = [\"a\"]\nimage_mirror = 3\n");
        let err = Config::load_in(&deep, vars(&[])).expect_err("wrong type");
        let text = err.to_string();
        assert!(text.contains("kennel.toml:2:16: "), "{text}");
    }

    /// Issue 14: the warm cache's bound was only `KENNEL_WARM_CACHE_SIZE`.
    #[test]
    fn warm_cache_size_comes_from_kennel_toml_and_the_environment_beats_it() {
        let (_root, deep) = project("warm_cache_size = \"500M\"\n");
        let (_bytes_root, bytes_deep) = project("warm_cache_size = 1048576\n");

        let from_file = Config::load_in(&deep, vars(&[])).expect("config");
        let in_bytes = Config::load_in(&bytes_deep, vars(&[])).expect("config");
        let from_env =
            Config::load_in(&deep, vars(&[("KENNEL_WARM_CACHE_SIZE", "3G")])).expect("config");
        let unset =
            Config::load_in(tempfile::tempdir().expect("dir").path(), vars(&[])).expect("config");

        assert_eq!(from_file.warm_cache_size, Some(500 << 20));
        assert_eq!(in_bytes.warm_cache_size, Some(1 << 20));
        assert_eq!(from_env.warm_cache_size, Some(3 << 30));
        assert_eq!(unset.warm_cache_size, None);
    }

    #[test]
    fn a_bad_warm_cache_size_is_an_error_at_its_line_and_column() {
        let (_root, deep) = project("paths = []\nwarm_cache_size = \"2 GB\"\n");
        let (_neg_root, neg_deep) = project("warm_cache_size = -1\n");

        let text = Config::load_in(&deep, vars(&[]))
            .expect_err("not a size")
            .to_string();
        let negative = Config::load_in(&neg_deep, vars(&[]))
            .expect_err("negative")
            .to_string();

        assert!(text.contains("kennel.toml:2:19: "), "{text}");
        assert!(
            text.contains("\"2 GB\": expected a size in bytes"),
            "{text}"
        );
        assert!(negative.contains("kennel.toml:1:19: "), "{negative}");
        assert!(negative.contains("expected a size in bytes"), "{negative}");
    }

    #[test]
    fn a_bad_warm_cache_size_variable_names_the_variable() {
        let dir = tempfile::tempdir().expect("tempdir");

        let err = Config::load_in(dir.path(), vars(&[("KENNEL_WARM_CACHE_SIZE", "lots")]))
            .expect_err("not a size");

        assert_eq!(
            err.to_string(),
            "KENNEL_WARM_CACHE_SIZE=\"lots\": expected a size in bytes, optionally with K, M, G or T (2G)"
        );
    }

    /// Issue 13: `kennel run --wrapper/--gdb-wait/--no-artifacts/--pause-on-failure`
    /// reach test processes (and plain `cargo test`) as these variables.
    #[test]
    fn debugging_settings_come_from_their_variables() {
        let dir = tempfile::tempdir().expect("tempdir");
        let set = Config::load_in(
            dir.path(),
            vars(&[
                ("KENNEL_WRAPPER", "strace -f -o ${logdir}/strace.log"),
                ("KENNEL_GDB_WAIT", "1"),
                ("KENNEL_NO_ARTIFACTS", "yes"),
                ("KENNEL_PAUSE_ON_FAILURE", "on"),
            ]),
        )
        .expect("config");
        let unset = Config::load_in(dir.path(), vars(&[])).expect("config");

        assert_eq!(
            set.debug.wrapper.as_deref(),
            Some("strace -f -o ${logdir}/strace.log")
        );
        assert!(set.debug.gdb && set.debug.gdb_wait && set.debug.pause_on_failure);
        assert!(!set.debug.artifacts);
        assert_eq!(set.debug.timeout_factor(), 10_000.0);
        assert!(unset.debug.artifacts && !unset.debug.gdb && unset.debug.wrapper.is_none());
        assert_eq!(unset.debug.timeout_factor(), 1.0);
    }

    /// Issue 11: the runner took any value of KENNEL_KEEP_TMP as set, the
    /// Rust API only `1`. Both now read this field.
    #[test]
    fn booleans_have_one_meaning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let on = Config::load_in(
            dir.path(),
            vars(&[("KENNEL_KEEP_TMP", "true"), ("KENNEL_NO_DOWNLOAD", "1")]),
        )
        .expect("config");
        let off = Config::load_in(
            dir.path(),
            vars(&[("KENNEL_KEEP_TMP", "0"), ("KENNEL_NO_DOWNLOAD", "")]),
        )
        .expect("config");
        let bad = Config::load_in(dir.path(), vars(&[("KENNEL_NO_DOWNLOAD", "y")]));

        assert!(on.keep_tmp && on.no_download);
        assert!(!off.keep_tmp && !off.no_download);
        assert!(matches!(bad, Err(ConfigError::Flag { .. })));
    }
}
