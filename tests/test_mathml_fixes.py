"""KaTeX's MathML made valid HTML by the engine's glue (typeset/katex.py, validMathml): a
tagged row padded with `<mtd width="…">`, a relation built with \\overset wrapped in `<mo>`.
The glue looks for both with one scan (RARE) before fixing: each case must be found."""

from __future__ import annotations

import re

import pytest

from notes_render.typeset.katex import MathRequest, MiniRacerEngine

MO_AROUND_ELEMENT = re.compile(r"<mo\b[^>]*>\s*<m")
"""An <mo> holding an element: not allowed, only text may be in it."""


@pytest.mark.parametrize(
    "tex",
    [
        r"a \overset{\text{def}}{=} b",
        r"x \stackrel{?}{=} y",
        r"\sum_i x_i \underset{n \to \infty}{\longrightarrow} 0",
    ],
)
def test_a_relation_built_over_another_loses_its_mo_wrapper(katex_engine: MiniRacerEngine, tex: str) -> None:
    result = katex_engine.render_batch([MathRequest(tex, False)], {})[0]
    assert result.html is not None and result.error is None
    mathml = result.html.decode("utf-8").split('<span class="katex-html"')[0]
    assert re.search(r"<m(?:over|under)>", mathml)  # the construction itself stays
    assert not MO_AROUND_ELEMENT.search(mathml)
    assert len(re.findall(r"<mo[\s>]", mathml)) == mathml.count("</mo>")  # whole elements dropped


def test_a_tagged_display_has_no_cell_widths(katex_engine: MiniRacerEngine) -> None:
    result = katex_engine.render_batch([MathRequest(r"x = 1 \tag{3}", True)], {})[0]
    assert result.html is not None and result.error is None
    html = result.html.decode("utf-8")
    assert "<mtd>" in html and "(3)" in html
    assert "<mtd width" not in html
