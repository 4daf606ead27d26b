"""Markdown to tokens: the one MarkdownIt instance, its plugins, and front matter."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from markdown_it import MarkdownIt
from markdown_it.parser_block import ParserBlock
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from ..errors import ContentError, Diagnostic, SourcePosition, not_utf8
from ..sources import NoteSource
from .citesyntax import citations_plugin
from .dialects import DEFAULT_DIALECT, DIALECTS, find_dialect, unknown_dialect
from .divs import divs_plugin
from .figures import figure_plugin
from .highlight import highlight_code
from .mathsyntax import math_plugin
from .permalinks import permalink_plugin

FRONT_MATTER_TYPES: dict[str, tuple[type, ...]] = {
    "title": (str,),
    "date": (str, datetime.date),
    "description": (str,),
    "macros": (dict,),
    "bibliography": (str,),
    "nocite": (str, list),
    "dialect": (str,),
}
"""The front matter keys the renderer reads, with the types each accepts."""


@dataclass(slots=True)
class ParsedNote:
    """A note after parsing: its tokens, front matter and source lines."""

    source: NoteSource
    """Where the note came from."""
    text: str
    """The note's text, newlines normalised."""
    tokens: list[Token]
    """markdown-it's token stream (inline tokens carry children)."""
    front_matter: dict[str, Any] = field(default_factory=dict)
    """The YAML front matter, checked against FRONT_MATTER_TYPES."""
    env: dict[str, Any] = field(default_factory=dict)
    """markdown-it's env (footnote definitions and the like)."""
    dialect: str = DEFAULT_DIALECT
    """The math dialect its math was found by (see dialects.py)."""
    lines: list[str] = field(init=False, repr=False)
    """The source split into lines, for positions and excerpts under error messages."""

    def __post_init__(self) -> None:
        # Split once: the math, reference and link passes all read the lines, and each
        # diagnostic reads them again for its excerpt.
        self.lines = self.text.split("\n")

    def diagnostic(
        self, line: int, column: int, message: str, severity: Literal["error", "warning"] = "error"
    ) -> Diagnostic:
        """A problem at a 0-based line and column of this note, with that line as its excerpt."""
        return Diagnostic(
            SourcePosition(self.source.display_path, line + 1, column + 1),
            message,
            severity,
            self.lines[line] if line < len(self.lines) else None,
        )


MAX_NESTING = 100
"""How deep markdown-it nests blocks and inline markup (a quote is one level, a list item
two: a list and its item). Its CommonMark preset stops at 20, which a list 10 deep
reaches; 100 is its default preset's limit, about 200 frames of Python's 1000 at the
deepest. Blocks nested deeper are kept as plain text and reported (see _NestingBlocks)."""

TOO_DEEP = "notes_render.too_deep"
"""env key: the (0-based line, column) of each block nested deeper than MAX_NESTING."""


class _NestingBlocks(ParserBlock):
    """markdown-it's block parser, except that a block nested beyond the limit is kept.

    markdown-it skips everything from such a block to the end of its parent, which for a
    list or quote is the rest of the note, silently. Here the lines the block owns (up to
    the first that is indented less than it) become one paragraph of plain text, the
    place is noted in env[TOO_DEEP], and parsing carries on after them.
    """

    def tokenize(self, state: StateBlock, startLine: int, endLine: int) -> None:
        if state.level < state.md.options.maxNesting:
            super().tokenize(state, startLine, endLine)
            return
        first = state.skipEmptyLines(startLine)
        last = line = first
        while line < endLine and (state.isEmpty(line) or state.sCount[line] >= state.blkIndent):
            line += 1
            if not state.isEmpty(line - 1):
                last = line
        if last == first:
            return
        begin = state.bMarks[first] + state.tShift[first]
        state.env.setdefault(TOO_DEEP, []).append((first, begin - (state.src.rfind("\n", 0, begin) + 1)))
        state.push("paragraph_open", "p", 1).map = [first, last]
        inline = state.push("inline", "", 0)
        inline.content = state.getLines(first, last, state.blkIndent, False).strip()
        inline.map = [first, last]
        inline.children = []
        state.push("paragraph_close", "p", -1)
        state.line = last


@cache
def markdown(dialect: str = DEFAULT_DIALECT) -> MarkdownIt:
    """CommonMark + GitHub tables, strikethrough, footnotes, task lists, alerts, front matter,
    math (found by the rules of `dialect`), definition lists, fenced divs, captioned figures
    and tables, citations, `@label` references, and code highlighted at build time."""
    # alerts: GitHub's `> [!NOTE]` callouts, built into markdown-it-py since 4.1.
    md = MarkdownIt(
        "commonmark",
        {"html": True, "alerts": True, "highlight": highlight_code, "maxNesting": MAX_NESTING},
    )
    blocks = _NestingBlocks()
    blocks.ruler = md.block.ruler  # the preset's rules, as configured
    md.block = blocks
    md.enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    md.use(footnote_plugin)
    md.use(tasklists_plugin)
    md.use(deflist_plugin)
    md.use(math_plugin, dialect=DIALECTS[dialect])
    md.use(divs_plugin)
    md.use(figure_plugin)
    md.use(citations_plugin)
    md.use(permalink_plugin)
    return md


