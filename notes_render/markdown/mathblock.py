"""The math plugin's block rule: display math on lines of its own.

`$$…$$`, `\\[…\\]` (where the dialect has them) and top-level amsmath environments, across
lines, inside lists, quotes and footnotes. A `math_block` token's STARTS gives, for
each TeX line, its (0-based line, column) in the source file, so KaTeX's error offsets map
back to the file. Display math a blank line breaks is remembered in env[BLOCK_NOTICES].
"""

from __future__ import annotations

from collections.abc import Callable

from markdown_it.rules_block import StateBlock

from .dialects import MathDialect
from .tokenmeta import STARTS

AMS_ENVIRONMENTS = (
    "equation", "equation*", "align", "align*", "alignat", "alignat*", "gather", "gather*",
    "multline", "multline*", "flalign", "flalign*", "eqnarray", "eqnarray*",
)  # fmt: skip
"""Environments that LaTeX accepts at the top level of a document, outside dollars."""

BlockRule = Callable[[StateBlock, int, int, bool], bool]


def block_rule(dialect: MathDialect) -> BlockRule:
    """The block rule for dialect: a `math_block` token for display math on its own lines."""

    def rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        return _math_block(state, start_line, end_line, silent, dialect)

    return rule


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
    STARTS.set(token, [(n, pos - line_starts[n]) for n, pos, _ in lines])
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
