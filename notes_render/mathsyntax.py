"""A markdown-it plugin that finds math and keeps its TeX verbatim, with source positions.

Rules follow pandoc: `$` opens only when followed by a non-space, closes only when
preceded by a non-space and not followed by a digit, so `$5 and $10` stays text.
Recognised forms: `$…$`, `$$…$$` (inline or on their own lines), `\\(…\\)`, `\\[…\\]`,
GitHub's `` $`…`$ ``, and top-level amsmath environments. Tokens produced:

- `math_inline` (inline kind) and `math_inline_display` (`$$…$$` or `\\[…\\]` inside a
  paragraph);
  `meta["offset"]` is where the TeX starts in the parent inline token's content.
- `math_block` with `meta["starts"]`: for each TeX line, its (0-based line, column)
  in the source file, so KaTeX's error offsets map back to the file.
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

from .texdefs import skip_braces

AMS_ENVIRONMENTS = (
    "equation", "equation*", "align", "align*", "alignat", "alignat*", "gather", "gather*",
    "multline", "multline*", "flalign", "flalign*", "eqnarray", "eqnarray*",
)  # fmt: skip
"""Environments that LaTeX accepts at the top level of a document, outside dollars."""


def math_plugin(md: MarkdownIt) -> None:
    """Add the math rules to md; they run before escapes so TeX backslashes survive."""
    md.inline.ruler.before("escape", "math_inline", _math_inline)
    md.block.ruler.before(
        "fence",
        "math_block",
        _math_block,
        {"alt": ["paragraph", "reference", "blockquote", "list", "footnote_def"]},
    )
    md.inline.ruler.before("escape", "math_ref", _reference)
    md.block.ruler.at("table", _table_keeping_math(table), {"alt": ["paragraph", "reference"]})
    md.core.ruler.after("inline", "math_unmask_pipes", _unmask_pipes)
    if "footnote_inline" in md.inline.ruler.get_all_rules():
        md.inline.ruler.at("footnote_inline", _footnote_inline_keeping_offset(footnote_inline))
        md.core.ruler.after("inline", "math_in_inline_footnotes", _place_inline_footnotes)
    md.add_render_rule("math_ref", render_math_ref)
    md.add_render_rule("math_inline", render_math_inline)
    md.add_render_rule("math_inline_display", render_math_inline)
    md.add_render_rule("math_block", render_math_block)


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


def _push_inline(state: StateInline, kind: str, start: int, end: int, markup: str) -> None:
    token = state.push(kind, "math", 0)
    token.content = state.src[start:end].replace(PIPE_PLACEHOLDER, "|")
    token.markup = markup
    token.meta = {"offset": start}


def _match(src: str, pos: int) -> tuple[str, int, int, int, str] | None:
    """Inline math opening at pos: (token type, TeX start, TeX end, end of match, markup)."""
    if src.startswith("\\(", pos):
        close = _scan_tex(src, pos + 2, "\\)")
        return ("math_inline", pos + 2, close, close + 2, "\\(") if close > pos + 2 else None
    if src.startswith("\\[", pos):
        close = _scan_tex(src, pos + 2, "\\]")
        if close <= pos + 2 or not src[pos + 2 : close].strip():
            return None
        return "math_inline_display", pos + 2, close, close + 2, "\\["
    if not src.startswith("$", pos):
        return None
    if src.startswith("$`", pos):
        return _github_inline(src, pos)
    if src.startswith("$$", pos):
        close = _scan_tex(src, pos + 2, "$$")
        if close <= pos + 2 or not src[pos + 2 : close].strip():
            return None
        return "math_inline_display", pos + 2, close, close + 2, "$$"
    return _dollar_inline(src, pos)


def _math_inline(state: StateInline, silent: bool) -> bool:
    found = _match(state.src, state.pos)
    if found is None:
        return False
    kind, start, end, after, markup = found
    if not silent:
        _push_inline(state, kind, start, end, markup)
    state.pos = after
    return True


def _dollar_inline(src: str, pos: int) -> tuple[str, int, int, int, str] | None:
    """`$…$` by pandoc's rules: the first unescaped `$` closes, or nothing does."""
    if pos + 1 >= len(src) or src[pos + 1].isspace():
        return None
    close = _scan_tex(src, pos + 1, "$")
    if close < 0 or src[close - 1].isspace():
        return None
    if close + 1 < len(src) and src[close + 1].isdigit():
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


def math_spans(text: str) -> list[tuple[int, int]]:
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
        found = _match(text, pos)
        if found is not None:
            spans.append((found[1], found[2]))
            pos = found[3]
        elif char == "\\":
            pos += 2
        else:
            pos += 1
    return spans


def _mask_pipes(text: str) -> str:
    for start, end in math_spans(text):
        text = text[:start] + text[start:end].replace("|", PIPE_PLACEHOLDER) + text[end:]
    return text


BlockRule = Callable[[StateBlock, int, int, bool], bool]


def _table_keeping_math(table: BlockRule) -> BlockRule:
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
            masked = _mask_pipes(src[begin:end])
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
                if inner.type in ("math_inline", "math_inline_display", "math_ref", "citation"):
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


def _block_delimiters(text: str) -> tuple[str, str, int] | None:
    """(opener, closer, length of opener to strip) for a line that opens display math."""
    if text.startswith("$$"):
        return "$$", "$$", 2
    if text.startswith("\\["):
        return "\\[", "\\]", 2
    if text.startswith("\\begin{"):
        name = text[7 : text.find("}")] if "}" in text else ""
        if name in AMS_ENVIRONMENTS:
            return text[: 8 + len(name)], f"\\end{{{name}}}", 0
    return None


def _math_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False  # an indented code block
    first = state.bMarks[start_line] + state.tShift[start_line]
    text = state.src[first : state.eMarks[start_line]]
    delimiters = _block_delimiters(text)
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
        if line >= end_line or state.isEmpty(line):
            return False  # LaTeX allows no blank line inside math
        pos, text_line = _line_text(state, line)
        lines.append((line, pos, text_line))

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
# The pipeline stores KaTeX's HTML in token.meta["html"] before rendering; without it
# the TeX is shown escaped, so a page is never missing text.


CONSUME_HTML = "notes_render.consume_math_html"
"""env key: when true, rendering takes each formula's HTML out of its token, so a big note's
typeset formulas are not held twice, in the tokens and in the body being rendered."""


def _formula_html(token: Token, env: Any) -> str:
    html = token.meta.pop("html", None) if env.get(CONSUME_HTML) else token.meta.get("html")
    return str(html or f'<span class="math-source">{escapeHtml(token.content)}</span>')


def render_math_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """An inline formula (or `$$…$$` inside a paragraph, typeset in display style)."""
    token = tokens[idx]
    html = _formula_html(token, env)
    anchor = token.meta.get("anchor")
    return f'<span id="{escapeHtml(anchor)}">{html}</span>' if anchor else html


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
    return f'<div class="math-display"{id_attr}>{html}</div>\n'
