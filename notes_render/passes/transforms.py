"""Passes over a parsed note's tokens: math, heading ids, links and referenced files.

Each pass reads or edits tokens and returns what it learned; none renders HTML.
"""

from __future__ import annotations

import bisect
import posixpath
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from markdown_it.token import Token

from ..errors import Diagnostic, SourcePosition
from ..markdown.dialects import DIALECTS, dialects_with
from ..markdown.parsing import ParsedNote
from ..sources import PathKind, containment_problem, path_kind
from ..typeset.katex import MathEngine, MathRequest, MathResult, explain
from ..typeset.mathlayout import fit_display, hold_last_piece, may_scroll
from ..typeset.texdefs import warning_offsets

# --- math -----------------------------------------------------------------------------


@dataclass(slots=True)
class MathItem:
    """One formula of a note, with what is needed to report errors at the right place."""

    token: Token
    """The math token; its meta["html"] receives KaTeX's output."""
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
        dropped = self.token.meta.get("dropped")
        if dropped:  # TeX written for a Markdown-first engine: back to its escaped source
            offset += bisect.bisect_left(dropped, offset)
        tex = str(self.token.meta.get("raw", self.tex))[:offset]
        line_index = tex.count("\n")
        line_index = min(line_index, len(self.starts) - 1)
        line, column = self.starts[line_index]
        return line, column + offset - (tex.rfind("\n") + 1)


def walk(tokens: list[Token]) -> Iterator[tuple[Token, Token | None]]:
    """Every token in document order, with its parent inline token (None for blocks)."""
    for token in tokens:
        yield token, None
        for child in token.children or ():
            yield child, token


def collect_math(note: ParsedNote) -> list[MathItem]:
    """All formulas of a note in document order; ```math fences become display math."""
    items = []
    lines = note.lines
    blocks = BlockPositions.cache(lines)
    for token, parent in walk(note.tokens):
        if token.type == "fence" and token.info.strip() == "math" and token.map:
            _fence_to_math(token, lines)
        if token.type == "math_block":
            items.append(MathItem(token, True, list(token.meta["starts"])))
        elif token.type in ("math_inline", "math_inline_display") and parent is not None:
            parent = token.meta.get("host", parent)  # an inline footnote's paragraph
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
    token.meta = {"starts": starts}


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
        """Source positions of each TeX line of an inline token (its meta["offset"] is where
        it starts in the content)."""
        offset = int(token.meta.get("offset", 0))
        written = str(token.meta.get("raw", token.content))  # TeX after Markdown's escapes: its source
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


def text_math_warnings(note: ParsedNote) -> list[Diagnostic]:
    """A warning for each delimiter pair left as text that a MathJax page would typeset:
    why it is text under the note's dialect, and what makes it math."""
    from ..markdown.mathsyntax import BLOCK_NOTICES

    warnings = []
    blocks = BlockPositions.cache(note.lines)
    for token, parent in walk(note.tokens):
        if token.type == "math_notice" and parent is not None:
            line, column = blocks(token.meta.get("host", parent)).position(token.meta["offset"])
            message = _text_math_message(note.dialect, token.meta["rule"], token.meta["written"])
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


def render_math(
    note: ParsedNote, items: list[MathItem], engine: MathEngine, macros: Mapping[str, str]
) -> list[Diagnostic]:
    """Typeset every formula of a note in one batch; return one diagnostic per problem."""
    results = engine.render_batch([MathRequest(item.sent_tex, item.display) for item in items], macros)
    diagnostics = []
    for item, result in zip(items, results, strict=True):
        html = result.html
        if html is not None and (item.edits or item.display):  # text for a while, one formula
            text = html.decode("utf-8")
            if item.edits:
                text = restore_annotation(text, item.tex)
            if item.display:
                text = fit_display(text)
                item.token.meta["may_scroll"] = may_scroll(text)
            html = text.encode("utf-8")
        # UTF-8, as it came (see MathResult.html); the renderer decodes one formula at a time.
        item.token.meta["html"] = html or _error_html(item, result).encode("utf-8")
        for message, offset in _placed(item.sent_tex, result.warnings):
            diagnostics.append(_math_diagnostic(note, item, message, offset, "warning"))
        if result.html is None:
            message = explain(result.error or "", item.tex)
            diagnostics.append(_math_diagnostic(note, item, message, result.position, "error"))
    return diagnostics


def _placed(tex: str, warnings: tuple[tuple[str, int | None], ...]) -> Iterator[tuple[str, int | None]]:
    """KaTeX's warnings, each given the offset of what it is about where KaTeX gave none."""
    seen: dict[str, int] = {}
    for message, offset in warnings:
        if offset is None:
            count = seen[message] = seen.get(message, -1) + 1
            offsets = warning_offsets(tex, message)
            offset = offsets[count] if count < len(offsets) else None
        yield message, offset


_TRAILING_PUNCTUATION = re.compile(r"[.,;:!?)\]}\u2019\u201d\u00bb\u2026]+")
"""Marks that must not start a line after the formula they follow."""


def _html_text(formula: Token) -> str:
    """A formula's typeset HTML as text, for a moment ("" before it is typeset): the token
    keeps it as UTF-8 (see katex.MathResult.html)."""
    html = formula.meta.get("html") or b""
    return html.decode("utf-8") if isinstance(html, bytes) else str(html)


