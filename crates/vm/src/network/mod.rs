//! Links between a test's machines without root: a hub of kennel's per
//! network, in the test process, and a NIC per machine on it.
//!
//! Every machine's NIC gets a `-netdev dgram` whose local end is a UNIX
//! datagram socket QEMU binds in the test's private folder and whose remote
//! end is the hub's own socket for that machine. The hub forwards each frame
//! it receives to every other machine of the network (no learning, so a
//! frame reaches every NIC as on a shared segment), and with `capture`
//! writes it to `<network>.pcap` in the test's log folder, in the order it
//! passed. One path for two machines and for twenty: captures need no merge,
//! and a test's frames never leave its own sockets.
//!
//! Numbers are deterministic: a network's is its place among the test's
//! networks, a machine's its place among the machines that join any
//! network (from 1), and they make the NIC's MAC address
//! (`52:54:00:00:<network>:<machine>`) and the address the built-in guest
//! gives it (`192.168.<network>.<machine>/24`).

mod hub;
mod pcap;

use std::path::{Path, PathBuf};

use crate::log::TestLog;

pub use hub::Hub;
pub use pcap::{PcapError, PcapFrame, PcapReader};

/// The NIC model of a machine on a test's network when it names none.
pub const DEFAULT_NIC_MODEL: &str = "virtio-net-pci";

/// One machine's NIC on one of the test's networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The network's name.
    pub network: String,
    /// The network's number (from 1).
    pub link: u8,
    /// The machine's number (from 1).
    pub machine: u8,
    /// The QEMU device (`virtio-net-pci`, `e1000`...).
    pub model: String,
    /// The socket QEMU binds (the frames the hub sends it).
    pub socket: PathBuf,
    /// The hub's socket for this machine (where QEMU sends its frames).
    pub hub: PathBuf,
}

impl Nic {
    /// `52:54:00:00:<link>:<machine>` in hex.
    pub fn mac(&self) -> String {
        format!("52:54:00:00:{:02x}:{:02x}", self.link, self.machine)
    }

    /// `192.168.<link>.<machine>`.
    pub fn ip(&self) -> String {
        format!("192.168.{}.{}", self.link, self.machine)
    }

    /// The NIC device's id, which QMP `set_link` names: `nic-<network>`.
    pub fn device_id(&self) -> String {
        device_id(&self.network)
    }

    /// QEMU's arguments for the NIC: its `-netdev dgram` and its `-device`.
    pub fn qemu_args(&self) -> Vec<String> {
        let id = format!("net-{}", self.network);
        vec![
            "-netdev".into(),
            format!(
                "dgram,id={id},local.type=unix,local.path={},remote.type=unix,remote.path={}",
                self.socket.display(),
                self.hub.display()
            ),
            "-device".into(),
            format!(
                "{},netdev={id},id={},mac={}",
                self.model,
                self.device_id(),
                self.mac()
            ),
        ]
    }

    /// The kernel command-line word giving the built-in guest's NIC its address.
    pub fn guest_param(&self) -> String {
        format!("{}={},{}/24", kennel_guest::IP_PARAM, self.mac(), self.ip())
    }
}

/// Wire `nics` into `config`: each NIC's `-netdev` and `-device`, and for the
/// built-in guest (`builtin`) the kernel command-line words giving them their
/// addresses. A machine with NICs boots cold (the reason is returned for
/// `test.log`): its template would be a different one per machine and link,
/// booted once for each, and its hub ports would have to be reconnected on
/// restore.
pub(crate) fn wire(
    config: &mut kennel_machine::MachineConfig,
    nics: &[Nic],
    builtin: bool,
) -> Option<String> {
    if nics.is_empty() {
        return None;
    }
    for nic in nics {
        config.extra_args.extend(nic.qemu_args());
    }
    if builtin {
        let words: Vec<String> = nics.iter().map(Nic::guest_param).collect();
        let words = words.join(" ");
        config.append = Some(match config.append.take() {
            Some(append) => format!("{append} {words}"),
            None => words,
        });
    }
    let names: Vec<&str> = nics.iter().map(|n| n.network.as_str()).collect();
    Some(format!(
        "it joins the test's networks ({}): each machine of a link has its own \
         addresses, so a saved state would serve no other machine",
        names.join(", ")
    ))
}

/// The id of a machine's NIC on `network` (QMP `set_link` takes it).
pub fn device_id(network: &str) -> String {
    format!("nic-{network}")
}

/// The kernel module that drives NIC `model` in the built-in guest, where
/// kennel knows one.
pub fn guest_module(model: &str) -> Option<&'static str> {
    match model {
        "virtio-net-pci" | "virtio-net-device" | "virtio-net" => Some("virtio_net"),
        "e1000" | "e1000-82540em" => Some("e1000"),
        "e1000e" => Some("e1000e"),
        "rtl8139" => Some("8139cp"),
        _ => None,
    }
}

