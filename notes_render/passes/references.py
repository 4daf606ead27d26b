"""Equation numbers, labels and cross-references, as pure passes around the KaTeX engine.

KaTeX has no \\label, \\ref or \\eqref, and numbers bare `equation`/`align` with a CSS
counter shared by the whole page. So, per note and in two passes: first every display
formula is analysed as amsmath would number it and every label gets its tag; then each
formula's TeX is rewritten for KaTeX (explicit `\\tag{n}`, starred environments, labels
removed, references turned into `\\href{#label}{…}` links) with an edit list that maps
KaTeX's error offsets back to the TeX as written.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from ..errors import Diagnostic
from ..markdown.parsing import ParsedNote
from ..markdown.tokenmeta import ANCHOR, HOST, HREF, LABEL, TEXT
from ..typeset.texdefs import Lexeme, brace_group, content_end, lex
from .math import MathItem
from .positions import BlockPositions, walk

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


# --- reading TeX --------------------------------------------------------------------


def _group(tex: str, pos: int, *, star: bool = False) -> tuple[str, int, int, bool] | None:
    """The brace group after pos (spaces allowed before it): (text, start, end, starred).

    start/end delimit the text inside the braces; with star, a `*` may precede the group.
    """
    while pos < len(tex) and tex[pos] in " \t\n":
        pos += 1
    starred = star and tex.startswith("*", pos)
    group = brace_group(tex, pos + starred)
    return None if group is None else (tex[group[0] + 1 : group[1]], group[0] + 1, group[1], starred)


# --- pass 1: what amsmath would number -----------------------------------------------


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


# Only these commands make pass 1 find anything; most formulas have none and skip both passes.
_NUMBERING_COMMANDS = re.compile(r"\\(?:begin|end|label|tag|eqref|ref|nonumber|notag)")


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


# --- numbering ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Where a label points."""

    tag: str
    """The number or custom tag, as shown in the equation's tag (without parentheses)."""
    label: Mark
    """The `\\label{…}` that defined it (a duplicate label defines nothing)."""


@dataclass(slots=True)
class Numbering:
    """A note's formulas after pass 1, with every label's tag."""

    formulas: list[Formula]
    """The formulas that name a numbering command; the others need nothing from either pass."""
    targets: dict[str, Target] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def number_equations(note: ParsedNote, items: list[MathItem]) -> Numbering:
    """Pass 1: give numbered lines 1, 2, … in document order and register every label."""
    numbering = Numbering([analyse(item) for item in items if _NUMBERING_COMMANDS.search(item.tex)])
    counter = 0
    first_seen: dict[str, int] = {}
    for formula in numbering.formulas:
        for line in formula.lines:
            if line.tag is not None:
                line.number = line.tag.name
            elif line.numbered and not line.suppressed and not (line.empty and not line.labels):
                counter += 1
                line.number = str(counter)
            for label in line.labels:
                line_number = formula.item.position_of(label.start)[0] + 1
                if label.name in first_seen:
                    numbering.diagnostics.append(
                        _diagnostic(
                            note, formula.item, label.start,
                            f"duplicate label '{label.name}' "
                            f"(first defined on line {first_seen[label.name]})",
                        )
                    )  # fmt: skip
                    continue
                first_seen[label.name] = line_number
                if line.number is None:
                    numbering.diagnostics.append(
                        _diagnostic(
                            note, formula.item, label.start,
                            f"\\label{{{label.name}}} is on an unnumbered line (starred environment "
                            "or \\nonumber); remove the star or give it a \\tag{…}",
                        )
                    )  # fmt: skip
                    continue
                numbering.targets[label.name] = Target(line.number, label)
        for label in formula.stray:
            where = "display math" if not formula.item.display else "a numbered equation"
            numbering.diagnostics.append(
                _diagnostic(note, formula.item, label.start, f"\\label{{{label.name}}} outside {where}")
            )
    return numbering


# --- pass 2: the TeX KaTeX sees -------------------------------------------------------


