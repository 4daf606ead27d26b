"""How cited works read: each entry's label (`Ho et al. 2020a`, `[1]`), a citation's text
and links in the configured style, and the list of works a note ends with. Plain text in,
HTML out: which entries are cited, and where, is the citation pass's (citations.py)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from markdown_it.token import Token

from ..markdown.citesyntax import Cite
from ..markdown.tokenmeta import CITE_IN_TEXT, CITES, ENTRIES

if TYPE_CHECKING:  # the BibTeX reader is loaded only for a note that cites
    from .bibtex import Entry

CitationStyle = Literal["author-year", "numbered"]

_ID_SAFE = "-._~:/!$&'()*+,;=@"


@dataclass(frozen=True, slots=True)
class Label:
    """How citations show one entry."""

    authors: str
    """`Ho`, `Ho and Jain`, `Ho et al.`"""
    year: str
    """The year, with a letter when two entries would look alike (`2020a`)."""
    number: int
    """Its place in the bibliography (numbered style)."""
    id: str
    """The entry's id: pandoc's `ref-` + key, with `-1`, `-2`… when a heading of the note
    already has that id (`## Ref Doe` and the key `doe`), so ids stay unique."""


def make_labels(entries: list[Entry], style: CitationStyle, taken: set[str]) -> dict[str, Label]:
    short = {entry.key: _short_authors(entry) for entry in entries}
    alike: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        alike.setdefault((short[entry.key], entry.year), []).append(entry)
    labels = {}
    for number, entry in enumerate(entries, start=1):
        group = alike[(short[entry.key], entry.year)]
        letter = chr(ord("a") + group.index(entry)) if len(group) > 1 and style == "author-year" else ""
        anchor, count = ref_id(entry.key), 0
        while anchor in taken:
            count += 1
            anchor = f"{ref_id(entry.key)}-{count}"
        taken.add(anchor)
        labels[entry.key] = Label(short[entry.key], entry.year + letter, number, anchor)
    return labels


def _short_authors(entry: Entry) -> str:
    authors = entry.authors
    if not authors:
        return " ".join("".join(text for text, math in entry.title if not math).split()) or entry.key
    if len(authors) == 1:
        return authors[0].last
    if len(authors) == 2 and not authors[1].others:
        return f"{authors[0].last} and {authors[1].last}"
    return f"{authors[0].last} et al."


def ref_id(key: str) -> str:
    """The id of an entry in the bibliography (pandoc's `ref-` + key)."""
    return "ref-" + key


def _link(label: Label, text: str) -> str:
    return f'<a href="#{quote(label.id, safe=_ID_SAFE)}">{text}</a>'


def _inline(text: str) -> str:
    """A prefix or locator as inline Markdown, as pandoc reads it (`*passim*`); a formula in
    it is shown as its TeX, not typeset."""
    from ..markdown.parsing import markdown

    return str(markdown().renderInline(text)).strip()


def _suffix(text: str) -> str:
    if not text:
        return ""
    return _inline(text) if text[0] in ",;:." else ", " + _inline(text)


def citation_html(token: Token, labels: dict[str, Label], style: CitationStyle) -> str:
    items: list[Cite] = CITES(token)
    entries: list[Entry | None] = ENTRIES(token)
    if CITE_IN_TEXT(token):
        return _in_text_html(items, entries, labels, style)
    plain = all(not c.prefix and not c.suffix for c in items)
    pairs = list(zip(items, entries, strict=True))
    if style == "numbered" and plain:  # [1, 2, 5] in order, whatever order they were written in
        pairs.sort(key=lambda pair: labels[pair[1].key].number if pair[1] is not None else len(labels) + 1)
    parts = []
    for cite, entry in pairs:
        prefix = _inline(cite.prefix) + " " if cite.prefix else ""
        if entry is None:
            parts.append(
                f'{prefix}<span class="citation-missing">{escape(cite.key)}?</span>{_suffix(cite.suffix)}'
            )
            continue
        label = labels[entry.key]
        if style == "numbered":
            shown = str(label.number)
        else:
            shown = label.year if cite.suppress_author else f"{escape(label.authors)} {label.year}"
        parts.append(prefix + _link(label, shown) + _suffix(cite.suffix))
    inner = (", " if style == "numbered" and plain else "; ").join(parts)
    opening, closing = ("[", "]") if style == "numbered" else ("(", ")")
    return f'<span class="citation">{opening}{inner}{closing}</span>'


def _in_text_html(
    items: list[Cite], entries: list[Entry | None], labels: dict[str, Label], style: CitationStyle
) -> str:
    """`Ho et al. (2020, p. 4)` or `Ho et al. [1, p. 4]`; several (`\\citet{a,b}`) joined by commas."""
    parts = []
    for cite, entry in zip(items, entries, strict=True):
        if entry is None:
            parts.append(f'<span class="citation-missing">{escape(cite.key)}?</span>')
            continue
        label = labels[entry.key]
        shown = str(label.number) if style == "numbered" else label.year
        opening, closing = ("[", "]") if style == "numbered" else ("(", ")")
        parts.append(_link(label, f"{escape(label.authors)} {opening}{shown}{_suffix(cite.suffix)}{closing}"))
    return f'<span class="citation">{", ".join(parts)}</span>'


def bibliography_html(
    entries: list[Entry], labels: dict[str, Label], style: CitationStyle, typeset: dict[tuple[str, str], str]
) -> str:
    """The list of works, each entry's title formulas as `typeset` gives them by (key, TeX)."""
    tag = "ol" if style == "numbered" else "ul"
    lines = [f'<div class="bibliography">\n<{tag} class="references">']
    for entry in entries:
        html = _entry_html(entry, labels[entry.key], style, typeset)
        lines.append(f'<li id="{escape(labels[entry.key].id)}">{html}</li>')
    lines.append(f"</{tag}>\n</div>\n")
    return "\n".join(lines)


def _entry_html(entry: Entry, label: Label, style: CitationStyle, typeset: dict[tuple[str, str], str]) -> str:
    """`Ho, Jonathan, Ajay Jain, and Pieter Abbeel. 2020. “Title.” <i>Venue</i>. doi:…` or
    `[1] Jonathan Ho, Ajay Jain, and Pieter Abbeel. “Title.” <i>Venue</i>, 2020. doi:…`"""
    title = "".join(
        typeset.get((entry.key, text), escape(f"${text}$")) if math else escape(text, quote=False)
        for text, math in entry.title
    ).strip()
    title_part = f"“{title}.”" if title and not title.endswith((".", "?", "!")) else f"“{title}”"
    venue = f"<i>{escape(entry.venue, quote=False)}</i>" if entry.venue else ""
    if entry.details:
        venue += (" " if venue else "") + escape(entry.details, quote=False)
    authors = escape(_author_list(entry, inverted_first=style == "author-year"), quote=False)
    if style == "numbered":
        parts = [f'<span class="ref-label">[{label.number}]</span>', _end(authors), title_part]
        parts.append(f"{venue}, {label.year}." if venue else f"{label.year}.")
    else:
        parts = [_end(authors), f"{label.year}.", title_part, _end(venue)]
    if entry.link is not None:
        url, shown = entry.link
        parts.append(f'<a href="{escape(url)}">{escape(shown, quote=False)}</a>')
    return " ".join(part for part in parts if part)


def _end(text: str) -> str:
    return text + "." if text and not text.endswith(".") else text


def _author_list(entry: Entry, *, inverted_first: bool) -> str:
    names = []
    for index, author in enumerate(entry.authors):
        if author.others:
            names.append("et al.")
        elif index == 0 and inverted_first and author.first:
            names.append(", ".join(part for part in (author.last, author.first, author.lineage) if part))
        else:
            names.append(" ".join(part for part in (author.first, author.last, author.lineage) if part))
    if len(names) > 1 and names[-1] == "et al.":
        return ", ".join(names[:-1]) + " et al."
    if len(names) == 2:
        return f"{names[0]}{',' if inverted_first else ''} and {names[1]}"
    if len(names) > 2:
        return ", ".join(names[:-1]) + ", and " + names[-1]
    return names[0] if names else ""
