"""Tables whose cells hold formulas with `|` in them.

markdown-it splits table rows at every `|` before inline rules run. Like pandoc (and unlike
GitHub), a `|` inside a formula belongs to the formula: the table rule sees a copy of the
source where those pipes are a same-length placeholder, so line offsets stay valid, and the
inline math rule turns them back into `|`.
"""

from __future__ import annotations

from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore

from .dialects import MathDialect
from .mathblock import BlockRule
from .mathscan import math_spans

PIPE_PLACEHOLDER = "\ue000"
"""Stands for a `|` inside math while the table rule splits cells (a private-use code point)."""


def _mask_pipes(text: str, dialect: MathDialect) -> str:
    for start, end in math_spans(text, dialect):
        text = text[:start] + text[start:end].replace("|", PIPE_PLACEHOLDER) + text[end:]
    return text


_DELIMITER_ROW = frozenset("|-: \t")


def _may_delimit(state: StateBlock, line: int) -> bool:
    """Whether the line could be a table's delimiter row (`|---|:-:|`): markdown-it's table
    rule refuses any other, so a paragraph with a `|` in a formula (`$|x|$`) is not masked
    line by line for nothing. Masking cannot change the answer: it only puts a placeholder
    for a `|` between math delimiters, characters no delimiter row holds."""
    row = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]
    return bool(row) and _DELIMITER_ROW.issuperset(row)


def table_keeping_math(table: BlockRule, dialect: MathDialect) -> BlockRule:
    """Wrap markdown-it's table rule so pipes inside math do not split cells."""

    def rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        first = state.src[state.bMarks[start_line] : state.eMarks[start_line]]
        if start_line + 1 >= end_line or "|" not in first or not _may_delimit(state, start_line + 1):
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


def unmask_pipes(state: StateCore) -> None:
    """Placeholders left outside formulas (a cell's source text) become `|` again."""
    for token in state.tokens:
        if token.type == "inline" and PIPE_PLACEHOLDER in token.content:
            token.content = token.content.replace(PIPE_PLACEHOLDER, "|")
            for child in token.children or ():
                child.content = child.content.replace(PIPE_PLACEHOLDER, "|")
