"""Where a token's text lies in the note: every token with its parent, and the source line
and column of each offset in a block's inline content."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator

from markdown_it.token import Token

from ..markdown.tokenmeta import OFFSET, RAW


def walk(tokens: list[Token]) -> Iterator[tuple[Token, Token | None]]:
    """Every token in document order, with its parent inline token (None for blocks)."""
    for token in tokens:
        yield token, None
        for child in token.children or ():
            yield child, token


class BlockPositions:
    """Where each offset of a block's inline content lies in the source file.

    The content of an inline token is its block's lines with the block's markers (quote
    marks, list indentation) removed. Its line starts are found once, in one pass, and each
    line's shift from its source line when first asked for; an offset is then placed by a
    binary search, so a block with n formulas costs O(size + n log n) however long its
    lines are (searching back and forth from each formula made one long line quadratic).
    """

    def __init__(self, parent: Token, lines: list[str]) -> None:
        self._content = parent.content
        self._lines = lines
        self._first_line = parent.map[0] if parent.map else 0
        self._line_starts = [0]
        newline = self._content.find("\n")
        while newline >= 0:
            self._line_starts.append(newline + 1)
            newline = self._content.find("\n", newline + 1)
        self._shifts: dict[int, int] = {}

    @staticmethod
    def cache(lines: list[str]) -> Callable[[Token], BlockPositions]:
        """A function giving each block's BlockPositions, made once per block."""
        made: dict[int, tuple[Token, BlockPositions]] = {}

        def positions(parent: Token) -> BlockPositions:
            found = made.get(id(parent))
            if found is None:  # the token is kept with it, so its id is not reused
                found = made[id(parent)] = (parent, BlockPositions(parent, lines))
            return found[1]

        return positions

    def position(self, at: int) -> tuple[int, int]:
        """(0-based source line, 0-based column) of an offset in the content."""
        index = bisect_right(self._line_starts, at) - 1
        return self._first_line + index, self._shift(index) + at - self._line_starts[index]

    def starts_of(self, token: Token) -> list[tuple[int, int]]:
        """Source positions of each TeX line of an inline token (its OFFSET is where
        it starts in the content)."""
        offset = OFFSET.get_or(token, 0)
        written = RAW.get_or(token, token.content)  # TeX after Markdown's escapes: its source
        starts = [self.position(offset)]
        newline = written.find("\n")
        while newline >= 0:
            starts.append(self.position(offset + newline + 1))
            newline = written.find("\n", newline + 1)
        return starts

    def _shift(self, index: int) -> int:
        """Column in its source line where content line `index` starts."""
        shift = self._shifts.get(index)
        if shift is None:
            start = self._line_starts[index]
            end = self._line_starts[index + 1] - 1 if index + 1 < len(self._line_starts) else None
            content_line = self._content[start:end]
            source_line = self._first_line + index
            raw = self._lines[source_line] if source_line < len(self._lines) else ""
            shift = self._shifts[index] = max(raw.find(content_line), 0) if content_line else 0
        return shift
