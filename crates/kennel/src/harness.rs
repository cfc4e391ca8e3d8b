//! The harness behind `kennel::main!()`: the registered tests as libtest-mimic
//! trials, run under `cargo test` or `cargo nextest run` with their usual flags.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use kennel_config::env::REQUIRE_ALL;

use crate::error::Result;
use crate::test::{Test, DEFAULT_TIMEOUT};

/// Environment variable selecting tests by tag: a comma-separated list; a test
/// runs when it has one of the plain tags and none of the `-`-prefixed ones.
pub const TAGS_ENV: &str = kennel_config::env::TAGS;

/// One test registered by `#[kennel::test]`. Made by the attribute only.
#[doc(hidden)]
pub struct TestDef {
    /// The function's name.
    pub name: &'static str,
    /// `module_path!()` where it is defined.
    pub module: &'static str,
    /// The test function.
    pub func: fn(&mut Test) -> Result<()>,
    /// Its tags.
    pub tags: &'static [&'static str],
    /// The source files whose change can affect it (`kennel run --changed`).
    pub covers: &'static [&'static str],
    /// Its timeout in milliseconds, when it names one.
    pub timeout_ms: Option<u64>,
    /// `ignore` (with its reason, possibly empty).
    pub ignore: Option<&'static str>,
}

inventory::collect!(TestDef);

impl TestDef {
    /// The name the harness lists: the module path below the crate root, then the
    /// function (`foo`, or `cpu::foo` for a test in `mod cpu`).
    pub fn full_name(&self) -> String {
        match self.module.split_once("::") {
            Some((_, rest)) => format!("{rest}::{}", self.name),
            None => self.name.to_string(),
        }
    }

    fn selected(&self, filter: &str) -> bool {
        let mut wanted = Vec::new();
        for item in filter.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.strip_prefix('-') {
                Some(no) if self.tags.contains(&no) => return false,
                Some(_) => {}
                None => wanted.push(item),
            }
        }
        wanted.is_empty() || wanted.iter().any(|w| self.tags.contains(w))
    }
}

/// Run one registered test: make its context, call it, catch a panic. The
/// machines it launched are dropped (QEMU killed) before this returns. A test
/// that skipped itself is reported as ignored (with its reason), or failed
/// when `KENNEL_REQUIRE_ALL` is set.
fn run_one(def: &TestDef) -> std::result::Result<Completion, Failed> {
    let name = def.full_name();
    let timeout = def
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_TIMEOUT);
    let mut t = Test::new(&name, def.tags, timeout).map_err(|e| Failed::from(e.chain()))?;
    let outcome = catch_unwind(AssertUnwindSafe(|| (def.func)(&mut t)));
    let logdir = t.logdir().display().to_string();
    match outcome {
        Ok(Ok(())) => {
            t.log("PASS");
            Ok(Completion::Completed)
        }
        Ok(Err(e)) if e.skip_reason().is_some() => {
            let why = e.skip_reason().unwrap_or_default();
            let outcome = skip_outcome(why, skips_fail());
            match &outcome {
                Ok(_) => {
                    t.log(format!("SKIP: {why}"));
                    eprintln!("kennel: {name}: skipped: {why}");
                }
                Err(failed) => t.log(format!("FAIL: {}", failed.message().unwrap_or(why))),
            }
            outcome.map_err(|f| format!("{}\n  logs: {logdir}", f.message().unwrap_or(why)).into())
        }
        Ok(Err(e)) => {
            let text = e.chain();
            t.log(format!("FAIL: {text}"));
            Err(format!("{text}\n  logs: {logdir}").into())
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(a panic without a message)".into());
            t.log(format!("FAIL: panicked: {msg}"));
            Err(format!("panicked: {msg}\n  logs: {logdir}").into())
        }
    }
}

/// What a test that skipped itself for `why` comes to: ignored with the
/// reason, or (`require_all`) failed saying so.
fn skip_outcome(why: &str, require_all: bool) -> std::result::Result<Completion, Failed> {
    if require_all {
        Err(format!("{REQUIRE_ALL} is set and the test skipped: {why}").into())
    } else {
        Ok(Completion::ignored_with(why))
    }
}

/// Whether `KENNEL_REQUIRE_ALL` turns a skip into a failure (a value that is
/// not a boolean counts as set: a typo must not quietly allow skips).
fn skips_fail() -> bool {
    kennel_config::env_flag(REQUIRE_ALL).unwrap_or(true)
}

