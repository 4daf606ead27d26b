"""A markdown-it plugin that finds math and keeps its TeX verbatim, with source positions.

The rules are a MathDialect's (dialects.py); by default pandoc's: `$` opens only when
followed by a non-space, closes only when preceded by a non-space and not followed by a
digit, so `$5 and $10` stays text. Recognised forms: `$…$`, `$$…$$` (inline or on their
own lines), `\\(…\\)`, `\\[…\\]`, GitHub's `` $`…`$ ``, top-level amsmath environments,
and for kramdown `\\\\(…\\\\)` and `\\\\[…\\\\]`. Tokens produced:

- `math_inline` (inline kind) and `math_inline_display` (`$$…$$` or `\\[…\\]` inside a
  paragraph);
  `meta["offset"]` is where the TeX starts in the parent inline token's content; for
  `\\\\(…\\\\)`, `meta["raw"]` and `meta["dropped"]` too (see _push_escaped).
- `math_block` with `meta["starts"]`: for each TeX line, its (0-based line, column)
  in the source file, so KaTeX's error offsets map back to the file.
- `math_notice`, zero-width: a pair left as text that a MathJax page would typeset, with
  `meta["offset"]`, `meta["rule"]` (the MathDialect switch that would make it math) and
  `meta["written"]`; env[BLOCK_NOTICES] holds the same for display math a blank line
  breaks. transforms.text_math_warnings turns both into warnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.table import table
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.footnote.index import footnote_inline

from ..typeset.texdefs import skip_braces
from .dialects import DEFAULT_DIALECT, DIALECTS, MathDialect

AMS_ENVIRONMENTS = (
    "equation", "equation*", "align", "align*", "alignat", "alignat*", "gather", "gather*",
    "multline", "multline*", "flalign", "flalign*", "eqnarray", "eqnarray*",
)  # fmt: skip
"""Environments that LaTeX accepts at the top level of a document, outside dollars."""


def math_plugin(md: MarkdownIt, *, dialect: MathDialect = DIALECTS[DEFAULT_DIALECT]) -> None:
    """Add the math rules of dialect to md; they run before escapes so TeX backslashes survive."""
    md.inline.ruler.before("escape", "math_inline", _inline_rule(dialect))
    interrupts = ["reference", "blockquote", "list", "footnote_def"]
    md.block.ruler.before(
        "fence",
        "math_block",
        _block_rule(dialect),
        {"alt": interrupts if dialect.block_alone else ["paragraph", *interrupts]},
    )
    md.inline.ruler.before("escape", "math_ref", _reference)
    md.block.ruler.at("table", _table_keeping_math(table, dialect), {"alt": ["paragraph", "reference"]})
    md.core.ruler.after("inline", "math_unmask_pipes", _unmask_pipes)
    if "footnote_inline" in md.inline.ruler.get_all_rules():
        md.inline.ruler.at("footnote_inline", _footnote_inline_keeping_offset(footnote_inline))
        md.core.ruler.after("inline", "math_in_inline_footnotes", _place_inline_footnotes)
    md.add_render_rule("math_ref", render_math_ref)
    md.add_render_rule("math_inline", render_math_inline)
    md.add_render_rule("math_inline_display", render_math_inline)
    md.add_render_rule("math_block", render_math_block)
    md.add_render_rule("math_notice", lambda *args: "")


# --- inline -------------------------------------------------------------------------


# Where a scan may stop: a backslash or the closer's first character. Jumping between
# them with a regex instead of testing every character in Python makes scanning the
# TeX of 15,000 formulas about ten times cheaper.
_TEX_STOPS = {"$": re.compile(r"[\\$]"), "\\": re.compile(r"\\")}


def _scan_tex(src: str, pos: int, closer: str) -> int:
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


def _push_inline(state: StateInline, found: Match) -> None:
    kind, start, end, _, markup = found
    token = state.push(kind, "math", 0)
    token.content = state.src[start:end].replace(PIPE_PLACEHOLDER, "|")
    token.markup = markup
    token.meta = {"offset": start}


Match = tuple[str, int, int, int, str]
"""Inline math found at a position: (token type, TeX start, TeX end, end of match, markup)."""


def _match(src: str, pos: int, dialect: MathDialect) -> Match | None:
    """Inline math opening at pos under dialect's rules, or None."""
    if src.startswith("\\\\", pos):
        if dialect.escaped_delimiters and src.startswith(("\\\\(", "\\\\["), pos):
            return _escaped_inline(src, pos)
        return None
    if src.startswith("\\(", pos) and dialect.backslash_delimiters:
        close = _scan_tex(src, pos + 2, "\\)")
        return ("math_inline", pos + 2, close, close + 2, "\\(") if close > pos + 2 else None
    if src.startswith("\\[", pos) and dialect.backslash_delimiters:
        close = _scan_tex(src, pos + 2, "\\]")
        if close <= pos + 2 or not src[pos + 2 : close].strip():
            return None
        return "math_inline_display", pos + 2, close, close + 2, "\\["
    if not src.startswith("$", pos):
        return None
    if src.startswith("$`", pos) and dialect.dollar_backtick:
        return _github_inline(src, pos)
    if src.startswith("$$", pos):
        close = _scan_tex(src, pos + 2, "$$")
        if close <= pos + 2 or not src[pos + 2 : close].strip():
            return None
        kind = "math_inline_display" if dialect.inline_double_dollar == "display" else "math_inline"
        return kind, pos + 2, close, close + 2, "$$"
    return _dollar_inline(src, pos, dialect) if dialect.single_dollar else None


