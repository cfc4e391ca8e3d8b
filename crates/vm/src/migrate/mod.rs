//! Migration in one step, one implementation for both front ends (the
//! `migrate` step and `kennel::Vm::migrate_to`): a running machine's state
//! moves into a QEMU of the same description that waits with `-incoming
//! defer`; capabilities and parameters set on both sides, the stream over a
//! UNIX socket in the test's private folder (or TCP on loopback, `exec:`,
//! `file:`), the completion waited for by a deadline (a migration still
//! running then is cancelled), both sides' status checked, and the guest's
//! command channel taken over on the destination and asked to answer (the
//! agent is resumed as after a warm start, by the same code).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_machine::Value;
use serde_json::json;

use crate::channel::{Channel, ChannelKind};
use crate::desc::MachineDesc;
use crate::vm::Vm;
pub use error::MigrateError;

mod error;
pub use kennel_spec::migrate::Transport;

/// How often the migration's progress is asked for.
const POLL: Duration = Duration::from_millis(20);

/// How long a migration that ran out of time gets to be cancelled, past the
/// deadline.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Why a machine boots cold when it waits for a migration.
pub const INCOMING_COLD: &str = "`incoming`: it waits for an incoming migration";

/// How a migration runs: the transport, the capabilities and parameters set
/// on both sides, postcopy.
#[derive(Debug, Clone, Default)]
pub struct Migration {
    /// How the stream goes (a UNIX socket by default).
    pub transport: Transport,
    /// Capabilities turned on on both sides (QMP `migrate-set-capabilities`),
    /// e.g. `"xbzrle"`.
    pub capabilities: Vec<String>,
    /// Parameters set on both sides (QMP `migrate-set-parameters`), e.g.
    /// `"max-bandwidth"`.
    pub parameters: serde_json::Map<String, Value>,
    /// Switch to postcopy once the migration runs.
    pub postcopy: bool,
}

impl Migration {
    /// A migration over a UNIX socket, no capability, no parameter.
    pub fn new() -> Migration {
        Migration::default()
    }

    /// The stream goes over `transport`.
    pub fn transport(mut self, transport: Transport) -> Migration {
        self.transport = transport;
        self
    }

    /// Turn a capability on, on both sides.
    pub fn capability(mut self, name: impl Into<String>) -> Migration {
        self.capabilities.push(name.into());
        self
    }

    /// Set a parameter on both sides.
    pub fn parameter(mut self, name: impl Into<String>, value: Value) -> Migration {
        self.parameters.insert(name.into(), value);
        self
    }

    /// Switch to postcopy once the migration runs (`postcopy-ram` on both
    /// sides, then `migrate-start-postcopy`).
    pub fn postcopy(mut self, on: bool) -> Migration {
        self.postcopy = on;
        self
    }
}

/// A migration that completed.
#[derive(Debug, Clone)]
pub struct Migrated {
    /// The URI the source migrated to.
    pub uri: String,
    /// From the first QMP command to the channel answering on the destination.
    pub took: Duration,
    /// The source's last `query-migrate` (`status`, `total-time`,
    /// `downtime`, `ram`).
    pub status: Value,
    /// The channel taken over on the destination, if the guest has one.
    pub channel: Option<ChannelKind>,
}

impl MachineDesc {
    /// Make this the description of a migration's destination: QEMU starts
    /// with `-incoming defer`, waits for no guest and boots cold.
    pub fn incoming_migration(&mut self) {
        self.config.incoming = Some("defer".into());
        self.wait_ready = false;
        self.cold = Some(INCOMING_COLD.into());
    }
}

/// What must be alike on both sides of a migration, as named values: QEMU's
/// options, the guest and the disk; not the name, the logs, `incoming` or how
/// the test reaches the guest.
pub(crate) fn shape(desc: &MachineDesc) -> Vec<(&'static str, String)> {
    let c = &desc.config;
    let show = |v: &dyn std::fmt::Debug| format!("{v:?}");
    vec![
        ("arch", show(&c.arch)),
        ("binary", show(&c.binary)),
        ("type", show(&c.machine_type)),
        ("accel", show(&c.accel)),
        ("cpus", show(&c.cpus)),
        ("memory", show(&c.memory)),
        ("kernel", show(&c.kernel)),
        ("initrd", show(&c.initrd)),
        ("append", show(&c.append)),
        ("dtb", show(&c.dtb)),
        ("console", show(&c.console)),
        ("display", show(&c.display)),
        ("args", show(&c.extra_args)),
        ("tablet", show(&c.tablet)),
        ("guest", show(&desc.guest)),
        ("image", show(&desc.image)),
        ("cloud_init", show(&desc.cloud_init)),
    ]
}

