//! Helpers for the integration tests: unpacking archives with the host's
//! cpio, the host's kernel, and booting a guest under QEMU with deadlines.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kennel_guest::{GuestCache, PROMPT, READY_MARKER};

/// A guest cache shared by the tests of this target (prepared kernels are
/// worth keeping between runs).
pub fn shared_cache() -> GuestCache {
    GuestCache::new(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("kennel-guest-cache"))
}

/// The fetched pieces of the built-in guest for `arch` (`aarch64`, `ppc64`):
/// `$KENNEL_GUEST_DIR/<arch>`, else `build/guest/<arch>`; None when they are
/// not there (a skip, or a failure under `KENNEL_REQUIRE_ALL`).
pub fn foreign_tree(arch: &str) -> Option<PathBuf> {
    let tree = std::env::var_os(kennel_config::env::GUEST_DIR)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/guest"))
        .join(arch);
    if tree.join("vmlinuz").is_file() {
        Some(tree)
    } else {
        kennel_testkit::missing(&format!(
            "{}/vmlinuz (run scripts/fetch-foreign-guests.sh {arch} as root)",
            tree.display()
        ));
        None
    }
}

/// Unpacks a plain cpio archive into a new temporary directory with `cpio -i`.
pub fn unpack_with_host_cpio(archive: &[u8]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new("cpio")
        .args([
            "-i",
            "-d",
            "--quiet",
            "--no-absolute-filenames",
            "--preserve-modification-time",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .context("running cpio (apt-get install cpio)")?;
    child
        .stdin
        .take()
        .context("cpio's stdin")?
        .write_all(archive)?;
    let status = child.wait()?;
    if !status.success() {
        bail!("cpio -i failed: {status}");
    }
    Ok(dir)
}

/// The host kernel's path and its modules tree, or None when absent (a skip,
/// or a failure under `KENNEL_REQUIRE_ALL`: see kennel-testkit).
pub fn host_kernel() -> Option<(PathBuf, PathBuf)> {
    let kernel = kennel_guest::find_newest_kernel(Path::new("/boot")).ok();
    let Some(kernel) = kernel else {
        kennel_testkit::missing("a readable /boot/vmlinuz-* (apt-get install linux-image-amd64)");
        return None;
    };
    let release = kernel
        .file_name()?
        .to_str()?
        .strip_prefix("vmlinuz-")?
        .to_owned();
    Some((kernel, Path::new("/lib/modules").join(release)))
}

/// A QEMU running a guest on `-serial stdio`, its console collected by a thread.
pub struct Guest {
    child: Child,
    console: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    started: Instant,
}

impl Guest {
    /// Starts `qemu` with `args` (the console on stdio).
    pub fn launch(qemu: &str, args: &[std::ffi::OsString]) -> anyhow::Result<Guest> {
        let started = Instant::now();
        let mut child = Command::new(qemu)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {qemu}"))?;
        let mut stdout = child.stdout.take().context("QEMU's stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Guest {
            child,
            console: rx,
            seen: Vec::new(),
            started,
        })
    }

    /// Waits until the console shows `needle`; returns the time since launch.
    pub fn wait_for(&mut self, needle: &str, deadline: Duration) -> anyhow::Result<Duration> {
        let until = self.started + deadline;
        loop {
            if find(&self.seen, needle.as_bytes()).is_some() {
                return Ok(self.started.elapsed());
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.console.recv_timeout(left) {
                Ok(bytes) => self.seen.extend_from_slice(&bytes),
                Err(_) => bail!(
                    "no {needle:?} on the console within {deadline:?}; last console output:\n{}",
                    self.tail()
                ),
            }
        }
    }

    /// The last 2000 bytes of console output.
    pub fn tail(&self) -> String {
        let start = self.seen.len().saturating_sub(2000);
        String::from_utf8_lossy(&self.seen[start..]).into_owned()
    }

    /// Everything the console showed so far.
    pub fn console_text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Types `line` (plus a newline) on the console.
    pub fn send_line(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self.child.stdin.as_mut().context("QEMU's stdin")?;
        stdin.write_all(format!("{line}\n").as_bytes())?;
        stdin.flush()?;
        Ok(())
    }

    /// Waits for QEMU to exit; kills it after `deadline`.
    pub fn wait_exit(&mut self, deadline: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                bail!(
                    "QEMU did not exit within {deadline:?}; last console output:\n{}",
                    self.tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Boots a guest, waits for the marker and the prompt, powers it off, and
/// returns (time to marker, console text).
pub fn boot_to_marker_and_power_off(
    qemu: &str,
    args: Vec<std::ffi::OsString>,
) -> anyhow::Result<(Duration, String)> {
    let mut guest = Guest::launch(qemu, &args)?;
    let to_marker = guest.wait_for(READY_MARKER, Duration::from_secs(40))?;
    guest.wait_for(PROMPT, Duration::from_secs(45))?;
    guest.send_line("poweroff -f")?;
    let status = guest.wait_exit(Duration::from_secs(15))?;
    if !status.success() {
        bail!("QEMU exited with {status}; console:\n{}", guest.tail());
    }
    Ok((to_marker, guest.console_text()))
}
