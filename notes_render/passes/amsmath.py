"""What amsmath would number in one display formula: its numberable lines, labels, tags and
references, and the edits that make its environment one KaTeX has (pass 1 of the equation
references, see references.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..typeset.texdefs import Lexeme, brace_group, content_end, lex
from .math import MathItem

NUMBERED_ENVIRONMENTS = {
    "equation": "single", "multline": "single",
    "align": "rows", "gather": "rows", "alignat": "rows", "flalign": "rows", "eqnarray": "rows",
}  # fmt: skip
"""amsmath's numbered environments: one number for the whole, or one per line (`\\\\`)."""


KATEX_EQUIVALENT = {"multline": "gather*", "flalign": "align*", "eqnarray": "alignat*"}
"""Environments KaTeX lacks, typeset with the closest one it has (lines centred / aligned).
`eqnarray`'s three columns `a &=& b` (right, centre, left) become alignat's `a &={}&& b`:
the relation in a column of its own, what follows it aligned after the widest one."""


EQNARRAY_COLUMNS = "{2}"
"""alignat's count of column pairs, given to the alignat that an eqnarray becomes."""


def _group(tex: str, pos: int, *, star: bool = False) -> tuple[str, int, int, bool] | None:
    """The brace group after pos (spaces allowed before it): (text, start, end, starred).

    start/end delimit the text inside the braces; with star, a `*` may precede the group.
    """
    while pos < len(tex) and tex[pos] in " \t\n":
        pos += 1
    starred = star and tex.startswith("*", pos)
    group = brace_group(tex, pos + starred)
    return None if group is None else (tex[group[0] + 1 : group[1]], group[0] + 1, group[1], starred)


@dataclass(frozen=True, slots=True)
class Mark:
    """A `\\label{…}`, `\\tag{…}` or reference in a formula."""

    name: str
    """The label, or the tag's TeX."""
    start: int
    """Offset of the backslash in the TeX."""
    end: int
    """Offset just after the closing brace."""
    starred: bool = False
    """`\\tag*{…}`: shown without parentheses."""


@dataclass(slots=True)
class Line:
    """One line of a display formula that LaTeX could give an equation number."""

    end: int
    """Where KaTeX's `\\tag{…}` goes: before the `\\\\` or `\\end{…}` closing the line."""
    numbered: bool
    """The environment numbers it (an unstarred environment, or a labelled formula)."""
    suppressed: bool = False
    """`\\nonumber` or `\\notag` on the line."""
    labels: list[Mark] = field(default_factory=list)
    tag: Mark | None = None
    """A `\\tag{…}` written by the author; it replaces the number."""
    number: str | None = None
    """The tag shown at the right, `3` or a custom tag; None for an unnumbered line."""
    empty: bool = False
    """Only blanks: the line after a final `\\\\`, which neither LaTeX nor KaTeX shows."""


@dataclass(slots=True)
class Formula:
    """What pass 1 learned about one formula."""

    item: MathItem
    lines: list[Line] = field(default_factory=list)
    """Its numberable lines in order (none for inline math)."""
    labels: list[Mark] = field(default_factory=list)
    """Every `\\label{…}`, all removed from the TeX sent to KaTeX."""
    refs: list[tuple[Mark, bool]] = field(default_factory=list)
    """Every `\\eqref{…}` (True) and `\\ref{…}` (False) inside the formula."""
    renames: list[tuple[int, int, str]] = field(default_factory=list)
    """Edits that make its environment one KaTeX has: names replaced, eqnarray's columns."""
    stray: list[Mark] = field(default_factory=list)
    """Labels that belong to no numberable line (inline math, outside the environment)."""


NUMBERING_COMMANDS = re.compile(r"\\(?:begin|end|label|tag|eqref|ref|nonumber|notag)")
"""Only these commands make pass 1 find anything; most formulas have none and skip both passes."""


def analyse(item: MathItem) -> Formula:
    """Find the lines, labels, tags and references of one formula, as amsmath sees them."""
    reader = _Reader(item)
    for lexeme in lex(item.tex):
        reader.read(lexeme)
    return reader.finish()