def rewrite_formulas(note: ParsedNote, numbering: Numbering) -> list[Diagnostic]:
    """Pass 2: set each formula's TeX for KaTeX and its anchors; report unknown labels."""
    diagnostics: list[Diagnostic] = []
    for formula in numbering.formulas:
        item = formula.item
        anchors = {id(line): _anchor(line, numbering) for line in formula.lines}
        in_tags = sum(anchor is not None for anchor in anchors.values()) > 1  # one per line, on its tag
        if not in_tags:
            ANCHOR.set(item.token, next((a for a in anchors.values() if a is not None), None))
        edits = [(start, end, name) for start, end, name in formula.renames]
        edits += [(label.start, label.end, "") for label in formula.labels]
        for line in formula.lines:
            anchor = anchors[id(line)] if in_tags else None
            if line.tag is not None:
                if anchor is not None:
                    star = "*" if line.tag.starred else ""
                    edits.append(
                        (
                            line.tag.start,
                            line.tag.end,
                            f"\\tag{star}{{\\htmlId{{{anchor}}}{{{line.tag.name}}}}}",
                        )
                    )
            elif line.number is not None:
                text = line.number if anchor is None else f"\\htmlId{{{anchor}}}{{{line.number}}}"
                edits.append((line.end, line.end, f"\\tag{{{text}}}"))
        for mark, parentheses in formula.refs:
            target = numbering.targets.get(mark.name)
            if target is None:
                diagnostics.append(_unknown_label(note, item, mark, parentheses, numbering.targets))
                edits.append((mark.start, mark.end, "\\text{(??)}" if parentheses else "\\text{??}"))
            else:
                shown = _shown(target, parentheses)
                edits.append((mark.start, mark.end, f"\\href{{#{mark.name}}}{{\\text{{{shown}}}}}"))
        if edits:  # after the MathJax translations (mathjax.py) where both insert at one place
            item.edits = sorted([*item.edits, *edits], key=lambda edit: (edit[0], edit[1]))
    return diagnostics


def _anchor(line: Line, numbering: Numbering) -> str | None:
    """The id of a line: its first label that defines a target (not a duplicate)."""
    for label in line.labels:
        target = numbering.targets.get(label.name)
        if target is not None and target.label is label:
            return label.name
    return None


def _shown(target: Target, parentheses: bool) -> str:
    return f"({target.tag})" if parentheses else target.tag


def resolve_text_references(note: ParsedNote, numbering: Numbering) -> list[Diagnostic]:
    """Give each `\\eqref{…}`/`\\ref{…}` written in prose its link text and target."""
    diagnostics = []
    blocks = BlockPositions.cache(note.lines)
    for token, parent in walk(note.tokens):
        if token.type != "math_ref" or HREF.has(token):
            continue
        label = LABEL(token)
        target = numbering.targets.get(label)
        parentheses = token.markup == "\\eqref"
        if target is None:
            TEXT.set(token, "(??)" if parentheses else "??")
            parent = HOST.get_or(token, parent)  # an inline footnote's paragraph
            line, column = blocks(parent).starts_of(token)[0] if parent else (0, 0)
            diagnostics.append(
                note.diagnostic(
                    line,
                    column,
                    f"undefined label '{label}' in {token.markup}{nearest(label, numbering.targets)}",
                )
            )
        else:
            TEXT.set(token, _shown(target, parentheses))
            HREF.set(token, "#" + label)
    return diagnostics


# --- positions ------------------------------------------------------------------------


def _diagnostic(note: ParsedNote, item: MathItem, offset: int, message: str) -> Diagnostic:
    """A problem at an offset in a formula's TeX as written."""
    return note.diagnostic(*item.position_of(offset), message)


def _unknown_label(
    note: ParsedNote, item: MathItem, mark: Mark, parentheses: bool, known: Collection[str]
) -> Diagnostic:
    command = "\\eqref" if parentheses else "\\ref"
    return _diagnostic(
        note, item, mark.start, f"undefined label '{mark.name}' in {command}{nearest(mark.name, known)}"
    )


def nearest(label: str, known: Collection[str]) -> str:
    """`; did you mean 'eq:elbo'?` naming the known label closest to a misspelt one, or ""."""
    close = difflib.get_close_matches(label, list(known), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
