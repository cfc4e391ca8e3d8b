//! A private OpenSSH server on 127.0.0.1 for the integration tests.

#![allow(dead_code)] // not every test binary uses every helper

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kennel_ssh::KeyPair;

pub const SSHD: &str = "/usr/sbin/sshd";
pub const SSH: &str = "/usr/bin/ssh";

/// Whether a test must skip for want of `binary` (says so; under
/// `KENNEL_REQUIRE_ALL` it fails instead: see kennel-testkit).
pub fn skip_without(binary: &str) -> bool {
    if Path::new(binary).exists() {
        false
    } else {
        kennel_testkit::missing(&format!(
            "{binary} (apt-get install openssh-server openssh-client)"
        ));
        true
    }
}

/// The error and all its sources, joined with ": ".
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A free port on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    assert!(out.status.success(), "id -un failed");
    String::from_utf8(out.stdout)
        .expect("utf-8 user name")
        .trim()
        .to_owned()
}

/// Host key, authorized_keys and configuration of one test server.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// The server's host public key line.
    pub host_key: String,
    pub user: String,
}

impl Fixture {
    /// None (after printing why) when sshd is not installed.
    pub fn new() -> Option<Fixture> {
        if skip_without(SSHD) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let host = dir.path().join("host_ed25519");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "test-host", "-f"])
            .arg(&host)
            .status()
            .expect("run ssh-keygen");
        assert!(status.success(), "ssh-keygen failed");
        let host_key = std::fs::read_to_string(host.with_extension("pub"))
            .expect("read host public key")
            .trim()
            .to_owned();
        std::fs::write(dir.path().join("authorized_keys"), "").expect("write authorized_keys");
        // Privilege separation as root needs this directory (normally made by
        // the service manager).
        if unsafe { libc::geteuid() } == 0 {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        Some(Fixture {
            dir,
            host_key,
            user: current_user(),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Appends `key` to the server's authorized_keys.
    pub fn authorize(&self, key: &KeyPair) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path("authorized_keys"))
            .expect("open authorized_keys");
        writeln!(file, "{}", key.public_openssh("kennel-test")).expect("append authorized_keys");
    }

    /// Starts sshd on a free port, retrying when another process took it.
    pub fn start(&self) -> Sshd {
        let mut last = String::new();
        for _ in 0..10 {
            match self.start_on(free_port()) {
                Ok(sshd) => return sshd,
                Err(err) => last = err,
            }
        }
        panic!("could not start sshd: {last}");
    }

    /// Starts sshd on `port` and waits until it listens.
    pub fn start_on(&self, port: u16) -> Result<Sshd, String> {
        let config = self.path(&format!("sshd_config.{port}"));
        let d = self.dir.path().display();
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\n\
                 Port {port}\n\
                 HostKey {d}/host_ed25519\n\
                 AuthorizedKeysFile {d}/authorized_keys\n\
                 PidFile {d}/sshd.{port}.pid\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\n\
                 LogLevel INFO\n"
            ),
        )
        .map_err(|e| format!("write sshd_config: {e}"))?;
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {SSHD}: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("sshd[{port}]: {line}");
                let _ = lines_tx.send(line);
            }
        });
        let mut sshd = Sshd {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut log = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) if line.contains("Server listening") => return Ok(sshd),
                Ok(line) => log.push(line),
                Err(_) => {
                    let status = sshd.child.try_wait().ok().flatten();
                    return Err(format!(
                        "sshd on port {port} did not start (exit {status:?}): {}",
                        log.join(" | ")
                    ));
                }
            }
        }
    }
}

/// A running sshd; killed (with its per-connection children) on drop.
pub struct Sshd {
    child: Child,
    pub addr: SocketAddr,
}

impl Sshd {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Per-connection server processes call setsid(), so killing the
        // listener's process group is not enough: kill the whole process tree
        // (collected before anything dies and gets re-parented).
        if let Ok(pid) = i32::try_from(self.child.id()) {
            for victim in std::iter::once(pid).chain(descendants(pid)) {
                unsafe {
                    libc::kill(victim, libc::SIGKILL);
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// All descendants of `root`, from /proc.
fn descendants(root: i32) -> Vec<i32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may contain spaces and parens.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}