impl Vm {
    /// Migrate this machine's state into `dest`, which waits with `-incoming
    /// defer` and is described alike ([`MachineDesc::incoming_migration`]),
    /// as [`Migration`] says; every wait ends by `deadline` (a migration
    /// still running then is cancelled). Sockets and saved states go into
    /// `scratch`, the test's private folder. On success the guest's channel
    /// has moved to `dest` and answered there; this machine is left paused
    /// (`postmigrate`).
    pub fn migrate_to(
        &mut self,
        dest: &mut Vm,
        migration: &Migration,
        scratch: &Path,
        deadline: Instant,
    ) -> Result<Migrated, MigrateError> {
        let started = Instant::now();
        let was_running = preflight(self, dest, deadline)?;
        let (from, to) = (self.name().to_owned(), dest.name().to_owned());
        let mut capabilities = migration.capabilities.clone();
        if migration.postcopy {
            capabilities.push("postcopy-ram".into());
        }
        for vm in [&mut *self, &mut *dest] {
            if !capabilities.is_empty() {
                let list: Vec<Value> = capabilities
                    .iter()
                    .map(|c| json!({ "capability": c, "state": true }))
                    .collect();
                let args = json!({ "capabilities": list });
                call(vm, "migrate-set-capabilities", Some(args), deadline)?;
            }
            if !migration.parameters.is_empty() {
                let args = Value::Object(migration.parameters.clone());
                call(vm, "migrate-set-parameters", Some(args), deadline)?;
            }
        }
        let place = migration_file(scratch, &from, &to, migration.transport);
        // A stale file from an earlier migration between the same two.
        let _ = std::fs::remove_file(&place);
        let (uri, incoming) = uris(migration.transport, &place);
        if !migration.transport.is_saved() {
            call(
                dest,
                "migrate-incoming",
                Some(json!({ "uri": incoming })),
                deadline,
            )?;
        }
        let uri = match migration.transport {
            Transport::Tcp => tcp_uri(dest, deadline)?,
            _ => uri,
        };
        let said_before = self.machine_ref().stderr().text().len();
        call(self, "migrate", Some(json!({ "uri": uri })), deadline)?;
        if migration.postcopy {
            call(self, "migrate-start-postcopy", None, deadline)?;
        }
        let status = wait_source(self, dest, said_before, deadline)?;
        if migration.transport.is_saved() {
            call(
                dest,
                "migrate-incoming",
                Some(json!({ "uri": incoming })),
                deadline,
            )?;
        }
        let expected = if was_running { "running" } else { "paused" };
        expect_status(dest, &from, expected, deadline)?;
        expect_status(self, &from, "postmigrate", deadline)?;
        let channel = take_over(self, dest, deadline)?;
        let took = started.elapsed();
        self.log().line(&format!(
            "migrated `{from}` to `{to}` over {uri} in {} ms ({}){}",
            took.as_millis(),
            summary(&status),
            channel.map_or(String::new(), |c| format!(
                "; its {} channel answers on `{to}`",
                c.name()
            ))
        ));
        Ok(Migrated {
            uri,
            took,
            status,
            channel,
        })
    }
}

/// Before anything starts: the two described alike, the source running or
/// paused, the destination waiting, a guest channel that can move. Whether
/// the source runs.
fn preflight(src: &mut Vm, dest: &mut Vm, deadline: Instant) -> Result<bool, MigrateError> {
    let differences: Vec<String> = src
        .shape()
        .iter()
        .zip(dest.shape())
        .filter(|(a, b)| a != b)
        .map(|((key, a), (_, b))| format!("{key}: {a} against {b}"))
        .collect();
    if !differences.is_empty() {
        return Err(MigrateError::Different {
            from: src.name().to_owned(),
            to: dest.name().to_owned(),
            differences: differences.join("; "),
        });
    }
    if src.channel() == Some(ChannelKind::Ssh) {
        return Err(MigrateError::NotReady {
            machine: src.name().to_owned(),
            why: "its guest is reached over SSH, and a cloud guest's disk (an overlay of each machine's own) does not move with a migration".into(),
        });
    }
    let running = match query_status(src, deadline)?.as_str() {
        "running" => true,
        "paused" | "prelaunch" => false,
        other => {
            return Err(MigrateError::NotReady {
                machine: src.name().to_owned(),
                why: format!("it is {other}, not running or paused"),
            })
        }
    };
    match query_status(dest, deadline)?.as_str() {
        "inmigrate" => Ok(running),
        other => Err(MigrateError::NotReady {
            machine: dest.name().to_owned(),
            why: format!(
                "it is {other}, not waiting for a migration (started with `-incoming defer`)"
            ),
        }),
    }
}

