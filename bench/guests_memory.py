#!/usr/bin/env python3
"""Run a kennel job and report the memory its QEMUs take while N run at once.

    guests_memory.py N -- COMMAND [ARG...]

Runs COMMAND (a `kennel run` of N tests that each hold a warm guest for a
few seconds, with `-j N`) and, every 50 ms while it runs, sums Rss and Pss
(/proc/PID/smaps_rollup, kB) over its descendant QEMU processes
(`qemu-system-*`). Prints "RSS_MIB PSS_MIB" of the last sample in which
exactly N QEMUs ran: the guests are idle in their step by then. PSS divides
each page among the processes mapping it (a page of the template's memory
file that 8 guests map counts 1/8 to each), so the sum is what the guests
take together; RSS counts every shared page once per process. Exits
non-zero when COMMAND fails or N QEMUs never ran at once. Stdlib only.
"""

import os
import subprocess
import sys
import time


def children_map():
    """Every process's parent, and its command name."""
    parent, comm = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parent[int(entry)] = ppid
        comm[int(entry)] = name
    return parent, comm


def descendant_qemus(root):
    parent, comm = children_map()
    found = []
    for pid, name in comm.items():
        if not name.startswith("qemu-system"):
            continue
        p = parent.get(pid)
        while p and p != root:
            p = parent.get(p)
        if p == root:
            found.append(pid)
    return found


def rollup_kib(pid):
    """(Rss, Pss) of pid in KiB, or None once it is gone."""
    rss = pss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        return None
    return (rss, pss) if rss is not None and pss is not None else None


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__.splitlines()[2].strip())
    want, cmd = int(sys.argv[1]), sys.argv[3:]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    last = None
    while proc.poll() is None:
        qemus = descendant_qemus(proc.pid)
        if len(qemus) == want:
            rolls = [rollup_kib(pid) for pid in qemus]
            if all(rolls):
                last = (sum(r[0] for r in rolls), sum(r[1] for r in rolls))
        time.sleep(0.05)
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} exited with {proc.returncode}")
    if last is None:
        sys.exit(f"never {want} QEMUs at once")
    print(f"{last[0] / 1024:.0f} {last[1] / 1024:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
