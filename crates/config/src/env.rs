//! The environment variables kennel reads, and the one meaning of "set" for
//! the boolean ones.

use std::ffi::OsString;

use crate::ConfigError;

/// `KENNEL_CACHE_DIR`: kennel's cache directory (see [`cache_dir`](crate::cache_dir())).
pub const CACHE_DIR: &str = "KENNEL_CACHE_DIR";
/// `KENNEL_NO_DOWNLOAD`: a boolean; download nothing (like `--offline`).
pub const NO_DOWNLOAD: &str = "KENNEL_NO_DOWNLOAD";
/// `KENNEL_REQUIRE_ASSETS`: a boolean; with downloads off, an asset that is not
/// cached is an ERROR rather than a SKIP (like `--require-assets`).
pub const REQUIRE_ASSETS: &str = "KENNEL_REQUIRE_ASSETS";
/// `KENNEL_ALLOW_UNVERIFIED`: a boolean; accept assets declared without a
/// sha256/sha512 (like `--allow-unverified`).
pub const ALLOW_UNVERIFIED: &str = "KENNEL_ALLOW_UNVERIFIED";
/// `KENNEL_KEEP_TMP`: a boolean; keep each test's scratch folder.
pub const KEEP_TMP: &str = "KENNEL_KEEP_TMP";
/// `KENNEL_IMAGE_MIRROR`: the cloud image mirror (beats `image_mirror` in `kennel.toml`).
pub const IMAGE_MIRROR: &str = "KENNEL_IMAGE_MIRROR";
/// `KENNEL_GUEST_DIR`: where the foreign-architecture guest pieces are (`<dir>/<arch>`).
pub const GUEST_DIR: &str = "KENNEL_GUEST_DIR";
/// `KENNEL_AGENT`: the agent binary to put in host-architecture guests.
pub const AGENT: &str = "KENNEL_AGENT";
/// `QEMU_TEST_QEMU_BINARY`: the QEMU binary (QEMU's own functional tests use the same name).
pub const QEMU_BINARY: &str = "QEMU_TEST_QEMU_BINARY";
/// `KENNEL_QEMU_ARCH`: architectures' QEMU binaries given on purpose (`kennel run
/// --qemu-arch ARCH=PATH`), one `ARCH=PATH` a line ([`parse_arch_binary`](crate::parse_arch_binary)).
pub const QEMU_ARCH: &str = "KENNEL_QEMU_ARCH";
/// `KENNEL_RESULTS_DIR`: where `kennel run` puts its jobs.
pub const RESULTS_DIR: &str = "KENNEL_RESULTS_DIR";
/// `KENNEL_TAGS`: the tag filter of a Rust test binary run by plain `cargo test`.
pub const TAGS: &str = "KENNEL_TAGS";
/// `KENNEL_WRAPPER`: a command QEMU runs under (`strace -f -o ${logdir}/strace.log`);
/// `${logdir}` is the test's log folder, `${machine}` the machine's name.
pub const WRAPPER: &str = "KENNEL_WRAPPER";
/// `KENNEL_NO_ARTIFACTS`: a boolean; collect no failure artifacts (registers,
/// QEMU's backtrace, the guest's dmesg) when a test fails.
pub const NO_ARTIFACTS: &str = "KENNEL_NO_ARTIFACTS";
/// `KENNEL_GDB`: a boolean; machines start with a gdbstub on a free loopback port.
pub const GDB: &str = "KENNEL_GDB";
/// `KENNEL_GDB_WAIT`: a boolean; with the gdbstub, the guest waits for gdb's
/// `continue` before its first instruction (implies `KENNEL_GDB`).
pub const GDB_WAIT: &str = "KENNEL_GDB_WAIT";
/// `KENNEL_PAUSE_ON_FAILURE`: a boolean; a failing test keeps its machines up
/// until the person at the terminal lets it finish.
pub const PAUSE_ON_FAILURE: &str = "KENNEL_PAUSE_ON_FAILURE";
/// `KENNEL_TEST_LOGDIR`: set by `kennel run` for a test process: the folder it logs into.
pub const TEST_LOGDIR: &str = "KENNEL_TEST_LOGDIR";
/// `KENNEL_REQUIRE_ALL`: a boolean; a test that cannot run here (something it
/// needs is missing) fails instead of skipping. kennel's own CI sets it, so
/// that coverage cannot vanish while CI stays green; the Rust test harness
/// (`Test::skip`) and kennel's own tests honour it.
pub const REQUIRE_ALL: &str = "KENNEL_REQUIRE_ALL";
/// `KENNEL_COLD`: a boolean; every machine boots, none starts from a saved
/// state (`kennel run --cold`).
pub const COLD: &str = "KENNEL_COLD";
/// `KENNEL_WARM_CACHE_SIZE`: the most bytes the saved machine states may take
/// in the cache (`2G`, `500M`, or bytes; default 2 GiB), least recently used
/// evicted first.
pub const WARM_CACHE_SIZE: &str = "KENNEL_WARM_CACHE_SIZE";
/// `KENNEL_WARM_STREAM`: a boolean; warm starts keep a template's memory in
/// its saved state and restore it through the migration stream, instead of
/// mapping the template's memory file copy-on-write.
pub const WARM_STREAM: &str = "KENNEL_WARM_STREAM";
/// `KENNEL_LIST_TESTS`: set (to `json`) by `kennel run --cargo` when it asks a
/// test binary for its tests with `--list`: the kennel harness then lists each
/// test as a JSON line with its tags and timeout; other harnesses ignore it.
pub const LIST_TESTS: &str = "KENNEL_LIST_TESTS";
/// Prefix of the parameter variables `kennel run` sets for executables and
/// Rust tests (see [`param_env_var`]).
pub const PARAM_PREFIX: &str = "KENNEL_PARAM_";

