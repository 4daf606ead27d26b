"""Markdown features of a built site, on tests/fixtures/site-basic."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, BuildResult


@pytest.fixture
def site(run_cli: Callable[..., BuildResult], tmp_path: Path) -> BuildResult:
    result = run_cli(
        "--src", FIXTURES / "site-basic", "--out", tmp_path / "out", "--strict", out=tmp_path / "out"
    )
    assert result.code == 0, result.stderr
    return result


def test_nested_notes_map_to_nested_pages(site: BuildResult) -> None:
    assert (site.out / "a.html").is_file()
    assert (site.out / "sub" / "b.html").is_file()
    assert (site.out / "plain.html").is_file()


def test_index_lists_titles_from_front_matter_heading_or_file_name(site: BuildResult) -> None:
    index = site.page("index.html")
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', index)
    assert ("a.html", "Front Title") in links
    assert ("sub/b.html", "B heading") in links
    assert ("plain.html", "plain") in links
    assert "A note with every Markdown feature." in index


def test_front_matter_sets_title_and_date(site: BuildResult) -> None:
    page = site.page("a.html")
    assert "<title>Front Title" in page
    assert '<time datetime="2024-03-01">' in page
    assert "title: " not in page  # front matter is not shown as text


def test_tables_strikethrough_footnotes_tasks(site: BuildResult) -> None:
    page = site.page("a.html")
    assert "<s>struck</s>" in page
    assert '<table tabindex="0">' in page and "<td>1</td>" in page  # a Tab stop: it may scroll
    assert 'class="footnote-ref"' in page and 'class="footnotes"' in page
    assert page.count('type="checkbox"') == 2 and "checked" in page


def test_headings_get_stable_unique_ids(site: BuildResult) -> None:
    page = site.page("a.html")
    assert '<h1 id="heading-one">' in page
    assert '<h2 id="heading-one-1">' in page
    assert '<h2 id="ünïcode--style">' in page


def test_md_links_become_html_links(site: BuildResult) -> None:
    page = site.page("a.html")
    assert 'href="sub/b.html"' in page
    assert 'href="sub/b.html#part-two"' in page
    assert 'href="https://example.org/x.md"' in page  # external links are left alone
    assert 'href="../a.html#heading-one"' in site.page("sub/b.html")


def test_raw_html_passes_through(site: BuildResult) -> None:
    assert '<img src="img/raw.svg" height="100" alt="raw">' in site.page("a.html")


def test_referenced_files_are_copied_and_others_are_not(site: BuildResult) -> None:
    assert (site.out / "img" / "fig.png").read_bytes() == (
        FIXTURES / "site-basic" / "img" / "fig.png"
    ).read_bytes()
    assert (site.out / "img" / "raw.svg").is_file()
    assert (site.out / "files" / "data.csv").is_file()
    assert not (site.out / "files" / "unused.txt").exists()
    assert not (site.out / "a.md").exists()


def test_missing_image_is_reported_with_position(build_notes: Callable[..., BuildResult]) -> None:
    result = build_notes({"n.md": "# T\n\nSee ![x](nope.png) here.\n"}, "--strict")
    assert result.code == 1
    assert "n.md:3:10: 'nope.png' does not exist" in result.stderr


def test_user_files_in_output_survive_and_stale_pages_go(build_notes: Callable[..., BuildResult]) -> None:
    first = build_notes({"a.md": "# A\n", "b.md": "# B\n"})
    assert first.code == 0
    mine = first.out / "mine.txt"
    mine.write_text("keep me", encoding="utf-8")
    second = build_notes({"a.md": "# A\n"})
    assert second.code == 0
    assert mine.read_text(encoding="utf-8") == "keep me"
    assert not (second.out / "b.html").exists()
    assert (second.out / "a.html").exists()


def test_unchanged_rebuild_rewrites_nothing(build_notes: Callable[..., BuildResult]) -> None:
    first = build_notes({"a.md": "# A\n\n$x$\n"})
    files = sorted(p for p in first.out.rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in files}
    second = build_notes({"a.md": "# A\n\n$x$\n"})
    assert second.code == 0
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_a_file_saved_again_within_the_same_second_is_copied_again(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    import os

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "a.md").write_text("See [the data](f.txt).\n", encoding="utf-8")
    data = src / "f.txt"
    second = 1_700_000_000 * 1_000_000_000
    data.write_text("one", encoding="utf-8")
    os.utime(data, ns=(second + 1000, second + 1000))
    assert run_cli("--src", src, "--out", out, out=out).code == 0
    data.write_text("two", encoding="utf-8")  # same size, same second, later nanoseconds
    os.utime(data, ns=(second + 2000, second + 2000))
    assert run_cli("--src", src, "--out", out, out=out).code == 0
    assert (out / "f.txt").read_text(encoding="utf-8") == "two"


def test_a_title_taken_from_a_heading_with_math_reads_as_text(
    build_notes: Callable[..., BuildResult],
) -> None:
    result = build_notes({"n.md": "# The $\\mathbf{x}_t$ process and $\\alpha \\mid \\beta$\n"})
    assert result.code == 0, result.stderr
    page = result.page("n.html")
    assert "<title>The x_t process and α | β" in page
    # The id keeps GitHub's rule (command names without backslashes), so old links still work.
    assert 'id="the-mathbfx_t-process-and-alpha-mid-beta"' in page
    assert ">The x_t process and α | β</a>" in result.page("index.html")
