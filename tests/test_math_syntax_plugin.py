"""The math syntax plugin on its own, in process: tokens and HTML from fixture files.

markdown-it-py's tests/test_port/fixtures and mdit-py-plugins' per-plugin fixture files are
the model: each file under tests/fixtures/math_syntax_plugin/ holds `title / . / input / . /
expected / .` cases, read with markdown_it.utils.read_fixture_file. A file's name says what
it compares and under which dialect: `html-NAME.md` the rendered HTML, `tokens-NAME.md`
the token stream (see dump_tokens), parsed by the rules of the dialect NAME. No KaTeX and
no build run here: the end-to-end cases (test_math_syntax.py) say what a page shows, these
say what the plugin alone made of the Markdown.

To see what a changed plugin makes of every case, `python tests/test_math_syntax_plugin.py`
prints the cases whose output differs; `--update` writes the new output into the files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from markdown_it.utils import read_fixture_file
from mdit_py_plugins.footnote import footnote_plugin

from notes_render.markdown.dialects import DIALECTS
from notes_render.markdown.mathsyntax import BLOCK_NOTICES, math_plugin, utf8_renderer
from notes_render.markdown.tokenmeta import ANCHOR, MATH_HTML, MAY_SCROLL, TRAIL

FOLDER = Path(__file__).parent / "fixtures" / "math_syntax_plugin"

MATH_TOKENS = ("math_inline", "math_inline_display", "math_block")


def markdown(dialect: str) -> MarkdownIt:
    """CommonMark with raw HTML, tables and footnotes (the rules the plugin wraps) and math."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    return md.use(footnote_plugin).use(math_plugin, dialect=DIALECTS[dialect])


def stand_in_typesetting(tokens: Sequence[Token]) -> None:
    """Give each formula the HTML a typesetter would, as the build does before rendering,
    here a marker that shows how it would be set: `<m-inline>` or `<m-display>` around its TeX."""
    for token in tokens:
        stand_in_typesetting(token.children or ())
        if token.type in MATH_TOKENS:
            kind = "inline" if token.type == "math_inline" else "display"
            token.meta["html"] = f"<m-{kind}>{escapeHtml(token.content)}</m-{kind}>"


def render_html(text: str, dialect: str) -> str:
    """The plugin's HTML for text: its tokens, typeset by the stand-in, rendered."""
    md = markdown(dialect)
    env: dict[str, Any] = {}
    tokens = md.parse(text, env)
    stand_in_typesetting(tokens)
    return md.renderer.render(tokens, md.options, env)


