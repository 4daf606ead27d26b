#!/usr/bin/env python3
"""Time whole processes: raw KaTeX and a Node peer against our builds, cold and incremental.

    .venv/bin/python bench/run.py [--notes 200] [--repeat 3] [--jobs N] [--rows a,b,...]

Generates the benchmark corpus with bench/make_corpus.py into a temporary folder (and a
2-note one), extracts its formulas the way a build finds them (notes_render's own parser),
then times, --repeat rounds in alternation, each row a separate process:

  (a) raw:       node bench/raw_loop.js — every formula typeset once, one thread
  (b) cold:      build.py --src corpus --out OUT --cache-dir EMPTY
  (c) nochange:  the same build again
  (d) onenote:   the same build after one formula and one sentence of one note changed
  (e) notes:     build.py --src notes --out OUT2 --cache-dir EMPTY (the real site, cold)
  (f) floor:     bench/engine_floor.py — the same formulas through our engine in as many
                 processes as the build uses, HTML brought back to Python, nothing else
  (g) peer:      node bench/peer_pipeline.js corpus OUT3 — markdown-it + texmath + KaTeX,
                 pages written, one thread
  (h) peer2:     the same with --workers 2 (two threads, as our build uses two cores)
  (i) small:     build.py on the 2-note corpus, empty cache (SMALL_RUNS runs per round)
  (j) smallpeer: node bench/peer_pipeline.js on the same two notes (as many, alternating)

and prints each median, best, the ratio to (a), the median CPU time (user + system, all
threads and processes; steadier than wall time on a shared machine) and the peak memory of
the largest single process (the build or one worker; bench/processes.py), the peak of the
whole build's processes together ("all", Linux: their PSS summed, sampled every 20 ms in
one more, untimed run of each row: the sampling itself took ~0.5 s of a 4 s cold build on
two cores) and the machine's load, then the ratios of our cold builds to the raw loop and to the peer.
Nothing here asserts a time: the figures are for people (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from processes import Measured, run_measured

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
KEYS = ("raw", "cold", "nochange", "onenote", "notes", "floor", "peer", "peer2", "small", "smallpeer")


def timed(
    command: list[str], before: Callable[[], None] | None = None, *, sample_tree: bool = False
) -> Measured:
    """Wall-clock time, CPU time and peak memory of one process, from start to exit; it must
    succeed. With `sample_tree`, the peak of its whole tree too (a run not to time)."""
    if before is not None:
        before()
    done = run_measured(command, REPO, sample_tree=sample_tree)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.errors}")
    return done


def extract_formulas(corpus: Path, target: Path) -> int:
    """Write every note's formulas as [[tex, display], ...] per note, found by our parser."""
    sys.path.insert(0, str(REPO))
    from notes_render.markdown import parsing
    from notes_render.passes import math as math_pass
    from notes_render.sources import discover_notes

    notes = []
    for note in discover_notes(corpus):
        parsed = parsing.parse_note(note, parsing.decode_note(note, note.path.read_bytes()))
        notes.append([[item.tex, item.display] for item in math_pass.collect_math(parsed)])
    target.write_text(json.dumps(notes), encoding="utf-8")
    return sum(len(n) for n in notes)


SMALL_RUNS = 3
"""Runs of each 2-note row per round, alternating: a run is short, so its median needs more."""


@dataclass(frozen=True)
class Row:
    """One measurement: what bench/run.py prints, what it runs, and what it does first."""

    label: str
    """Its line in the table."""
    command: list[str]
    """The process timed, from the repository's folder."""
    before: Callable[[], None] | None = None
    """Untimed preparation before each run (emptying an output, editing a note)."""
    small: bool = False
    """A 2-note row: run SMALL_RUNS times per round, alternating with the other small rows."""


