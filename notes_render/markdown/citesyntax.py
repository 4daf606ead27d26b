"""A markdown-it plugin that finds citations in pandoc's syntax (and LaTeX's `\\cite`).

Syntax, as pandoc reads it:

- `[@ho2020]`, `[@ho2020; @song2021, p. 4]`, `[see @ho2020, sec. 3]`: a bracketed group of
  citations separated by `;`, each with an optional prefix before the key and a locator or
  suffix after it; `[-@ho2020]` leaves the author out.
- `@ho2020 shows…`, `@ho2020 [p. 4] shows…`: an in-text citation, with an optional locator
  in brackets right after. The `@` must not follow a letter or digit (`me@ho2020.org` is an
  address), and a key ends where pandoc ends it: letters, digits and `_`, with single
  punctuation characters `:.#$%&-+?<>~/` inside (`@ho2020.` cites `ho2020`); `@{…}` quotes
  any other key.
- `\\cite{a,b}` and `\\citep{a}` (a bracketed group), `\\citet{a}` (in-text), with natbib's
  optional `[prefix][locator]`, for notes written as LaTeX.

A key with a cross-reference prefix (`fig-`, `lem-`, `eq-`, …) is Quarto's reference to a
numbered thing, not a citation: those are left to the cross-reference pass. Without any
bibliography, an in-text `@name` stays text (a site that does not cite may mention
`@handles`), while a bracketed group or `\\cite` is reported.

Tokens: `citation` with CITES (a list of Cite), CITE_IN_TEXT and OFFSET in the parent
inline's content (tokenmeta.py); citations.resolve() gives each its HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from .tokenmeta import CITATION_HTML, CITE_IN_TEXT, CITES, OFFSET, note_made

CROSS_REFERENCE_PREFIXES = (
    "fig", "tbl", "eq", "sec", "thm", "lem", "cor", "prp", "cnj", "def", "exm", "exr", "rem", "alg",
)  # fmt: skip
"""Quarto's rule: `@key` with one of these prefixes refers to a numbered thing, not a work."""

_KEY = r"(?:\{(?P<braced>[^\s{}]+)\}|(?P<plain>\w(?:\w|[:.#$%&+?<>~/-](?=\w)|[:/](?=/))*))"
IN_TEXT = re.compile(r"(?P<suppress>-?)@" + _KEY)
_KEY_IN_GROUP = re.compile(r"(?<![\w@])(?P<suppress>-?)@" + _KEY)
_LOCATOR = re.compile(r" ?\[(?P<locator>[^\[\]@\n]*)\](?![(\[])")
_LATEX_CITE = re.compile(
    r"\\(?P<command>citep|citet|cite)(?:\[(?P<first>[^\]]*)\])?(?:\[(?P<second>[^\]]*)\])?\{"
)
_CROSS_REFERENCE = re.compile(r"^(?:" + "|".join(CROSS_REFERENCE_PREFIXES) + r")[-:]\w")


@dataclass(slots=True)
class Cite:
    """One work cited, as written."""

    key: str
    """The citation key."""
    offset: int
    """Where its `@` (or the key, in `\\cite`) is, from the start of the citation."""
    prefix: str = ""
    """Text before the key inside brackets (`see`)."""
    suffix: str = ""
    """Text after the key: a locator (`p. 4`) or any remark."""
    suppress_author: bool = False
    """`-@key`: the year (or number) alone."""


def citations_plugin(md: MarkdownIt) -> None:
    """Add the citation rule; it runs before escapes and links, so `[@key]` is not link text."""
    md.inline.ruler.before("escape", "citation", _citation)
    md.add_render_rule("citation", render_citation)


def is_cross_reference(key: str) -> bool:
    """True for `fig-x`, `lem-x`…: a reference to a numbered thing, not a citation."""
    return _CROSS_REFERENCE.match(key) is not None


def _citation(state: StateInline, silent: bool) -> bool:
    char = state.src[state.pos]
    if char == "[":
        found = _bracketed(state.src, state.pos)
    elif char in "@-":
        found = _in_text(state.src, state.pos)
    elif char == "\\":
        found = _latex(state.src, state.pos)
    else:
        return False
    if found is None:
        return False
    items, end, in_text = found
    if not silent:
        token = state.push("citation", "", 0)
        note_made(state.env, "citation")
        token.content = state.src[state.pos : end]
        for item in items:
            item.offset -= state.pos
        CITES.set(token, items)
        CITE_IN_TEXT.set(token, in_text)
        OFFSET.set(token, state.pos)
    state.pos = end
    return True


def key_of(match: re.Match[str]) -> str:
    return match.group("braced") or match.group("plain")


def _in_text(src: str, pos: int) -> tuple[list[Cite], int, bool] | None:
    """`@key`, optionally followed by ` [locator]`."""
    if src[pos] == "-" or (pos > 0 and (src[pos - 1].isalnum() or src[pos - 1] in "_@")):
        return None  # `-@key` only inside brackets; `a@b` is an address
    match = IN_TEXT.match(src, pos)
    if match is None or is_cross_reference(key_of(match)):
        return None
    cite = Cite(key_of(match), pos)
    end = match.end()
    locator = _LOCATOR.match(src, end)
    if locator is not None and locator.group("locator").strip():
        cite.suffix = locator.group("locator").strip()
        end = locator.end()
    return [cite], end, True


def _bracketed(src: str, pos: int) -> tuple[list[Cite], int, bool] | None:
    """`[prefix @key, suffix; …]`: every part between semicolons holds a key."""
    close = pos + 1
    while close < len(src) and src[close] not in "[]":
        close += 2 if src[close] == "\\" else 1
    if close >= len(src) or src[close] != "]" or src[close + 1 : close + 2] in ("(", "["):
        return None  # no closing bracket, a nested one, or a link
    items: list[Cite] = []
    start = pos + 1
    for part in src[start:close].split(";"):
        match = _KEY_IN_GROUP.search(part)
        if match is None or is_cross_reference(key_of(match)):
            return None
        items.append(
            Cite(
                key_of(match),
                start + match.start() + len(match.group("suppress")),
                prefix=" ".join(part[: match.start()].split()),
                suffix=" ".join(part[match.end() :].split()),
                suppress_author=bool(match.group("suppress")),
            )
        )
        start += len(part) + 1
    return items, close + 1, False


def _latex(src: str, pos: int) -> tuple[list[Cite], int, bool] | None:
    """`\\cite{a,b}`, `\\citep[see][p. 4]{a}`, `\\citet{a}` (natbib: one optional argument is
    the locator, two are prefix and locator)."""
    match = _LATEX_CITE.match(src, pos)
    if match is None:
        return None
    close = src.find("}", match.end())
    if close < 0:
        return None
    first, second = match.group("first"), match.group("second")
    prefix, suffix = (first or "", second) if second is not None else ("", first or "")
    items, start = [], match.end()
    for part in src[match.end() : close].split(","):
        key = part.strip()
        if not key or any(c.isspace() for c in key):
            return None
        items.append(Cite(key, start + part.index(key)))
        start += len(part) + 1
    items[0].prefix = " ".join(prefix.replace("~", " ").split())
    items[-1].suffix = " ".join(suffix.replace("~", " ").split())
    return items, close + 1, match.group("command") == "citet"


def render_citation(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A resolved citation's links, else the source text marked as unresolved."""
    token = tokens[idx]
    html = CITATION_HTML.get(token)
    return html if html is not None else escape(token.content, quote=False)