class _Reader:
    """Pass 1 over one formula's lexemes: the environment it is in, the line being read."""

    def __init__(self, item: MathItem) -> None:
        self.item = item
        self.tex = item.tex
        self.formula = Formula(item)
        self.whole = Line(end=len(self.tex), numbered=False)  # end set only if the whole is numbered
        self.depth = 0
        self.environments: list[str] = []
        self.unit: tuple[str, int] | None = None  # (environment kind, depth of its \begin)
        self.line: Line | None = None
        self.line_start = 0
        self.row_tabs = 0  # `&` seen in the current row of an eqnarray

    def read(self, lexeme: Lexeme) -> None:
        name = lexeme.name
        if name == "{":
            self.depth += 1
        elif name == "}":
            self.depth -= 1
        elif name in ("\\begin", "\\end"):
            self._environment(lexeme)
        elif name == "&" and self.environments[:1] in (["eqnarray"], ["eqnarray*"]):
            self._tab(lexeme)
        elif name == "\\\\" and self.unit is not None and self.line is not None:
            self._row(lexeme, self.unit)
        elif name in ("\\label", "\\tag", "\\eqref", "\\ref"):
            self._mark(lexeme)
        elif name in ("\\nonumber", "\\notag"):
            (self.line if self.line is not None else self.whole).suppressed = True

    def _environment(self, lexeme: Lexeme) -> None:
        group = _group(self.tex, lexeme.end)
        if group is None:
            return
        env, start, end, _ = group
        base = env.removesuffix("*")
        formula = self.formula
        if lexeme.name == "\\begin":
            if (
                self.unit is None
                and self.item.display
                and not self.environments
                and base in NUMBERED_ENVIRONMENTS
            ):
                self.unit = (NUMBERED_ENVIRONMENTS[base], self.depth)
                self.line = Line(end=len(self.tex), numbered=not env.endswith("*"))
                self.line_start = end + 1
                formula.renames.extend(_renames(env, start, end))
                if base == "eqnarray":
                    formula.renames.append((end + 1, end + 1, EQNARRAY_COLUMNS))
                    self.row_tabs = 0
            self.environments.append(env)
            return
        if self.environments:
            self.environments.pop()
        if self.unit is not None and not self.environments and self.line is not None:
            formula.renames.extend(_renames(env, start, end))
            _close_line(formula, self.line, self.tex, self.line_start, lexeme.start)
            self.unit, self.line = None, None

    def _tab(self, lexeme: Lexeme) -> None:
        """An eqnarray's `&`: `a &=& b`, the relation's column ends at the second one."""
        if len(self.environments) == 1 and self.depth == (self.unit[1] if self.unit is not None else -1):
            self.row_tabs += 1
            if self.row_tabs == 2:  # the right side's column begins
                self.formula.renames.append((lexeme.start, lexeme.end, "{}&&"))

    def _row(self, lexeme: Lexeme, unit: tuple[str, int]) -> None:
        """A `\\\\`: in a multi-row environment, the end of a line and the start of the next."""
        self.row_tabs = 0
        if (
            unit[0] == "rows"
            and len(self.environments) == 1
            and self.depth == unit[1]
            and self.line is not None
        ):
            _close_line(self.formula, self.line, self.tex, self.line_start, lexeme.start)
            self.line = Line(end=len(self.tex), numbered=not self.environments[0].endswith("*"))
            self.line_start = lexeme.end

    def _mark(self, lexeme: Lexeme) -> None:
        """A `\\label`, `\\tag`, `\\eqref` or `\\ref`, given to the line it is on."""
        name = lexeme.name
        group = _group(self.tex, lexeme.end, star=name == "\\tag")
        if group is None:
            return
        text, _, end, starred = group
        mark = Mark(text.strip() if name != "\\tag" else text, lexeme.start, end + 1, starred)
        target = self.line if self.line is not None else (self.whole if self.item.display else None)
        if name == "\\label":
            self.formula.labels.append(mark)
            (self.formula.stray if target is None else target.labels).append(mark)
        elif name == "\\tag":
            if target is not None:
                target.tag = mark
        else:
            self.formula.refs.append((mark, name == "\\eqref"))

    def finish(self) -> Formula:
        formula, whole = self.formula, self.whole
        if not formula.lines and self.item.display:
            # Outside numbered environments, LaTeX numbers no display; we number labelled ones.
            whole.numbered = bool(whole.labels)
            if whole.labels or whole.tag:
                whole.end = content_end(self.tex)
                formula.lines.append(whole)
        elif whole.labels:
            formula.stray.extend(whole.labels)
        return formula


def _renames(env: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """Make KaTeX typeset env unnumbered (we tag it) and supported."""
    base = env.removesuffix("*")
    replacement = KATEX_EQUIVALENT.get(base, base + "*")
    return [] if replacement == env else [(start, end, replacement)]


def _close_line(formula: Formula, line: Line, tex: str, start: int, end: int) -> None:
    line.end = end
    line.empty = not tex[start:end].strip()
    formula.lines.append(line)
