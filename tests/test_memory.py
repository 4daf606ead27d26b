"""A big note's build holds little more than its page: Python's peak during the build,
measured with tracemalloc (counted bytes, no clock), stays within a small multiple of the
page it writes. The figures for people, in resident memory up to 20 MB, are bench/scaling.py's.

What the bound catches: formulas held as text again (two bytes a character once KaTeX's
zero-width spaces are in them), or the tokens' formulas kept while the body repeats them.
A page is written from its body's pieces, never joined into one bytes object: that is
checked on the writer itself.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BuildResult

from notes_render.site import writer

PEAK_PER_PAGE_BYTE = 3.1
"""Bound on what the build's traced peak grows by, over what the page grows by, from one note
to a note twice its size (what is paid once, V8's answer for one part of formulas and the
modules' own data, cancels out). This code measures about 2.6 (the Markdown tokens are most of
it); with each formula's HTML held as text, as before, it measured 3.8."""


def generated_note(sections: int) -> str:
    """A note of headings, paragraphs, a list and a table, every formula unique: about
    1.3 KB and 7 formulas a section."""
    parts = []
    for n in range(sections):
        parts.append(
            f"## Section {n}\n\n"
            f"Let $x_{{{n}}} = \\frac{{a_{{{n}}}}}{{b + {n}}}$ and $\\alpha^{{{n}}} \\leq \\beta$, "
            f"so that the sum $\\sum_{{k=0}}^{{{n}}} k^2$ converges for every $t > {n}$.\n\n"
            f"$$\n\\int_0^{{{n}}} e^{{-x^2}} \\, dx = \\sqrt{{\\pi}} \\cdot {n}\n$$\n\n"
            f"- the first case, with $y \\in \\mathbb{{R}}^{{{n}}}$\n"
            f"- the second case, with no formula at all, only words\n\n"
            f"| a | b |\n| --- | --- |\n| $z_{{{n}}}$ | {n} |\n\n"
            f"```python\nprint({n})\n```\n\n"
        )
    return "".join(parts)


def test_a_notes_build_grows_in_memory_by_little_more_than_its_page(
    build_notes: Callable[..., BuildResult],
) -> None:
    build_notes({"small.md": "# Small\n\n$x$ and `code`\n"}, "--no-cache", "-q")  # imports, once
    peaks, pages = [], []
    for sections in (100, 200):
        text = generated_note(sections)
        tracemalloc.start()
        try:
            result = build_notes({"big.md": text}, "--no-cache", "-q")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.code == 0, result.stderr
        page = (result.out / "big.html").stat().st_size
        assert page > 30 * len(text)  # the page is mostly typeset formulas, as with real notes
        peaks.append(peak)
        pages.append(page)
    grown = (peaks[1] - peaks[0]) / (pages[1] - pages[0])
    assert grown < PEAK_PER_PAGE_BYTE, f"peaks {peaks} bytes for pages of {pages}"


def test_a_page_is_written_from_its_pieces_and_compared_with_what_is_there_piece_by_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "_COMPARED", 3)  # compare in parts smaller than a piece
    page = tmp_path / "out" / "page.html"
    pieces = [b"<html>", b"body \xe2\x80\x8b one", b"", b"body two", b"</html>\n"]
    assert writer.write_atomic(page, pieces) is True
    assert page.read_bytes() == b"".join(pieces)
    assert writer.write_atomic(page, pieces) is False  # the same bytes: left alone
    changed = [*pieces[:-1], b"</HTML>\n"]  # same size, last piece differs
    assert writer.write_atomic(page, changed) is True
    assert page.read_bytes() == b"".join(changed)
    assert writer.write_atomic(page, b"".join(changed)) is False  # bytes as before
    assert list((tmp_path / "out").iterdir()) == [page]  # no temporary file left