def nesting_problems(note: ParsedNote) -> list[Diagnostic]:
    """An error at each block nested too deeply to be parsed, which is kept as plain text."""
    return [
        note.diagnostic(
            line,
            column,
            f"nested too deeply (quotes and lists over {MAX_NESTING} levels, a list item counting "
            "two): from here the block is kept as one paragraph, its markers as text",
        )
        for line, column in note.env.get(TOO_DEEP, ())
    ]


def decode_note(source: NoteSource, data: bytes) -> str:
    """The note's text from its bytes, or a ContentError naming the first byte that is not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContentError(*not_utf8(source.display_path, data, exc)) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_note(source: NoteSource, text: str, dialect: str = DEFAULT_DIALECT) -> ParsedNote:
    """Tokens and front matter of one note, its math found by the rules of `dialect` or of
    the one its front matter names; an empty note is an error, since it is most likely a
    mistake (an unsaved file, a wrong copy) rather than a page meant to be blank."""
    if not text.strip():
        raise ContentError(SourcePosition(source.display_path, 0, 0), "note is empty")
    env: dict[str, Any] = {}
    tokens = markdown(dialect).parse(text, env)
    note = ParsedNote(source=source, text=text, tokens=tokens, env=env, dialect=dialect)
    if tokens and tokens[0].type == "front_matter":
        note.front_matter = _load_front_matter(source, tokens[0].content)
        own = note.front_matter.get("dialect", dialect)
        if own != dialect:  # the note's own dialect: parse again by its rules
            env = {}
            note.tokens, note.env, note.dialect = markdown(own).parse(text, env), env, own
    return note


def _load_front_matter(source: NoteSource, content: str) -> dict[str, Any]:
    import yaml  # ~0.01 s, paid only by a build that meets front matter

    try:
        data = yaml.safe_load(content) if content.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        if isinstance(exc, yaml.MarkedYAMLError) and context and "end of stream" in problem:
            mark = exc.context_mark or mark  # an unclosed quote or bracket: point where it opens
        if context:
            problem = f"{context}, {problem}"
        # +2: the opening `---` line, and YAML's marks are 0-based.
        line, column = (mark.line + 2, mark.column + 1) if mark is not None else (1, 0)
        raise ContentError(
            SourcePosition(source.display_path, line, column), f"invalid YAML front matter: {problem}"
        ) from exc
    except ValueError as exc:  # a well-formed but impossible date, e.g. 2024-02-30
        raise ContentError(
            SourcePosition(source.display_path, _bad_date_line(content), 1),
            f"invalid date in YAML front matter: {exc}",
        ) from exc
    if not isinstance(data, dict):
        raise ContentError(
            SourcePosition(source.display_path, 2, 1), "front matter must be a mapping of keys to values"
        )
    for key, types in FRONT_MATTER_TYPES.items():
        if key in data and not isinstance(data[key], types):
            line = _key_line(content, key)
            expected = " or ".join(t.__name__ for t in types)
            raise ContentError(
                SourcePosition(source.display_path, line, 1),
                f"front matter key '{key}' must be {expected}, not {type(data[key]).__name__}",
            )
    if "dialect" in data and find_dialect(data["dialect"]) is None:
        raise ContentError(
            SourcePosition(source.display_path, _key_line(content, "dialect"), 1),
            f"front matter key 'dialect': {unknown_dialect(data['dialect'])}",
        )
    macros = data.get("macros")
    if isinstance(macros, dict) and not all(isinstance(k, str) and k for k in macros):
        raise ContentError(
            SourcePosition(source.display_path, _key_line(content, "macros"), 1),
            "front matter key 'macros' must map macro names to their expansions",
        )
    return data


def _bad_date_line(content: str) -> int:
    """1-based file line of the first date-like value that is not a real date (1 if none)."""
    for index, line in enumerate(content.split("\n")):
        match = re.search(r"\b(\d{4}-\d{1,2}-\d{1,2})\b", line)
        if match:
            try:
                datetime.date.fromisoformat(match.group(1))
            except ValueError:
                return index + 2
    return 1


def _key_line(content: str, key: str) -> int:
    """1-based file line of a top-level front matter key (the `---` is line 1)."""
    for index, line in enumerate(content.split("\n")):
        if line.startswith(f"{key}:"):
            return index + 2
    return 1
