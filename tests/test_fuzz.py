"""Random Markdown, random math and random bytes, under every math dialect: the build never
crashes, pages stay UTF-8."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from notes_render.build.pipeline import build_site
from notes_render.config import Config
from notes_render.markdown.dialects import DIALECTS
from notes_render.site.check import check_site, note_sources, written_files
from notes_render.typeset.katex import MiniRacerEngine

TEX_PIECES = [
    "x",
    "^",
    "_",
    "{",
    "}",
    "\\frac{a}{b}",
    "\\sqrt[3]{",
    "\\alpha",
    "\\undefined",
    "&",
    "\\\\",
    "\\begin{aligned}",
    "\\end{aligned}",
    "\\left(",
    "\\right)",
    "\\text{$x$}",
    "\\label{eq:a}",
    "\\href{https://x.org}{x}",
    "\\def\\a{\\a}\\a",
    "<script>",
    "%",
    "$",
    "\\$",
    "é",
    "\n",
    " ",
]
MARKDOWN_PIECES = [
    "# ",
    "## ",
    "- ",
    "> ",
    "1. ",
    "> [!NOTE]\n",
    "```\n",
    "```math\n",
    "```python\n",
    "\n",
    "\n\n",
    "| a | b |\n| --- | --- |\n| 1 | 2 |\n",
    "[link](",
    "](b.md#x)",
    ")",
    "![img](",
    "fig.png",
    "<div>",
    "</div>",
    '<img src="x.png">',
    "<a href='#top'>",
    "*",
    "_",
    "`",
    "\\",
    "[^1]",
    "[^1]: note\n",
    "---\n",
    "title: ",
    "date: 2024-01-01\n",
    "macros: {a: b}\n",
    "Term\n: definition\n",
    "- [ ] ",
    "&amp;",
    "&#0;",
    "\u2028",
    "\x00",
    "\ufeff",
    "\r\n",
]

tex = st.lists(st.sampled_from(TEX_PIECES) | st.text(max_size=4), max_size=8).map("".join)
piece = (
    st.sampled_from(MARKDOWN_PIECES)
    | st.text(max_size=12)
    | tex.map(lambda t: f"${t}$")
    | tex.map(lambda t: f"$${t}$$")
    | tex.map(lambda t: f"\\[{t}\\]")
    | tex.map(lambda t: f"\\\\({t}\\\\)")
    | tex.map(lambda t: f"\\(\n{t}\n\\)")
    | tex.map(lambda t: f"$`{t}`$")
    | tex.map(lambda t: f"\\begin{{align}}\n{t}\n\\end{{align}}\n")
)
note_text = st.lists(piece, max_size=30).map("".join)
note_bytes = note_text.map(lambda text: text.encode("utf-8")) | st.binary(max_size=120)
site = st.dictionaries(
    st.sampled_from(["index.md", "a.md", "b.md", "sub/c.md"]), note_bytes, min_size=1, max_size=4
)


@settings(max_examples=60, deadline=None, derandomize=os.environ.get("CI") == "true")
@given(notes=site, dialect=st.sampled_from(list(DIALECTS)))
def test_any_input_builds_without_crashing_into_utf8_pages(
    notes: dict[str, bytes], dialect: str, katex_engine: MiniRacerEngine
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        src, out = Path(folder, "src"), Path(folder, "out")
        for rel, data in notes.items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(data)
        (src / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        report = build_site(
            Config(src=src, out=out, strict=True, dialect=dialect), lambda dist, config: katex_engine
        )
        # The checker copes with any page, and places and prints what it finds.
        for diagnostic in report.diagnostics + check_site(out, written_files(out), note_sources(src)):
            assert diagnostic.format()
        pages = list(out.rglob("*.html"))
        assert pages, "not even a home page"
        for page in pages:
            text = page.read_bytes().decode("utf-8")  # raises if a page is not valid UTF-8
            assert text.rstrip().endswith("</html>"), page
        assert [p for p in out.rglob("*") if p.name.endswith(".tmp")] == []