/// The trials of every registered test, sorted by name, filtered by
/// `$KENNEL_TAGS` when set.
pub fn trials() -> Vec<Trial> {
    let filter = kennel_config::Config::get()
        .ok()
        .and_then(|c| c.tags.clone())
        .unwrap_or_default();
    let mut defs: Vec<&'static TestDef> = inventory::iter::<TestDef>
        .into_iter()
        .filter(|d| d.selected(&filter))
        .collect();
    defs.sort_by_key(|d| d.full_name());
    defs.into_iter()
        .map(|d| {
            Trial::ignorable_test(d.full_name(), move || run_one(d))
                .with_ignored_flag(d.ignore.is_some())
        })
        .collect()
}

/// One registered test as `--list` gives it to `kennel run --cargo` under
/// [`LIST_TESTS`](kennel_config::env::LIST_TESTS): what libtest's list cannot say.
#[derive(serde::Serialize)]
struct Listed<'a> {
    name: String,
    tags: &'a [&'a str],
    covers: &'a [&'a str],
    timeout_s: Option<f64>,
    ignored: bool,
}

/// Under `--list` with [`LIST_TESTS`](kennel_config::env::LIST_TESTS) set to
/// `json`: each test as a JSON line (name, tags, timeout, ignored), so that
/// `kennel run --cargo` gives a test its own timeout and tags.
fn list_as_json(args: &Arguments) -> bool {
    let wanted = std::env::var(kennel_config::env::LIST_TESTS).is_ok_and(|v| v == "json");
    if !(args.list && wanted) {
        return false;
    }
    let mut defs: Vec<&'static TestDef> = inventory::iter::<TestDef>.into_iter().collect();
    defs.sort_by_key(|d| d.full_name());
    for line in defs.into_iter().filter_map(listed_line) {
        println!("{line}");
    }
    true
}

/// The JSON line `--list` gives for `d` under [`LIST_TESTS`](kennel_config::env::LIST_TESTS).
fn listed_line(d: &TestDef) -> Option<String> {
    let listed = Listed {
        name: d.full_name(),
        tags: d.tags,
        covers: d.covers,
        timeout_s: d.timeout_ms.map(|ms| ms as f64 / 1000.0),
        ignored: d.ignore.is_some(),
    };
    serde_json::to_string(&listed).ok()
}

/// The body of `kennel::main!()`: parse the libtest arguments, run, exit.
pub fn run_main() -> ! {
    let args = Arguments::from_args();
    if list_as_json(&args) {
        std::process::exit(0);
    }
    // kennel.toml and the KENNEL_* variables, read as `kennel run` reads
    // them: a configuration that does not load stops the binary before any
    // test, with the file:line:column or the variable at fault.
    if let Err(e) = kennel_config::Config::get() {
        eprintln!("kennel: {e}");
        std::process::exit(101);
    }
    libtest_mimic::run(&args, trials()).exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(module: &'static str, tags: &'static [&'static str]) -> TestDef {
        fn body(_t: &mut Test) -> Result<()> {
            Ok(())
        }
        TestDef {
            name: "boots",
            module,
            func: body,
            tags,
            covers: &[],
            timeout_ms: None,
            ignore: None,
        }
    }

    #[test]
    fn a_skip_is_ignored_with_its_reason() {
        let outcome = skip_outcome("needs KVM", false);

        assert!(
            matches!(outcome, Ok(Completion::Ignored { reason: Some(ref r) }) if r == "needs KVM")
        );
    }

    #[test]
    fn under_require_all_a_skip_fails_naming_the_variable_and_the_reason() {
        let outcome = skip_outcome("needs KVM", true);

        let failed = outcome.err().expect("a failure");
        assert_eq!(
            failed.message(),
            Some("KENNEL_REQUIRE_ALL is set and the test skipped: needs KVM")
        );
    }

    #[test]
    fn the_listing_gives_kennel_a_tests_covers() {
        let d = TestDef {
            covers: &["hw/net/virtio-net.c", "hw/net/*"],
            ..def("examples::net", &["quick"])
        };

        let line = listed_line(&d).expect("a line");

        assert_eq!(
            line,
            r#"{"name":"net::boots","tags":["quick"],"covers":["hw/net/virtio-net.c","hw/net/*"],"timeout_s":null,"ignored":false}"#
        );
    }

    #[test]
    fn names_drop_the_crate_root() {
        assert_eq!(def("examples", &[]).full_name(), "boots");
        assert_eq!(def("examples::cpu", &[]).full_name(), "cpu::boots");
    }

    #[test]
    fn tag_filter_keeps_any_wanted_and_drops_excluded() {
        let d = def("x", &["quick", "numa"]);
        assert!(d.selected(""));
        assert!(d.selected("quick"));
        assert!(d.selected("slow, numa"));
        assert!(!d.selected("slow"));
        assert!(!d.selected("quick,-numa"));
        assert!(d.selected("-slow"));
    }
}
