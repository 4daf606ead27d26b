"""The site's own content: notes/ builds cleanly and its pages hold what the issue promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO, formulas


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from notes_render import cli

    out = tmp_path_factory.mktemp("real") / "site"
    code = cli.main(["--src", str(REPO / "notes"), "--out", str(out), "--strict", "--quiet"])
    assert code == 0
    return out


def test_home_and_both_notes_exist(site: Path) -> None:
    for page in ("index.html", "n0.html", "n1.html"):
        assert (site / page).is_file(), page


def test_every_note_link_on_the_home_page_reaches_a_note(site: Path) -> None:
    home = (site / "index.html").read_text(encoding="utf-8")
    targets = re.findall(r'<a href="([^"]+)">NOTE</a>', home)
    assert sorted(set(targets)) == ["n0.html", "n1.html"]
    for target in targets:
        page = (site / target).read_text(encoding="utf-8")
        assert formulas(page), target


@pytest.mark.parametrize(("note", "least", "least_display"), [("n0.html", 40, 10), ("n1.html", 80, 20)])
def test_notes_hold_the_promised_mathematics(site: Path, note: str, least: int, least_display: int) -> None:
    found = formulas((site / note).read_text(encoding="utf-8"))
    assert len(found) >= least
    assert sum(kind == "display" for kind, _ in found) >= least_display
    assert 'class="katex-error"' not in (site / note).read_text(encoding="utf-8")


def test_every_image_a_note_uses_is_in_the_output(site: Path) -> None:
    for page in site.glob("*.html"):
        sources = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', page.read_text(encoding="utf-8"))
        for src in sources:
            assert (page.parent / src).is_file(), (page.name, src)
    used = {
        src
        for page in ("n0.html", "n1.html")
        for src in re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', (site / page).read_text(encoding="utf-8"))
    }
    assert len(used) >= 2


def test_committed_figures_are_what_the_script_draws(tmp_path: Path) -> None:
    """The SVGs in notes/figures/ are exactly what scripts/make_figures.py writes today."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_figures.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    drawn = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert len(drawn) >= 2
    for name in drawn:
        assert (tmp_path / name).read_bytes() == (REPO / "notes" / "figures" / name).read_bytes(), name
