"""The heading pass: a stable, unique id for every heading (GitHub's rule), and the note's
title."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from markdown_it.token import Token

from ..markdown.parsing import ParsedNote
from ..markdown.plaintext import plain_text
from ..markdown.tokenmeta import HEADING_ID


@dataclass(frozen=True, slots=True)
class Heading:
    """A heading of a note, for its anchor and the table of contents."""

    level: int
    """1 for `#`, 2 for `##`, ..."""
    text: str
    """Plain text (formulas reduced to their TeX without backslashes)."""
    anchor: str
    """The id given to the heading element."""
    inline: Token | None = field(default=None, repr=False, compare=False)
    """The heading's inline token, to render it (with typeset math) in a table of contents;
    None once the page has left the process that parsed it (a worker, the build state)."""


def slugify(text: str) -> str:
    """GitHub's anchor rule: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def assign_heading_ids(tokens: list[Token]) -> list[Heading]:
    """Give every heading a stable, unique id (GitHub's, so links made there still work)."""
    headings = []
    used: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[index + 1]
        explicit = HEADING_ID.get(token)  # `## Title {#sec-x}`
        base = str(explicit) if explicit else slugify(plain_text(inline)) or "section"
        count = used.get(base, 0)
        anchor = base if count == 0 else f"{base}-{count}"
        while anchor in used:
            count += 1
            anchor = f"{base}-{count}"
        used[base] = count + 1
        used.setdefault(anchor, 1)
        token.attrSet("id", anchor)
        headings.append(Heading(int(token.tag[1]), plain_text(inline, readable=True), anchor, inline))
    return headings


def note_title(note: ParsedNote, headings: list[Heading]) -> str:
    """Front matter title, else the first heading, else the file name."""
    title = note.front_matter.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    if headings:
        return headings[0].text
    return note.source.rel.stem.replace("-", " ").replace("_", " ")
