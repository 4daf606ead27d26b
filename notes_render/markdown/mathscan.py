"""Where inline math starts and ends in a line of text, by a MathDialect's rules.

Pure functions over strings, shared by the inline rule (mathinline.py), the notices of pairs
left as text (mathnotices.py) and the table rule, which must know a formula's pipes before
markdown-it splits the cells (mathtables.py).
"""

from __future__ import annotations

import re

from ..typeset.texdefs import skip_braces
from .dialects import MathDialect

# Where a scan may stop: a backslash or the closer's first character. Jumping between
# them with a regex instead of testing every character in Python makes scanning the
# TeX of 15,000 formulas about ten times cheaper.
_TEX_STOPS = {"$": re.compile(r"[\\$]"), "\\": re.compile(r"\\")}


def scan_tex(src: str, pos: int, closer: str) -> int:
    """Index of `closer` after pos, skipping backslash pairs and `\\text{…}`; -1 if none."""
    stops = _TEX_STOPS[closer[0]]
    end = len(src)
    while pos < end:
        stop = stops.search(src, pos)
        if stop is None:
            return -1
        pos = stop.start()
        if src[pos] == "\\":
            if closer.startswith("\\") and src.startswith(closer, pos):
                return pos
            if src.startswith("\\text{", pos):
                pos = skip_braces(src, pos + 5)
                if pos < 0:
                    return -1  # the rest is inside an unclosed \text{
                continue
            pos += 2
            continue
        if src.startswith(closer, pos):
            return pos
        pos += 1
    return -1


Match = tuple[str, int, int, int, str]
"""Inline math found at a position: (token type, TeX start, TeX end, end of match, markup)."""


def match_inline(src: str, pos: int, dialect: MathDialect) -> Match | None:
    """Inline math opening at pos under dialect's rules, or None."""
    if src.startswith("\\\\", pos):
        if dialect.escaped_delimiters and src.startswith(("\\\\(", "\\\\["), pos):
            return _escaped_inline(src, pos)
        return None
    if src.startswith("\\(", pos) and dialect.backslash_delimiters:
        close = scan_tex(src, pos + 2, "\\)")
        return ("math_inline", pos + 2, close, close + 2, "\\(") if close > pos + 2 else None
    if src.startswith("\\[", pos) and dialect.backslash_delimiters:
        close = scan_tex(src, pos + 2, "\\]")
        if close <= pos + 2 or not src[pos + 2 : close].strip():
            return None
        return "math_inline_display", pos + 2, close, close + 2, "\\["
    if not src.startswith("$", pos):
        return None
    if src.startswith("$`", pos) and dialect.dollar_backtick:
        return _github_inline(src, pos)
    if src.startswith("$$", pos):
        close = scan_tex(src, pos + 2, "$$")
        if close <= pos + 2 or not src[pos + 2 : close].strip():
            return None
        kind = "math_inline_display" if dialect.inline_double_dollar == "display" else "math_inline"
        return kind, pos + 2, close, close + 2, "$$"
    return dollar_inline(src, pos, dialect) if dialect.single_dollar else None


def dollar_inline(src: str, pos: int, dialect: MathDialect) -> Match | None:
    """`$…$`: the first unescaped `$` closes, or nothing does; by default (pandoc) no space
    just inside the dollars and no digit after the closing one."""
    if pos + 1 >= len(src) or (src[pos + 1].isspace() and not dialect.dollar_spaces):
        return None
    if src[pos + 1] == "`" and not dialect.dollar_backtick:
        return None  # the code span that follows is Markdown's
    close = scan_tex(src, pos + 1, "$")
    if close < 0 or not src[pos + 1 : close].strip():
        return None
    if src[close - 1].isspace() and not dialect.dollar_spaces:
        return None
    if close + 1 < len(src) and src[close + 1].isdigit() and not dialect.dollar_before_digit:
        return None
    return "math_inline", pos + 1, close, close + 1, "$"


def _github_inline(src: str, pos: int) -> tuple[str, int, int, int, str] | None:
    """GitHub's `` $`…`$ ``: a code-span-like run of backticks inside dollars."""
    start = pos + 1
    ticks = start
    while ticks < len(src) and src[ticks] == "`":
        ticks += 1
    fence = src[start:ticks]
    close = src.find(fence + "$", ticks)
    while close >= 0 and src[close - 1] == "`":
        close = src.find(fence + "$", close + 1)
    if close < 0 or close == ticks:
        return None
    return "math_inline", ticks, close, close + len(fence) + 1, "$" + fence


ESCAPED_OPENERS = {"\\\\(": "\\\\)", "\\\\[": "\\\\]"}


def _escaped_inline(src: str, pos: int) -> Match | None:
    opener = src[pos : pos + 3]
    closer = ESCAPED_OPENERS[opener]
    scan = pos + 3
    while True:
        scan = src.find("\\", scan)
        if scan < 0:
            return None
        if src.startswith(closer, scan):
            break
        scan += 2  # a backslash pair, e.g. `\\\\` (a TeX line break) or `\\{`
    if not src[pos + 3 : scan].strip():
        return None
    kind = "math_inline" if opener == "\\\\(" else "math_inline_display"
    return kind, pos + 3, scan, scan + 3, opener


def unescape(raw: str, escapes: str) -> tuple[str, list[int]]:
    """raw after Markdown's backslash escapes of `escapes`, and the offsets (in the result)
    of the characters that lost their backslash."""
    parts: list[str] = []
    dropped: list[int] = []
    length = 0
    pos = 0
    while True:
        slash = raw.find("\\", pos)
        if slash < 0 or slash + 1 >= len(raw):
            break
        parts.append(raw[pos:slash])
        length += slash - pos
        if raw[slash + 1] in escapes:
            dropped.append(length)
            parts.append(raw[slash + 1])
            length += 1
        else:
            parts.append(raw[slash : slash + 2])
            length += 2
        pos = slash + 2
    parts.append(raw[pos:])
    return "".join(parts), dropped


_SPAN_STOPS = re.compile(r"[`$\\]")
"""Where inline math or a code span may start: every other character is skipped."""


def math_spans(text: str, dialect: MathDialect) -> list[tuple[int, int]]:
    """(start, end) of the TeX of each inline formula in one line, skipping code spans."""
    spans = []
    pos = 0
    while pos < len(text):
        stop = _SPAN_STOPS.search(text, pos)
        if stop is None:
            break
        pos = stop.start()
        char = text[pos]
        if char == "`":
            run = len(text) - len(text[pos:].lstrip("`"))
            fence = text[pos:run]
            close = text.find(fence, run)
            while close >= 0 and text.startswith("`", close + len(fence)):
                close = text.find(fence, close + len(fence) + 1)
            pos = close + len(fence) if close >= 0 else run
            continue
        found = match_inline(text, pos, dialect)
        if found is not None:
            spans.append((found[1], found[2]))
            pos = found[3]
        elif char == "\\":
            pos += 2
        else:
            pos += 1
    return spans
