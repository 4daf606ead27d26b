"""Writing features of a built note: alerts, definition lists, figures, highlighted code.

Built from tests/fixtures/writing/features.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, BuildResult, formulas


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    from notes_render.build.pipeline import build_site
    from notes_render.config import make_config

    out = tmp_path_factory.mktemp("writing") / "out"
    report = build_site(make_config(src=FIXTURES / "writing", out=out, strict=True, project_dir=FIXTURES))
    assert not report.diagnostics
    return (out / "features.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["note", "tip", "important", "warning", "caution"])
def test_github_alerts_become_callouts_with_a_title(page: str, kind: str) -> None:
    block = re.search(rf'<div class="markdown-alert markdown-alert-{kind}">(.*?)</div>', page, re.S)
    assert block, kind
    assert f'<p class="markdown-alert-title">{kind.capitalize()}</p>' in block.group(1)
    assert "[!" not in block.group(1)


def test_math_inside_an_alert_is_typeset(page: str) -> None:
    note = re.search(r'<div class="markdown-alert markdown-alert-note">(.*?)\n</div>', page, re.S)
    assert note and formulas(note.group(1)) == [("inline", "a^2 + b^2")]


def test_a_marker_not_on_the_first_line_leaves_a_plain_quote(page: str) -> None:
    assert "<blockquote>\n<p>An ordinary quote.\n[!NOTE] is not a marker here.</p>\n</blockquote>" in page


def test_definition_lists(page: str) -> None:
    dl = re.search(r"<dl>(.*?)</dl>", page, re.S)
    assert dl
    assert re.findall(r"<dt>(.*?)</dt>", dl.group(1)) == ["Gradient", "Score"]
    assert formulas(dl.group(1)) == [("inline", r"\nabla f")]


def test_lone_titled_image_becomes_a_figure_with_caption(page: str) -> None:
    assert (
        '<figure><a href="chain.svg" class="figure-link">'  # it opens full size on a phone
        '<img src="chain.svg" alt="A chain of five circles" /></a>'
        "<figcaption>The forward and reverse chains.</figcaption>\n</figure>"
    ) in page
    # also in a tight list, whose paragraphs have no tags of their own
    assert (
        '<li>\n<figure><a href="chain.svg" class="figure-link">'
        '<img src="chain.svg" alt="In a tight list" /></a>'
        "<figcaption>Listed figure</figcaption>" in page
    )


def test_images_among_text_or_without_title_stay_images(page: str) -> None:
    assert (
        '<p>An inline <img src="chain.svg" alt="icon" title="not a figure" /> stays in its paragraph.</p>'
        in page
    )
    assert '<p><img src="chain.svg" alt="No title" /></p>' in page
    assert page.count("<figure>") == 2


def test_formulas_in_alt_text_stay_there_as_their_tex(page: str) -> None:
    # An alt text is plain text: a formula in it reads as its TeX, as pandoc writes it.
    assert '<img src="chain.svg" alt="the curve y = x^2 &amp; its \\alpha" />' in page


def test_code_is_highlighted_at_build_time(page: str) -> None:
    block = re.search(r'<pre class="highlight"><code class="language-python">(.*?)</code></pre>', page, re.S)
    assert block
    assert '<span class="k">def</span>' in block.group(1)
    assert '<span class="c1"># squared</span>' in block.group(1)


def test_unknown_or_missing_language_is_plain_escaped_code(page: str) -> None:
    assert '<pre><code class="language-nosuchlanguage">&lt;kept&gt; &amp; escaped\n</code></pre>' in page
    assert "<pre><code>plain &lt;text&gt;\n</code></pre>" in page


def test_pygments_stylesheet_has_light_and_dark_colours(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    result = run_cli("--src", FIXTURES / "writing", "--out", tmp_path / "out", out=tmp_path / "out")
    assert result.code == 0, result.stderr
    css = (result.out / "assets" / "pygments.css").read_text(encoding="utf-8")
    light, dark = css.split("@media (prefers-color-scheme: dark)")
    keyword = re.compile(r"\.highlight \.k \{ color: (#\w+)")
    light_keyword, dark_keyword = keyword.findall(light), keyword.findall(dark)
    assert light_keyword and dark_keyword and light_keyword != dark_keyword
    assert 'href="assets/pygments.css"' in result.page("features.html")
