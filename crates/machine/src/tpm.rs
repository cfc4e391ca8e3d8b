//! A TPM for a machine: `swtpm socket`, started before QEMU as a child of the
//! same thread (the parent-death signal: it dies with kennel, even by
//! `kill -9`), its control socket in the machine's private socket folder,
//! its state in a folder of the test's, its log in the test's log folder.
//! QEMU connects to it (`-chardev socket` + `-tpmdev emulator` + a TIS
//! device); `--terminate` ends swtpm when QEMU goes, and the machine kills it
//! too ([`Swtpm`]'s `Drop`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The TPM versions: `tpm = "2.0"` or `"1.2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpmVersion {
    /// TPM 1.2.
    V1_2,
    /// TPM 2.0.
    V2_0,
}

impl TpmVersion {
    /// The names a test may write.
    pub const NAMES: [&'static str; 2] = ["2.0", "1.2"];

    /// From a test's `tpm = "..."`.
    pub fn from_name(name: &str) -> Option<TpmVersion> {
        match name {
            "2.0" | "2" => Some(TpmVersion::V2_0),
            "1.2" => Some(TpmVersion::V1_2),
            _ => None,
        }
    }
}

/// The program and the Debian package that has it.
pub const SWTPM: &str = "swtpm";
/// The Debian packages a TPM needs.
pub const SWTPM_PACKAGES: &str = "swtpm swtpm-tools";
/// The control socket's name in the machine's private socket folder.
pub const SWTPM_SOCKET: &str = "swtpm.sock";
/// How long swtpm may take to open its socket.
pub const SWTPM_START_LIMIT: Duration = Duration::from_secs(10);

/// A machine's TPM: where swtpm keeps its state and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmConfig {
    /// The TPM's version.
    pub version: TpmVersion,
    /// swtpm's state folder (the test's private scratch), made when missing.
    pub state_dir: PathBuf,
    /// swtpm's log file (in the test's log folder).
    pub log: PathBuf,
}

/// Why swtpm did not start.
#[derive(Debug, thiserror::Error)]
pub enum TpmError {
    /// swtpm is not installed.
    #[error("`tpm` needs swtpm, which is not installed (apt-get install {SWTPM_PACKAGES})")]
    NotInstalled,
    /// Its state folder could not be made.
    #[error("cannot make swtpm's state folder {}", path.display())]
    StateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It could not be run.
    #[error("cannot start swtpm")]
    Spawn(#[source] std::io::Error),
    /// It exited, or never opened its socket.
    #[error("swtpm {what}; its log {}:\n{log_tail}", log.display())]
    Failed {
        /// What happened.
        what: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        log_tail: String,
    },
}

impl TpmConfig {
    /// The swtpm command for a control socket at `socket`.
    pub fn swtpm_command(&self, socket: &Path) -> Command {
        let mut cmd = Command::new(SWTPM);
        cmd.arg("socket")
            .arg("--tpmstate")
            .arg(format!("dir={}", self.state_dir.display()))
            .arg("--ctrl")
            .arg(format!("type=unixio,path={}", socket.display()))
            .arg("--log")
            .arg(format!("file={},level=20", self.log.display()))
            .arg("--terminate");
        if self.version == TpmVersion::V2_0 {
            cmd.arg("--tpm2");
        }
        cmd
    }

    /// QEMU's arguments for the TPM of an `arch` machine whose swtpm listens
    /// in `socket_dir`: a chardev, the emulator backend, and the TIS device
    /// (`tpm-tis` on x86, the sysbus `tpm-tis-device` on aarch64 `virt`).
    pub fn qemu_args(&self, arch: &str, socket_dir: &Path) -> Vec<String> {
        let device = match arch {
            "aarch64" | "arm" => "tpm-tis-device",
            "ppc64" => "tpm-spapr",
            _ => "tpm-tis",
        };
        vec![
            "-chardev".into(),
            format!(
                "socket,id=kennel-tpm-sock,path={}",
                socket_dir.join(SWTPM_SOCKET).display()
            ),
            "-tpmdev".into(),
            "emulator,id=kennel-tpm,chardev=kennel-tpm-sock".into(),
            "-device".into(),
            format!("{device},tpmdev=kennel-tpm"),
        ]
    }

