"""Code blocks coloured at build time with Pygments, so pages need no highlighting script.

Pygments is imported only to colour code the cache has not seen: finding and compiling a
lexer costs a one-note rebuild more than the rest of its page (~0.06 s for Python's).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer

    from ..typeset.cache import Store

LIGHT_STYLE = "default"
"""Pygments style for light pages."""
DARK_STYLE = "github-dark"
"""Pygments style under prefers-color-scheme: dark."""
CSS_CLASS = "highlight"
"""Class of the <pre> that holds highlighted code; the stylesheet is scoped to it."""


def highlight_code(code: str, language: str, attrs: str) -> str:
    """markdown-it's `highlight` option: a full <pre> for a known language, else "".

    An empty string tells markdown-it to escape the code itself, so a fence with no or an
    unknown language still renders as plain <pre><code>.
    """
    if not language:
        return ""
    from pygments import highlight

    lexer = _lexer(language)
    if lexer is None:
        return ""
    spans = highlight(code, lexer, _formatter())
    language_class = f"language-{escape(language, quote=True)}"
    return f'<pre class="{CSS_CLASS}"><code class="{language_class}">{spans}</code></pre>'


# Finding a lexer and making a formatter cost more than colouring a short block (the
# formatter builds its style tables each time); both hold no state between blocks.


@cache
def _lexer(language: str) -> Lexer | None:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return None


@cache
def _formatter() -> HtmlFormatter[str]:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


class CachedHighlighter:
    """highlight_code answering from the cache (if there is one); call save() to store what
    it coloured. `prepare` colours a block ahead of the renderer's call (while V8 typesets
    the note's formulas, see build/note.py), which is then answered from memory."""

    def __init__(self, store: Store | None) -> None:
        self._store = store
        self._fresh: list[tuple[str, bytes]] = []
        self._prepared: dict[tuple[str, str, str], str] = {}

    def __call__(self, code: str, language: str, attrs: str) -> str:
        if not language:
            return ""
        prepared = self._prepared.pop((code, language, attrs), None)
        return prepared if prepared is not None else self._colour(code, language, attrs)

    def prepare(self, code: str, language: str, attrs: str) -> str:
        """Colour a block now, for the renderer's call to come with the same arguments; as
        markdown-it's `highlight` option (see build/note.py), it answers "" (escape it)."""
        if language:
            self._prepared[(code, language, attrs)] = self._colour(code, language, attrs)
        return ""

    def _colour(self, code: str, language: str, attrs: str) -> str:
        if self._store is None:
            return highlight_code(code, language, attrs)
        from ..typeset.cache import CODE

        key = code_key(code, language, attrs)
        stored = self._store.get_many(CODE, [key]).get(key)
        if stored is not None:
            try:
                return stored.decode("utf-8")
            except UnicodeDecodeError:
                pass  # not what was stored: colour it again
        html = highlight_code(code, language, attrs)
        self._fresh.append((key, html.encode("utf-8")))
        return html

    def save(self) -> None:
        """Store the code coloured since the last save."""
        from ..typeset.cache import CODE

        if self._store is not None:
            self._store.put_many(CODE, self._fresh)
        self._fresh = []


def code_key(code: str, language: str, attrs: str) -> str:
    """Everything that decides highlight_code's answer: Pygments' version, this module's
    code (its markup), and the block."""
    import pygments  # its package module is small; the lexers are not

    material = [pygments.__version__, _own_digest(), language, attrs, code]
    return hashlib.sha256(json.dumps(material).encode("utf-8")).hexdigest()


@cache
def _own_digest() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


@cache
def stylesheet() -> str:
    """Token colours for light pages, and for dark ones under prefers-color-scheme (made
    once a process: they follow only the installed Pygments)."""
    from pygments.formatters import HtmlFormatter

    selector = f".{CSS_CLASS}"
    light: list[str] = HtmlFormatter(style=LIGHT_STYLE).get_token_style_defs(selector)  # type: ignore[no-untyped-call]
    dark: list[str] = HtmlFormatter(style=DARK_STYLE).get_token_style_defs(selector)  # type: ignore[no-untyped-call]
    # Backgrounds are left to style.css so code blocks match the page in both schemes.
    return (
        f"/* Generated by notes-render from Pygments' {LIGHT_STYLE!r} and {DARK_STYLE!r} styles. */\n"
        + "\n".join(light)
        + "\n@media (prefers-color-scheme: dark) {\n"
        + "\n".join("  " + rule for rule in dark)
        + "\n}\n"
    )
