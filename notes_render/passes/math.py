"""The math pass: every formula of a note, with where each line of its TeX is in the source,
and a warning for each delimiter pair that the note's dialect leaves as text.

Typesetting them is the next stage's work (typeset/formulas.py); this pass only finds them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from markdown_it.token import Token

from ..errors import Diagnostic
from ..markdown.dialects import DIALECTS, dialects_with
from ..markdown.parsing import ParsedNote
from ..markdown.tokenmeta import DROPPED, HOST, OFFSET, RAW, RULE, STARTS, WRITTEN, was_made
from .positions import BlockPositions, walk


@dataclass(slots=True)
class MathItem:
    """One formula of a note, with what is needed to report errors at the right place."""

    token: Token
    """The math token; its MATH_HTML receives KaTeX's output."""
    display: bool
    """Typeset in display style."""
    starts: list[tuple[int, int]]
    """For each line of the TeX: (0-based source line, 0-based column) where it starts."""
    edits: list[tuple[int, int, str]] = field(default_factory=list)
    """How the TeX sent to KaTeX differs from the source: (start, end, replacement), sorted."""

    @property
    def tex(self) -> str:
        """The TeX exactly as written."""
        return self.token.content

    @property
    def sent_tex(self) -> str:
        """The TeX given to KaTeX: the source with the edits applied."""
        parts, done = [], 0
        for start, end, text in self.edits:
            parts += [self.tex[done:start], text]
            done = end
        return "".join(parts) + self.tex[done:]

    def source_offset(self, offset: int) -> int:
        """Offset in the TeX as written of an offset in sent_tex (an edit maps to its start)."""
        shift = 0
        for start, end, text in self.edits:
            if offset < start + shift:
                break
            if offset < start + shift + len(text):
                return start
            shift += len(text) - (end - start)
        return max(offset - shift, 0)

    def position_of(self, offset: int) -> tuple[int, int]:
        """(0-based line, 0-based column) in the source file of an offset in the TeX."""
        dropped = DROPPED.get(self.token)
        if dropped:  # TeX written for a Markdown-first engine: back to its escaped source
            offset += bisect.bisect_left(dropped, offset)
        tex = RAW.get_or(self.token, self.tex)[:offset]
        line_index = tex.count("\n")
        line_index = min(line_index, len(self.starts) - 1)
        line, column = self.starts[line_index]
        return line, column + offset - (tex.rfind("\n") + 1)


def collect_math(note: ParsedNote) -> list[MathItem]:
    """All formulas of a note in document order; ```math fences become display math."""
    items = []
    lines = note.lines
    blocks = BlockPositions.cache(lines)
    for token, parent in walk(note.tokens):
        if token.type == "fence" and token.info.strip() == "math" and token.map:
            _fence_to_math(token, lines)
        if token.type == "math_block":
            items.append(MathItem(token, True, list(STARTS(token))))
        elif token.type in ("math_inline", "math_inline_display") and parent is not None:
            parent = HOST.get_or(token, parent)  # an inline footnote's paragraph
            starts = blocks(parent).starts_of(token)
            items.append(MathItem(token, token.type == "math_inline_display", starts))
    return items


def _fence_to_math(token: Token, lines: list[str]) -> None:
    first = token.map[0] + 1 if token.map else 0
    token.type = "math_block"
    token.content = token.content.removesuffix("\n")
    starts = []
    for index, tex_line in enumerate(token.content.split("\n")):
        raw = lines[first + index] if first + index < len(lines) else ""
        starts.append((first + index, max(raw.find(tex_line), 0) if tex_line else 0))
    STARTS.set(token, starts)


def text_math_warnings(note: ParsedNote) -> list[Diagnostic]:
    """A warning for each delimiter pair left as text that a MathJax page would typeset:
    why it is text under the note's dialect, and what makes it math."""
    from ..markdown.mathsyntax import BLOCK_NOTICES

    warnings = []
    blocks = BlockPositions.cache(note.lines)
    # Most notes have no notice: no need to look at every token.
    tokens = walk(note.tokens) if was_made(note.env, "math_notice") else iter(())
    for token, parent in tokens:
        if token.type == "math_notice" and parent is not None:
            line, column = blocks(HOST.get_or(token, parent)).position(OFFSET(token))
            message = _text_math_message(note.dialect, RULE(token), WRITTEN(token))
            warnings.append(note.diagnostic(line, column, message, "warning"))
    for line, column, closer in note.env.get(BLOCK_NOTICES, {}).values():
        written = f"display math up to the next `{closer}`"
        message = _text_math_message(note.dialect, "block_blank_lines", written)
        warnings.append(note.diagnostic(line, column, message, "warning"))
    return warnings


_TEXT_MATH_FIXES = {
    "single_dollar": ("kramdown's only math delimiter is `$$`", "write `$$…$$` (inline inside a paragraph)"),
    "dollar_spaces": ("a space just inside a dollar ends math here", "remove the space"),
    "dollar_before_digit": (
        "a closing `$` before a digit is not math here (so that `$5 and $10` stays text)",
        "leave a space before the digit",
    ),
    "block_blank_lines": ("a blank line ends display math here (LaTeX allows none)", "remove the blank line"),
    "backslash_delimiters": ("Markdown reads `\\(` and `\\[` as escaped brackets", "write `$…$` or `$$…$$`"),
    "escaped_delimiters": (
        "Markdown reads `\\\\` as one backslash, so only a MathJax page sees math",
        "write `$…$` or `$$…$$`",
    ),
}
"""For each rule: why the text is not math in a dialect without it, and the fix in the note."""


def _text_math_message(dialect: str, rule: str, written: str) -> str:
    why, fix = _TEXT_MATH_FIXES[rule]
    if rule in ("dollar_before_digit", "escaped_delimiters") and DIALECTS[dialect].backslash_delimiters:
        fix = "write `\\(…\\)`"
    others = " or ".join(f"`{name}`" for name in dialects_with(rule))
    return (
        f"{written} is text under the {dialect} dialect: {why}; to typeset it, {fix} or use dialect {others}"
    )
