"""Equation numbers, labels and cross-references, as pure passes before the KaTeX engine.

KaTeX has no \\label, \\ref or \\eqref, and numbers bare `equation`/`align` with a CSS
counter shared by the whole page. So, per note and in two passes: first every display
formula is analysed as amsmath would number it (amsmath.py) and every label gets its tag; then each
formula's TeX is rewritten for KaTeX (explicit `\\tag{n}`, starred environments, labels
removed, references turned into `\\href{#label}{…}` links) with an edit list that maps
KaTeX's error offsets back to the TeX as written.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass, field

from ..errors import Diagnostic
from ..markdown.parsing import ParsedNote
from ..markdown.tokenmeta import ANCHOR, HOST, HREF, LABEL, TEXT, was_made
from .amsmath import NUMBERING_COMMANDS, Formula, Line, Mark, analyse
from .math import MathItem
from .positions import BlockPositions, walk

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
    numbering = Numbering([analyse(item) for item in items if NUMBERING_COMMANDS.search(item.tex)])
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
    diagnostics: list[Diagnostic] = []
    if not was_made(note.env, "math_ref"):
        return diagnostics  # most notes: no need to look at every token
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
