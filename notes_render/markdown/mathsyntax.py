"""A markdown-it plugin that finds math and keeps its TeX verbatim, with source positions.

The rules are a MathDialect's (dialects.py); by default pandoc's: `$` opens only when
followed by a non-space, closes only when preceded by a non-space and not followed by a
digit, so `$5 and $10` stays text. Recognised forms: `$…$`, `$$…$$` (inline or on their
own lines), `\\(…\\)`, `\\[…\\]`, GitHub's `` $`…`$ ``, top-level amsmath environments,
and for kramdown `\\\\(…\\\\)` and `\\\\[…\\\\]`. Tokens produced:

- `math_inline` (inline kind) and `math_inline_display` (`$$…$$` or `\\[…\\]` inside a
  paragraph);
  OFFSET is where the TeX starts in the parent inline token's content; for
  `\\\\(…\\\\)`, RAW and DROPPED too (see mathinline.py; the keys are tokenmeta.py's).
- `math_block` with STARTS: for each TeX line, its (0-based line, column)
  in the source file, so KaTeX's error offsets map back to the file (mathblock.py).
- `math_ref`: `\\eqref{…}` or `\\ref{…}` in prose, with LABEL and OFFSET.
- `math_notice`, zero-width: a pair left as text that a MathJax page would typeset, with
  OFFSET, RULE (the MathDialect switch that would make it math) and WRITTEN
  (mathnotices.py); env[BLOCK_NOTICES] holds the same for display math a
  blank line breaks. passes/math.text_math_warnings turns both into warnings.

Where a scan of the text finds math is mathscan.py; tables, whose cells may hold `|` inside
formulas, are mathtables.py. This module wires the rules into markdown-it and renders the
tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block.table import table
from markdown_it.token import Token
from mdit_py_plugins.footnote.index import footnote_inline

from .dialects import DEFAULT_DIALECT, DIALECTS, MathDialect
from .mathblock import AMS_ENVIRONMENTS, BLOCK_NOTICES, block_rule
from .mathinline import footnote_inline_keeping_offset, inline_rule, place_inline_footnotes, reference_rule
from .mathtables import table_keeping_math, unmask_pipes
from .tokenmeta import ANCHOR, HREF, MATH_HTML, MAY_SCROLL, TEXT, TRAIL

if TYPE_CHECKING:
    from markdown_it.renderer import RendererHTML

__all__ = ["AMS_ENVIRONMENTS", "BLOCK_NOTICES", "CONSUME_HTML", "math_plugin", "utf8_renderer"]


def math_plugin(md: MarkdownIt, *, dialect: MathDialect = DIALECTS[DEFAULT_DIALECT]) -> None:
    """Add the math rules of dialect to md; they run before escapes so TeX backslashes survive."""
    md.inline.ruler.before("escape", "math_inline", inline_rule(dialect))
    interrupts = ["reference", "blockquote", "list", "footnote_def"]
    md.block.ruler.before(
        "fence",
        "math_block",
        block_rule(dialect),
        {"alt": interrupts if dialect.block_alone else ["paragraph", *interrupts]},
    )
    md.inline.ruler.before("escape", "math_ref", reference_rule)
    md.block.ruler.at("table", table_keeping_math(table, dialect), {"alt": ["paragraph", "reference"]})
    md.core.ruler.after("inline", "math_unmask_pipes", unmask_pipes)
    if "footnote_inline" in md.inline.ruler.get_all_rules():
        md.inline.ruler.at("footnote_inline", footnote_inline_keeping_offset(footnote_inline))
        md.core.ruler.after("inline", "math_in_inline_footnotes", place_inline_footnotes)
    md.add_render_rule("math_ref", render_math_ref)
    md.add_render_rule("math_inline", render_math_inline)
    md.add_render_rule("math_inline_display", render_math_inline)
    md.add_render_rule("math_block", render_math_block)
    md.add_render_rule("math_notice", lambda *args: "")


# The pipeline stores KaTeX's HTML (UTF-8) in the token's MATH_HTML before rendering; without it
# the TeX is shown escaped, so a page is never missing text.

CONSUME_HTML = "notes_render.consume_math_html"
"""env key: when true, rendering takes each formula's HTML out of its token, so a big note's
typeset formulas are not held twice, in the tokens and in the body being rendered."""


_Parts = tuple[str, bytes | str, str]
"""A formula's HTML (bytes: UTF-8) with the text before and after it."""


def _formula_html(token: Token, env: Any) -> bytes | str:
    """The formula's HTML: KaTeX's, as UTF-8 (see katex.MathResult.html), or its TeX escaped."""
    html: bytes | str | None = MATH_HTML.pop(token) if env.get(CONSUME_HTML) else MATH_HTML.get(token)
    return html or f'<span class="math-source">{escapeHtml(token.content)}</span>'


