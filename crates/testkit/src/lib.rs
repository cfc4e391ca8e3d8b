//! Helpers for kennel's own tests, in one place (a dev-dependency only).
//!
//! - [`missing`]: a test that cannot run here (no QEMU, no host kernel, no
//!   foreign-architecture guest pieces, no sshd...) calls it and returns. It
//!   prints `SKIP: ...` on stderr; when [`REQUIRE_ALL_ENV`] is set (CI sets it,
//!   see `.ci/run`) it panics instead, naming what is missing, so coverage can
//!   never vanish while CI stays green.
//! - [`unique_marker`]: a string no other test process uses, to find the
//!   processes a test started.
//! - [`pseudo_random`]: deterministic bytes that are not text.
//! - [`slug`]: the runner's own log-folder slug (re-exported from kennel-layout).
//! - [`Bounded`], [`OutputWithin`], [`Screen`], [`wait_until`]: every wait
//!   on a child or a condition with a bound; on expiry what the test started is
//!   killed (its process group and marked processes) and the test panics
//!   saying what did not end.
#![deny(missing_docs)]

mod bounded;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

pub use bounded::{wait_until, Bounded, OutputWithin, Screen, RUN_BOUND};
pub use kennel_layout::slug;

/// Environment variable that turns every "missing, skipped" into a failure:
/// `KENNEL_REQUIRE_ALL=1` (a boolean as kennel reads them all: `1`, `true`,
/// `yes`, `on`).
pub const REQUIRE_ALL_ENV: &str = kennel_config::env::REQUIRE_ALL;

/// Whether [`REQUIRE_ALL_ENV`] asks for every test to run (a value that is
/// not a boolean counts as set: a typo must not quietly allow skips).
pub fn require_all() -> bool {
    kennel_config::env_flag(REQUIRE_ALL_ENV).unwrap_or(true)
}

/// The test cannot run because `what` is missing (say what, and how to get it:
/// `"qemu-system-aarch64 (apt-get install qemu-system-arm)"`). Prints
/// `SKIP: <what> is missing` and returns, so the caller returns next; with
/// [`REQUIRE_ALL_ENV`] set it panics with the same text, failing the test.
///
/// # Panics
///
/// When [`REQUIRE_ALL_ENV`] is set.
#[track_caller]
pub fn missing(what: &str) {
    let text = format!("{what} is missing");
    if require_all() {
        panic!("{REQUIRE_ALL_ENV} is set and this test cannot run: {text}");
    }
    eprintln!("SKIP: {text}");
}

/// Whether `command` is an executable on `PATH` (or, given as a path, exists).
pub fn have_command(command: &str) -> bool {
    if command.contains('/') {
        kennel_config::is_executable(Path::new(command))
    } else {
        kennel_config::which(command).is_some()
    }
}

/// `command` when it is on `PATH`; else [`missing`] (naming the Debian
/// `package` that provides it) and `None`.
#[track_caller]
pub fn need_command(command: &str, package: &str) -> Option<String> {
    if have_command(command) {
        Some(command.to_string())
    } else {
        missing(&format!("{command} (apt-get install {package})"));
        None
    }
}

/// A string unique to this call in this process and run: `kennel-test-PID-N-NANOS`.
/// Put it in a child's environment to find the processes a test started.
pub fn unique_marker() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "kennel-test-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}

/// Live processes whose environment holds `KENNEL_TEST_MARKER=<marker>`
/// ([`unique_marker`]): what a test started and what must be gone after it.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let needle = format!("KENNEL_TEST_MARKER={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// `len` deterministic, incompressible-looking bytes covering every byte value
/// (xorshift64): the same call gives the same bytes.
pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A private kennel cache folder for one test (point `KENNEL_CACHE_DIR` at it),
/// with the user's built guest images hard-linked in: the guest is not rebuilt,
/// and nothing the test records there points the user's cache at a temporary
/// folder. For tests of caches kennel fills (warm-start templates).
pub fn private_cache() -> tempfile::TempDir {
    let cache = tempfile::tempdir().expect("cache dir");
    let guest = cache.path().join("guest");
    std::fs::create_dir(&guest).expect("guest folder");
    if let Some(user) = kennel_config::cache_dir() {
        for file in std::fs::read_dir(user.join("guest"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if file.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::hard_link(file.path(), guest.join(file.file_name()));
            }
        }
    }
    cache
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_differ_between_calls() {
        assert_ne!(unique_marker(), unique_marker());
    }

    #[test]
    fn pseudo_random_bytes_repeat_and_cover_every_value() {
        let bytes = pseudo_random(64 * 1024);
        assert_eq!(bytes, pseudo_random(64 * 1024));
        let mut seen = [false; 256];
        for b in &bytes {
            seen[*b as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn with_require_all_set_missing_fails_naming_what() {
        std::env::set_var(REQUIRE_ALL_ENV, "1");
        let panic = std::panic::catch_unwind(|| missing("qemu-system-m68k"))
            .expect_err("missing() under KENNEL_REQUIRE_ALL panics");
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("qemu-system-m68k is missing"), "{text}");
        assert!(text.contains(REQUIRE_ALL_ENV), "{text}");
    }

    #[test]
    fn a_bounded_child_gives_its_output_and_status() {
        let out = std::process::Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output_within(std::time::Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn a_bounded_child_past_its_bound_is_killed_with_its_group_and_named() {
        let marker = unique_marker();
        let mut command = std::process::Command::new("sh");
        command
            .args(["-c", "sleep 600 & sleep 600"])
            .env("KENNEL_TEST_MARKER", &marker);
        let child = Bounded::start(&mut command);
        assert!(wait_until(std::time::Duration::from_secs(60), || {
            processes_with(&marker).len() == 3
        }));

        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            child.wait(std::time::Duration::from_millis(100))
        }))
        .expect_err("a child past its bound fails the test");

        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("did not end within 100ms"), "{text}");
        assert!(text.contains("sleep 600 & sleep 600"), "{text}");
        assert!(
            wait_until(std::time::Duration::from_secs(10), || processes_with(
                &marker
            )
            .is_empty()),
            "left running: {:?}",
            processes_with(&marker)
        );
    }

    #[test]
    fn a_shell_is_on_path_and_a_made_up_command_is_not() {
        assert!(have_command("sh"));
        assert!(!have_command("kennel-no-such-command-here"));
    }
}
