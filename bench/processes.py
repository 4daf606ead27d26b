"""Run one benchmark process and measure it: wall time, CPU time and peak memory.

Shared by bench/run.py and bench/scaling.py (both scripts put bench/ on sys.path).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    """What one finished process cost."""

    seconds: float
    """Wall-clock time from start to exit."""
    cpu: float | None
    """User + system CPU seconds of the process and the children it waited for (its
    workers, V8's threads); None where the system does not tell (Windows)."""
    peak: int | None
    """The largest resident set, in bytes, of the process or any child it waited for: the
    biggest one process of the build (a worker or the parent), not their sum; None where
    wait4 is missing."""
    tree_peak: int | None
    """The largest sum, in bytes, of the proportional sets (PSS) of the process and all its
    living descendants at one moment, sampled every 20 ms (Linux only; None elsewhere): the
    whole build's memory, pages a forked worker shares with its parent counted once. A
    process shorter than a sample or two is missed: read it for long builds."""
    returncode: int
    errors: str
    """What it wrote to stderr (its end, if long)."""


def run_measured(command: list[str], cwd: Path, *, sample_tree: bool = False) -> Measured:
    """Run command in cwd to its end, its output discarded and its stderr kept. With
    `sample_tree`, the whole tree's memory is sampled too (tree_peak): that reads /proc
    every 20 ms, which took ~0.5 s of a 4 s build on two cores, so a timed run does not."""
    # Not a pipe: wait4 reads nothing until the process ends, so one writing more than a
    # pipe holds (64 KB of warnings) would wait for us forever.
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log)
        sampler = _TreeSampler(process.pid) if sample_tree and Path("/proc/self/status").exists() else None
        cpu: float | None = None
        peak: int | None = None
        if hasattr(os, "wait4"):  # Linux and macOS
            # The rusage of a waited child includes the children it waited for.
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            # ru_maxrss is in KB on Linux, in bytes on macOS.
            peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        else:
            process.wait()
            seconds = time.perf_counter() - started
        tree_peak = sampler.stop() if sampler is not None else None
        log.seek(0)
        errors = log.read().decode("utf-8", "replace")[-4000:]
    return Measured(seconds, cpu, peak, tree_peak, process.returncode, errors)


class _TreeSampler(threading.Thread):
    """Samples the summed resident memory of a process tree until stopped (Linux's /proc)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self._root = root
        self._done = threading.Event()
        self.peak = 0
        self.start()

    def run(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, _tree_rss(self._root))

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def _tree_rss(root: int) -> int:
    """The resident bytes of root and its descendants, as /proc says now."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += _proportional(pid, rss.get(pid, 0))
        pending.extend(children.get(pid, ()))
    return total


def _proportional(pid: int, rss: int) -> int:
    """The process's proportional set (a page shared by n processes counts 1/n to each), so
    the tree's sum does not count twice what a forked worker shares; its RSS where the
    system does not say."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return rss
