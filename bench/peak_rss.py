#!/usr/bin/env python3
"""Run a command and report the peak memory of that process alone.

    peak_rss.py OUT -- COMMAND [ARG...]

Polls VmHWM (the kernel's high-water mark of the resident set) in
/proc/PID/status of COMMAND's own process every millisecond until it exits,
then writes the last value read, in KiB, to OUT. The command's output goes
where this script's goes; the exit status is the command's.

Why not `/usr/bin/time -f %M`: that reports ru_maxrss from wait4(), which the
kernel takes as the maximum over the process *and its reaped descendants*, so
for a test runner it is the size of the largest QEMU it started, not its own.
VmHWM is per address space: the runner's threads count, its children do not.
Since the mark only rises, the last read is the peak up to ~1 ms before the
process's address space went away at exit.
Stdlib only.
"""

import subprocess
import sys
import time


def hwm_kib(pid):
    """VmHWM of pid in KiB, or None once it has no address space (exited)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__.splitlines()[2].strip())
    out, cmd = sys.argv[1], sys.argv[3:]
    proc = subprocess.Popen(cmd)
    peak = 0
    while proc.poll() is None:
        kib = hwm_kib(proc.pid)
        if kib is not None:
            peak = max(peak, kib)
        time.sleep(0.001)
    with open(out, "w") as f:
        f.write(f"{peak}\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
