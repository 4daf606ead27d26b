"""Run one benchmark process and measure it: wall time, CPU time and peak memory.

Shared by bench/run.py and bench/scaling.py (both scripts put bench/ on sys.path).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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
    returncode: int
    errors: str
    """What it wrote to stderr (its end, if long)."""


def run_measured(command: list[str], cwd: Path) -> Measured:
    """Run command in cwd to its end, its output discarded and its stderr kept."""
    # Not a pipe: wait4 reads nothing until the process ends, so one writing more than a
    # pipe holds (64 KB of warnings) would wait for us forever.
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log)
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
        log.seek(0)
        errors = log.read().decode("utf-8", "replace")[-4000:]
    return Measured(seconds, cpu, peak, process.returncode, errors)
