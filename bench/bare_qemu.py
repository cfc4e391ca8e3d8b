#!/usr/bin/env python3
"""The work of the qmp-job benchmark done by bare QEMU, with no framework.

For each of N runs: bind a unix socket, start QEMU (`-machine none -S`) with a
QMP monitor that connects to it (as kennel does), read the greeting, send
qmp_capabilities, query-status, quit, and wait for QEMU to exit with code 0.
Runs are spread over -j worker threads. Prints its own wall time (measured
after Python's startup; the caller times the whole process).
Stdlib only.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def qmp(f, command):
    """Send one command; return its `return` value (events are skipped)."""
    f.write(json.dumps({"execute": command}).encode() + b"\n")
    f.flush()
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError(f"{command}: QMP connection closed")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{command}: {reply['error']}")
        if "return" in reply:
            return reply["return"]


def one_run(qemu):
    sockdir = tempfile.mkdtemp(prefix="bare-qemu-")
    path = os.path.join(sockdir, "qmp.sock")
    proc = None
    try:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(0.05)  # only how often we check that QEMU is alive
        proc = subprocess.Popen(
            [qemu, "-machine", "none", "-nodefaults", "-S",
             "-display", "none", "-vga", "none", "-accel", "tcg",
             "-chardev", f"socket,id=mon,path={path}",
             "-mon", "chardev=mon,mode=control"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                conn, _ = listener.accept()
                break
            except socket.timeout:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("QEMU did not connect to the QMP socket")
        listener.close()
        conn.settimeout(30)
        with conn, conn.makefile("rwb") as f:
            greeting = json.loads(f.readline() or b"{}")
            if "QMP" not in greeting:
                raise RuntimeError(f"bad QMP greeting: {greeting!r}")
            qmp(f, "qmp_capabilities")
            status = qmp(f, "query-status")
            if status.get("status") != "prelaunch":
                raise RuntimeError(f"query-status: {status!r}")
            qmp(f, "quit")
        _, err = proc.communicate(timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(f"QEMU exited with {proc.returncode}: {err.decode()}")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(sockdir, ignore_errors=True)


def main():
    start = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count())
    parser.add_argument("-n", "--count", type=int, default=20)
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    args = parser.parse_args()
    qemu = shutil.which(args.qemu) or sys.exit(f"bare_qemu: {args.qemu}: not found")

    todo = iter(range(args.count))
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                if errors or next(todo, None) is None:
                    return
            try:
                one_run(qemu)
            except Exception as e:  # report every failure, stop starting new runs
                with lock:
                    errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        print(f"bare_qemu: {e}", file=sys.stderr)
    print(f"bare_qemu: {args.count} runs, -j{args.jobs}, "
          f"{time.perf_counter() - start:.3f}s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
