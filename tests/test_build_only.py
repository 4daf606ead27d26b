"""build_site(config, only=[...]): one note, its files and the assets, nothing else touched."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

import pytest
from conftest import FIXTURES

from notes_render.build.pipeline import build_site
from notes_render.config import make_config
from notes_render.errors import ConfigError
from notes_render.site.writer import read_manifest


@pytest.fixture
def src(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "site-basic", tmp_path / "src")
    return tmp_path / "src"


def _files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def test_only_builds_the_note_its_files_and_the_assets(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = build_site(make_config(src=src, out=out), only=[PurePosixPath("a.md")])
    assert report.pages == [PurePosixPath("a.html")]
    files = _files(out)
    assert {"a.html", "img/fig.png", "img/raw.svg", "files/data.csv", "assets/style.css"} <= files
    assert "assets/katex/katex.min.css" in files
    # Neither the other notes nor a home page are built.
    assert not {"index.html", "plain.html", "sub/b.html"} & files
    assert "Front Title" in (out / "a.html").read_text(encoding="utf-8")


def test_only_keeps_the_rest_of_an_existing_site(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = make_config(src=src, out=out)
    build_site(config)
    before = _files(out)
    index = (out / "index.html").read_bytes()
    note = src / "a.md"
    note.write_text(
        note.read_text(encoding="utf-8").replace("Some ~~struck~~", "Changed ~~struck~~"), encoding="utf-8"
    )
    build_site(config, only=[PurePosixPath("a.md")])
    assert _files(out) == before
    assert (out / "index.html").read_bytes() == index
    assert "Changed <s>struck</s>" in (out / "a.html").read_text(encoding="utf-8")
    # The manifest still lists every page, so a later full build cleans up as before.
    assert {PurePosixPath("sub/b.html"), PurePosixPath("index.html")} <= read_manifest(out)


def test_only_names_a_note_that_does_not_exist(src: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such note.*nope.md"):
        build_site(make_config(src=src, out=tmp_path / "out"), only=[PurePosixPath("nope.md")])


def test_only_builds_a_note_whose_page_would_be_the_generated_home_in_another_case(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "INDEX.md").write_text("# Shouting\n", encoding="utf-8")
    (src / "a.md").write_text("# A\n", encoding="utf-8")
    out = tmp_path / "out"
    # A preview of one note makes no home page, so nothing collides with INDEX.html.
    report = build_site(make_config(src=src, out=out), only=[PurePosixPath("INDEX.md")])
    assert report.pages == [PurePosixPath("INDEX.html")]
    assert "index.html" not in _files(out)
