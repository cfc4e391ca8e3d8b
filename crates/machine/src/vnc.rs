//! VNC into a machine's display, only while a person looks: a machine with a
//! display starts with a VNC server that listens nowhere (`-vnc none`), and
//! [`Machine::vnc_listen`] makes it listen on a UNIX socket in the machine's
//! private 0700 folder (QMP `display-update`), [`Machine::vnc_stop`] stops
//! it. No TCP port is opened: the folder's permissions keep the screen and
//! keyboard to the user who runs kennel, as they do the attach monitors.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use crate::error::MachineError;
use crate::machine::Machine;

/// The VNC server's socket in the machine's private folder, while it listens.
pub const VNC_SOCKET: &str = "vnc.sock";

/// The arguments giving a machine with a display its VNC server, listening
/// nowhere until [`Machine::vnc_listen`].
pub(crate) const VNC_ARGS: [&str; 2] = ["-vnc", "none"];

impl Machine {
    /// Make the VNC server listen on [`VNC_SOCKET`] in the private folder:
    /// its path, or `None` for a machine without a display (no VNC server).
    pub fn vnc_listen(&self, deadline: Instant) -> Result<Option<PathBuf>, MachineError> {
        if !self.vnc {
            return Ok(None);
        }
        let socket = self.sockdir.path().join(VNC_SOCKET);
        let address = json!({"type": "unix", "path": socket.to_string_lossy()});
        self.display_update(json!([address]), deadline)?;
        Ok(Some(socket))
    }

    /// Stop the VNC server listening (clients already connected stay until
    /// they leave or QEMU ends).
    pub fn vnc_stop(&self, deadline: Instant) -> Result<(), MachineError> {
        if !self.vnc {
            return Ok(());
        }
        self.display_update(json!([]), deadline)
    }

    fn display_update(
        &self,
        addresses: serde_json::Value,
        deadline: Instant,
    ) -> Result<(), MachineError> {
        let qmp = self.qmp_client().ok_or_else(|| MachineError::NoQmp {
            machine: self.name.clone(),
            why: "it was launched without a monitor".into(),
        })?;
        let args = json!({"type": "vnc", "addresses": addresses});
        qmp.execute("display-update", Some(&args), deadline)?;
        Ok(())
    }
}