/// The URI the source migrates to and the one the destination listens on.
fn uris(transport: Transport, place: &Path) -> (String, String) {
    let path = place.to_string_lossy();
    let quoted = kennel_config::text::shell_quote(&path);
    match transport {
        Transport::Unix => (format!("unix:{path}"), format!("unix:{path}")),
        Transport::Tcp => (String::new(), "tcp:127.0.0.1:0".into()),
        Transport::Exec => (format!("exec:cat > {quoted}"), format!("exec:cat {quoted}")),
        Transport::File => (format!("file:{path}"), format!("file:{path}")),
    }
}

/// The loopback port the destination listens on (it asked the kernel for one).
fn tcp_uri(dest: &mut Vm, deadline: Instant) -> Result<String, MigrateError> {
    let info = call(dest, "query-migrate", None, deadline)?;
    let port = info
        .pointer("/socket-address/0/port")
        .and_then(Value::as_str)
        .ok_or_else(|| MigrateError::NotReady {
            machine: dest.name().to_owned(),
            why: format!("`query-migrate` names no listening port: {info}"),
        })?;
    Ok(format!("tcp:127.0.0.1:{port}"))
}

/// Wait for the source's migration to complete: its last `query-migrate`.
/// Failed: QEMU's `error-desc` and how the destination ended; still running
/// at `deadline`: cancelled.
fn wait_source(
    src: &mut Vm,
    dest: &mut Vm,
    said_before: usize,
    deadline: Instant,
) -> Result<Value, MigrateError> {
    let (from, to) = (src.name().to_owned(), dest.name().to_owned());
    loop {
        let info = call(src, "query-migrate", None, deadline + CANCEL_GRACE)?;
        match info.get("status").and_then(Value::as_str) {
            Some("completed") => return Ok(info),
            Some(end @ ("failed" | "cancelled")) => {
                let desc = info.get("error-desc").and_then(Value::as_str);
                // QEMU 7.2 prints some reasons on stderr instead of `error-desc`
                // (read by another thread: give it a moment); a destination that
                // failed the stream exits.
                let settled = Instant::now() + Duration::from_millis(500);
                let said = loop {
                    let text = src.machine_ref().stderr().text();
                    let said = text
                        .get(said_before..)
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    if desc.is_some() || !said.is_empty() || Instant::now() >= settled {
                        break said;
                    }
                    std::thread::sleep(POLL);
                };
                let mut why = match desc {
                    Some(desc) => desc.to_owned(),
                    None if !said.is_empty() => format!("status {end}; `{from}` said: {said}"),
                    None => format!("status {end}"),
                };
                if dest.machine().is_running() {
                    std::thread::sleep(Duration::from_millis(200));
                }
                if !dest.machine().is_running() {
                    why = format!(
                        "{why}; the destination `{to}`: {}",
                        dest.machine().exited_description()
                    );
                }
                return Err(MigrateError::Failed { from, to, why });
            }
            _ if Instant::now() >= deadline => {
                let cancel = match call(src, "migrate_cancel", None, Instant::now() + CANCEL_GRACE)
                {
                    Ok(_) => "cancelled".to_owned(),
                    Err(e) => format!("the cancel failed: {e}"),
                };
                return Err(MigrateError::Timeout {
                    from,
                    to,
                    last: summary(&info),
                    cancel,
                });
            }
            _ => std::thread::sleep(POLL),
        }
    }
}

/// Wait until `vm` is past loading the state, and check it is `expected`.
fn expect_status(
    vm: &mut Vm,
    from: &str,
    expected: &'static str,
    deadline: Instant,
) -> Result<(), MigrateError> {
    loop {
        if !vm.machine().is_running() {
            let to = vm.name().to_owned();
            let why = format!("`{to}`: {}", vm.machine().exited_description());
            return Err(MigrateError::Failed {
                from: from.to_owned(),
                to,
                why,
            });
        }
        let status = query_status(vm, deadline)?;
        match status.as_str() {
            s if s == expected => return Ok(()),
            "inmigrate" | "finish-migrate" if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => {
                return Err(MigrateError::Status {
                    machine: vm.name().to_owned(),
                    status,
                    expected,
                })
            }
        }
    }
}

