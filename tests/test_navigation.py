"""Navigation of a built site: table of contents, permalinks, previous/next, breadcrumbs,
and the home page's listing; built from tests/fixtures/navigation (which has an index.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import FIXTURES, formulas


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from notes_render.build.pipeline import build_site
    from notes_render.config import make_config

    out = tmp_path_factory.mktemp("navigation") / "out"
    report = build_site(make_config(src=FIXTURES / "navigation", out=out, strict=True, project_dir=FIXTURES))
    assert not report.diagnostics
    return out


def _page(out: Path, rel: str) -> str:
    return (out / rel).read_text(encoding="utf-8")


def _toc(page: str) -> str:
    match = re.search(r'<nav class="toc"[^>]*>(.*?)</nav>', page, re.S)
    assert match, "no table of contents"
    return match.group(1)


def _pager(page: str) -> dict[str, tuple[str, str]]:
    """rel -> (href, title) of the previous/next links."""
    match = re.search(r'<nav class="pager"[^>]*>(.*?)</nav>', page, re.S)
    if not match:
        return {}
    links = re.findall(
        r'rel="(prev|next)" href="([^"]*)"><span class="pager-label">\w+</span> ([^<]*)</a>', match.group(1)
    )
    return {rel: (href, title) for rel, href, title in links}


def _breadcrumbs(page: str) -> list[tuple[str, str]]:
    match = re.search(r'<nav class="breadcrumbs"[^>]*>(.*?)</nav>', page, re.S)
    assert match, "no breadcrumbs"
    return re.findall(r'<a href="([^"]*)">([^<]*)</a>', match.group(1))


def test_toc_lists_sections_nested_two_levels_without_the_title(out: Path) -> None:
    toc = _toc(_page(out, "alpha.html"))
    anchors = re.findall(r'<a href="#([^"]*)">', toc)
    assert anchors == ["first-alpha-section", "a-sub-section-linking-to-beta", "second-section"]
    # the sub-section sits in a list inside its section's entry
    assert re.search(r'href="#first-alpha-section">.*?</a>\s*<ul>\s*<li><a href="#a-sub-section', toc, re.S)


def test_toc_shows_math_in_headings_typeset(out: Path) -> None:
    toc = _toc(_page(out, "alpha.html"))
    entry = re.search(r'<a href="#first-alpha-section">(.*?)</a>\s*<ul>', toc, re.S)
    assert entry and formulas(entry.group(1)) == [("inline", r"\alpha")]
    assert entry.group(1).startswith('First <span class="katex">')
    assert "$" not in toc


def test_toc_entries_hold_no_links_or_footnote_marks(out: Path) -> None:
    page = _page(out, "alpha.html")
    toc = _toc(page)
    assert 'href="#a-sub-section-linking-to-beta">A sub-section linking to beta</a>' in toc
    assert 'href="#second-section">Second section</a>' in toc
    assert "beta.html" not in toc and "footnote" not in toc
    # the headings themselves keep them
    assert 'linking to <a href="beta.html">beta</a>' in page


def test_a_note_with_several_h1_sections_lists_them_all(out: Path) -> None:
    toc = _toc(_page(out, "guide/gamma.html"))
    assert re.findall(r'<a href="#([^"]*)">', toc) == ["gamma", "part-one", "inside-part-one", "part-two"]


def test_a_note_without_sections_has_no_toc(out: Path) -> None:
    assert '<nav class="toc"' not in _page(out, "guide/index.html")


def test_headings_carry_a_permalink_to_themselves(out: Path) -> None:
    page = _page(out, "alpha.html")
    assert re.search(
        r'<h2 id="first-alpha-section">First <span class="katex">(?:(?!</h2>).)*</span> section'
        # hidden from screen readers and Tab, so the heading's accessible name is its words
        r'<a class="heading-permalink" href="#first-alpha-section"'
        r' aria-hidden="true" tabindex="-1"></a></h2>',
        page,
        re.S,
    )
    assert page.count('class="heading-permalink"') == 5


def test_title_is_shown_once(out: Path) -> None:
    alpha = _page(out, "alpha.html")
    assert alpha.count("<h1") == 1 and '<h1 id="alpha">Alpha' in alpha
    beta = _page(out, "beta.html")
    assert beta.count("<h1") == 1 and '<h1 class="note-title">Beta</h1>' in beta


def test_previous_and_next_follow_path_order_without_the_home_page(out: Path) -> None:
    # alpha, beta, guide/index (a folder's index first), guide/gamma
    assert _pager(_page(out, "alpha.html")) == {"next": ("beta.html", "Beta")}
    assert _pager(_page(out, "beta.html")) == {
        "prev": ("alpha.html", "Alpha"),
        "next": ("guide/index.html", "Guide"),
    }
    assert _pager(_page(out, "guide/index.html")) == {
        "prev": ("../beta.html", "Beta"),
        "next": ("gamma.html", "Gamma"),
    }
    assert _pager(_page(out, "guide/gamma.html")) == {"prev": ("index.html", "Guide")}
    assert _pager(_page(out, "index.html")) == {}


def test_breadcrumbs_lead_home_through_folder_index_pages(out: Path) -> None:
    assert _breadcrumbs(_page(out, "alpha.html")) == [("index.html", "Notes")]
    assert _breadcrumbs(_page(out, "guide/gamma.html")) == [
        ("../index.html", "Notes"),
        ("index.html", "Guide"),
    ]
    assert _breadcrumbs(_page(out, "guide/index.html")) == [("../index.html", "Notes")]
    assert '<li aria-current="page">Gamma</li>' in _page(out, "guide/gamma.html")
    assert '<nav class="breadcrumbs"' not in _page(out, "index.html")


def test_home_note_lists_every_other_note_with_date_and_description(out: Path) -> None:
    home = _page(out, "index.html")
    section = re.search(r'<section class="note-index">(.*?)</section>', home, re.S)
    assert section
    items = re.findall(r'<li><a href="([^"]*)">([^<]*)</a>(.*?)</li>', section.group(1), re.S)
    assert [(href, title) for href, title, _ in items] == [
        ("alpha.html", "Alpha"),
        ("beta.html", "Beta"),
        ("guide/gamma.html", "Gamma"),
        ("guide/index.html", "Guide"),
    ]
    assert '<time datetime="2024-01-02">' in items[0][2]
    assert "The first note, with a heading that holds a formula." in items[0][2]
    assert "The second note." in items[1][2]
    assert "Welcome." in home  # the note's own text comes first
    assert '<section class="note-index">' not in _page(out, "alpha.html")
