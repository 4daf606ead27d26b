"""Text a MathJax page would typeset: pairs the dialect leaves as text, noticed.

Where the dialect leaves a delimiter pair as text but MathJax (with `$` delimiters on) would
typeset it, and what is between looks like a formula, the inline rule leaves a zero-width
`math_notice` token (the text itself is parsed as before); a pass turns it into a warning
at its position. Prose dollars (`$5 and $10`) do not look like one.
"""

from __future__ import annotations

import re

from markdown_it.rules_inline import StateInline

from .dialects import DEFAULT_DIALECT, DIALECTS, MathDialect
from .mathscan import ESCAPED_OPENERS, dollar_inline, scan_tex
from .tokenmeta import OFFSET, RULE, WRITTEN, note_made

_TEX_LIKE = re.compile(r"\\[A-Za-z]|[_^][{A-Za-z0-9\\]")
"""A TeX command, or a subscript or superscript."""


def looks_like_tex(text: str) -> bool:
    """Whether text holds a TeX command or a sub/superscript."""
    return _TEX_LIKE.search(text) is not None


def looks_like_math(text: str) -> bool:
    """Whether text between delimiters is a formula rather than prose: it holds a TeX
    command or a sub/superscript, or it is one short symbol or one word with a math sign,
    not starting with a digit (`x`, `-`, `f(x)`, `a+b`; not `5 and `, `20` nor `plain`)."""
    word = text.strip()
    if looks_like_tex(text):
        return True
    if not word or word[0].isdigit() or any(char.isspace() for char in word):
        return False
    return len(word) <= 2 or any(sign in word for sign in "=+-*/<>()|,'")


def near_miss(src: str, pos: int, dialect: MathDialect) -> tuple[str, str, int] | None:
    """(rule that would make it math, the delimiters as written, end) of a pair at pos."""
    if src.startswith("\\\\", pos):
        closer = ESCAPED_OPENERS.get(src[pos : pos + 3])
        if closer is None or dialect.escaped_delimiters:
            return None
        close = src.find(closer, pos + 3)
        if close < 0 or not looks_like_math(src[pos + 3 : close]):
            return None
        return "escaped_delimiters", f"`{src[pos : pos + 3]}…{closer}`", close + 3
    if src.startswith(("\\(", "\\["), pos):
        if dialect.backslash_delimiters:
            return None
        closer = "\\)" if src[pos + 1] == "(" else "\\]"
        close = scan_tex(src, pos + 2, closer)
        if close < 0 or not looks_like_math(src[pos + 2 : close]):
            return None
        return "backslash_delimiters", f"`{src[pos : pos + 2]}…{closer}`", close + 2
    if not src.startswith("$", pos) or src.startswith(("$$", "$`"), pos) or (pos and src[pos - 1] == "$"):
        return None
    close = scan_tex(src, pos + 1, "$")
    tex = src[pos + 1 : close]
    if close < 0 or "\n\n" in tex or src.startswith("$", close + 1):
        return None  # (`$x$$…`: a double dollar follows, not this pair's business)
    if not dialect.single_dollar:  # a pair pandoc would take (`$2$`) is a formula too
        if looks_like_math(tex) or dollar_inline(src, pos, DIALECTS[DEFAULT_DIALECT]) is not None:
            return "single_dollar", "`$…$`", close + 1
        return None
    if not looks_like_tex(tex):
        return None  # `$ x $`, `$x$2`: pandoc's rules exist for prose like this; TeX or nothing
    if tex != tex.strip():
        return "dollar_spaces", "`$…$` with a space just inside", close + 1
    if src[close + 1 : close + 2].isdigit():
        return "dollar_before_digit", "`$…$` followed by a digit", close + 1
    return None


def notice_text_math(state: StateInline, dialect: MathDialect) -> None:
    last = state.env.get(_LAST_NOTICE)
    if last is not None and last[0] is state.src and state.pos < last[1]:
        return  # the closing delimiter of the pair just noticed opens nothing
    found = near_miss(state.src, state.pos, dialect)
    if found is None:
        return
    rule, written, end = found
    token = state.push("math_notice", "", 0)
    note_made(state.env, "math_notice")
    OFFSET.set(token, state.pos)
    RULE.set(token, rule)
    WRITTEN.set(token, written)
    state.env[_LAST_NOTICE] = (state.src, end)


_LAST_NOTICE = "math_last_notice"
"""env key: (inline source, end) of the last pair noticed as text."""
