"""KaTeX's error messages, said plainly: what it lacks, and what it offers instead.

Other engines (MathJax, LaTeX packages) accept TeX that KaTeX refuses; a note written for
them meets KaTeX's terse message first, so the message names KaTeX's equivalent.
"""

from __future__ import annotations

import re

from .katexglue import MAX_EXPAND

_EQUIVALENTS = {
    "\\bbox": "KaTeX has \\boxed, \\fbox, \\colorbox and \\fcolorbox",
    "\\require": "KaTeX has no extensions to load: remove it",
    "\\class": "KaTeX's \\htmlClass needs `trust`, which notes-render keeps off",
    "\\cssId": "KaTeX's \\htmlId does the same",
    "\\style": "KaTeX's \\htmlStyle needs `trust`, which notes-render keeps off",
    "\\mathbbm": "use \\mathbb",
    "\\mathds": "use \\mathbb",
    "\\bbold": "use \\mathbb",
    "\\textsc": "KaTeX has no small capitals; use \\text or \\textrm",
    "\\textsl": "use \\textit",
    "\\DeclareMathOperator": "use \\operatorname{…}, or a macro: \\newcommand{\\op}{\\operatorname{op}}",
    "\\eqalign": "use \\begin{aligned}…\\end{aligned}",
    "\\displaylines": "use \\begin{gathered}…\\end{gathered}",
    "\\mbox": "use \\text{…}",
    "\\unicode": "type the character itself",
    "\\idotsint": "write \\int\\cdots\\int",
    "\\overunderset": "nest \\overset{…}{\\underset{…}{…}}",
    "\\newenvironment": "define macros with \\newcommand instead",
    "\\intertext": "end the display and write the text between two displays",
    "\\enclose": "KaTeX has \\cancel, \\bcancel, \\xcancel, \\boxed and \\fbox",
    "\\label": "\\label works only in display math (in $$…$$, \\[…\\] or an environment)",
}
"""TeX that other engines (MathJax, LaTeX packages) accept and KaTeX 0.19 does not, with
what KaTeX offers instead; every suggestion was checked against KaTeX itself."""

_ENVIRONMENTS = {
    "eqnarray": "use align, with the relation after the & (a &= b)",
    "eqnarray*": "use align*, with the relation after the & (a &= b)",
}

_UNTRANSLATED = {
    re.compile(r"\\(?:re)?newcommand\s*\*?\s*(?:\{[^{}]*\}|\\[A-Za-z]+)\s*\[\s*\d\s*\]\s*\["): (
        "KaTeX's \\newcommand has no optional argument with a default, as MathJax's has; "
        "make it a required argument"
    ),
}
"""MathJax habits that mathjax.py cannot translate, found in the TeX of a formula KaTeX refused."""

_UNDEFINED = re.compile(r"^Undefined control sequence: (\\\S+)$")
_NO_ENVIRONMENT = re.compile(r"^No such environment: (\S+)$")


def explain(message: str, tex: str = "") -> str:
    """KaTeX's message, plainly saying what it lacks and naming its equivalent if it has one;
    tex is the formula, for the MathJax habits that make KaTeX fail further on."""
    for habit, untranslated in _UNTRANSLATED.items():
        if habit.search(tex):
            return f"{message} ({untranslated})"
    if message.startswith("Too many expansions"):
        return (
            f"{message} (a macro expands itself without end, or more than {MAX_EXPAND} times; "
            "notes-render keeps KaTeX's default limit)"
        )
    if message == "Maximum call stack size exceeded":
        return f"formula nested too deeply for KaTeX ({message})"
    match = _UNDEFINED.match(message)
    if match:
        hint = _EQUIVALENTS.get(match.group(1))
        return f"{message} (KaTeX does not know this command; {hint})" if hint else message
    match = _NO_ENVIRONMENT.match(message)
    if match and match.group(1) in _ENVIRONMENTS:
        return f"{message} (KaTeX does not support it; {_ENVIRONMENTS[match.group(1)]})"
    return message