def load_average() -> str:
    """The machine's load over 1, 5 and 15 minutes, where the system tells it."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):  # Windows has no load average
        return "unknown"


def emptied(*folders: Path) -> Callable[[], None]:
    """What removes folders (an output, a cache) before a cold run."""

    def empty() -> None:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    return empty


def make_corpus(target: Path, notes: int) -> None:
    """The shared generator's corpus of `notes` notes in target."""
    command = [PYTHON, str(REPO / "bench" / "make_corpus.py"), str(target), "--notes", str(notes)]
    subprocess.run(command, check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=200, help="notes in the corpus (default: 200)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of measurements (default: 3)")
    parser.add_argument("--jobs", type=int, default=None, help="--jobs for the builds (default: theirs)")
    parser.add_argument(
        "--rows", default=None, help=f"rows to time, comma-separated (default: {','.join(KEYS)})"
    )
    args = parser.parse_args()
    chosen = KEYS if args.rows is None else tuple(args.rows.split(","))
    unknown = [key for key in chosen if key not in KEYS]
    if unknown:
        parser.error(f"unknown row {unknown[0]!r}; rows are {', '.join(KEYS)}")
    if {"nochange", "onenote"} & set(chosen) and "cold" not in chosen:
        parser.error("rows nochange and onenote rebuild what row cold built: add cold")

    with tempfile.TemporaryDirectory(prefix="notes-render-bench-") as tmp_name:
        tmp = Path(tmp_name)
        corpus, small = tmp / "corpus", tmp / "corpus2"
        make_corpus(corpus, args.notes)
        make_corpus(small, 2)
        formulas = tmp / "formulas.json"
        count = extract_formulas(corpus, formulas)
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []

        def build(src: Path, name: str) -> list[str]:
            """Our build of src into tmp/name with its own cache, tmp/name-cache."""
            out, cache = tmp / name, tmp / f"{name}-cache"
            command = [PYTHON, "build.py", "--src", str(src), "--out", str(out), "--cache-dir", str(cache)]
            return [*command, "-q", *jobs]

        notes = sorted(corpus.glob("*.md"))
        edited = notes[min(7, len(notes) - 1)]  # note0007.md, in a corpus that has it
        original = edited.read_text(encoding="utf-8")
        edits = iter(range(1_000_000))

        def edit_one_note() -> None:
            n = next(edits)
            edited.write_text(
                original + f"\nAn added sentence with $x_{{{n}}} + y$ in it.\n", encoding="utf-8"
            )

        def cold(name: str) -> Callable[[], None]:
            """What empties the output and the cache of build(..., name)."""
            return emptied(tmp / name, tmp / f"{name}-cache")

        peer = ["node", "bench/peer_pipeline.js"]
        rows = {
            "raw": Row("(a) raw KaTeX loop in Node", ["node", "bench/raw_loop.js", str(formulas)]),
            "cold": Row("(b) cold build, empty cache", build(corpus, "out"), cold("out")),
            "nochange": Row("(c) rebuild, nothing changed", build(corpus, "out")),
            "onenote": Row("(d) rebuild, one note edited", build(corpus, "out"), edit_one_note),
            "notes": Row("(e) notes/ cold build", build(Path("notes"), "site"), cold("site")),
            "floor": Row(
                "(f) KaTeX alone, our engine", [PYTHON, "bench/engine_floor.py", str(formulas), *jobs]
            ),
            "peer": Row(
                "(g) Node peer, 1 thread", [*peer, str(corpus), str(tmp / "peer")], emptied(tmp / "peer")
            ),
            "peer2": Row(
                "(h) Node peer, 2 threads",
                [*peer, str(corpus), str(tmp / "peer2"), "--workers", "2"],
                emptied(tmp / "peer2"),
            ),
            "small": Row("(i) 2 notes, cold build", build(small, "small"), cold("small"), small=True),
            "smallpeer": Row(
                "(j) 2 notes, Node peer",
                [*peer, str(small), str(tmp / "small-peer")],
                emptied(tmp / "small-peer"),
                small=True,
            ),
        }
        load_before = load_average()
        times: dict[str, list[float]] = {key: [] for key in chosen}
        cpus: dict[str, list[float]] = {key: [] for key in chosen}
        peaks: dict[str, list[int]] = {key: [] for key in chosen}
        trees: dict[str, list[int]] = {key: [] for key in chosen}

        def measure(key: str) -> None:
            done = timed(rows[key].command, rows[key].before)
            times[key].append(done.seconds)
            cpus[key].append(done.cpu or 0.0)
            peaks[key].append(done.peak or 0)

        for _ in range(args.repeat):
            for key in (key for key in chosen if not rows[key].small):
                measure(key)
            for _ in range(SMALL_RUNS):
                for key in (key for key in chosen if rows[key].small):
                    measure(key)
        for key in chosen:  # one more round, untimed, for the memory of each whole tree
            trees[key].append(timed(rows[key].command, rows[key].before, sample_tree=True).tree_peak or 0)

    print(
        f"corpus: {args.notes} notes, {count} formulas; {os.cpu_count()} CPUs; "
        f"load average {load_before} before, {load_average()} after; {args.repeat} rounds"
    )
    medians = {key: statistics.median(runs) for key, runs in times.items()}
    base = medians.get("raw")
    print(f"{'':32} {'median':>8} {'best':>8} {'runs':>5} {'/ (a)':>7} {'CPU':>8} {'peak':>8} {'all':>8}")
    for key, runs in times.items():
        share = f"{medians[key] / base:7.2f}" if base else " " * 7
        cpu = statistics.median(cpus[key])
        peak = f"{max(peaks[key]) / 2**20:5.0f} MB" if max(peaks[key]) else "       ?"
        tree = f"{max(trees[key]) / 2**20:5.0f} MB" if max(trees[key]) else "       ?"
        print(
            f"{rows[key].label:32} {medians[key]:7.3f}s {min(runs):7.3f}s {len(runs):5} {share} {cpu:7.3f}s"
            f" {peak} {tree}"
        )
    ratios = [
        ("cold build / raw loop", "cold", "raw"),
        ("cold build / Node peer, 1 thread", "cold", "peer"),
        ("cold build / Node peer, 2 threads", "cold", "peer2"),
        ("2-note cold build / Node peer", "small", "smallpeer"),
    ]
    cpu_medians = {key: statistics.median(runs) for key, runs in cpus.items()}
    printed = [(label, a, b) for label, a, b in ratios if a in medians and b in medians]
    if printed:
        print(f"ratios of medians {'':23} {'wall':>5} {'CPU':>5}")
    for label, a, b in printed:
        cpu = cpu_medians[a] / cpu_medians[b] if cpu_medians[b] else float("nan")
        print(f"  {label:40} {medians[a] / medians[b]:5.2f} {cpu:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
