#!/usr/bin/env python3
"""How a build's time and memory grow with the size of one note.

    .venv/bin/python bench/scaling.py [--notes 0.1,1,5,20] [--lines 0.1,0.25,0.5,1] [--repeat 1]

Builds, each as its own process with `--no-cache`:

  notes: one note of each size in MB, made of bench/make_corpus.py's notes run together
         (headings, lists, tables, code, every formula unique);
  lines: one note that is a single line of `word $x_{n}$ ` repeated to each size in MB.

For each it prints the wall-clock time, the peak resident memory of the build and its
workers (the largest `ru_maxrss` among them, from wait4; Linux and macOS only) and,
per series, the slope of a least-squares line of time against size, in seconds per MB,
and the ratio of the largest size's time per MB to the smallest's: a linear build keeps
it near 1. Nothing here asserts a time: the figures are for people (see bench/README.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from processes import run_measured

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MB = 1_000_000


def corpus_module() -> object:
    """bench/make_corpus.py, loaded as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("make_corpus", REPO / "bench" / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def big_note(size: int) -> str:
    """About `size` bytes of make_corpus's notes, one after the other, as one note."""
    corpus = corpus_module()
    rng = random.Random(0)
    parts, total, index = [], 0, 0
    while total < size:
        text = corpus.note(index, 60, 15, rng) + "\n\n"  # type: ignore[attr-defined]
        parts.append(text)
        total += len(text.encode("utf-8"))
        index += 1
    return "".join(parts)


def long_line(size: int) -> str:
    """One line of `word $x_{n}$ ` (each formula unique) of about `size` bytes."""
    parts, total, index = [], 0, 0
    while total < size:
        piece = f"word $x_{{{index}}}$ "
        parts.append(piece)
        total += len(piece)
        index += 1
    return "".join(parts).rstrip() + "\n"


def measure(src: Path, out: Path) -> tuple[float, int | None]:
    """Wall-clock seconds of one cold build of src, and its peak memory in bytes (None
    where wait4 is missing): the largest resident set of the build and its workers."""
    command = [PYTHON, "build.py", "--src", str(src), "--out", str(out), "--no-cache", "-q"]
    shutil.rmtree(out, ignore_errors=True)
    done = run_measured(command, REPO)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.errors[-2000:]}")
    return done.seconds, done.peak


def slope(sizes: list[float], times: list[float]) -> float:
    """Least-squares slope of time against size (seconds per MB)."""
    mean_x, mean_y = sum(sizes) / len(sizes), sum(times) / len(times)
    spread = sum((x - mean_x) ** 2 for x in sizes)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(sizes, times, strict=True)) / spread


def series(name: str, sizes: list[float], make: object, tmp: Path, repeat: int) -> None:
    """Build one note of each size, print a row per size and the series' slope."""
    print(f"\n{name}")
    print(f"{'size':>8} {'bytes':>10} {'time':>9} {'s/MB':>7} {'peak memory':>12}")
    rows = []
    for size in sizes:
        src = tmp / f"{name}-{size}"
        src.mkdir()
        text = make(int(size * MB))  # type: ignore[operator]
        (src / "big.md").write_text(text, encoding="utf-8")
        runs = [measure(src, tmp / "out") for _ in range(repeat)]
        seconds = min(run[0] for run in runs)
        peaks = [run[1] for run in runs if run[1] is not None]
        peak = f"{max(peaks) / MB:9.0f} MB" if peaks else "n/a"
        length = len(text.encode("utf-8"))
        print(f"{size:6.2f}MB {length:10d} {seconds:8.2f}s {seconds / (length / MB):7.2f} {peak:>12}")
        rows.append((length / MB, seconds))
        shutil.rmtree(src)
    if len(rows) > 1:
        first, last = rows[0][1] / rows[0][0], rows[-1][1] / rows[-1][0]
        fitted = slope([r[0] for r in rows], [r[1] for r in rows])
        print(f"slope {fitted:.2f} s/MB; time per MB, largest / smallest: {last / first:.2f}")


def sizes_of(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", default="0.1,1,5,20", help="note sizes in MB (default: 0.1,1,5,20)")
    parser.add_argument(
        "--lines", default="0.1,0.25,0.5,1", help="line sizes in MB (default: 0.1,0.25,0.5,1)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each size; the best time is shown")
    args = parser.parse_args()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(f"{os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="notes-render-scaling-") as tmp_name:
        tmp = Path(tmp_name)
        if args.notes:
            series("one note", sizes_of(args.notes), big_note, tmp, args.repeat)
        if args.lines:
            series("one line", sizes_of(args.lines), long_line, tmp, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
