"""Equation numbers as a reader sees them: at the right of their line, each anchor on it."""

from __future__ import annotations

from collections.abc import Callable

from conftest import FIXTURES, BuildResult, launch_chromium

# For each numbered display: does it scroll, and where are its tags and its formula lines?
# A line of a KaTeX vlist is a strut (3em tall) then its content: measure the content.
_LAYOUT = """() => [...document.querySelectorAll('article .math-display:not(.xref-preview *)')].map(box => {
  const middle = e => {
    const r = (e.lastElementChild || e).getBoundingClientRect();
    return (r.top + r.bottom) / 2;
  };
  const lineTags = [...box.querySelectorAll('.katex-tag .vlist > span')].filter(e => e.textContent.trim());
  const tags = lineTags.length ? lineTags : [...box.querySelectorAll('.katex-tag')];
  const rows = [...box.querySelectorAll('.katex-html .mtable .col-align-r .vlist > span,'
    + '.katex-html .mtable .col-align-c .vlist > span')].filter(e => e.textContent.trim());
  const base = box.querySelector('.katex-html > .math-lines').getBoundingClientRect();
  return {
    scrolls: box.scrollWidth > box.clientWidth,
    formulaRight: base.right,
    tags: tags.map(t => ({
      text: t.textContent.trim(), left: t.getBoundingClientRect().left, middle: middle(t),
    })),
    rows: rows.map(middle),
  };
})"""


def test_numbers_sit_right_of_their_lines_and_links_land_on_them(
    build_notes: Callable[..., BuildResult],
) -> None:
    result = build_notes({"numbered.md": (FIXTURES / "numbered.md").read_bytes()}, "--strict", "--no-cache")
    assert result.code == 0, result.stderr
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((result.out / "numbered.html").as_uri())
        page.evaluate("document.fonts.ready.then(() => true)")
        align, multline, custom = page.evaluate(_LAYOUT)
        for display in (align, multline, custom):
            assert not display["scrolls"]
            assert all(tag["left"] >= display["formulaRight"] for tag in display["tags"])
        # align: (1) on the first line, (2) on the third, none on the second
        assert [tag["text"] for tag in align["tags"]] == ["(1)", "(2)"]
        first, _, third = align["rows"]
        assert abs(align["tags"][0]["middle"] - first) < 2 and abs(align["tags"][1]["middle"] - third) < 2
        # multline: one number, on its last line
        assert [tag["text"] for tag in multline["tags"]] == ["(3)"]
        assert abs(multline["tags"][0]["middle"] - multline["rows"][-1]) < 2
        assert [tag["text"] for tag in custom["tags"]] == ["(A.1)"]
        # each anchor of the align is on its own line's number
        for label, row in (("eq:first", first), ("eq:third", third)):
            box = page.locator(f"[id='{label}']").bounding_box()
            assert box is not None and abs(box["y"] + box["height"] / 2 - row) < 2
        page.close()