def join_trailing_punctuation(note: ParsedNote) -> None:
    """Give each inline formula the punctuation right after it, as meta["trail"], so they
    are rendered together and a line never starts with the comma or full stop of a formula."""
    for token, _parent in walk(note.tokens):
        children = token.children or []
        for formula, after in zip(children, children[1:], strict=False):
            if formula.type != "math_inline" or after.type != "text":
                continue
            match = _TRAILING_PUNCTUATION.match(after.content)
            if match and formula.meta.get("html"):
                formula.meta["trail"] = match.group()
                formula.meta["html"] = hold_last_piece(_html_text(formula)).encode("utf-8")
                after.content = after.content[match.end() :]


def reach_scroll_boxes(note: ParsedNote) -> None:
    """Make the boxes that may scroll sideways on a phone Tab stops, so that a keyboard can
    scroll them: tables, and paragraphs holding an inline formula with a long piece (display
    formulas are marked as they are typeset)."""
    tokens = note.tokens
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            token.attrSet("tabindex", "0")
        elif token.type == "paragraph_open" and index + 2 < len(tokens):
            children = tokens[index + 1].children or []
            if any(c.type == "math_inline" and may_scroll(_html_text(c)) for c in children):
                token.attrSet("tabindex", "0")
                if token.hidden:
                    # An item of a tight list shows its text without a paragraph, and an item
                    # cannot scroll without hiding its marker: give it a paragraph that can.
                    token.hidden = tokens[index + 2].hidden = False
                    token.attrSet("class", "tight")


_ANNOTATION = re.compile(r'(<annotation encoding="application/x-tex">)(.*?)(</annotation>)', re.S)


def restore_annotation(rendered: str, tex: str) -> str:
    """Put the TeX as written back into KaTeX's MathML annotation, escaped as KaTeX does."""
    escaped = (
        tex.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
        .replace('"', "&quot;").replace("'", "&#x27;")
    )  # fmt: skip
    return _ANNOTATION.sub(lambda m: m.group(1) + escaped + m.group(3), rendered, count=1)


def _error_html(item: MathItem, result: MathResult) -> str:
    from html import escape

    # Only a block formula may be a <div>: one inside a paragraph (`$$…$$` or `\\[…\\]`
    # within a sentence) is display style but must stay phrasing content.
    tag = "div" if item.token.type == "math_block" else "span"
    return (
        f'<{tag} class="katex-error" title="{escape(result.error or "", quote=True)}">'
        f"{escape(item.tex)}</{tag}>"
    )


def _math_diagnostic(
    note: ParsedNote, item: MathItem, message: str, offset: int | None, severity: Literal["error", "warning"]
) -> Diagnostic:
    line, column = item.position_of(item.source_offset(offset) if offset is not None else 0)
    return note.diagnostic(line, column, message, severity)


# --- headings -------------------------------------------------------------------------


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


def plain_text(inline: Token, *, readable: bool = False) -> str:
    """The text of an inline token, with formulas reduced to their letters.

    By default a formula keeps its command names without backslashes (`\\mathbf{x}_t` ->
    `mathbf{x}_t`), which is what heading ids are made of; `readable` gives the text a
    reader sees in a page title instead (`x_t`, `α`).
    """
    parts = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("math_inline", "math_inline_display"):
            tex = child.content
            parts.append(
                readable_tex(tex) if readable else re.sub(r"\\([a-zA-Z]+)", r"\1", tex).replace("\\", "")
            )
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


_GREEK_LETTERS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "varsigma sigma tau upsilon phi chi psi omega"
)
"""Greek letter names in Unicode order from U+03B1 (capitals from U+0391, no final sigma)."""

_READABLE = (
    {name: chr(0x3B1 + index) for index, name in enumerate(_GREEK_LETTERS.split())}
    | {
        name.capitalize(): chr(0x391 + index)
        for index, name in enumerate(_GREEK_LETTERS.split())
        if name != "varsigma"
    }
    | {
        "varepsilon": "ε",
        "vartheta": "ϑ",
        "varphi": "φ",
        "ell": "ℓ",
        "infty": "∞",
        "nabla": "∇",
        "mid": " | ",
        "cdot": "·",
        "times": "×",
        "sim": " ~ ",
        "to": " → ",
        "leq": " ≤ ",
        "le": " ≤ ",
        "geq": " ≥ ",
        "ge": " ≥ ",
        "approx": " ≈ ",
        "neq": " ≠ ",
        "in": " ∈ ",
        "sum": "∑",
        "prod": "∏",
        "int": "∫",
        "partial": "∂",
        "dots": "…",
        "ldots": "…",
        "cdots": "⋯",
        "quad": " ",
        "qquad": " ",
    }  # fmt: skip
)
"""TeX commands a page title shows as a character; every other command is dropped."""


def readable_tex(tex: str) -> str:
    """TeX as plain text for titles: Greek letters as letters, other commands and braces dropped."""
    text = re.sub(r"\\[,;:! ]", " ", tex)
    text = re.sub(r"\\([a-zA-Z]+)\s*", lambda m: _READABLE.get(m.group(1), ""), text)
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "").replace("\\", "")).strip()


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
        explicit = token.meta.get("id")  # `## Title {#sec-x}`
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


# --- links and files ------------------------------------------------------------------

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


# --- titles ---------------------------------------------------------------------------


def note_title(note: ParsedNote, headings: list[Heading]) -> str:
    """Front matter title, else the first heading, else the file name."""
    title = note.front_matter.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    if headings:
        return headings[0].text
    return note.source.rel.stem.replace("-", " ").replace("_", " ")