def _inline_rule(dialect: MathDialect) -> InlineRule:
    def rule(state: StateInline, silent: bool) -> bool:
        found = _match(state.src, state.pos, dialect)
        if found is None:
            if not silent:
                _notice_text_math(state, dialect)
            return False
        if found[4] in ESCAPED_OPENERS:
            if not silent:
                _push_escaped(state, found, dialect)
        elif not silent:
            _push_inline(state, found)
        state.pos = found[3]
        return True

    return rule


def _dollar_inline(src: str, pos: int, dialect: MathDialect) -> Match | None:
    """`$…$`: the first unescaped `$` closes, or nothing does; by default (pandoc) no space
    just inside the dollars and no digit after the closing one."""
    if pos + 1 >= len(src) or (src[pos + 1].isspace() and not dialect.dollar_spaces):
        return None
    if src[pos + 1] == "`" and not dialect.dollar_backtick:
        return None  # the code span that follows is Markdown's
    close = _scan_tex(src, pos + 1, "$")
    if close < 0 or not src[pos + 1 : close].strip():
        return None
    if src[close - 1].isspace() and not dialect.dollar_spaces:
        return None
    if close + 1 < len(src) and src[close + 1].isdigit() and not dialect.dollar_before_digit:
        return None
    return "math_inline", pos + 1, close, close + 1, "$"


# --- written for a Markdown-first engine ---------------------------------------------
# kramdown reads `\\(x\\)` as the text `\(x\)`, which MathJax then typesets: the TeX the
# author meant is the text between the delimiters after Markdown's backslash escapes. The
# token's content is that TeX; meta["raw"] keeps the source and meta["dropped"] the
# offsets (in the TeX) of characters whose escaping backslash was dropped, for positions.

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


def _push_escaped(state: StateInline, found: Match, dialect: MathDialect) -> None:
    kind, start, end, _, markup = found
    raw = state.src[start:end].replace(PIPE_PLACEHOLDER, "|")
    tex, dropped = unescape(raw, dialect.escapes)
    token = state.push(kind, "math", 0)
    token.content = tex
    token.markup = markup
    token.meta = {"offset": start, "raw": raw, "dropped": dropped}


# --- text a MathJax page would typeset ----------------------------------------------
# Where the dialect leaves a delimiter pair as text but MathJax (with `$` delimiters on)
# would typeset it, and what is between looks like a formula, the inline rule leaves a
# zero-width `math_notice` token (the text itself is parsed as before); a pass turns it
# into a warning at its position. Prose dollars (`$5 and $10`) do not look like one.

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