/// Why a network could not be set up or joined.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// Two networks of one name.
    #[error("network `{0}` is declared twice")]
    Duplicate(String),
    /// A machine joins a network the test does not declare.
    #[error("machine `{machine}` joins network `{network}`, which the test does not declare")]
    Undeclared {
        /// The machine.
        machine: String,
        /// The network it named.
        network: String,
    },
    /// More networks or machines than an address byte holds.
    #[error("more than 254 {0}")]
    TooMany(&'static str),
    /// A socket or the capture file could not be made.
    #[error("network `{network}`: {what}")]
    Io {
        /// The network.
        network: String,
        /// What failed.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The test's networks: their hubs, running in this process until dropped,
/// and the numbers of the machines that joined them.
pub struct Networks {
    hubs: Vec<Hub>,
    machines: Vec<String>,
    sockets: PathBuf,
    logdir: PathBuf,
    log: TestLog,
}

impl Networks {
    /// No networks yet; their sockets will go in `sockets` (the test's
    /// private folder), their captures in `logdir`, their notes in `log`.
    pub fn new(sockets: &Path, logdir: &Path, log: TestLog) -> Networks {
        Networks {
            hubs: Vec::new(),
            machines: Vec::new(),
            sockets: sockets.to_path_buf(),
            logdir: logdir.to_path_buf(),
            log,
        }
    }

    /// Declare network `name`, captured to `<name>.pcap` in the log folder
    /// when `capture`; its hub starts now.
    pub fn declare(&mut self, name: &str, capture: bool) -> Result<(), NetworkError> {
        if self.hubs.iter().any(|h| h.name() == name) {
            return Err(NetworkError::Duplicate(name.to_owned()));
        }
        let number = u8::try_from(self.hubs.len() + 1)
            .ok()
            .filter(|n| *n < 255)
            .ok_or(NetworkError::TooMany("networks"))?;
        let capture = capture.then(|| self.logdir.join(format!("{name}.pcap")));
        let hub = Hub::start(name, number, capture).map_err(|source| NetworkError::Io {
            network: name.to_owned(),
            what: "starting its hub".into(),
            source,
        })?;
        self.log.line(&format!(
            "network `{name}` (192.168.{number}.0/24): hub of kennel's{}",
            match hub.capture() {
                Some(path) => format!(", frames captured in {}", path.display()),
                None => String::new(),
            }
        ));
        self.hubs.push(hub);
        Ok(())
    }

    /// Whether network `name` is declared.
    pub fn has(&self, name: &str) -> bool {
        self.hubs.iter().any(|h| h.name() == name)
    }

    /// Machine `machine`'s number on the networks (from 1, in the order
    /// machines are first numbered or join): a front end numbers its machines
    /// in the order the test declares them before any starts.
    pub fn number(&mut self, machine: &str) -> Result<u8, NetworkError> {
        let number = match self.machines.iter().position(|m| m == machine) {
            Some(i) => i + 1,
            None => {
                self.machines.push(machine.to_owned());
                self.machines.len()
            }
        };
        u8::try_from(number)
            .ok()
            .filter(|n| *n < 255)
            .ok_or(NetworkError::TooMany("machines on networks"))
    }

    /// Machine `machine` joins network `network` with a NIC of `model`: the
    /// hub opens its port (once: a machine started again keeps it), and the
    /// NIC says what QEMU needs.
    pub fn join(&mut self, network: &str, machine: &str, model: &str) -> Result<Nic, NetworkError> {
        if !self.has(network) {
            return Err(NetworkError::Undeclared {
                machine: machine.to_owned(),
                network: network.to_owned(),
            });
        }
        let number = self.number(machine)?;
        let Some(hub) = self.hubs.iter().find(|h| h.name() == network) else {
            unreachable!("checked above");
        };
        let link = hub.number();
        let nic = Nic {
            network: network.to_owned(),
            link,
            machine: number,
            model: model.to_owned(),
            socket: self.sockets.join(format!("net{link}-m{number}.sock")),
            hub: self.sockets.join(format!("net{link}-m{number}-hub.sock")),
        };
        // A QEMU that ran before left its socket behind.
        let _ = std::fs::remove_file(&nic.socket);
        if !hub.has_port(&nic.hub) {
            hub.add_port(&nic.hub, &nic.socket)
                .map_err(|source| NetworkError::Io {
                    network: network.to_owned(),
                    what: format!("opening the port of machine `{machine}`"),
                    source,
                })?;
        }
        Ok(nic)
    }
}

impl Networks {
    /// Stop every hub (after the machines: the frames they still sent are
    /// counted), and note in `test.log` how many frames each network carried
    /// and where its capture is.
    pub fn stop(&mut self) {
        for hub in self.hubs.drain(..) {
            let name = hub.name().to_owned();
            let (frames, capture) = hub.stop();
            match capture {
                Some(path) => self.log.line(&format!(
                    "network `{name}`: {frames} frames, captured in {}",
                    path.display()
                )),
                None => self.log.line(&format!("network `{name}`: {frames} frames")),
            }
        }
    }
}

impl Drop for Networks {
    fn drop(&mut self) {
        self.stop();
    }
}
