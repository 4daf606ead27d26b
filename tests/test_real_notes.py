"""The site's own content: notes/ builds cleanly and its pages hold what the issue promises."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
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


@pytest.mark.parametrize(("note", "least", "least_display"), [("n0.html", 395, 47), ("n1.html", 432, 49)])
def test_notes_hold_the_promised_mathematics(site: Path, note: str, least: int, least_display: int) -> None:
    # n1: its five proofs end with the ∎ of their block, no longer with a formula `$\square$`.
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


@pytest.mark.parametrize(("note", "least"), [("n0", 15), ("n1", 10)])
def test_every_citation_links_to_an_entry_and_every_entry_is_used(site: Path, note: str, least: int) -> None:
    """n0 and n1 cite from notes/references.bib: each citation's link lands on an entry of the
    note's bibliography, and each entry is cited or listed in the note's `nocite`."""
    import yaml

    page = (site / f"{note}.html").read_text(encoding="utf-8")
    citations = re.findall(r'<span class="citation">(.*?)</span>', page)
    cited = {key for html in citations for key in re.findall(r'<a href="#ref-([^"]+)">', html)}
    entries = re.findall(r'<li id="ref-([^"]+)">', page)
    text = (REPO / "notes" / f"{note}.md").read_text(encoding="utf-8")
    nocite = set(yaml.safe_load(text.split("---\n")[1]).get("nocite") or [])
    assert len(cited) >= least
    assert "citation-missing" not in page
    assert len(entries) == len(set(entries))
    assert cited <= set(entries)
    assert set(entries) == cited | nocite
    assert "## References" in text and not re.search(r"^- .*arXiv:", text, re.M)  # no hand-typed list


def test_committed_figures_are_what_the_script_draws(tmp_path: Path) -> None:
    """The SVGs in notes/figures/ are exactly what scripts/make_figures.py writes today."""
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_figures.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    drawn = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert len(drawn) >= 2
    for name in drawn:
        assert (tmp_path / name).read_bytes() == (REPO / "notes" / "figures" / name).read_bytes(), name


def _run_script(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name)], capture_output=True, text=True, check=False
    )


def test_derivation_checks_pass_and_the_notes_quote_their_figures() -> None:
    """scripts/check_derivations.py passes, and n1 states the figures it computes."""
    run = _run_script("check_derivations.py")
    assert run.returncode == 0, run.stdout
    lines = run.stdout.splitlines()
    assert len(lines) >= 15
    assert all(line.startswith("ok    ") for line in lines), run.stdout
    by_name = {line.split()[1].rstrip(":"): line for line in lines}
    assert "lambda_1 = 0.5001, minimum 0.0050 at t = 349, lambda_T = 0.0102" in by_name["lambda"]
    assert "0.2508 (beta), 0.2461 (beta_tilde), 0.5015 with noise 2 beta" in by_name["langevin"]
    n1 = (REPO / "notes" / "n1.md").read_text(encoding="utf-8")
    for quoted in (
        r"$\lambda_{349} \approx 0.0050$",
        r"$\lambda_{1000} \approx 0.0102$",
        r"about $0.50$ instead of $0.25$",
        r"$0.251$ and $0.246$",
    ):
        assert quoted in n1, quoted


def test_a_failing_derivation_check_is_reported_and_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(
        "check_derivations", REPO / "scripts" / "check_derivations.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def check_wrong() -> str:
        module.close(0.5, 0.25, 1e-9, "lambda_1")
        return "unreachable"

    module.__dict__["CHECKS"] = [check_wrong]
    assert module.main([]) == 1
    assert capsys.readouterr().out == "FAIL  wrong: lambda_1: 0.5 vs 0.25 (tolerance 1e-09)\n"


def test_figures_follow_the_dark_colour_scheme() -> None:
    """Every colour a figure draws with has a dark counterpart in the figure's own style."""
    figures = sorted((REPO / "notes" / "figures").glob("*.svg"))
    assert figures
    for figure in figures:
        svg = figure.read_text(encoding="utf-8")
        dark = re.search(r"@media \(prefers-color-scheme: dark\) \{(.*?)\}</style>", svg, re.S)
        assert dark, figure.name
        for kind, colour in set(re.findall(r'\b(fill|stroke)="(#[0-9a-fA-F]{6})"', svg)):
            assert f'[{kind}="{colour}"] {{ {kind}: #' in dark.group(1), (figure.name, kind, colour)
