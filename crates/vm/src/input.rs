//! Keyboard and mouse input into a machine's display, for both front ends:
//! key combinations through QMP `send-key`, text as key presses on a US
//! keyboard, and the pointer through QMP `input-send-event` (absolute, on
//! the USB tablet a machine gets with `tablet`). The names and the layout
//! are [`kennel_spec::keys`]'.

use std::time::{Duration, Instant};

use kennel_machine::{CommandError, MachineError, QmpError, Value};
use kennel_spec::keys::{text_keys, KeyCombo, KeyError};
use serde_json::json;

use crate::vm::Vm;

/// How long QEMU holds each key of a combination down, and then waits after
/// each release (QMP `send-key`'s `hold-time`).
pub const KEY_HOLD: Duration = Duration::from_millis(20);

/// Why input could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The machine has no QMP monitor (or QEMU has exited).
    #[error("no monitor to send {what} through")]
    NoMonitor {
        /// What was to be sent.
        what: String,
        /// Why there is none.
        #[source]
        source: MachineError,
    },
    /// The QMP exchange failed: a timeout, QEMU went away or spoke garbage.
    #[error("sending {what}")]
    Exchange {
        /// What was being sent.
        what: String,
        /// The failure.
        #[source]
        source: QmpError,
    },
    /// QEMU refused the command.
    #[error("QEMU refused {what}")]
    Refused {
        /// What was sent.
        what: String,
        /// QEMU's error.
        #[source]
        source: CommandError,
    },
    /// A key this machine's QEMU does not have yet.
    #[error(
        "key `{key}` needs QEMU {}.{} or later; this machine runs QEMU {}.{}.{}",
        since.0, since.1, version.0, version.1, version.2
    )]
    KeyTooNew {
        /// The key.
        key: &'static str,
        /// The QEMU version that added it.
        since: (u32, u32),
        /// The machine's QEMU.
        version: (u64, u64, u64),
    },
    /// A text no US keyboard types, or a key name QEMU does not know.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The deadline came before every key was pressed.
    #[error("timed out after {done} of {total} key presses")]
    Timeout {
        /// The combinations pressed.
        done: usize,
        /// The combinations to press.
        total: usize,
    },
}

impl InputError {
    /// Whether the deadline ran out (the step's or the test's time), rather
    /// than the machine or QEMU failing.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            InputError::Timeout { .. }
                | InputError::Exchange {
                    source: QmpError::Timeout { .. },
                    ..
                }
        )
    }
}

impl Vm {
    /// Press each combination of `combos` in turn (`ctrl-alt-f2`: ctrl, alt
    /// and f2 down in order, released in reverse), each key held
    /// [`KEY_HOLD`]; kennel waits for QEMU to play one combination before it
    /// sends the next, so a long text never overflows QEMU's key queue. Every
    /// wait ends by `deadline`.
    pub fn send_keys(&mut self, combos: &[KeyCombo], deadline: Instant) -> Result<(), InputError> {
        let version = self.machine().qmp().ok().and_then(|q| q.version());
        if let Some(version) = version {
            check_keys_exist(combos, version)?;
        }
        for (done, combo) in combos.iter().enumerate() {
            let presses = u32::try_from(combo.keys().len() * 2).unwrap_or(u32::MAX);
            let plays_for = KEY_HOLD * presses;
            if Instant::now() + plays_for > deadline {
                return Err(InputError::Timeout {
                    done,
                    total: combos.len(),
                });
            }
            self.qmp_input(
                "send-key",
                &send_key_args(combo),
                &format!("key {combo}"),
                deadline,
            )?;
            std::thread::sleep(plays_for);
        }
        Ok(())
    }

    /// Type `text` on a US keyboard: [`text_keys`] then [`Vm::send_keys`].
    pub fn type_text(&mut self, text: &str, deadline: Instant) -> Result<(), InputError> {
        let combos = text_keys(text)?;
        self.send_keys(&combos, deadline)
    }

    /// Run the QMP input command `command`; `what` names the input for errors.
    pub(crate) fn qmp_input(
        &mut self,
        command: &str,
        args: &Value,
        what: &str,
        deadline: Instant,
    ) -> Result<(), InputError> {
        let qmp = self
            .machine()
            .qmp()
            .map_err(|source| InputError::NoMonitor {
                what: what.to_owned(),
                source,
            })?;
        match qmp.execute_raw(command, Some(args), deadline) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(InputError::Refused {
                what: what.to_owned(),
                source,
            }),
            Err(source) => Err(InputError::Exchange {
                what: what.to_owned(),
                source,
            }),
        }
    }
}

/// Every key of `combos` exists in QEMU `version`.
fn check_keys_exist(combos: &[KeyCombo], version: (u64, u64, u64)) -> Result<(), InputError> {
    for key in combos.iter().flat_map(|c| c.keys()) {
        if let Some(since) = key.since() {
            if (version.0, version.1) < (u64::from(since.0), u64::from(since.1)) {
                return Err(InputError::KeyTooNew {
                    key: key.name(),
                    since,
                    version,
                });
            }
        }
    }
    Ok(())
}

/// QMP `send-key`'s arguments for `combo`.
fn send_key_args(combo: &KeyCombo) -> Value {
    let keys: Vec<Value> = combo
        .keys()
        .iter()
        .map(|k| json!({"type": "qcode", "data": k.name()}))
        .collect();
    json!({"keys": keys, "hold-time": KEY_HOLD.as_millis() as u64})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_combination_becomes_send_key_with_qcodes_in_order() {
        let combo = KeyCombo::parse("ctrl-alt-f2").expect("combo");

        assert_eq!(
            send_key_args(&combo),
            json!({"keys": [
                {"type": "qcode", "data": "ctrl"},
                {"type": "qcode", "data": "alt"},
                {"type": "qcode", "data": "f2"},
            ], "hold-time": 20})
        );
    }

    #[test]
    fn a_key_newer_than_the_machines_qemu_is_refused_naming_both_versions() {
        let combos = [KeyCombo::parse("ctrl-f13").expect("combo")];

        let err = check_keys_exist(&combos, (7, 2, 11)).expect_err("too new");

        assert_eq!(
            err.to_string(),
            "key `f13` needs QEMU 8.0 or later; this machine runs QEMU 7.2.11"
        );
        assert!(check_keys_exist(&combos, (10, 0, 2)).is_ok());
    }
}