def _near_miss(src: str, pos: int, dialect: MathDialect) -> tuple[str, str, int] | None:
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
        close = _scan_tex(src, pos + 2, closer)
        if close < 0 or not looks_like_math(src[pos + 2 : close]):
            return None
        return "backslash_delimiters", f"`{src[pos : pos + 2]}…{closer}`", close + 2
    if not src.startswith("$", pos) or src.startswith(("$$", "$`"), pos) or (pos and src[pos - 1] == "$"):
        return None
    close = _scan_tex(src, pos + 1, "$")
    tex = src[pos + 1 : close]
    if close < 0 or "\n\n" in tex or src.startswith("$", close + 1):
        return None  # (`$x$$…`: a double dollar follows, not this pair's business)
    if not dialect.single_dollar:  # a pair pandoc would take (`$2$`) is a formula too
        if looks_like_math(tex) or _dollar_inline(src, pos, DIALECTS[DEFAULT_DIALECT]) is not None:
            return "single_dollar", "`$…$`", close + 1
        return None
    if not looks_like_tex(tex):
        return None  # `$ x $`, `$x$2`: pandoc's rules exist for prose like this; TeX or nothing
    if tex != tex.strip():
        return "dollar_spaces", "`$…$` with a space just inside", close + 1
    if src[close + 1 : close + 2].isdigit():
        return "dollar_before_digit", "`$…$` followed by a digit", close + 1
    return None


def _notice_text_math(state: StateInline, dialect: MathDialect) -> None:
    last = state.env.get(_LAST_NOTICE)
    if last is not None and last[0] is state.src and state.pos < last[1]:
        return  # the closing delimiter of the pair just noticed opens nothing
    found = _near_miss(state.src, state.pos, dialect)
    if found is None:
        return
    rule, written, end = found
    token = state.push("math_notice", "", 0)
    token.meta = {"offset": state.pos, "rule": rule, "written": written}
    state.env[_LAST_NOTICE] = (state.src, end)


_LAST_NOTICE = "math_last_notice"
"""env key: (inline source, end) of the last pair noticed as text."""


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


_REFERENCE = re.compile(r"\\(eqref|ref)\{([^{}\n]+)\}")


def _reference(state: StateInline, silent: bool) -> bool:
    """`\\eqref{label}` and `\\ref{label}` in prose, as LaTeX allows them outside math."""
    if not state.src.startswith("\\", state.pos):
        return False
    match = _REFERENCE.match(state.src, state.pos)
    if match is None or not match.group(2).strip():
        return False
    if not silent:
        token = state.push("math_ref", "", 0)
        token.content = match.group(0)
        token.markup = "\\" + match.group(1)
        token.meta = {"label": match.group(2).strip(), "offset": state.pos}
    state.pos = match.end()
    return True


# --- tables -------------------------------------------------------------------------
# markdown-it splits table rows at every `|` before inline rules run. Like pandoc (and
# unlike GitHub), a `|` inside a formula belongs to the formula: the table rule sees a
# copy of the source where those pipes are a same-length placeholder, so line offsets
# stay valid, and the inline math rule turns them back into `|`.

PIPE_PLACEHOLDER = "\ue000"
"""Stands for a `|` inside math while the table rule splits cells (a private-use code point)."""


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
        found = _match(text, pos, dialect)
        if found is not None:
            spans.append((found[1], found[2]))
            pos = found[3]
        elif char == "\\":
            pos += 2
        else:
            pos += 1
    return spans


def _mask_pipes(text: str, dialect: MathDialect) -> str:
    for start, end in math_spans(text, dialect):
        text = text[:start] + text[start:end].replace("|", PIPE_PLACEHOLDER) + text[end:]
    return text


BlockRule = Callable[[StateBlock, int, int, bool], bool]


def _table_keeping_math(table: BlockRule, dialect: MathDialect) -> BlockRule:
    """Wrap markdown-it's table rule so pipes inside math do not split cells."""

    def rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        first = state.src[state.bMarks[start_line] : state.eMarks[start_line]]
        if start_line + 1 >= end_line or "|" not in first:
            return False
        src = state.src
        parts, done = [], 0
        line = start_line
        while line < end_line and not state.isEmpty(line):
            begin, end = state.bMarks[line], state.eMarks[line]
            masked = _mask_pipes(src[begin:end], dialect)
            if masked != src[begin:end]:
                parts += [src[done:begin], masked]
                done = end
            line += 1
        if not parts:
            return bool(table(state, start_line, end_line, silent))
        state.src = "".join(parts) + src[done:]
        try:
            return bool(table(state, start_line, end_line, silent))
        finally:
            state.src = src

    return rule


