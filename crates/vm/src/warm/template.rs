//! Building a template (boot cold, wait until ready, stop, save the state)
//! and finding one in the cache, built by one process while the others wait.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use kennel_agent::ReadyInfo;
use kennel_machine::{LogSink, MachineConfig, Qmp, Value};
use serde::{Deserialize, Serialize};

use super::key::{template_key, TemplateKey};
use super::ram::{self, Plan, Ram};
use super::store::{WarmCache, BOOT_CONSOLE, BOOT_QEMU, META, RAM, STATE};
use crate::cloud::CloudSource;
use crate::log::TestLog;
use crate::vm::Vm;
use crate::VmError;

pub(crate) use super::miss::{Miss, WarmError};

/// How often a migration's progress is asked for.
const POLL: Duration = Duration::from_millis(20);

/// The guest a template holds.
pub(crate) enum Recipe<'a> {
    /// The built-in guest, reached through its agent when `agent`, else
    /// through the console shell.
    Builtin {
        /// The guest has the kennel agent.
        agent: bool,
    },
    /// A cloud-init guest (an image, or a kernel), reached over SSH.
    Cloud(&'a CloudSource),
}

/// How a template's guest is reached, as its boot found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Ready {
    /// The agent, with the ready message it sent when the template booted.
    Agent(ReadyInfo),
    /// The console shell (a built-in guest without an agent).
    Console,
    /// SSH with the template's key, the guest's host key pinned when it
    /// phoned it home.
    Ssh {
        /// The guest's ed25519 host key.
        host_key: Option<String>,
    },
}

impl Recipe<'_> {
    /// Whether a template's `ready` fits this recipe.
    fn fits(&self, ready: &Ready) -> bool {
        matches!(
            (self, ready),
            (Recipe::Builtin { agent: true }, Ready::Agent(_))
                | (Recipe::Builtin { agent: false }, Ready::Console)
                | (Recipe::Cloud(_), Ready::Ssh { .. })
        )
    }
}

/// A saved, booted machine a test can start from.
pub(crate) struct Template {
    /// Its key.
    pub key: TemplateKey,
    /// Its folder in the cache.
    pub dir: PathBuf,
    /// How its guest is reached.
    pub ready: Ready,
    /// Where its memory is.
    pub ram: Ram,
    /// Why its memory is in the stream, when it is.
    pub stream_why: Option<String>,
    /// This process built it just now (else it was in the cache).
    pub built: bool,
}

impl Template {
    /// The saved state.
    pub fn state(&self) -> PathBuf {
        self.dir.join(STATE)
    }

    /// The memory file (with [`Ram::File`]).
    pub fn ram_file(&self) -> PathBuf {
        self.dir.join(RAM)
    }

    /// The console of the template's boot.
    pub fn boot_console(&self) -> PathBuf {
        self.dir.join(BOOT_CONSOLE)
    }
}

