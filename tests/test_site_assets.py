"""A built site is self-contained: KaTeX's CSS and fonts are in assets/, nothing is fetched."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, BuildResult

from notes_render.build.assets import served_katex_css
from notes_render.build.pipeline import build_site
from notes_render.config import Config

_REF = re.compile(r"<(link|script|img|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']*)", re.I)


def _build(run_cli: Callable[..., BuildResult], tmp_path: Path) -> BuildResult:
    out = tmp_path / "out"
    result = run_cli("--src", FIXTURES / "site-basic", "--out", out, out=out)
    assert result.code == 0, result.stderr
    return result


def test_katex_css_and_every_font_it_references_are_copied(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    site = _build(run_cli, tmp_path)
    css = (site.out / "assets" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    fonts = set(re.findall(r"url\((fonts/[^)]+)\)", css))
    # Text is drawn at once, in KaTeX's fonts as soon as they arrive, never hidden meanwhile.
    faces = re.findall(r"@font-face\{[^}]*\}", css)
    assert len(faces) > 15 and all("font-display:swap" in face for face in faces)
    # One WOFF2 file a face, and none of KaTeX's WOFF and TTF copies for older browsers.
    assert len(fonts) == len(faces) and all(font.endswith(".woff2") for font in fonts)
    assert all(face.count("url(") == 1 for face in faces)
    copied = {
        path.relative_to(site.out / "assets" / "katex").as_posix() for path in site.out.rglob("fonts/*")
    }
    assert copied == fonts
    assert (site.out / "assets" / "style.css").is_file()
    copy_tex = site.out / "assets" / "katex" / "contrib" / "copy-tex.min.js"
    assert copy_tex.read_bytes() == (REPO / "node_modules/katex/dist/contrib/copy-tex.min.js").read_bytes()


def test_pages_reference_nothing_outside_the_site_and_load_only_copy_tex(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    site = _build(run_cli, tmp_path)
    pages = list(site.out.rglob("*.html"))
    assert len(pages) == 4
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # One script, KaTeX's copy-tex from the site itself, deferred: the page is complete without it.
        scripts = re.findall(r"<script\b[^>]*>", html, re.I)
        assert len(scripts) == 1, (page, scripts)
        depth = len(page.relative_to(site.out).parts) - 1
        copy_tex = "../" * depth + "assets/katex/contrib/copy-tex.min.js"
        assert scripts[0] == f'<script defer src="{copy_tex}">', (page, scripts)
        assert html.count("</script>") == 1
        assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.I), page  # no inline handlers
        for tag, url in _REF.findall(html):
            assert not re.match(r"^(https?:)?//", url), (page, tag, url)
            target = (page.parent / url.split("#")[0]).resolve()
            assert target.is_file(), (page, url)


def test_pages_preload_exactly_the_katex_fonts_their_formulas_use(
    build_notes: Callable[..., BuildResult],
) -> None:
    result = build_notes(
        {
            "plain.md": "# Plain\n\nNo formulas here.\n",
            "sets.md": "# Sets\n\nLet $x \\in \\mathbb{R}$ and $\\mathcal{L} = \\sum_i x_i$.\n",
        }
    )
    assert result.code == 0, result.stderr
    preload = re.compile(
        r'<link rel="preload" href="assets/katex/fonts/([^"]+)" as="font" type="font/woff2" crossorigin>'
    )
    assert preload.findall(result.page("plain.html")) == []
    assert preload.findall(result.page("sets.html")) == [
        "KaTeX_AMS-Regular.woff2",  # \mathbb
        "KaTeX_Caligraphic-Regular.woff2",  # \mathcal
        "KaTeX_Main-Regular.woff2",  # every formula
        "KaTeX_Math-Italic.woff2",  # x, i
        "KaTeX_Size1-Regular.woff2",  # the inline \sum
    ]
    for font in preload.findall(result.page("sets.html")):
        assert (result.out / "assets" / "katex" / "fonts" / font).is_file()


def test_a_font_face_without_a_woff2_file_keeps_its_sources(tmp_path: Path) -> None:
    """Only KaTeX's WOFF2 copies replace the others: a face that has none (a KaTeX of
    another make) keeps every source it names, and its files are copied."""
    katex = tmp_path / "katex"
    shutil.copytree(REPO / "node_modules" / "katex" / "dist", katex / "dist")
    shutil.copy(REPO / "node_modules" / "katex" / "package.json", katex)
    css = (katex / "dist" / "katex.min.css").read_text(encoding="utf-8")
    face = re.search(r"@font-face\{[^}]*KaTeX_AMS-Regular[^}]*\}", css)
    assert face is not None
    without_woff2 = (
        "@font-face{font-family:KaTeX_AMS;src:url(fonts/KaTeX_AMS-Regular.woff) format('woff'), "
        "url(fonts/KaTeX_AMS-Regular.ttf) format('truetype')}"
    )
    (katex / "dist" / "katex.min.css").write_text(css.replace(face.group(0), without_woff2), encoding="utf-8")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.md").write_text("# A\n\n$x$\n", encoding="utf-8")
    out = tmp_path / "out"
    build_site(Config(src=tmp_path / "src", out=out, katex_dir=katex / "dist"))
    served = (out / "assets" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    assert without_woff2 in served
    copied = {path.name for path in (out / "assets" / "katex" / "fonts").iterdir()}
    assert {"KaTeX_AMS-Regular.woff", "KaTeX_AMS-Regular.ttf"} <= copied
    others = {name for name in copied if not name.startswith("KaTeX_AMS-")}
    assert len(others) == served.count("@font-face") - 1 and all(name.endswith(".woff2") for name in others)


FONT_FACES = Path(__file__).parent / "fixtures" / "katex_font_faces.txt"


def _font_face_cases() -> list[tuple[str, str, str]]:
    """(title, stylesheet, served) for each case of fixtures/katex_font_faces.txt."""
    blocks = FONT_FACES.read_text(encoding="utf-8").strip().split("\n\n")[1:]
    cases = []
    for block in blocks:
        title, dot, given, dot2, served, dot3 = block.split("\n")
        assert dot == dot2 == dot3 == ".", block
        cases.append((title, given, served))
    return cases


@pytest.mark.parametrize(("title", "given", "served"), _font_face_cases(), ids=lambda v: str(v)[:40])
def test_the_served_katex_stylesheet_keeps_one_woff2_source_a_face(
    title: str, given: str, served: str
) -> None:
    assert served_katex_css(given) == served, title