def dump_tokens(text: str, dialect: str) -> str:
    """One line per token, children indented under their inline token:
    `type [map]  markup=M  "content"  key=value …` (strings as JSON), then the env's notices
    of broken display blocks (a footnote's tokens are in the stream, at its end)."""
    env: dict[str, Any] = {}
    tokens = markdown(dialect).parse(text, env)
    lines = _dump(tokens, 0)
    for start, notice in sorted(env.get(BLOCK_NOTICES, {}).items()):
        lines.append(f"notice block at line {start}: {json.dumps(list(notice), ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _dump(tokens: Sequence[Token], depth: int) -> list[str]:
    lines = []
    for token in tokens:
        parts = ["  " * depth + token.type]
        if token.map is not None:
            parts.append(f"[{token.map[0]}, {token.map[1]}]")
        if token.markup:
            parts.append(f"markup={json.dumps(token.markup, ensure_ascii=False)}")
        if token.content and token.type != "inline":  # an inline's content is its children's
            parts.append(json.dumps(token.content, ensure_ascii=False))
        for key, value in sorted(token.meta.items()):
            parts.append(f"{key}={_meta_value(value)}")
        lines.append("  ".join(parts))
        lines += _dump(token.children or (), depth + 1)
    return lines


def _meta_value(value: object) -> str:
    if isinstance(value, Token):  # meta["host"]: the paragraph's inline token, by its line
        return f"<{value.type} {value.map}>"
    return json.dumps(value, ensure_ascii=False)


def fixture_files() -> list[Path]:
    files = sorted(FOLDER.glob("*.md"))
    for path in files:
        kind, _, dialect = path.stem.partition("-")
        if kind not in ("html", "tokens") or dialect not in DIALECTS:
            raise ValueError(
                f"{path.name}: name it html-DIALECT.md or tokens-DIALECT.md, DIALECT of {list(DIALECTS)}"
            )
    return files


def actual(path: Path, markdown_text: str) -> str:
    kind, _, dialect = path.stem.partition("-")
    return (render_html if kind == "html" else dump_tokens)(markdown_text, dialect)


CASES = [
    pytest.param(path, line, text, expected, id=f"{path.stem}:{line}:{title}")
    for path in fixture_files()
    for line, title, text, expected in read_fixture_file(path)
]


@pytest.mark.parametrize(("path", "line", "text", "expected"), CASES)
def test_math_syntax_fixture(path: Path, line: int, text: str, expected: str) -> None:
    assert actual(path, text) == expected


def test_a_formula_left_untypeset_shows_its_tex_escaped() -> None:
    """Without the typesetter's HTML (the fixtures' stand-in), a page still shows the TeX."""
    md = markdown("pandoc")
    html = md.render("Let $a<b$ and\n\n$$\nc & d\n$$\n")
    assert html == (
        '<p>Let <span class="math-source">a&lt;b</span> and</p>\n'
        '<div class="math-display"><span class="math-source">\nc &amp; d\n</span></div>\n'
    )


def _typeset_as_utf8(tokens: Sequence[Token], count: list[int]) -> None:
    """The stand-in's HTML as UTF-8 (as KaTeX's is kept) with a character past U+00FF, an
    anchor on every second formula, a trail on every third, a scroll box on every block;
    every fifth formula left untypeset."""
    for token in tokens:
        _typeset_as_utf8(token.children or (), count)
        if token.type not in MATH_TOKENS:
            continue
        count[0] += 1
        if count[0] % 5:
            MATH_HTML.set(token, f"<m>{escapeHtml(token.content)}\u200b</m>".encode())
        if count[0] % 2:
            ANCHOR.set(token, f"eq-{count[0]}&")
        if count[0] % 3 == 0:
            TRAIL.set(token, ",<")
        MAY_SCROLL.set(token, token.type == "math_block")


@pytest.mark.parametrize("path", [p for p in fixture_files() if p.stem.startswith("html-")], ids=str)
def test_rendering_to_utf8_gives_the_bytes_of_the_text_rendering(path: Path) -> None:
    """utf8_renderer's, which keeps each formula's HTML as UTF-8, gives what markdown-it's own
    renderer gives (encoded), for every case of the fixtures."""
    md = markdown(path.stem.partition("-")[2])
    for _, _, text, _ in read_fixture_file(path):
        env: dict[str, Any] = {}
        tokens = md.parse(text, env)
        _typeset_as_utf8(tokens, [0])
        render = utf8_renderer(md.renderer)
        pieces = [piece for i in range(len(tokens)) for piece in render(tokens, i, md.options, env)]
        assert b"".join(pieces) == md.renderer.render(tokens, md.options, env).encode("utf-8"), text


def test_every_dialect_has_html_and_token_fixtures() -> None:
    names = {path.stem for path in fixture_files()}
    assert names == {f"{kind}-{dialect}" for kind in ("html", "tokens") for dialect in DIALECTS}


def test_fixture_titles_are_unique_and_cases_complete() -> None:
    """read_fixture_file takes any `.` line as a separator: a case missing one would shift
    every later case silently, so each file's `.` lines must come in threes under a title."""
    for path in fixture_files():
        cases = read_fixture_file(path)
        titles = [title for _, title, *_ in cases]
        assert len(titles) == len(set(titles)), path.name
        assert all(title and len(case) == 4 for case in cases for title in [case[1]]), path.name
        dots = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.rstrip() == ".")
        assert dots == 3 * len(cases), path.name


def _update(write: bool) -> int:
    """Print (or, with write, store) the output of every case that differs from its file."""
    changed = 0
    for path in fixture_files():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for line, title, text, expected in reversed(read_fixture_file(path)):
            now = actual(path, text)
            if now == expected:
                continue
            changed += 1
            print(f"{path.name}:{line}: {title}\n--- expected\n{expected}--- actual\n{now}")
            start = line + 2 + text.count("\n")  # the first line of the expected block
            lines[start : start + expected.count("\n")] = [now]
        if write:
            path.write_text("".join(lines), encoding="utf-8")
    print(f"{changed} case(s) differ" + (", written" if write and changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(_update("--update" in sys.argv[1:]))