/// The template of a machine launched with `config` (for a cloud guest, before
/// its disk, seed and network are wired in) holding the guest of `recipe`: from
/// the cache, or built now under the template's lock (other processes wait for
/// it, then use it). When its boot fails, the boot console is copied to
/// `failed_boot_log`.
pub(crate) fn find_or_build(
    config: &MachineConfig,
    recipe: &Recipe<'_>,
    cache: &WarmCache,
    deadline: Instant,
    failed_boot_log: &Path,
) -> Result<Template, Miss> {
    let binary = config
        .resolve_binary()
        .map_err(|e| WarmError::Binary(Box::new(e)))?;
    let accel = config.choose_accel(&binary.path).accel;
    let key = template_key(config, recipe, &binary.path, &accel).map_err(WarmError::Key)?;
    if let Some(template) = cached(cache, &key, recipe) {
        return Ok(template);
    }
    let lock = cache
        .lock(&key.id, deadline)
        .map_err(|source| WarmError::Lock {
            id: key.id.clone(),
            source,
        })?
        .ok_or_else(|| WarmError::StillBuilding(key.id.clone()))?;
    if let Some(template) = cached(cache, &key, recipe) {
        drop(lock);
        return Ok(template);
    }
    let dir = cache.template_dir(&key.id);
    let building = cache
        .dir()
        .join(format!("{}.tmp-{}", key.id, std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building).map_err(|source| WarmError::Create {
        path: building.clone(),
        source,
    })?;
    let built = build(config, recipe, &key, &building, deadline);
    let saved = match built {
        Ok(saved) => saved,
        Err(miss) => {
            if let Miss::Boot(_) = miss {
                let _ = std::fs::copy(building.join(BOOT_CONSOLE), failed_boot_log);
            }
            let _ = std::fs::remove_dir_all(&building);
            return Err(miss);
        }
    };
    std::fs::rename(&building, &dir).map_err(|source| WarmError::Move {
        path: dir.clone(),
        source,
    })?;
    drop(lock);
    // Keep the cache within its bound; the template just built is recent and stays.
    let _ = cache.purge(cache.max_size());
    Ok(Template {
        key,
        dir,
        ready: saved.ready,
        ram: saved.ram,
        stream_why: saved.stream_why,
        built: true,
    })
}

/// The complete template of `key` in the cache holding the guest of
/// `recipe`, marked used; `None` when there is none.
fn cached(cache: &WarmCache, key: &TemplateKey, recipe: &Recipe<'_>) -> Option<Template> {
    let dir = cache.template_dir(&key.id);
    let saved = read_meta(&dir, recipe)?;
    cache.touch(&key.id);
    Some(Template {
        key: key.clone(),
        dir,
        ready: saved.ready,
        ram: saved.ram,
        stream_why: saved.stream_why,
        built: false,
    })
}

/// What a saved template is: how its guest is reached, where its memory is.
struct Saved {
    ready: Ready,
    ram: Ram,
    stream_why: Option<String>,
}

/// What the complete template in `dir` is, when it holds the guest of
/// `recipe`; `None` when there is no usable one (a template whose memory file
/// is gone included).
fn read_meta(dir: &Path, recipe: &Recipe<'_>) -> Option<Saved> {
    if !dir.join(STATE).is_file() {
        return None;
    }
    let text = std::fs::read_to_string(dir.join(META)).ok()?;
    let meta: Value = serde_json::from_str(&text).ok()?;
    let ready: Ready = serde_json::from_value(meta.get("ready")?.clone()).ok()?;
    let ram: Ram = serde_json::from_value(meta.get("ram")?.clone()).ok()?;
    if ram == Ram::File && !dir.join(RAM).is_file() {
        return None;
    }
    let stream_why = meta
        .get("stream_why")
        .and_then(Value::as_str)
        .map(str::to_owned);
    recipe.fits(&ready).then_some(Saved {
        ready,
        ram,
        stream_why,
    })
}

/// Boot the machine in `dir` (its memory in the file `RAM` there when it
/// can be), wait until its guest is ready, stop it and save its state there
/// with what it is.
fn build(
    config: &MachineConfig,
    recipe: &Recipe<'_>,
    key: &TemplateKey,
    dir: &Path,
    deadline: Instant,
) -> Result<Saved, Miss> {
    let started = Instant::now();
    let mut c = config.clone();
    let mut plan = ram::plan(config);
    if let Plan::File { bytes, .. } = plan {
        if let Some(why) = ram::no_room(dir, bytes) {
            plan = Plan::Stream(why);
        }
    }
    if let Plan::File { bytes, id } = &plan {
        c.extra_args
            .extend(ram::backend_args(&dir.join(RAM), *bytes, id, true));
    }
    c.console_log = file_sink(&dir.join(BOOT_CONSOLE))?;
    c.qemu_log = file_sink(&dir.join(BOOT_QEMU))?;
    c.transcript = kennel_machine::Transcript::discard();
    let cloud = match recipe {
        Recipe::Cloud(source) => Some(super::cloud::wire_template(&mut c, source, dir)?),
        Recipe::Builtin { .. } => None,
    };
    let machine = c.launch().map_err(|source| {
        Miss::Boot(VmError::Launch {
            machine: c.name.clone(),
            source,
        })
    })?;
    let cmdline = machine.cmdline().to_owned();
    let mut vm = Vm::new(c.name.clone(), machine, TestLog::discard());
    let ready = match (recipe, cloud) {
        (Recipe::Builtin { agent }, _) => {
            let up_by = deadline.min(Instant::now() + crate::GUEST_BOOT_LIMIT);
            vm.wait_for_guest(*agent, started, up_by)
                .map_err(Miss::Boot)?;
            settle_console(&mut vm, *agent, up_by)?;
            match vm.agent_ready() {
                Some(info) => Ready::Agent(info),
                None => Ready::Console,
            }
        }
        (Recipe::Cloud(_), Some(wired)) => {
            super::cloud::wait_template(&mut vm, &wired, started, deadline)?
        }
        (Recipe::Cloud(_), None) => return Err(WarmError::NotWired.into()),
    };
    let boot = started.elapsed();
    let saving = Instant::now();
    let state = dir.join(STATE);
    let qmp = vm
        .machine()
        .qmp()
        .map_err(|e| WarmError::Qmp(Box::new(e)))?;
    let (ram, stream_why) = match plan {
        Plan::File { .. } if ram::can_ignore_shared(qmp, deadline)? => (Ram::File, None),
        Plan::File { .. } => (
            Ram::Stream,
            Some("this QEMU has no `x-ignore-shared` migration capability".to_owned()),
        ),
        Plan::Stream(why) => (Ram::Stream, Some(why)),
    };
    save(qmp, &state, ram, deadline)?;
    let save_time = saving.elapsed();
    let _ = vm.shutdown(crate::SHUTDOWN_GRACE);
    if ram == Ram::Stream {
        // The memory went into the state; a file the boot wrote is not needed.
        let _ = std::fs::remove_file(dir.join(RAM));
    } else {
        let _ = ram::dig_holes(&dir.join(RAM));
    }
    let bytes = std::fs::metadata(&state).map(|m| m.len()).unwrap_or(0);
    let meta = serde_json::json!({
        "id": key.id,
        "ready": ready,
        "ram": ram,
        "stream_why": stream_why,
        "boot_ms": boot.as_millis() as u64,
        "save_ms": save_time.as_millis() as u64,
        "state_bytes": bytes,
        "built_at": SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "cmdline": cmdline,
    });
    let text = serde_json::to_string_pretty(&meta).map_err(WarmError::Meta)?;
    write(&dir.join("key.txt"), &key.text)?;
    write(&dir.join(META), &text)?;
    Ok(Saved {
        ready,
        ram,
        stream_why,
    })
}

/// Write `text` to the template's file `path`.
fn write(path: &Path, text: &str) -> Result<(), WarmError> {
    std::fs::write(path, text).map_err(|source| WarmError::Create {
        path: path.to_path_buf(),
        source,
    })
}

/// The console's ready marker comes before the shell reads its first line
/// (on a slow guest, before its banner): one command through the console
/// shell leaves it at a clean prompt, where every restore starts. Nothing to
/// do for a guest with an agent.
fn settle_console(vm: &mut Vm, agent: bool, deadline: Instant) -> Result<(), Miss> {
    if agent {
        return Ok(());
    }
    let settled = vm
        .run("true", deadline)
        .map_err(|e| WarmError::ConsoleSilent(Box::new(e)))?;
    if !settled.success() {
        return Err(WarmError::ConsoleCommand(settled.status).into());
    }
    Ok(())
}

/// Stop the guest and save its state to `state` (`migrate` to `exec:cat`),
/// its memory left out when it is in the memory file ([`Ram::File`]),
/// waiting for the migration to complete.
fn save(qmp: &Qmp, state: &Path, ram: Ram, deadline: Instant) -> Result<(), WarmError> {
    let qmp_err = |command: &'static str, source: kennel_machine::QmpError| WarmError::QmpCommand {
        command,
        source: Box::new(source),
    };
    qmp.execute("stop", None, deadline)
        .map_err(|e| qmp_err("stop", e))?;
    // The default bandwidth limit (32 MiB/s before QEMU 8) would make saving slow.
    let unlimited = serde_json::json!({"max-bandwidth": 1u64 << 40});
    qmp.execute("migrate-set-parameters", Some(&unlimited), deadline)
        .map_err(|e| qmp_err("migrate-set-parameters", e))?;
    if ram == Ram::File {
        ram::ignore_shared(qmp, true, deadline)?;
    }
    let uri = serde_json::json!({ "uri": format!("exec:cat > {}", kennel_config::text::shell_quote(&state.to_string_lossy())) });
    qmp.execute("migrate", Some(&uri), deadline)
        .map_err(|e| qmp_err("migrate", e))?;
    loop {
        let status = qmp
            .execute("query-migrate", None, deadline)
            .map_err(|e| qmp_err("query-migrate", e))?;
        match status.get("status").and_then(Value::as_str) {
            Some("completed") => return Ok(()),
            Some(failed @ ("failed" | "cancelled")) => {
                let why = status
                    .get("error-desc")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                return Err(WarmError::SaveFailed {
                    outcome: failed.to_owned(),
                    why: why.to_owned(),
                });
            }
            _ if Instant::now() >= deadline => {
                return Err(WarmError::SaveTimeout);
            }
            _ => std::thread::sleep(POLL),
        }
    }
}

