//! [`Test`]: the context a test function gets.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kennel_machine::LogSink;
use kennel_vm::{Deadlines, StartRecord, TestLog, Workspace};

use crate::builder::MachineBuilder;
use crate::error::{ErrorKind, Result};

/// Environment variable naming the folder a test logs into (set by `kennel run`).
pub const LOGDIR_ENV: &str = kennel_config::env::TEST_LOGDIR;
/// Prefix of the environment variables holding parameters: `KENNEL_PARAM_CPUS`
/// (see [`kennel_config::param_env_var`]).
pub const PARAM_ENV_PREFIX: &str = kennel_config::env::PARAM_PREFIX;
/// The timeout of a test that names none, as for declarative tests.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The log files of one test, shared by its machines.
#[derive(Clone)]
pub(crate) struct Logs {
    pub test: TestLog,
    pub console: LogSink,
    pub qemu: LogSink,
    pub qmp: LogSink,
    pub cmdline: LogSink,
    /// How the test's machines started: `start.json`, which `kennel run`
    /// reads for the test's `start`, `template`, `accel` and `phases`.
    pub machines: Arc<Mutex<StartRecord>>,
}

impl Logs {
    /// One line in `test.log`, stamped with the time since the test started.
    pub fn line(&self, text: &str) {
        self.test.line(text);
    }
}

fn sink(dir: &Path, name: &str) -> Result<LogSink> {
    let path = dir.join(name);
    let f = File::create(&path).map_err(|source| ErrorKind::Io {
        what: format!("creating {}", path.display()),
        source,
    })?;
    Ok(LogSink::new(Box::new(f)))
}

/// The context of one running test: machines, parameters, scratch and log folders,
/// skipping. The harness makes one per test and passes it to the test function.
///
/// Every wait a test makes through it (QMP replies, events, console text, guest
/// commands) ends at the test's deadline, its `timeout` from the start.
///
/// # Examples
///
/// ```no_run
/// use kennel::prelude::*;
///
/// #[kennel::test(tags = ["quick"], timeout = "30s")]
/// fn query_status_reports_prelaunch(t: &mut Test) -> kennel::Result<()> {
///     let mut vm = t.machine().machine_type("none").args(["-nodefaults", "-S"]).launch()?;
///     let status = vm.qmp("query-status", json!(null))?;
///     assert_eq!(status["status"], "prelaunch");
///     t.log(format!("status: {status}"));
///     assert_eq!(vm.shutdown()?, 0);
///     Ok(())
/// }
/// # kennel::main!();
/// ```
pub struct Test {
    name: String,
    tags: Vec<String>,
    timeout: Duration,
    deadline: Instant,
    logdir: PathBuf,
    tmp: Option<tempfile::TempDir>,
    logs: Logs,
    machines: usize,
    networks: Option<SharedNetworks>,
}

/// The test's networks, shared with the machine builders that join them.
pub(crate) type SharedNetworks = Arc<Mutex<kennel_vm::network::Networks>>;

