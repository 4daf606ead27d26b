"""A markdown-it plugin that finds math and keeps its TeX verbatim, with source positions.

Rules follow pandoc: `$` opens only when followed by a non-space, closes only when
preceded by a non-space and not followed by a digit, so `$5 and $10` stays text.
Recognised forms: `$…$`, `$$…$$` (inline or on their own lines), `\\(…\\)`, `\\[…\\]`,
GitHub's `` $`…`$ ``, and top-level amsmath environments. Tokens produced:

- `math_inline` (inline kind) and `math_inline_display` (`$$…$$` inside a paragraph);
  `meta["offset"]` is where the TeX starts in the parent inline token's content.
- `math_block` with `meta["starts"]`: for each TeX line, its (0-based line, column)
  in the source file, so KaTeX's error offsets map back to the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

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
    md.add_render_rule("math_inline", render_math_inline)
    md.add_render_rule("math_inline_display", render_math_inline)
    md.add_render_rule("math_block", render_math_block)


# --- inline -------------------------------------------------------------------------


def _scan_tex(src: str, pos: int, closer: str) -> int:
    """Index of `closer` after pos, skipping backslash pairs and `\\text{…}`; -1 if none."""
    end = len(src)
    while pos < end:
        char = src[pos]
        if char == "\\":
            if closer.startswith("\\") and src.startswith(closer, pos):
                return pos
            if src.startswith("\\text{", pos):
                pos = _skip_braces(src, pos + 5)
                continue
            pos += 2
            continue
        if src.startswith(closer, pos):
            return pos
        pos += 1
    return -1


def _skip_braces(src: str, pos: int) -> int:
    """Position after the balanced group opening at src[pos] == '{' (or the end)."""
    depth = 0
    while pos < len(src):
        char = src[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    return pos


def _push_inline(state: StateInline, kind: str, start: int, end: int, markup: str) -> None:
    token = state.push(kind, "math", 0)
    token.content = state.src[start:end]
    token.markup = markup
    token.meta = {"offset": start}


def _math_inline(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src.startswith("\\(", pos):
        close = _scan_tex(src, pos + 2, "\\)")
        if close <= pos + 2:
            return False
        if not silent:
            _push_inline(state, "math_inline", pos + 2, close, "\\(")
        state.pos = close + 2
        return True
    if src[pos] != "$":
        return False
    if src.startswith("$`", pos):
        return _github_inline(state, silent)
    if src.startswith("$$", pos):
        close = _scan_tex(src, pos + 2, "$$")
        if close <= pos + 2 or not src[pos + 2 : close].strip():
            return False
        if not silent:
            _push_inline(state, "math_inline_display", pos + 2, close, "$$")
        state.pos = close + 2
        return True
    return _dollar_inline(state, silent)


def _dollar_inline(state: StateInline, silent: bool) -> bool:
    """`$…$` by pandoc's rules: the first unescaped `$` closes, or nothing does."""
    src, pos = state.src, state.pos
    if pos + 1 >= len(src) or src[pos + 1].isspace():
        return False
    close = _scan_tex(src, pos + 1, "$")
    if close < 0 or src[close - 1].isspace():
        return False
    if close + 1 < len(src) and src[close + 1].isdigit():
        return False
    if not silent:
        _push_inline(state, "math_inline", pos + 1, close, "$")
    state.pos = close + 1
    return True


def _github_inline(state: StateInline, silent: bool) -> bool:
    """GitHub's `` $`…`$ ``: a code-span-like run of backticks inside dollars."""
    src, pos = state.src, state.pos
    start = pos + 1
    ticks = start
    while ticks < len(src) and src[ticks] == "`":
        ticks += 1
    fence = src[start:ticks]
    close = src.find(fence + "$", ticks)
    while close >= 0 and src[close - 1] == "`":
        close = src.find(fence + "$", close + 1)
    if close < 0 or close == ticks:
        return False
    if not silent:
        _push_inline(state, "math_inline", ticks, close, "$" + fence)
    state.pos = close + len(fence) + 1
    return True


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
        starts.extend(i + 1 for i, char in enumerate(state.src) if char == "\n")
        state.env["math_line_starts"] = starts
    return starts


# --- rendering ----------------------------------------------------------------------
# The pipeline stores KaTeX's HTML in token.meta["html"] before rendering; without it
# the TeX is shown escaped, so a page is never missing text.


def render_math_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """An inline formula (or `$$…$$` inside a paragraph, typeset in display style)."""
    token = tokens[idx]
    return str(token.meta.get("html") or f'<span class="math-source">{escapeHtml(token.content)}</span>')


def render_math_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A display formula in its own scrollable box, with the anchor a \\label gives it."""
    token = tokens[idx]
    html = token.meta.get("html") or f'<span class="math-source">{escapeHtml(token.content)}</span>'
    anchor = token.meta.get("anchor")
    id_attr = f' id="{escapeHtml(anchor)}"' if anchor else ""
    return f'<div class="math-display"{id_attr}>{html}</div>\n'
