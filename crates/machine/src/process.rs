//! Linux process plumbing: the parent-death signal and signals to process groups.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Make the command's process receive SIGKILL when the thread that spawned it
/// dies, so that no QEMU outlives kennel, whatever happens to kennel.
///
/// The parent-death signal follows the spawning *thread*: spawn QEMU from a thread
/// that lives as long as the machine (the test's main thread).
pub fn kill_with_parent(cmd: &mut Command) {
    // SAFETY: getpid is async-signal-safe and called before fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and only calls
    // async-signal-safe functions (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Send `signal` to one process; errors (already gone) are ignored.
pub fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Send `signal` to a whole process group; errors (already gone) are ignored.
pub fn signal_group(pgid: u32, signal: libc::c_int) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        // SAFETY: kill(2) with a negative pid signals the group; no memory preconditions.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// The first process under `root` (its children, theirs, ...) that runs the
/// executable `exe`: QEMU under a wrapper such as `strace -f` or `valgrind`.
pub fn descendant_running(root: u32, exe: &std::path::Path) -> Option<u32> {
    let exe = std::fs::canonicalize(exe).ok()?;
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = parent_of(pid) {
            parents.push((pid, ppid));
        }
    }
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, _) in parents.iter().filter(|(_, ppid)| *ppid == p) {
            if runs(pid, &exe) {
                return Some(pid);
            }
            frontier.push(pid);
        }
    }
    None
}

/// Whether process `pid` exists and runs the executable `exe`.
pub fn runs(pid: u32, exe: &std::path::Path) -> bool {
    let Ok(actual) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
        return false;
    };
    let wanted = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    actual == wanted
}

/// The parent of `pid`, from `/proc/<pid>/stat` (the field after the name,
/// which may itself hold spaces and parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Reaps a child process on a thread of its own, so that waiting for its exit
/// wakes the moment it happens instead of polling.
pub struct Reaper {
    pid: u32,
    state: std::sync::Arc<(
        std::sync::Mutex<Option<std::process::ExitStatus>>,
        std::sync::Condvar,
    )>,
}

impl Reaper {
    /// Take over `child` (take its pipes first): a thread waits for it.
    pub fn spawn(mut child: std::process::Child) -> Reaper {
        let pid = child.id();
        let state = std::sync::Arc::new((std::sync::Mutex::new(None), std::sync::Condvar::new()));
        let shared = std::sync::Arc::clone(&state);
        std::thread::spawn(move || {
            let status = loop {
                match child.wait() {
                    Ok(s) => break Some(s),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break None,
                }
            };
            let (lock, cond) = &*shared;
            let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
            *st = status.or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                Some(std::process::ExitStatus::from_raw(0))
            });
            cond.notify_all();
        });
        Reaper { pid, state }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit status, if the process has ended.
    pub fn status(&self) -> Option<std::process::ExitStatus> {
        *self.state.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for the exit until `deadline`; `None` if it is still running then.
    pub fn wait_until(&self, deadline: std::time::Instant) -> Option<std::process::ExitStatus> {
        let (lock, cond) = &*self.state;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(s) = *st {
                return Some(s);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return None;
            }
            st = cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Send `sig` to the process unless it has already been reaped.
    pub fn signal(&self, sig: libc::c_int) {
        let st = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        if st.is_none() {
            signal(self.pid, sig);
        }
    }
}

/// The name of a signal QEMU may die of (`SIGSEGV`, `SIGABRT`, ...), for messages.
pub fn signal_name(number: i32) -> Option<&'static str> {
    const NAMES: [(i32, &str); 15] = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
    ];
    NAMES
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, name)| *name)
}