def _unmask_pipes(state: StateCore) -> None:
    """Placeholders left outside formulas (a cell's source text) become `|` again."""
    for token in state.tokens:
        if token.type == "inline" and PIPE_PLACEHOLDER in token.content:
            token.content = token.content.replace(PIPE_PLACEHOLDER, "|")
            for child in token.children or ():
                child.content = child.content.replace(PIPE_PLACEHOLDER, "|")


# --- inline footnotes -----------------------------------------------------------
# An inline footnote `^[…]` is parsed on its own, so offsets of the formulas in it count
# from the `[`, and its tokens end up under a new inline token with no line. These two
# rules point each formula (and reference) back at the paragraph it was written in.

InlineRule = Callable[[StateInline, bool], bool]


def _footnote_inline_keeping_offset(rule: InlineRule) -> InlineRule:
    """Record on the footnote_ref token where the footnote's text starts."""

    def wrapped(state: StateInline, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent and len(state.tokens) > count and state.tokens[-1].type == "footnote_ref":
            state.tokens[-1].meta["offset"] = start + 2  # after `^[`
        return True

    return wrapped


_PLACED_IN_FOOTNOTES = ("math_inline", "math_inline_display", "math_ref", "math_notice", "citation")
"""Inline tokens whose offset counts from their footnote; moved to the footnote's host block."""


def _place_inline_footnotes(state: StateCore) -> None:
    """Give formulas of inline footnotes their paragraph (meta["host"]) and offset in it."""
    footnotes = state.env.get("footnotes", {}).get("list", {})
    if not footnotes:
        return  # most notes: no need to look at every token
    for token in state.tokens:
        for child in token.children or ():
            if child.type != "footnote_ref" or "offset" not in child.meta:
                continue
            for inner in footnotes.get(child.meta["id"], {}).get("tokens", ()):
                if inner.type in _PLACED_IN_FOOTNOTES:
                    inner.meta["offset"] += child.meta["offset"]
                    inner.meta["host"] = token


# --- block --------------------------------------------------------------------------


def _line_text(state: StateBlock, line: int) -> tuple[int, str]:
    """A line without the container's indentation: (absolute start, text)."""
    pos, end = state.bMarks[line], state.eMarks[line]
    indent = 0
    while pos < end and indent < state.blkIndent and state.src[pos] in " \t":
        pos += 1
        indent += 1
    return pos, state.src[pos:end]


def _block_delimiters(text: str, dialect: MathDialect) -> tuple[str, str, int] | None:
    """(opener, closer, length of opener to strip) for a line that opens display math."""
    if text.startswith("$$"):
        return "$$", "$$", 2
    if text.startswith("\\[") and dialect.backslash_delimiters:
        return "\\[", "\\]", 2
    if text.startswith("\\begin{"):
        name = text[7 : text.find("}")] if "}" in text else ""
        if name in AMS_ENVIRONMENTS:
            return text[: 8 + len(name)], f"\\end{{{name}}}", 0
    return None


def _block_rule(dialect: MathDialect) -> BlockRule:
    def rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        return _math_block(state, start_line, end_line, silent, dialect)

    return rule


def _math_block(
    state: StateBlock, start_line: int, end_line: int, silent: bool, dialect: MathDialect
) -> bool:
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False  # an indented code block
    first = state.bMarks[start_line] + state.tShift[start_line]
    text = state.src[first : state.eMarks[start_line]]
    delimiters = _block_delimiters(text, dialect)
    if delimiters is None:
        return False
    opener, closer, strip = delimiters
    keep_closer = strip == 0  # environments keep \begin…\end in the TeX

    # (absolute start, text) of each TeX line; the first starts after the opener.
    lines: list[tuple[int, int, str]] = [(start_line, first + strip, text[strip:])]
    line = start_line
    while True:
        current = lines[-1][2]
        search_from = len(opener) - strip if line == start_line else 0
        close = current.find(closer, search_from)
        if close >= 0:
            if current[close + len(closer) :].strip():
                return False  # text after the closer: not a display block
            end = close + len(closer) if keep_closer else close
            lines[-1] = (lines[-1][0], lines[-1][1], current[:end])
            break
        line += 1
        if line >= end_line:
            return False
        if state.isEmpty(line) and not dialect.block_blank_lines:
            _notice_broken_block(state, start_line, line, end_line, (opener, closer))
            return False  # LaTeX allows no blank line inside math
        pos, text_line = _line_text(state, line)
        lines.append((line, pos, text_line))
    if dialect.block_alone and line + 1 < end_line and not state.isEmpty(line + 1):
        return False  # kramdown: a block ends at a block boundary, else it is span math

    tex = "\n".join(part for _, _, part in lines)
    if not tex.strip():
        return False
    if silent:
        return True
    line_starts = _line_starts(state)
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = tex
    token.markup = opener if strip else ""
    token.map = [start_line, line + 1]
    token.meta = {"starts": [(n, pos - line_starts[n]) for n, pos, _ in lines]}
    state.line = line + 1
    return True


BLOCK_NOTICES = "math_block_notices"
"""env key: {first line: (line, column, opener)} of display math a blank line breaks."""


def _notice_broken_block(
    state: StateBlock, start_line: int, blank: int, end_line: int, delimiters: tuple[str, str]
) -> None:
    """Remember a block that a blank line ends, if its closer comes later, before another
    block like it opens (MathJax would typeset it whole). Called in silent mode too (as a
    paragraph's terminator), so it is keyed by line."""
    opener, closer = delimiters
    for line in range(blank + 1, end_line):
        text = state.src[state.bMarks[line] : state.eMarks[line]]
        if opener != closer and text.lstrip().startswith(opener):
            return  # the next block of its kind: this one never closes
        if closer in text:
            first = state.bMarks[start_line] + state.tShift[start_line]
            column = first - _line_starts(state)[start_line]
            state.env.setdefault(BLOCK_NOTICES, {})[start_line] = (start_line, column, closer)
            return


def _line_starts(state: StateBlock) -> list[int]:
    """Absolute offset of each source line, computed once per parse and kept in env."""
    starts: list[int] | None = state.env.get("math_line_starts")
    if starts is None:
        starts = [0]
        newline = state.src.find("\n")
        while newline != -1:  # str.find, not a loop over characters: notes are long
            starts.append(newline + 1)
            newline = state.src.find("\n", newline + 1)
        state.env["math_line_starts"] = starts
    return starts


# --- rendering ----------------------------------------------------------------------
# The pipeline stores KaTeX's HTML (UTF-8) in token.meta["html"] before rendering; without it
# the TeX is shown escaped, so a page is never missing text.


CONSUME_HTML = "notes_render.consume_math_html"
"""env key: when true, rendering takes each formula's HTML out of its token, so a big note's
typeset formulas are not held twice, in the tokens and in the body being rendered."""


def _formula_html(token: Token, env: Any) -> str:
    html = token.meta.pop("html", None) if env.get(CONSUME_HTML) else token.meta.get("html")
    if isinstance(html, bytes):  # KaTeX's output is kept as UTF-8 (see katex.MathResult.html)
        html = html.decode("utf-8")
    return str(html or f'<span class="math-source">{escapeHtml(token.content)}</span>')


def render_math_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """An inline formula (or `$$…$$` inside a paragraph, typeset in display style)."""
    token = tokens[idx]
    html = _formula_html(token, env)
    anchor = token.meta.get("anchor")
    if anchor:
        html = f'<span id="{escapeHtml(anchor)}">{html}</span>'
    trail = token.meta.get("trail")
    # The punctuation after a formula stays on its line (see transforms.join_trailing_punctuation).
    if not trail:
        return html
    return f'<span class="math-join">{html}{escapeHtml(trail)}</span>'


def render_math_ref(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A reference to a labelled equation: a link showing its number, or `(??)` if unknown."""
    token = tokens[idx]
    text = escapeHtml(str(token.meta.get("text", token.content)))
    href = token.meta.get("href")
    if href is None:
        return f'<span class="eqref eqref-missing">{text}</span>'
    return f'<a class="eqref" href="{escapeHtml(href)}">{text}</a>'


def render_math_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A display formula in its own scrollable box, with the anchor a \\label gives it."""
    token = tokens[idx]
    html = _formula_html(token, env)
    anchor = token.meta.get("anchor")
    id_attr = f' id="{escapeHtml(anchor)}"' if anchor else ""
    if token.meta.get("may_scroll"):
        # A box that may scroll on a phone is a Tab stop, so a keyboard can scroll it.
        id_attr += ' tabindex="0" role="group" aria-label="Formula"'
    return f'<div class="math-display"{id_attr}>{html}</div>\n'