    /// Start swtpm with its socket in `socket_dir` and wait (bounded by
    /// `limit`) until the socket exists.
    pub fn start(&self, socket_dir: &Path, limit: Duration) -> Result<Swtpm, TpmError> {
        if kennel_config::which(SWTPM).is_none() {
            return Err(TpmError::NotInstalled);
        }
        std::fs::create_dir_all(&self.state_dir).map_err(|source| TpmError::StateDir {
            path: self.state_dir.clone(),
            source,
        })?;
        let socket = socket_dir.join(SWTPM_SOCKET);
        let mut cmd = self.swtpm_command(&socket);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        crate::process::kill_with_parent(&mut cmd);
        let child = cmd.spawn().map_err(TpmError::Spawn)?;
        let mut swtpm = Swtpm {
            child,
            log: self.log.clone(),
        };
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = swtpm.child.try_wait() {
                return Err(swtpm.failed(format!("exited ({status}) before opening its socket")));
            }
            if socket.exists() {
                return Ok(swtpm);
            }
            if Instant::now() >= deadline {
                return Err(swtpm.failed(format!(
                    "did not open {} within {limit:?}",
                    socket.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A running swtpm, killed and reaped when dropped.
#[derive(Debug)]
pub struct Swtpm {
    child: Child,
    log: PathBuf,
}

impl Swtpm {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// It failed: killed, reaped, the error with its log's tail.
    fn failed(&mut self, what: String) -> TpmError {
        let _ = self.child.kill();
        let _ = self.child.wait();
        TpmError::Failed {
            what,
            log: self.log.clone(),
            log_tail: swtpm_log_tail(&self.log),
        }
    }
}

/// The last lines of swtpm's log, indented.
fn swtpm_log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(20)..];
    if tail.is_empty() {
        "    (empty)".into()
    } else {
        tail.iter()
            .map(|l| format!("    {}", kennel_config::text::visible(l)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// swtpm's version (`swtpm --version`'s first line), or `None` when it is
/// not installed.
pub fn swtpm_version() -> Option<String> {
    let path = kennel_config::which(SWTPM)?;
    let out = Command::new(path).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(dir: &Path) -> TpmConfig {
        TpmConfig {
            version: TpmVersion::V2_0,
            state_dir: dir.join("state"),
            log: dir.join("swtpm.log"),
        }
    }

    #[test]
    fn qemu_gets_the_device_of_its_architecture() {
        let c = config(Path::new("/t"));
        let x86 = c.qemu_args("x86_64", Path::new("/run/k"));
        assert_eq!(
            x86,
            [
                "-chardev",
                "socket,id=kennel-tpm-sock,path=/run/k/swtpm.sock",
                "-tpmdev",
                "emulator,id=kennel-tpm,chardev=kennel-tpm-sock",
                "-device",
                "tpm-tis,tpmdev=kennel-tpm"
            ]
        );
        assert_eq!(
            c.qemu_args("aarch64", Path::new("/run/k"))[5],
            "tpm-tis-device,tpmdev=kennel-tpm"
        );
    }

    #[test]
    fn swtpm_starts_opens_its_socket_and_dies_when_dropped() {
        if kennel_testkit::need_command(SWTPM, SWTPM_PACKAGES).is_none() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config(dir.path());
        let mut swtpm = c
            .start(dir.path(), SWTPM_START_LIMIT)
            .expect("swtpm starts");
        assert!(dir.path().join(SWTPM_SOCKET).exists());
        assert!(swtpm.is_running());
        let pid = swtpm.pid();
        drop(swtpm);
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        assert!(dir.path().join("state").is_dir());
    }

    #[test]
    fn a_tpm_1_2_starts_too() {
        if kennel_testkit::need_command(SWTPM, SWTPM_PACKAGES).is_none() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let c = TpmConfig {
            version: TpmVersion::V1_2,
            ..config(dir.path())
        };
        let args: Vec<String> = c
            .swtpm_command(Path::new("/s"))
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(!args.iter().any(|a| a == "--tpm2"), "{args:?}");
        let mut swtpm = c
            .start(dir.path(), SWTPM_START_LIMIT)
            .expect("swtpm starts");
        assert!(swtpm.is_running());
    }

    #[test]
    fn swtpm_that_cannot_start_errors_with_its_log() {
        if kennel_testkit::need_command(SWTPM, SWTPM_PACKAGES).is_none() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config(dir.path());
        // Its socket's folder does not exist: swtpm logs why and exits.
        let err = c
            .start(&dir.path().join("no/such/folder"), SWTPM_START_LIMIT)
            .expect_err("no socket");
        let text = err.to_string();
        assert!(text.contains("swtpm exited"), "{text}");
        assert!(text.contains("swtpm.log"), "{text}");
    }
}
