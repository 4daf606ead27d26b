"""The link pass: `x.md` links pointed at `x.html`, the local files a note references listed
to be copied, and each link to a file that is missing or outside the source folder reported
at the place it is written."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from markdown_it.token import Token

from ..errors import Diagnostic, SourcePosition
from ..markdown.parsing import ParsedNote
from ..sources import PathKind, containment_problem, path_kind
from .positions import walk

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


_HTML_URL_ATTR = re.compile(r"""(\b(?:src|href)\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


@dataclass(slots=True)
class LinkReport:
    """What the link pass found in one note."""

    files: set[PurePosixPath] = field(default_factory=set)
    """Local files the note references, relative to the source folder, to copy."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """References to files that do not exist or lie outside the source folder."""
    placed: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict, repr=False)
    """Where the last problem with each (block, URL) was placed, so the next is after it."""
    targets: dict[PurePosixPath, PathKind] = field(default_factory=dict)
    """Every local path the note points at, and what it was: the note must be built
    again when one of them appears, disappears, or turns from a file into a folder or back."""


def is_local(url: str) -> bool:
    """A relative URL to something in the site (not `#x`, not `//host`, no scheme)."""
    return bool(url) and not url.startswith(("#", "/")) and not _SCHEME.match(url)


def rewrite_links(note: ParsedNote, src_root: Path) -> LinkReport:
    """Point `x.md` links at `x.html` and list the local files the note references."""
    report = LinkReport()
    for token, parent in walk(note.tokens):
        if token.type == "link_open":
            token.attrSet(
                "href", _visit_url(note, src_root, str(token.attrGet("href") or ""), parent, report)
            )
        elif token.type == "image":
            token.attrSet("src", _visit_url(note, src_root, str(token.attrGet("src") or ""), parent, report))
        elif token.type in ("html_inline", "html_block"):
            owner = parent or token

            def replace(match: re.Match[str], owner: Token = owner) -> str:
                url = match.group(2) if match.group(2) is not None else match.group(3)
                return f'{match.group(1)}"{_visit_url(note, src_root, url, owner, report)}"'

            token.content = _HTML_URL_ATTR.sub(replace, token.content)
    return report


def _visit_url(note: ParsedNote, src_root: Path, url: str, owner: Token | None, report: LinkReport) -> str:
    if not is_local(url):
        return url
    parts = urlsplit(url)
    target = PurePosixPath(
        posixpath.normpath(posixpath.join(str(note.source.rel.parent), unquote(parts.path)))
    )
    if target.parts and target.parts[0] == "..":
        report.diagnostics.append(
            _link_diagnostic(note, owner, url, "points outside the source folder", report)
        )
        return url
    refused = containment_problem(src_root, target)
    if refused is not None:
        report.targets[target] = "refused"  # rebuilt when it becomes readable
        report.diagnostics.append(_link_diagnostic(note, owner, url, refused, report))
        return url
    kind = report.targets[target] = path_kind(src_root / target)
    if kind == "missing" and target.suffix == ".html":
        note_target = target.with_suffix(".md")
        if path_kind(src_root / note_target) == "file":  # `other.html#part`: the page other.md builds
            report.targets[note_target] = "file"  # a real other.html appearing would change the link
            return url
    if kind == "missing":
        report.diagnostics.append(_link_diagnostic(note, owner, url, "does not exist", report))
        return url
    if target.suffix == ".md":
        new_path = posixpath.splitext(parts.path)[0] + ".html"
        return (
            new_path
            + (f"?{parts.query}" if parts.query else "")
            + (f"#{parts.fragment}" if parts.fragment else "")
        )
    if kind == "file":
        report.files.add(target)
    return url


def _link_diagnostic(
    note: ParsedNote, owner: Token | None, url: str, problem: str, report: LinkReport
) -> Diagnostic:
    """The problem with a link, at its place, marked as the build's verdict on that URL."""
    return replace(_find_link(note, owner, url, problem, report), link=url)


def _find_link(
    note: ParsedNote, owner: Token | None, url: str, problem: str, report: LinkReport
) -> Diagnostic:
    """The problem at the URL as written in the owner's lines: the nth reference to one URL
    in a block is placed at its nth occurrence there, and an occurrence where a link
    destination starts (after `(`, `<`, a quote, `=` or a space) before one in link text."""
    lines = note.lines
    first = owner.map[0] if owner is not None and owner.map else 0
    last = min(owner.map[1] if owner is not None and owner.map else len(lines), len(lines))
    key = (id(owner), url)
    after = report.placed.get(key, (first, -1))
    destination = re.compile(r"(?<=[(<\"'=\s])" + re.escape(url))
    for pattern in (destination, re.compile(re.escape(url))):
        found = _search_lines(lines, pattern, after, last)
        if found is not None:
            report.placed[key] = found
            return note.diagnostic(*found, f"'{url}' {problem}")
    # A reference-style link (`[text][name]`): its URL is in its definition, anywhere.
    found = _search_lines(lines, re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?" + re.escape(url)), (0, -1), len(lines))
    if found is not None:
        number, _ = found
        return note.diagnostic(
            number, lines[number].index(url, lines[number].index("]:")), f"'{url}' {problem}"
        )
    return Diagnostic(SourcePosition(note.source.display_path, first + 1, 0), f"'{url}' {problem}")


def _search_lines(
    lines: list[str], pattern: re.Pattern[str], after: tuple[int, int], last: int
) -> tuple[int, int] | None:
    """(line, column) of the first match of pattern after the position `after`, up to line last."""
    number, column = after
    while number < last:
        match = pattern.search(lines[number], column + 1)
        if match is not None:
            return number, match.start()
        number, column = number + 1, -1
    return None
