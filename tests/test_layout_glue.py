"""The layout done in V8 (typeset/layoutglue.py) against its reference, typeset/mathlayout.py:
every formula of fixtures/layout_formulas.txt is typeset by KaTeX with the glue's layout and
without it, and what the glue says of each must be what mathlayout makes of the plain HTML;
then a note of the same formulas builds to the same page either way."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from notes_render.build.pipeline import build_site
from notes_render.config import Config
from notes_render.typeset.cache import Store
from notes_render.typeset.cached import CachedEngine
from notes_render.typeset.katex import MathRequest, MathResult, MiniRacerEngine, find_katex
from notes_render.typeset.mathlayout import fit_display, hold_last_piece, hold_piece_at, may_scroll

FORMULAS = Path(__file__).parent / "fixtures" / "layout_formulas.txt"


def _requests() -> list[MathRequest]:
    requests = []
    for line in FORMULAS.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        kind, sep, tex = line.partition(": ")
        assert sep and kind in ("display", "inline"), line
        requests.append(MathRequest(tex, kind == "display"))
    return requests


@pytest.fixture(scope="module")
def plain_engine() -> MiniRacerEngine:
    """KaTeX's HTML as it comes, no layout facts: what mathlayout is given."""
    return MiniRacerEngine(find_katex(None), layout=False)


def _disagreements(request: MathRequest, laid: MathResult, plain: MathResult) -> list[str]:
    """What the glue said of one formula that mathlayout does not say of its plain HTML."""
    if plain.html is None or laid.html is None:
        found = []
        if laid.html is not None or plain.html is not None or laid.error != plain.error:
            found.append(f"errors differ: {laid.error!r} {plain.error!r}")
        if (laid.fitted, laid.may_scroll, laid.last_piece) != (False, None, None):
            found.append("facts said of an error")
        return found
    text = plain.html.decode("utf-8")
    found = []
    if laid.warnings != plain.warnings:
        found.append("warnings differ")
    if request.display:
        fitted = fit_display(text)
        if not laid.fitted or laid.html.decode("utf-8") != fitted:
            found.append("fitted HTML differs")
        if laid.may_scroll != may_scroll(fitted):
            found.append(f"may_scroll {laid.may_scroll}")
        if laid.last_piece is not None:
            found.append("a display with a last piece")
        return found
    held = hold_last_piece(text)
    if laid.fitted or laid.html != plain.html:
        found.append("inline HTML changed")
    if laid.may_scroll is None or laid.may_scroll != may_scroll(text) or laid.may_scroll != may_scroll(held):
        found.append(f"may_scroll {laid.may_scroll}")
    if hold_piece_at(laid.html, laid.last_piece) != held.encode("utf-8"):
        found.append(f"last piece {laid.last_piece}")
    return found


def test_the_glue_lays_out_every_formula_as_mathlayout_does(
    katex_engine: MiniRacerEngine, plain_engine: MiniRacerEngine
) -> None:
    requests = _requests()
    laid = katex_engine.render_batch(requests, {})
    plain = plain_engine.render_batch(requests, {})
    wrong = {
        f"{'display' if r.display else 'inline'}: {r.tex}": found
        for r, a, b in zip(requests, laid, plain, strict=True)
        if (found := _disagreements(r, a, b))
    }
    assert wrong == {}
    # The file reaches every case: cut displays, boxes that may scroll or not, last pieces
    # held or left, errors, and HTML that travels with warnings.
    kinds = Counter()
    for request, result in zip(requests, laid, strict=True):
        html = (result.html or b"").decode("utf-8")
        kinds["cut"] += request.display and "--quad:" in html
        kinds["unfit"] += request.display and result.html is not None and "math-lines" not in html
        kinds["scrolls"] += bool(result.may_scroll)
        kinds["fits"] += result.may_scroll is False
        kinds["held"] += result.last_piece is not None
        kinds["not held"] += not request.display and result.html is not None and result.last_piece is None
        kinds["astral"] += result.html is not None and any(ord(c) > 0xFFFF for c in html)
        kinds["error"] += result.html is None
        kinds["warned"] += result.html is not None and bool(result.warnings)
    assert all(kinds[kind] >= 2 for kind in ("cut", "unfit", "scrolls", "fits", "held", "not held")), kinds
    assert all(kinds[kind] >= 2 for kind in ("astral", "error", "warned")), kinds


def _markdown(requests: list[MathRequest]) -> str:
    """The formulas as a note: displays in blocks (one with a label, which edits its TeX),
    inline formulas in sentences, each followed by punctuation or by a word."""
    blocks = ["# Layout\n"]
    for index, request in enumerate(requests):
        if request.display:
            label = f" \\label{{eq:l{index}}}" if index % 3 == 0 else ""
            blocks.append(f"$$\n{request.tex}{label}\n$$\n")
        else:
            after = [",", ".", ") and", " then"][index % 4]
            blocks.append(f"Take ${request.tex}${after} more.\n")
    return "\n".join(blocks)


def test_a_note_builds_to_the_same_page_with_the_layout_done_in_python(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    requests = [r for r in _requests() if r.tex.strip() and "$" not in r.tex]
    (src / "layout.md").write_text(_markdown(requests), encoding="utf-8")
    config = Config(src=src, out=tmp_path / "glue", cache_dir=None)
    build_site(config)
    build_site(
        replace(config, out=tmp_path / "python"),
        lambda dist, settings: MiniRacerEngine(dist, trust_links=settings.trust_links, layout=False),
    )
    glue = (tmp_path / "glue" / "layout.html").read_bytes()
    assert b"math-last" in glue and b"math-part" in glue and b'tabindex="0"' in glue
    assert glue == (tmp_path / "python" / "layout.html").read_bytes()
    shutil.rmtree(tmp_path / "python")


def test_the_cache_gives_back_the_layout_facts(tmp_path: Path, katex_engine: MiniRacerEngine) -> None:
    requests = _requests()
    store = Store(tmp_path / "cache")
    cached = CachedEngine(store, lambda: katex_engine, version=katex_engine.version, engine_id="glue")
    typeset = cached.render_batch(requests, {})
    assert any(r.last_piece for r in typeset) and any(r.fitted and r.warnings for r in typeset)

    def no_engine() -> MiniRacerEngine:
        raise AssertionError("a cached formula was typeset again")

    again = CachedEngine(store, no_engine, version=katex_engine.version, engine_id="glue")
    assert again.render_batch(requests, {}) == typeset
    store.close()


def test_the_glues_space_is_pythons_str_isspace_for_every_code_unit() -> None:
    from py_mini_racer import MiniRacer

    from notes_render.typeset.layoutglue import LAYOUT_SCRIPT

    context = MiniRacer()
    context.eval(LAYOUT_SCRIPT)
    spaces = context.eval(
        "var found = []; for (var u = 0; u < 0x10000; u++) if (notesLayout.isSpace(u)) found.push(u);"
        " found.join(',')"
    )
    assert [int(u) for u in str(spaces).split(",")] == [u for u in range(0x10000) if chr(u).isspace()]
