"""Bodies kept in the cache as recipes: the body's own bytes, with the formulas the cache
holds cut out and put back when it is read (typeset/bodies.py)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from notes_render.build.pipeline import build_site
from notes_render.config import Config
from notes_render.typeset.bodies import Recipe, load_bodies
from notes_render.typeset.cache import BODIES, FORMULAS, Store

NOTE = """# Recipes

An inline formula $a^2 + b^2$, one before punctuation $c^2$. And a display:

$$
\\int_0^1 x\\,\\mathrm{d}x = \\frac{1}{2}
$$

A formula KaTeX refuses, $\\undefinedmacro{x}$, and one with a macro: $\\R^n$.

| a | b |
| --- | --- |
| $x_1$ | $y_1$ |
"""


def _site(tmp_path: Path) -> Config:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("---\nmacros:\n  R: \\mathbb{R}\n---\n" + NOTE, encoding="utf-8")
    (src / "b.md").write_text("# B\n\nSee [the first](a.md), with $e^{i\\pi} + 1 = 0$.\n", encoding="utf-8")
    return Config(src=src, out=tmp_path / "out", cache_dir=tmp_path / "cache")


def _pages(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.html"))}


def _database(config: Config) -> sqlite3.Connection:
    assert config.cache_dir is not None
    return sqlite3.connect(config.cache_dir / "cache.sqlite3")


def test_a_page_made_again_from_its_recipe_is_the_same_page(tmp_path: Path) -> None:
    config = _site(tmp_path)
    build_site(config)
    pages = _pages(config.out)
    with _database(config) as db:
        kept = sum(size for (size,) in db.execute("SELECT length(value) FROM bodies"))
        formulas = sum(size for (size,) in db.execute("SELECT length(value) FROM formulas"))
    page_bytes = sum(len(page) for page in pages.values())
    assert kept < page_bytes - formulas  # the formulas' HTML is not kept twice
    for page in config.out.glob("*.html"):
        page.unlink()
    report = build_site(config)
    assert report.built == []  # every page from the cache's bodies
    assert sorted(map(str, report.rendered)) == ["a.html", "b.html", "index.html"]
    assert _pages(config.out) == pages


def test_a_body_whose_formula_left_the_cache_is_built_again(tmp_path: Path) -> None:
    config = _site(tmp_path)
    build_site(config)
    pages = _pages(config.out)
    with _database(config) as db:
        db.execute("DELETE FROM formulas WHERE rowid = (SELECT min(rowid) FROM formulas)")
    for page in config.out.glob("*.html"):
        page.unlink()
    report = build_site(config)
    assert [str(reason) for reason in report.reasons if "not in the cache" in str(reason)] == [
        "a.md: its body is not in the cache"
    ]
    assert _pages(config.out) == pages


def test_a_recipe_puts_back_only_the_very_objects_it_was_told_of(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    formula = b'<span class="katex">x</span>'
    store.put_many(FORMULAS, [("k1", b"H" + formula)])
    recipe = Recipe()
    recipe.know(formula, "k1")
    equal_but_another = bytes(bytearray(formula))  # the same bytes: a formula changed on the way
    for piece in (b"<p>", formula, b" and ", equal_but_another, b"</p>"):
        recipe.add(piece)
    value = recipe.encode()
    assert value.count(formula) == 1  # the one it was told of is cut out, the other kept
    store.put_many(BODIES, [("body", value), ("old", b"<p>an old body, as HTML</p>")])
    found = load_bodies(store, ["body", "old", "absent"])
    assert found == {
        "body": b"<p>" + formula + b" and " + formula + b"</p>",
        "old": b"<p>an old body, as HTML</p>",
    }
    store.close()


def test_a_recipe_that_does_not_fit_is_no_body(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    store.put_many(FORMULAS, [("k1", b"H<b>x</b>")])
    recipe = Recipe()
    recipe.know(html := b"<b>x</b>", "k1")
    recipe.add(b"<p>")
    recipe.add(html)
    good = recipe.encode()
    broken = good.replace(b"[[3,", b"[[99,")  # a place past its own bytes
    store.put_many(BODIES, [("good", good), ("broken", broken), ("garbled", good[:12])])
    assert load_bodies(store, ["good", "broken", "garbled"]) == {"good": b"<p><b>x</b>"}
    store.close()


def test_formulas_held_to_their_punctuation_are_not_kept_twice_either(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    lines = [f"Formula {i}: $\\sum_{{k=0}}^{{{i}}} \\binom{{{i}}}{{k}} x^k$." for i in range(300)]
    (src / "many.md").write_text("# Many\n\n" + "\n\n".join(lines) + "\n", encoding="utf-8")
    config = Config(src=src, out=tmp_path / "out", cache_dir=tmp_path / "cache")
    build_site(config)
    pages = _pages(config.out)
    assert pages["many.html"].count(b'<span class="math-last">') == 300  # each one held
    with _database(config) as db:
        [(kept,)] = db.execute("SELECT sum(length(value)) FROM bodies")
        [(formulas,)] = db.execute("SELECT sum(length(value)) FROM formulas")
    assert kept < formulas / 10
    shutil.rmtree(config.out)
    report = build_site(config)
    assert report.built == []  # the page from the recipe, its formulas held again
    assert _pages(config.out) == pages