impl Test {
    /// A context for the test `name`, logging into `$KENNEL_TEST_LOGDIR` or else a
    /// new folder under the temporary directory (kept, for reading after a failure).
    pub fn new(name: &str, tags: &[&str], timeout: Duration) -> Result<Test> {
        let logdir = match std::env::var_os(LOGDIR_ENV).filter(|v| !v.is_empty()) {
            Some(d) => {
                let d = PathBuf::from(d);
                std::fs::create_dir_all(&d).map_err(|source| ErrorKind::Io {
                    what: format!("creating the log folder {}", d.display()),
                    source,
                })?;
                d
            }
            None => {
                let safe: String = name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                tempfile::Builder::new()
                    .prefix(&format!("kennel-log-{safe}-"))
                    .tempdir()
                    .map_err(|source| ErrorKind::Io {
                        what: "creating a log folder".into(),
                        source,
                    })?
                    .keep()
            }
        };
        let logs = Logs {
            test: TestLog::create(&logdir.join(kennel_layout::TEST_LOG)),
            console: sink(&logdir, kennel_layout::CONSOLE_LOG)?,
            qemu: sink(&logdir, kennel_layout::QEMU_LOG)?,
            qmp: sink(&logdir, kennel_layout::QMP_LOG)?,
            cmdline: sink(&logdir, kennel_layout::CMDLINE)?,
            machines: Arc::default(),
        };
        // Under gdb (`KENNEL_GDB`) the timeout is suspended, in effect.
        let timeout = timeout.mul_f64(kennel_vm::debug_settings().timeout_factor());
        logs.line(&format!("test {name} (timeout {timeout:?})"));
        Ok(Test {
            name: name.to_string(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            timeout,
            deadline: Instant::now() + timeout,
            logdir,
            tmp: None,
            logs,
            machines: 0,
            networks: None,
        })
    }

    /// The test's name, as the harness lists it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test's tags, from `#[kennel::test(tags = [...])]`.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The test's timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// When the test's time runs out: every wait ends by then.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// A builder for a machine (the options of a declarative `[machine]`); its
    /// `launch()` gives a [`Vm`](crate::Vm). The first machine is named `main`,
    /// the next ones `vm2`, `vm3`... unless named with `.name(..)`.
    pub fn machine(&mut self) -> MachineBuilder {
        self.machines += 1;
        let name = if self.machines == 1 {
            "main".to_string()
        } else {
            format!("vm{}", self.machines)
        };
        // Overlays and seeds go in the scratch folder, not among the logs.
        let scratch = match self.tmp() {
            Ok(dir) => dir.to_path_buf(),
            Err(_) => self.logdir.clone(),
        };
        let workspace = Workspace {
            scratch,
            log: self.logs.test.clone(),
            cmdline: self.logs.cmdline.clone(),
            several: self.machines > 1,
            logdir: self.logdir.clone(),
            warm_cache: kennel_vm::warm::WarmCache::user_default(),
        };
        let deadlines = Deadlines {
            until: self.deadline,
            test_until: self.deadline,
            timeout: self.timeout,
        };
        MachineBuilder::new(name, self.logs.clone(), deadlines, workspace)
            .on_networks(self.networks.clone())
    }

    /// Declare a network between the test's machines, as `[[network]]` does:
    /// machines join it with [`MachineBuilder::network`]; its hub runs in
    /// this process until the test ends. See `docs/networks.md`.
    pub fn network(&mut self, name: &str) -> Result<()> {
        self.declare_network(name, false)
    }

    /// [`Test::network`] with every frame captured to `<name>.pcap` in the
    /// log folder, as `capture = true` does.
    pub fn captured_network(&mut self, name: &str) -> Result<()> {
        self.declare_network(name, true)
    }

    fn declare_network(&mut self, name: &str, capture: bool) -> Result<()> {
        if self.networks.is_none() {
            let sockets = self.tmp()?.to_path_buf();
            let networks =
                kennel_vm::network::Networks::new(&sockets, &self.logdir, self.logs.test.clone());
            self.networks = Some(Arc::new(Mutex::new(networks)));
        }
        let Some(networks) = &self.networks else {
            unreachable!("made above");
        };
        networks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .declare(name, capture)
            .map_err(|e| ErrorKind::Network(e).into())
    }

    /// A parameter: the environment variable `KENNEL_PARAM_<NAME>` (upper
    /// case, other characters than letters and digits as `_`:
    /// [`kennel_config::param_env_var`], the rule `kennel run -p name=value`
    /// and variants set it by), so `t.param("cpu-model")` reads
    /// `KENNEL_PARAM_CPU_MODEL`.
    pub fn param(&self, name: &str) -> Option<String> {
        std::env::var(kennel_config::param_env_var(name)).ok()
    }

    /// A parameter parsed as `T`, or `default` when it is not set.
    pub fn param_or<T>(&self, name: &str, default: T) -> Result<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.param(name) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|e: T::Err| {
                ErrorKind::Param {
                    name: name.to_string(),
                    why: e.to_string(),
                    value,
                }
                .into()
            }),
        }
    }

    /// A private scratch folder, made on first use and removed when the test ends
    /// (kept with `KENNEL_KEEP_TMP=1`). Its path is short enough for UNIX sockets.
    pub fn tmp(&mut self) -> Result<&Path> {
        if self.tmp.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("kennel-")
                .tempdir()
                .map_err(|source| ErrorKind::Io {
                    what: "creating the scratch folder".into(),
                    source,
                })?;
            self.logs.line(&format!("tmp = {}", dir.path().display()));
            self.tmp = Some(dir);
        }
        match &self.tmp {
            Some(d) => Ok(d.path()),
            None => unreachable!("made above"),
        }
    }

    /// The folder holding `test.log`, `console.log`, `qmp.log` and `qemu.log`.
    pub fn logdir(&self) -> &Path {
        &self.logdir
    }

    /// Write a line (or several) into the test's `test.log`.
    pub fn log(&self, text: impl AsRef<str>) {
        self.logs.line(text.as_ref());
    }

    /// Skip the test with a reason: `return t.skip("needs KVM");`. The harness
    /// reports it as ignored with the reason, or as failed under
    /// `KENNEL_REQUIRE_ALL` (see the crate docs).
    pub fn skip<T>(&self, reason: impl Into<String>) -> Result<T> {
        Err(ErrorKind::Skip(reason.into()).into())
    }

    /// Poll `check` (every 100 ms) until it returns `Some`, and return that; an
    /// error when the test's deadline passes first, naming `what` was awaited and
    /// the last value `check` described through its `Err` or `None`.
    pub fn wait_until<T>(
        &self,
        what: &str,
        mut check: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        self.logs.line(&format!("wait until {what}"));
        loop {
            if let Some(v) = check()? {
                return Ok(v);
            }
            if Instant::now() + Duration::from_millis(100) >= self.deadline {
                return Err(ErrorKind::Timeout {
                    what: what.to_string(),
                    timeout: self.timeout,
                }
                .into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Test {
    fn drop(&mut self) {
        if let Some(networks) = self.networks.take() {
            networks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .stop();
        }
        if let Some(dir) = self.tmp.take() {
            // `KENNEL_KEEP_TMP`, read as the runner reads it (a malformed
            // configuration keeps nothing: the harness reports it).
            if kennel_config::Config::get().is_ok_and(|c| c.keep_tmp) {
                let _ = dir.keep();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: `kennel run --cargo -p cpu-model=x` set `KENNEL_PARAM_CPU-MODEL`
    /// and `t.param("cpu-model")` read `KENNEL_PARAM_CPU_MODEL`. The runner's
    /// side is pinned by `parameters_reach_executables_by_one_naming_rule` in
    /// crates/cli/tests/run.rs.
    #[test]
    fn a_dashed_parameter_is_read_from_its_underscored_variable() {
        std::env::set_var("KENNEL_PARAM_CPU_MODEL", "max");
        let t = Test::new("param", &[], DEFAULT_TIMEOUT).expect("test context");
        let logdir = t.logdir().to_path_buf();

        let value = t.param("cpu-model");

        drop(t);
        let _ = std::fs::remove_dir_all(logdir);
        assert_eq!(value.as_deref(), Some("max"));
    }
}