/// Wait until a QEMU started with `-incoming` has loaded the state (it is
/// paused then), and let the guest run.
pub(crate) fn resume(qmp: &Qmp, deadline: Instant) -> Result<(), WarmError> {
    loop {
        let status = match qmp.execute("query-status", None, deadline) {
            Ok(status) => status,
            // The time ran out while QEMU was asked (a QEMU busy loading).
            Err(source) if Instant::now() >= deadline => {
                return Err(WarmError::StillLoading(Some(Box::new(source))))
            }
            Err(source) => {
                return Err(WarmError::QmpCommand {
                    command: "query-status",
                    source: Box::new(source),
                })
            }
        };
        match status.get("status").and_then(Value::as_str) {
            Some("inmigrate") | Some("restore-vm") if Instant::now() < deadline => {
                std::thread::sleep(POLL)
            }
            Some("inmigrate") | Some("restore-vm") => return Err(WarmError::StillLoading(None)),
            Some("paused") | Some("postmigrate") => break,
            Some("running") => return Ok(()),
            other => {
                return Err(WarmError::NotPaused(
                    other.unwrap_or("in no known state").to_owned(),
                ))
            }
        }
    }
    qmp.execute("cont", None, deadline)
        .map_err(|source| WarmError::QmpCommand {
            command: "cont",
            source: Box::new(source),
        })?;
    Ok(())
}

fn file_sink(path: &Path) -> Result<LogSink, WarmError> {
    std::fs::File::create(path)
        .map(|f| LogSink::new(Box::new(f)))
        .map_err(|source| WarmError::Create {
            path: path.to_path_buf(),
            source,
        })
}