def _inline_parts(token: Token, env: Any) -> _Parts:
    """An inline formula's HTML with what goes before and after it (an anchor, its trail)."""
    html = _formula_html(token, env)
    before = after = ""
    anchor = ANCHOR.get(token)
    if anchor:
        before, after = f'<span id="{escapeHtml(anchor)}">', "</span>"
    trail = TRAIL.get(token)
    # The punctuation after a formula stays on its line (see typeset/formulas.join_trailing_punctuation).
    if trail:
        before, after = f'<span class="math-join">{before}', f"{after}{escapeHtml(trail)}</span>"
    return before, html, after


def _block_parts(token: Token, env: Any) -> _Parts:
    """A display formula's HTML in its own scrollable box, with the anchor a \\label gives it."""
    html = _formula_html(token, env)
    anchor = ANCHOR.get(token)
    id_attr = f' id="{escapeHtml(anchor)}"' if anchor else ""
    if MAY_SCROLL.get(token):
        # A box that may scroll on a phone is a Tab stop, so a keyboard can scroll it.
        id_attr += ' tabindex="0" role="group" aria-label="Formula"'
    return f'<div class="math-display"{id_attr}>', html, "</div>\n"


def _text(parts: _Parts) -> str:
    before, html, after = parts
    return before + (html.decode("utf-8") if isinstance(html, bytes) else html) + after


def _utf8(parts: _Parts) -> list[bytes]:
    before, html, after = parts
    return [
        before.encode("utf-8"),
        html if isinstance(html, bytes) else html.encode("utf-8"),
        after.encode("utf-8"),
    ]


def render_math_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """An inline formula (or `$$…$$` inside a paragraph, typeset in display style)."""
    return _text(_inline_parts(tokens[idx], env))


def render_math_ref(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A reference to a labelled equation: a link showing its number, or `(??)` if unknown."""
    token = tokens[idx]
    text = escapeHtml(TEXT.get_or(token, token.content))
    href = HREF.get(token)
    if href is None:
        return f'<span class="eqref eqref-missing">{text}</span>'
    return f'<a class="eqref" href="{escapeHtml(href)}">{text}</a>'


def render_math_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A display formula in its own scrollable box, with the anchor a \\label gives it."""
    return _text(_block_parts(tokens[idx], env))


_UTF8_PARTS: dict[object, Callable[[Token, Any], _Parts]] = {
    render_math_inline: _inline_parts,
    render_math_block: _block_parts,
}
"""Our math rules, by the function that gives their HTML in parts (formula kept as UTF-8)."""


def utf8_renderer(renderer: RendererHTML) -> Callable[[Sequence[Token], int, Any, Any], list[bytes]]:
    """A function giving what rendering tokens[idx] (a block, or an inline token with its
    children) gives, as UTF-8 pieces: a formula's HTML goes in as KaTeX's UTF-8, never
    decoded and encoded again (for 15,000 formulas, 60 MB each way). Exactly the text
    renderer.render gives; its rules are looked up once, here."""
    rules = renderer.rules
    # Our math rules (add_render_rule binds them to the renderer), with their parts functions.
    ours = {kind: _UTF8_PARTS[rule.__func__] for kind, rule in rules.items() if _is_ours(rule)}

    def text(tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        rule = rules.get(tokens[idx].type)
        return (
            rule(tokens, idx, options, env)
            if rule is not None
            else renderer.renderToken(tokens, idx, options, env)
        )

    def render(tokens: Sequence[Token], idx: int, options: Any, env: Any) -> list[bytes]:
        token = tokens[idx]
        if token.type != "inline":
            parts = ours.get(token.type)
            return (
                [text(tokens, idx, options, env).encode("utf-8")]
                if parts is None
                else _utf8(parts(token, env))
            )
        pieces: list[bytes] = []
        done: list[str] = []  # the text rendered since the last formula
        children = token.children or []
        for index, child in enumerate(children):  # markdown-it's RendererHTML.renderInline
            parts = ours.get(child.type)
            if parts is None:
                done.append(text(children, index, options, env))
                continue
            before, html, after = parts(child, env)
            done.append(before)
            pieces.append("".join(done).encode("utf-8"))
            pieces.append(html if isinstance(html, bytes) else html.encode("utf-8"))
            done = [after]
        pieces.append("".join(done).encode("utf-8"))
        return pieces

    return render


def _is_ours(rule: object) -> bool:
    return getattr(rule, "__func__", None) in _UTF8_PARTS
