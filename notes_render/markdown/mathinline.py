"""The math plugin's inline rules: formulas, `\\eqref`/`\\ref` in prose, inline footnotes.

Each formula becomes a token whose OFFSET (tokenmeta.py) is where its TeX starts in the parent
inline token's content. kramdown's `\\\\(x\\\\)` reaches MathJax as the text `\\(x\\)`: the
TeX the author meant is the text between the delimiters after Markdown's backslash
escapes, so that token's content is that TeX, RAW keeps the source and
DROPPED the offsets (in the TeX) of characters whose escaping backslash was
dropped, for positions.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline

from .dialects import MathDialect
from .mathnotices import notice_text_math
from .mathscan import ESCAPED_OPENERS, Match, match_inline, unescape
from .mathtables import PIPE_PLACEHOLDER
from .tokenmeta import DROPPED, FOOTNOTE_ID, HOST, LABEL, OFFSET, RAW, note_made

InlineRule = Callable[[StateInline, bool], bool]


def inline_rule(dialect: MathDialect) -> InlineRule:
    """The inline rule for dialect: a formula where one opens, else a notice where a MathJax
    page would see one."""

    def rule(state: StateInline, silent: bool) -> bool:
        found = match_inline(state.src, state.pos, dialect)
        if found is None:
            if not silent:
                notice_text_math(state, dialect)
            return False
        if found[4] in ESCAPED_OPENERS:
            if not silent:
                _push_escaped(state, found, dialect)
        elif not silent:
            _push_inline(state, found)
        state.pos = found[3]
        return True

    return rule


def _push_inline(state: StateInline, found: Match) -> None:
    kind, start, end, _, markup = found
    token = state.push(kind, "math", 0)
    token.content = state.src[start:end].replace(PIPE_PLACEHOLDER, "|")
    token.markup = markup
    OFFSET.set(token, start)


def _push_escaped(state: StateInline, found: Match, dialect: MathDialect) -> None:
    kind, start, end, _, markup = found
    raw = state.src[start:end].replace(PIPE_PLACEHOLDER, "|")
    tex, dropped = unescape(raw, dialect.escapes)
    token = state.push(kind, "math", 0)
    token.content = tex
    token.markup = markup
    OFFSET.set(token, start)
    RAW.set(token, raw)
    DROPPED.set(token, dropped)


_REFERENCE = re.compile(r"\\(eqref|ref)\{([^{}\n]+)\}")


def reference_rule(state: StateInline, silent: bool) -> bool:
    """`\\eqref{label}` and `\\ref{label}` in prose, as LaTeX allows them outside math."""
    if not state.src.startswith("\\", state.pos):
        return False
    match = _REFERENCE.match(state.src, state.pos)
    if match is None or not match.group(2).strip():
        return False
    if not silent:
        token = state.push("math_ref", "", 0)
        note_made(state.env, "math_ref")
        token.content = match.group(0)
        token.markup = "\\" + match.group(1)
        LABEL.set(token, match.group(2).strip())
        OFFSET.set(token, state.pos)
    state.pos = match.end()
    return True


# An inline footnote `^[…]` is parsed on its own, so offsets of the formulas in it count
# from the `[`, and its tokens end up under a new inline token with no line. These two
# rules point each formula (and reference) back at the paragraph it was written in.


def footnote_inline_keeping_offset(rule: InlineRule) -> InlineRule:
    """Record on the footnote_ref token where the footnote's text starts."""

    def wrapped(state: StateInline, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent and len(state.tokens) > count and state.tokens[-1].type == "footnote_ref":
            OFFSET.set(state.tokens[-1], start + 2)  # after `^[`
        return True

    return wrapped


_PLACED_IN_FOOTNOTES = ("math_inline", "math_inline_display", "math_ref", "math_notice", "citation")
"""Inline tokens whose offset counts from their footnote; moved to the footnote's host block."""


def place_inline_footnotes(state: StateCore) -> None:
    """Give formulas of inline footnotes their paragraph (HOST) and offset in it."""
    footnotes = state.env.get("footnotes", {}).get("list", {})
    if not footnotes:
        return  # most notes: no need to look at every token
    for token in state.tokens:
        for child in token.children or ():
            if child.type != "footnote_ref" or not OFFSET.has(child):
                continue
            for inner in footnotes.get(FOOTNOTE_ID(child), {}).get("tokens", ()):
                if inner.type in _PLACED_IN_FOOTNOTES:
                    OFFSET.set(inner, OFFSET(inner) + OFFSET(child))
                    HOST.set(inner, token)
