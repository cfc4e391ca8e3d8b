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
