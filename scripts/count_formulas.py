"""Count the formulas of each note and check its equation cross-references.

The notes promise a minimum amount of mathematics, and every ``\\eqref`` must
point at a ``\\label`` of the same note.  This script reports, per note, the
number of inline formulas, display blocks and labels, and lists dangling or
duplicate labels.  It follows the same delimiter rules as the renderer
(pandoc's): ``$$`` alone on a line opens and closes a display block; inline
``$...$`` must not have a space just inside either delimiter, and the closing
``$`` must not be followed by a digit.

Usage::

    python scripts/count_formulas.py [--json] [NOTE.md ...]

Without arguments it checks every ``notes/*.md``.  The exit status is 1 if a
reference is dangling or a label is defined twice, else 0.  With ``--json`` it
also prints every formula as JSON (used to feed a KaTeX syntax check).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

INLINE = re.compile(r"(?<![\\$])\$(?![\s$])((?:\\.|[^$\\])+?)(?<!\s)\$(?!\d)")
LABEL = re.compile(r"\\label\{([^}]*)\}")
EQREF = re.compile(r"\\eqref\{([^}]*)\}")
LABEL_NAME = re.compile(r"eq:[a-z0-9-]+")


@dataclass
class Formula:
    line: int
    """1-based line where the formula starts."""
    tex: str
    display: bool


@dataclass
class NoteMath:
    path: Path
    formulas: list[Formula] = field(default_factory=list)
    refs: list[tuple[int, str]] = field(default_factory=list)
    """(line, label) of every \\eqref found in prose."""
    problems: list[str] = field(default_factory=list)

    @property
    def inline(self) -> int:
        return sum(not f.display for f in self.formulas)

    @property
    def display(self) -> int:
        return sum(f.display for f in self.formulas)

    def labels(self) -> list[str]:
        return [name for f in self.formulas for name in LABEL.findall(f.tex)]


def scan(path: Path) -> NoteMath:
    """Collect formulas and references, skipping front matter and code fences."""
    note = NoteMath(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    if lines and lines[0].strip() == "---":
        i = lines.index("---", 1) + 1
    in_fence = False
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        elif in_fence:
            pass
        elif stripped == "$$":
            start = i
            i += 1
            while i < len(lines) and lines[i].strip() != "$$":
                i += 1
            if i == len(lines):
                note.problems.append(f"{path}:{start + 1}: unclosed display block")
                break
            tex = "\n".join(lines[start + 1 : i])
            note.formulas.append(Formula(start + 1, tex, display=True))
            for where in (start - 1, i + 1):
                # A fenced div's `:::` line is a block boundary as a blank line is.
                neighbour = lines[where].strip() if 0 <= where < len(lines) else ""
                if neighbour and not neighbour.startswith(":::"):
                    note.problems.append(f"{path}:{where + 1}: display block needs a blank line here")
        else:
            prose = INLINE.sub(" ", lines[i])
            for match in INLINE.finditer(lines[i]):
                note.formulas.append(Formula(i + 1, match.group(1), display=False))
                if EQREF.search(match.group(1)):
                    note.problems.append(f"{path}:{i + 1}: \\eqref inside inline math")
            if "$" in prose:
                note.problems.append(f"{path}:{i + 1}: stray or malformed $ delimiter")
            note.refs.extend((i + 1, name) for name in EQREF.findall(prose))
        i += 1
    _check_labels(note)
    return note


def _check_labels(note: NoteMath) -> None:
    seen: set[str] = set()
    for formula in note.formulas:
        found = LABEL.findall(formula.tex)
        if found and not formula.display:
            note.problems.append(f"{note.path}:{formula.line}: \\label in inline math")
        if len(found) > 1:
            note.problems.append(f"{note.path}:{formula.line}: more than one \\label in a block")
        for name in found:
            if not LABEL_NAME.fullmatch(name):
                note.problems.append(f"{note.path}:{formula.line}: bad label name {name!r}")
            if name in seen:
                note.problems.append(f"{note.path}:{formula.line}: duplicate label {name!r}")
            seen.add(name)
    for line, name in note.refs:
        if name not in seen:
            note.problems.append(f"{note.path}:{line}: \\eqref{{{name}}} has no matching \\label")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    paths = [Path(a) for a in args if a != "--json"]
    if not paths:
        paths = sorted((Path(__file__).resolve().parent.parent / "notes").glob("*.md"))
    notes = [scan(p) for p in paths]
    if as_json:
        print(
            json.dumps(
                [
                    {"path": str(n.path), "line": f.line, "display": f.display, "tex": f.tex}
                    for n in notes
                    for f in n.formulas
                ]
            )
        )
    else:
        for n in notes:
            print(
                f"{n.path.name}: {n.inline + n.display} formulas "
                f"({n.inline} inline, {n.display} display), {len(n.labels())} labels, "
                f"{len(n.refs)} references"
            )
    problems = [p for n in notes for p in n.problems]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
