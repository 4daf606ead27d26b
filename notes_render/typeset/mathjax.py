"""MathJax's habits that KaTeX lacks, translated before KaTeX sees a formula.

Each translation is a list of edits to the TeX as written (the same edits the equation
numbering makes, see references.py), so the annotation keeps the author's TeX and an
error inside translated TeX still points at the author's line and column. What cannot be
translated is left as written, and KaTeX's error says what to use instead (messages.explain).
"""

from __future__ import annotations

import re

from ..passes.math import MathItem
from .texdefs import MATHJAX_NAME, brace_group, content_end, lex, macro_name

Edit = tuple[int, int, str]

_HABITS = re.compile(
    r"\\(?:DeclareMathOperator|(?:new|renew|provide)command|displaylines|eqalign|require|cssId"
    r"|mbox|idotsint|newline|\*)|\\\\"
)
"""Formulas that name none of these need no translation (almost all of them)."""

RENAMED = {
    "\\cssId": "\\htmlId",
    "\\mbox": "\\text",
    "\\idotsint": "\\int\\cdots\\int",
    # TeX's discretionary times: nothing, or × where a line breaks, which KaTeX never does
    # inside a formula. An empty group, so `\alpha\*b` does not become `\alphab`.
    "\\*": "{}",
}
"""MathJax commands that are another KaTeX command under another name."""

WRAPPED = {
    "\\displaylines": "gathered",
    "\\eqalign": "aligned",
}
"""Plain TeX's `\\cmd{rows}` forms, typeset as the amsmath environment that sets the same rows."""

_ARGUMENT_COUNT = re.compile(r"\s*\[\s*([0-9])\s*\](?!\s*\[)")
"""`[n]` after a macro's name, not followed by an optional argument's default."""


def translate_formulas(items: list[MathItem]) -> None:
    """Add to each formula's edits what KaTeX needs to typeset the MathJax habits it holds."""
    for item in items:
        if _HABITS.search(item.tex):
            item.edits = sorted([*item.edits, *translate(item.tex, display=item.display)], key=_edit_order)
            # Insertions at one offset keep their order (sorted is stable).


def _edit_order(edit: Edit) -> tuple[int, int]:
    return edit[0], edit[1]


def translate(tex: str, *, display: bool) -> list[Edit]:
    """The edits that turn MathJax's TeX into KaTeX's, in order."""
    edits: list[Edit] = []
    breaks = 0  # line breaks at the top level of a display
    depth = 0  # braces and \left…\right
    environments = 0
    for lexeme in lex(tex):
        name, start, end = lexeme.name, lexeme.start, lexeme.end
        if name in ("{", "\\left"):
            depth += 1
        elif name in ("}", "\\right"):
            depth -= 1
        elif name in ("\\begin", "\\end"):
            environments += 1 if name == "\\begin" else -1
        elif name in ("\\\\", "\\newline") and display and depth == 0 and environments == 0:
            breaks += 1
            if name == "\\newline":  # a row ends only at `\\` in an environment
                edits.append((start, end, "\\\\"))
        elif name == "\\DeclareMathOperator":
            edits += _declare_operator(tex, end)
        elif name in ("\\newcommand", "\\renewcommand"):
            edits += _new_command(tex, start, end)
        elif name == "\\providecommand":
            edits += _provide_command(tex, end)
        elif name in RENAMED:
            edits.append((start, end, RENAMED[name]))
        elif name == "\\require":
            group = brace_group(tex, end)
            if group is not None:
                edits.append((start, group[1] + 1, ""))
        elif name in WRAPPED:
            group = brace_group(tex, end)
            if group is not None:
                environment = WRAPPED[name]
                edits.append((start, group[0] + 1, f"\\begin{{{environment}}}"))
                edits.append((group[1], group[1] + 1, f"\\end{{{environment}}}"))
    if breaks:
        # MathJax and Typora break a display's lines at a `\\` outside any environment and
        # centre them; KaTeX ignores such `\\`, so the lines are set as a `gathered`. The
        # wrapper closes before a trailing `%` comment, and before the tag numbering adds.
        close = content_end(tex)
        edits = [(0, 0, "\\begin{gathered}"), *edits, (close, close, "\\end{gathered}")]
    return edits


def _declare_operator(tex: str, end: int) -> list[Edit]:
    """`\\DeclareMathOperator*{\\op}{text}` -> `\\def\\op{\\operatorname*{text}}`, text kept in place."""
    star = tex.startswith("*", end)
    named = macro_name(tex, end + star)
    if named is None:
        return []
    name, after = named
    group = brace_group(tex, after)
    if group is None:
        return []
    operator = "\\operatorname*" if star else "\\operatorname"
    start = end - len("\\DeclareMathOperator")
    return [(start, group[0] + 1, f"\\def{name}{{{operator}{{"), (group[1], group[1], "}")]


def _new_command(tex: str, start: int, end: int) -> list[Edit]:
    """MathJax's `\\newcommand{\\op}[2]{…}` defines `\\op` whether or not it exists (KaTeX
    predefines `\\R`, `\\N`, … that LaTeX does not), and takes the name without its
    backslash too: written as `\\def\\op#1#2{…}`, the body left in place. One with an
    optional argument's default (`[2][x]`) is left as written: KaTeX has none."""
    named = macro_name(tex, end + tex.startswith("*", end))
    if named is None:
        return []
    name, after = named
    count = _ARGUMENT_COUNT.match(tex, after)
    arity = int(count.group(1)) if count else 0
    body = brace_group(tex, count.end() if count else after)
    if body is None:
        return []
    parameters = "".join(f"#{n}" for n in range(1, arity + 1))
    return [(start, body[0], f"\\def{name}{parameters}")]


def _provide_command(tex: str, end: int) -> list[Edit]:
    """`\\providecommand{op}{…}` (MathJax's name without backslash) defines `\\op`."""
    group = brace_group(tex, end + tex.startswith("*", end))
    if group is None:
        return []
    name = MATHJAX_NAME.match(tex[group[0] + 1 : group[1]])
    if name is None or tex[group[0] + 1 : group[1]].lstrip().startswith("\\"):
        return []
    letters_at = tex.index(name.group(1) or name.group(3), group[0] + 1)
    return [(letters_at, letters_at, "\\")]
