#!/usr/bin/env python3
"""Time whole processes: raw KaTeX in Node against our builds, cold and incremental.

    .venv/bin/python bench/run.py [--notes 200] [--repeat 3] [--jobs N]

Generates the benchmark corpus with bench/make_corpus.py into a temporary folder,
extracts its formulas the way a build finds them (notes_render's own parser), then times,
each --repeat times, as separate processes:

  (a) raw:       node bench/raw_loop.js — every formula typeset once, one thread
  (b) cold:      build.py --src corpus --out OUT --cache-dir EMPTY
  (c) no change: the same build again
  (d) one note:  the same build after one formula and one sentence of one note changed
  (e) notes/:    build.py --src notes --out OUT2 --cache-dir EMPTY (the real site, cold)
  (f) floor:     bench/engine_floor.py — the same formulas through our engine in as many
                 processes as the build uses, HTML brought back to Python, nothing else

and prints each median, best and the ratio to (a) with the machine's load. Nothing here
asserts a time: the figures are for people (see bench/README.md).
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
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def timed(command: list[str], before: Callable[[], None] | None = None) -> float:
    """Wall-clock seconds of one process, from start to exit; it must succeed."""
    if before is not None:
        before()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds


def extract_formulas(corpus: Path, target: Path) -> int:
    """Write every note's formulas as [[tex, display], ...] per note, found by our parser."""
    sys.path.insert(0, str(REPO))
    from notes_render import parsing, transforms
    from notes_render.sources import discover_notes

    notes = []
    for note in discover_notes(corpus):
        parsed = parsing.parse_note(note, parsing.decode_note(note, note.path.read_bytes()))
        notes.append([[item.tex, item.display] for item in transforms.collect_math(parsed)])
    target.write_text(json.dumps(notes), encoding="utf-8")
    return sum(len(n) for n in notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=200, help="notes in the corpus (default: 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default: 3)")
    parser.add_argument("--jobs", type=int, default=None, help="--jobs for the builds (default: theirs)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="notes-render-bench-") as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "corpus"
        subprocess.run(
            [PYTHON, str(REPO / "bench" / "make_corpus.py"), str(corpus), "--notes", str(args.notes)],
            check=True,
            capture_output=True,
        )
        formulas = tmp / "formulas.json"
        count = extract_formulas(corpus, formulas)
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []

        def build_command(src: Path, out: Path, cache: Path) -> tuple[list[str], Callable[[], None]]:
            """The build of src into out with its own cache, and what empties both."""

            def empty() -> None:
                shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(cache, ignore_errors=True)

            command = [PYTHON, "build.py", "--src", str(src), "--out", str(out), "--cache-dir", str(cache)]
            return [*command, "-q", *jobs], empty

        build, empty = build_command(corpus, tmp / "out", tmp / "cache")

        edited = corpus / "note0007.md"
        original = edited.read_text(encoding="utf-8")
        edits = iter(range(1_000_000))

        def edit_one_note() -> None:
            n = next(edits)
            edited.write_text(
                original + f"\nAn added sentence with $x_{{{n}}} + y$ in it.\n", encoding="utf-8"
            )

        real, empty_site = build_command(Path("notes"), tmp / "site", tmp / "site-cache")
        raw = ["node", "bench/raw_loop.js", str(formulas)]
        floor = [PYTHON, "bench/engine_floor.py", str(formulas), *jobs]

        keys = ("raw", "cold", "nochange", "onenote", "notes", "floor")
        times: dict[str, list[float]] = {key: [] for key in keys}
        for _ in range(args.repeat):
            times["raw"].append(timed(raw))
            times["cold"].append(timed(build, empty))
            times["nochange"].append(timed(build))
            times["onenote"].append(timed(build, edit_one_note))
            times["notes"].append(timed(real, empty_site))
            times["floor"].append(timed(floor))

    load = os.getloadavg()
    print(
        f"corpus: {args.notes} notes, {count} formulas; {os.cpu_count()} CPUs; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.repeat} runs each"
    )
    labels = {
        "raw": "(a) raw KaTeX loop in Node",
        "cold": "(b) cold build, empty cache",
        "nochange": "(c) rebuild, nothing changed",
        "onenote": "(d) rebuild, one note edited",
        "notes": "(e) notes/ cold build",
        "floor": "(f) KaTeX alone, our engine",
    }
    base = statistics.median(times["raw"])
    print(f"{'':32} {'median':>8} {'best':>8} {'/ (a)':>7}")
    for key, label in labels.items():
        median = statistics.median(times[key])
        print(f"{label:32} {median:7.3f}s {min(times[key]):7.3f}s {median / base:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
