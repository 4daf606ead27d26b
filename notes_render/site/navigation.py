"""How a reader moves around the site: a table of contents per note,
previous/next links between notes, and a breadcrumb back home.

Reading order is by path: the notes' output paths sorted, a folder's `index.md` first
among its folder's notes, and the home page (`index.md` at the top) left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from ..sources import HOME, relative_url

if TYPE_CHECKING:
    from ..passes.headings import Heading

TOC_DEPTH = 2
"""Heading levels shown in a table of contents, counted from its top level."""

# Inside a TOC entry (itself a link) these would nest links or repeat footnote marks.
_NOT_IN_TOC = {"link_open", "link_close", "footnote_ref", "image", "html_inline"}


# --- table of contents ----------------------------------------------------------------


@dataclass(slots=True)
class TocEntry:
    """One heading in a table of contents."""

    level: int
    """The heading's level (2 for `##`)."""
    anchor: str
    """The heading's id, the target of the entry's link."""
    html: Markup
    """The heading's content as HTML, formulas typeset, links and footnote marks removed."""
    children: list[TocEntry] = field(default_factory=list)
    """The entries for the headings under this one."""


def table_of_contents(headings: Sequence[Heading], md: MarkdownIt, env: dict[str, Any]) -> list[TocEntry]:
    """Nested entries for a note's headings, its title heading left out.

    A first heading of level 1 that is the only one is the note's title, not a section.
    Call it after math is typeset, so formulas in headings show typeset.
    """
    sections = list(headings)
    if sections and sections[0].level == 1 and not any(h.level == 1 for h in sections[1:]):
        sections = sections[1:]
    if not sections:
        return []
    top = min(h.level for h in sections)
    roots: list[TocEntry] = []
    stack: list[TocEntry] = []
    for heading in sections:
        if heading.level >= top + TOC_DEPTH:
            continue
        tokens = heading.inline.children if heading.inline is not None else None
        children = [c for c in tokens or [] if c.type not in _NOT_IN_TOC]
        inline = Token("inline", "", 0, children=children)
        entry = TocEntry(
            heading.level, heading.anchor, Markup(md.renderer.render([inline], md.options, env).strip())
        )
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        (stack[-1].children if stack else roots).append(entry)
        stack.append(entry)
    return roots


# --- links between pages --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """A link to another page, as a template shows it."""

    title: str
    """The page's title."""
    url: str
    """Relative to the page the link appears on."""


def reading_order(pages: Sequence[tuple[PurePosixPath, str]]) -> list[tuple[PurePosixPath, str]]:
    """(output path, title) of every note but the home page, sorted by path.

    A folder's index page comes first among that folder's notes, since it introduces them.
    """
    return sorted((p for p in pages if p[0] != HOME), key=lambda p: _reading_key(p[0]))


def _reading_key(path: PurePosixPath) -> tuple[str, ...]:
    return (*path.parent.parts, "" if path.name == HOME.name else path.name)


class Navigation:
    """The links of every page of a build, with the reading order sorted once, so a
    site of n pages costs n log n rather than n² log n.

    pages holds (output path, title) of every page of the build.
    """

    def __init__(self, pages: Sequence[tuple[PurePosixPath, str]], home_title: str) -> None:
        self._order = reading_order(pages)
        self._index = {path: index for index, (path, _) in enumerate(self._order)}
        self._titles = dict(pages)
        self._home_title = home_title

    def links(self, current: PurePosixPath) -> dict[str, Any]:
        """Template variables `prev`, `next`, `breadcrumbs` and `is_home` for one page."""
        order = self._order
        previous = following = None
        index = self._index.get(current)
        if index is not None:
            if index > 0:
                previous = _link(current, *order[index - 1])
            if index + 1 < len(order):
                following = _link(current, *order[index + 1])
        return {
            "prev": previous,
            "next": following,
            "breadcrumbs": breadcrumbs(current, self._titles, self._home_title),
            "is_home": current == HOME,
        }


def breadcrumbs(current: PurePosixPath, titles: dict[PurePosixPath, str], home_title: str) -> list[Link]:
    """Home, then the index page of each enclosing folder that has one; not the page itself."""
    if current == HOME:
        return []
    trail = [Link(home_title, relative_url(current, HOME))]
    for folder in reversed(current.parents[:-1]):
        index = folder / "index.html"
        if index in titles and index != current:
            trail.append(_link(current, index, titles[index]))
    return trail


def _link(current: PurePosixPath, target: PurePosixPath, title: str) -> Link:
    return Link(title, relative_url(current, target))