/// Move the guest's channel from `src` to `dest` and have it answer there:
/// the agent a ping (its resume), the console shell a `true`.
fn take_over(
    src: &mut Vm,
    dest: &mut Vm,
    deadline: Instant,
) -> Result<Option<ChannelKind>, MigrateError> {
    let machine = dest.name().to_owned();
    let kind = match src.take_channel() {
        None => return Ok(None),
        Some(Channel::Agent(client)) => {
            let ready = crate::warm::Ready::Agent(client.ready_info().clone());
            drop(client);
            dest.reconnect(&ready, deadline)
                .map_err(|e| MigrateError::Channel {
                    machine: machine.clone(),
                    channel: ChannelKind::Agent.name(),
                    why: kennel_machine::error_chain(&e),
                })?;
            // Resumed: the agent answered a ping on the destination.
            return Ok(Some(ChannelKind::Agent));
        }
        Some(Channel::Console { commands }) => {
            dest.set_channel(Channel::Console { commands });
            ChannelKind::Console
        }
        Some(ssh @ Channel::Ssh(_)) => {
            // Refused before the migration started; keep it where it was.
            src.set_channel(ssh);
            return Ok(None);
        }
    };
    let answer = dest.run("true", deadline);
    match answer {
        Ok(out) if out.success() => Ok(Some(kind)),
        Ok(out) => Err(MigrateError::Channel {
            machine,
            channel: kind.name(),
            why: format!("`true` ended {}", out.status),
        }),
        Err(e) => Err(MigrateError::Channel {
            machine,
            channel: kind.name(),
            why: kennel_machine::error_chain(&e),
        }),
    }
}

/// Run a QMP command on `vm`: its return value, or QEMU's refusal.
fn call(
    vm: &mut Vm,
    command: &str,
    args: Option<Value>,
    deadline: Instant,
) -> Result<Value, MigrateError> {
    let machine = vm.name().to_owned();
    let qmp = vm
        .machine()
        .qmp()
        .map_err(|source| MigrateError::NoMonitor {
            machine: machine.clone(),
            source,
        })?;
    match qmp.execute_raw(command, args.as_ref(), deadline) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(MigrateError::Refused {
            machine,
            command: match args {
                Some(args) => format!("{command} {args}"),
                None => command.to_owned(),
            },
            class: e.class,
            desc: e.desc,
        }),
        Err(source) => Err(MigrateError::Exchange {
            machine,
            command: command.to_owned(),
            source,
        }),
    }
}

fn query_status(vm: &mut Vm, deadline: Instant) -> Result<String, MigrateError> {
    let status = call(vm, "query-status", None, deadline)?;
    Ok(status
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("in no known state")
        .to_owned())
}

/// `query-migrate` in a few words: status, times, what was sent.
fn summary(info: &Value) -> String {
    let mut parts = vec![format!(
        "status {}",
        info.get("status").and_then(Value::as_str).unwrap_or("none")
    )];
    let number = |pointer: &str| info.pointer(pointer).and_then(Value::as_u64);
    if let Some(ms) = number("/total-time") {
        parts.push(format!("total {ms} ms"));
    }
    if let Some(ms) = number("/downtime") {
        parts.push(format!("downtime {ms} ms"));
    }
    if let (Some(sent), Some(total)) = (number("/ram/transferred"), number("/ram/total")) {
        parts.push(format!(
            "{} of {} RAM sent",
            kennel_config::human_bytes(sent),
            kennel_config::human_bytes(total)
        ));
    }
    if let Some(bytes) = number("/ram/postcopy-bytes").filter(|b| *b > 0) {
        parts.push(format!("{} in postcopy", kennel_config::human_bytes(bytes)));
    }
    if let Some(left) = number("/ram/remaining") {
        parts.push(format!("{} left", kennel_config::human_bytes(left)));
    }
    parts.join(", ")
}

/// Where a migration between `from` and `to` keeps its socket or state.
pub fn migration_file(scratch: &Path, from: &str, to: &str, transport: Transport) -> PathBuf {
    let ext = if transport.is_saved() {
        "state"
    } else {
        "sock"
    };
    scratch.join(format!("migrate-{from}-{to}.{ext}"))
}