/// Every variable [`Config`](crate::Config) reads, in the order of
/// `docs/configuration.md`.
pub const ALL: [&str; 19] = [
    CACHE_DIR,
    NO_DOWNLOAD,
    REQUIRE_ASSETS,
    ALLOW_UNVERIFIED,
    KEEP_TMP,
    IMAGE_MIRROR,
    GUEST_DIR,
    AGENT,
    QEMU_BINARY,
    RESULTS_DIR,
    TAGS,
    WRAPPER,
    NO_ARTIFACTS,
    GDB,
    GDB_WAIT,
    PAUSE_ON_FAILURE,
    COLD,
    WARM_CACHE_SIZE,
    WARM_STREAM,
];

/// The meaning of a boolean variable's value, the same for every one of them:
/// `1`, `true`, `yes`, `on` are true; `0`, `false`, `no`, `off` and the
/// empty string are false (case and surrounding blanks do not matter);
/// anything else is an error, so that a typo does not silently mean either.
///
/// # Examples
///
/// ```
/// use kennel_config::parse_flag;
/// assert_eq!(parse_flag("KENNEL_KEEP_TMP", "Yes"), Ok(true));
/// assert_eq!(parse_flag("KENNEL_KEEP_TMP", "0"), Ok(false));
/// assert_eq!(parse_flag("KENNEL_KEEP_TMP", ""), Ok(false));
/// assert!(parse_flag("KENNEL_KEEP_TMP", "sure").is_err());
/// ```
pub fn parse_flag(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Flag {
            name: name.to_string(),
            value: value.to_string(),
        }),
    }
}

/// The boolean variable `name` of this process's environment by
/// [`parse_flag`]'s rule; unset is false.
pub fn env_flag(name: &str) -> Result<bool, ConfigError> {
    flag_from(name, |n| std::env::var_os(n))
}

/// [`env_flag`] over any source of variables.
pub(crate) fn flag_from(
    name: &str,
    var: impl Fn(&str) -> Option<OsString>,
) -> Result<bool, ConfigError> {
    match var(name) {
        None => Ok(false),
        Some(v) => match v.to_str() {
            Some(text) => parse_flag(name, text),
            None => Err(ConfigError::NotUnicode {
                name: name.to_string(),
            }),
        },
    }
}

/// The variable `name` when set and not empty.
pub(crate) fn non_empty(name: &str, var: &impl Fn(&str) -> Option<OsString>) -> Option<OsString> {
    var(name).filter(|v| !v.is_empty())
}

/// The name of the environment variable that carries the test parameter
/// `name` (`kennel run -p name=value`, a variant's value) to executables and
/// Rust tests: `KENNEL_PARAM_` and the name in upper case, with every
/// character other than a letter or digit as `_`. The runner sets it with
/// this function and `Test::param` reads it with this function.
///
/// # Examples
///
/// ```
/// use kennel_config::param_env_var;
/// assert_eq!(param_env_var("cpu-model"), "KENNEL_PARAM_CPU_MODEL");
/// assert_eq!(param_env_var("cpus"), "KENNEL_PARAM_CPUS");
/// ```
pub fn param_env_var(name: &str) -> String {
    let mut var = String::with_capacity(PARAM_PREFIX.len() + name.len());
    var.push_str(PARAM_PREFIX);
    var.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    var
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_set_is_true_and_of_unset_is_false() {
        for yes in ["1", "true", "TRUE", "yes", "Yes", "on", " on "] {
            assert_eq!(parse_flag("V", yes), Ok(true), "{yes:?}");
        }
        for no in ["", "0", "false", "False", "no", "off", "OFF"] {
            assert_eq!(parse_flag("V", no), Ok(false), "{no:?}");
        }
    }

    #[test]
    fn a_value_that_means_neither_is_an_error_naming_the_variable() {
        let err = parse_flag("KENNEL_KEEP_TMP", "2").expect_err("not a flag");
        assert!(
            err.to_string().starts_with("KENNEL_KEEP_TMP=\"2\""),
            "{err}"
        );
    }

    #[test]
    fn an_unset_flag_is_false() {
        assert_eq!(flag_from("KENNEL_NO_DOWNLOAD", |_| None), Ok(false));
    }

    #[test]
    fn param_names_with_dashes_become_underscores() {
        assert_eq!(param_env_var("cpu-model"), "KENNEL_PARAM_CPU_MODEL");
        assert_eq!(param_env_var("Mem.Size"), "KENNEL_PARAM_MEM_SIZE");
        assert_eq!(param_env_var("cpus"), "KENNEL_PARAM_CPUS");
    }
}
