#!/usr/bin/env python3
"""The floor of a cold build: KaTeX through our engine over the same formulas, and nothing else.

    .venv/bin/python bench/engine_floor.py formulas.json [--jobs N]

Forks N processes (default: the number of CPUs, like a build), each with its own engine,
that typeset every note's formulas in one batch per note and bring the HTML back into
Python, as a build's workers do; no Markdown, no cache, no pages. bench/run.py times it
as a whole process: no build that must get its HTML out of V8 can be faster.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def typeset(notes: list[list[list[object]]], results: multiprocessing.SimpleQueue[int]) -> None:
    """Typeset notes with one engine; put the number of bytes of HTML it got back."""
    sys.path.insert(0, str(REPO))
    from notes_render.typeset.katex import MathRequest, MiniRacerEngine, find_katex

    engine = MiniRacerEngine(find_katex(None, REPO))
    size = 0
    for note in notes:
        for result in engine.render_batch(
            [MathRequest(str(tex), bool(display)) for tex, display in note], {}
        ):
            size += len(result.html or "")
    results.put(size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("formulas", type=Path, help="the JSON file bench/run.py writes")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: CPUs)")
    args = parser.parse_args()
    notes = json.loads(args.formulas.read_text(encoding="utf-8"))
    context = multiprocessing.get_context("fork")  # as a build's workers: forked before V8 starts
    results: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
    processes = [
        context.Process(target=typeset, args=(notes[i :: args.jobs], results)) for i in range(args.jobs)
    ]
    for process in processes:
        process.start()
    size = sum(results.get() for _ in processes)
    for process in processes:
        process.join()
    print(f"{sum(len(note) for note in notes)} formulas, {size} characters of HTML, {args.jobs} processes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
