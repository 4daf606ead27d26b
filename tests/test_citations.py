"""Citations from BibTeX: the cases of fixtures/citations/cases.txt, each built as a note of
one site (one per citation style), checked on the HTML and on the exact diagnostics; then
the rules that need a site of their own (no bibliography, configuration, the cache)."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FIXTURES, BuildResult

from notes_render.build.pipeline import BuildReport, build_site
from notes_render.config import make_config
from notes_render.markdown.citesyntax import is_cross_reference
from notes_render.markdown.parsing import markdown

CASES = FIXTURES / "citations" / "cases.txt"
EXPECTED_KINDS = ("style", "citation", "link", "entry", "entry-link", "text", "absent", "error")


@dataclass
class Case:
    number: int
    title: str
    markdown: str
    expected: dict[str, list[str]] = field(default_factory=dict)

    @property
    def style(self) -> str:
        return (self.expected.get("style") or ["author-year"])[0]

    @property
    def note(self) -> str:
        return f"case{self.number:02d}.md"


def load_cases() -> list[Case]:
    """`title / . / note / . / expected / .` blocks; a malformed block fails loudly."""
    lines = CASES.read_text(encoding="utf-8").split("\n")
    cases: list[Case] = []
    index = 0
    while index < len(lines):
        if index + 1 < len(lines) and lines[index + 1] == "." and lines[index].strip():
            end_input = lines.index(".", index + 2)
            end_expected = lines.index(".", end_input + 1)
            case = Case(len(cases) + 1, lines[index], "\n".join(lines[index + 2 : end_input]) + "\n")
            for line in lines[end_input + 1 : end_expected]:
                kind, separator, value = line.partition(": ")
                if not separator or kind not in EXPECTED_KINDS:
                    raise ValueError(f"{CASES.name}: {line!r} is not `kind: value` of {EXPECTED_KINDS}")
                case.expected.setdefault(kind, []).append(value)
            cases.append(case)
            index = end_expected + 1
        else:
            assert lines[index] != ".", f"{CASES.name}:{index + 1}: a `.` outside any case"
            index += 1
    return cases


ALL_CASES = load_cases()


class _Reader(HTMLParser):
    """The text of every citation, its links, and the bibliography's entries with their links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.citations: list[str] = []
        self.links: list[str] = []
        self.entries: list[str] = []
        self.entry_links: list[str] = []
        self._stack: list[tuple[str, set[str]]] = []
        self._citation: list[str] | None = None
        self._link: list[str] | None = None
        self._entry: list[str] | None = None
        self._math = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if tag == "span" and "citation" in classes and self._citation is None:
            self._citation = []
            self._stack.append(("citation", classes))
            return
        if tag == "li" and any("references" in c for _, c in self._stack[-1:]):
            self._entry = [str(values.get("id")), " "]
        if tag == "a" and self._citation is not None:
            self._link = [str(values.get("href")), " "]
        if tag == "a" and self._entry is not None:
            self.entry_links.append(f"{self._entry[0]} {values.get('href')}")
        if tag == "span" and "katex" in classes and not self._math:
            self._math = len(self._stack) + 1  # inside a formula: only its TeX annotation counts
        if tag not in ("br", "img", "hr", "input", "meta", "link"):
            self._stack.append((tag, classes))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            name, _ = self._stack.pop()
            if name == "citation" and tag == "span":
                assert self._citation is not None
                self.citations.append("".join(self._citation))
                self._citation = None
                break
            if name == tag:
                break
        if self._math and len(self._stack) < self._math:
            self._math = 0
        if tag == "a" and self._link is not None:
            self.links.append("".join(self._link))
            self._link = None
        if tag == "li" and self._entry is not None:
            self.entries.append("".join(self._entry).strip())
            self._entry = None

    def handle_data(self, data: str) -> None:
        if self._math:
            if not any(name == "annotation" for name, _ in self._stack):
                return
            data = f"${data}$"
        for target in (self._citation, self._link, self._entry):
            if target is not None:
                target.append(data)


def build(src: Path, out: Path, project: Path) -> BuildReport:
    """Build src into out in this process with project/pyproject.toml's settings."""
    return build_site(make_config(src=src, out=out, project_dir=project, use_cache=False))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[str]]]:
    """Every case as a note, in one site per style: {note: (page, diagnostic lines)}."""
    results: dict[str, tuple[Path, list[str]]] = {}
    for style in ("author-year", "numbered"):
        root = tmp_path_factory.mktemp(style)
        src = root / "src"
        src.mkdir()
        for name in ("references.bib", "broken.bib"):
            shutil.copy(FIXTURES / "citations" / name, src / name)
        (root / "pyproject.toml").write_text(f'[tool.notes-render]\ncitation-style = "{style}"\n')
        cases = [case for case in ALL_CASES if case.style == style]
        for case in cases:
            (src / case.note).write_text(case.markdown, encoding="utf-8")
        report = build(src, root / "out", root)
        for case in cases:
            lines = [
                f"{d.position}: {d.message}".replace(case.note, "case.md")
                for d in report.diagnostics
                if d.position.path.name == case.note
                or (d.position.path.suffix == ".bib" and "bibliography: broken.bib" in case.markdown)
            ]
            page = root / "out" / case.note.replace(".md", ".html")
            results[case.note] = (page, [re.sub(r"^.*?([\w-]+\.(?:md|bib):)", r"\1", x) for x in lines])
    return results


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.title for c in ALL_CASES])
def test_citation_case(case: Case, built: dict[str, tuple[Path, list[str]]]) -> None:
    page_path, errors = built[case.note]
    page = page_path.read_text(encoding="utf-8")
    article = page[page.index("<article") : page.index("</article>")]
    reader = _Reader()
    reader.feed(article)
    expected = case.expected
    assert errors == expected.get("error", [])
    assert reader.citations == expected.get("citation", [])
    if "link" in expected:
        assert reader.links == expected["link"]
    assert reader.entries == expected.get("entry", [])
    for entry_link in expected.get("entry-link", []):
        assert entry_link in reader.entry_links
    for text in expected.get("text", []):
        assert text.replace("⏎", "\n") in article
    for text in expected.get("absent", []):
        assert text not in article


def test_the_fixture_has_a_case_for_each_kind() -> None:
    kinds = {kind for case in ALL_CASES for kind in case.expected}
    assert kinds == set(EXPECTED_KINDS)


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("@ho2020 shows", ["ho2020"]),
        ("see @fig-loss and [@lem-gauss] and [@thm:main]", []),
        ("a@ho2020.org and [@ho2020](https://example.org)", ["ho2020"]),  # in the link's text
        ("@ho2020--draft and @a.b. and @{odd key} and @{odd-key!}", ["ho2020", "a.b", "odd-key!"]),
        ("[@ho2020; @sec-3]", ["ho2020"]),  # a group with a cross-reference is not a citation group
        ("`@ho2020` and $@x$", []),
        ("[@ho2020, p. 4; also @song2021]", ["ho2020", "song2021"]),
    ],
)
def test_what_is_a_citation(text: str, keys: list[str]) -> None:
    tokens = markdown().parse(text)
    found = [
        cite.key
        for token in tokens
        for child in token.children or ()
        if child.type == "citation"
        for cite in child.meta["items"]
    ]
    assert found == keys
    assert is_cross_reference("fig-x") and not is_cross_reference("figueroa2020")


def test_without_a_bibliography_in_text_names_stay_text(
    build_notes: Callable[..., BuildResult],
) -> None:
    result = build_notes({"a.md": "Follow @twiecki.\n\nAs shown [@ho2020] and \\cite{ho2020}.\n"})
    assert result.code == 0
    assert "Follow @twiecki." in result.page("a.html")
    lines = [line for line in result.stderr.splitlines() if "a.md:" in line]
    assert [line.split("src/")[-1] for line in lines] == [
        "a.md:3:11: citation but no bibliography: add references.bib to the source folder, or name one "
        'with bibliography = "…" in [tool.notes-render] or in the front matter'
    ]
    assert build_notes({"a.md": "As shown [@ho2020].\n"}, "--strict").code == 1


def test_the_configured_bibliography_and_bad_settings(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "refs").mkdir()
    shutil.copy(FIXTURES / "citations" / "references.bib", tmp_path / "refs" / "works.bib")
    (src / "a.md").write_text("As shown [@doe2019a].\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[tool.notes-render]\nbibliography = "refs/works.bib"\n')
    report = build(src, tmp_path / "out", tmp_path)
    assert report.errors == []
    assert '<a href="#ref-doe2019a">Doe 2019</a>' in (tmp_path / "out" / "a.html").read_text()
    from notes_render.errors import ConfigError

    for setting, message in [
        (
            'bibliography = "refs/none.bib"',
            f"pyproject.toml:2:1: bibliography: {tmp_path / 'refs/none.bib'} does not exist or is not a file",
        ),
        ('citation-style = "apa"', 'citation-style must be "author-year" or "numbered"'),
    ]:
        (tmp_path / "pyproject.toml").write_text(f"[tool.notes-render]\n{setting}\n")
        with pytest.raises(ConfigError, match=re.escape(message)):
            build(src, tmp_path / "out", tmp_path)


def test_editing_the_bib_rebuilds_the_notes_that_cite(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    bib = src / "references.bib"
    bib.write_text("@book{a, author = {Roe, Ann}, title = {First}, year = 2001}\n", encoding="utf-8")
    (src / "cites.md").write_text("As shown [@a].\n", encoding="utf-8")
    (src / "plain.md").write_text("No citation.\n", encoding="utf-8")
    config = make_config(src=src, out=tmp_path / "out", project_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert sorted(map(str, build_site(config).built)) == ["cites.md", "plain.md"]
    assert build_site(config).built == []
    bib.write_text("@book{a, author = {Roe, Ann}, title = {Second}, year = 2002}\n", encoding="utf-8")
    assert list(map(str, build_site(config).built)) == ["cites.md"]
    assert "“Second.”" in html.unescape((tmp_path / "out" / "cites.html").read_text())
    bib.unlink()
    report = build_site(config)
    assert list(map(str, report.built)) == ["cites.md"]
    assert [d.message.split(":")[0] for d in report.errors] == ["citation but no bibliography"]


def test_a_bib_that_is_not_utf8_or_is_a_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("As shown [@roe2001].\n", encoding="utf-8")
    (src / "references.bib").write_bytes(b"@book{roe2001,\n  author = {R\xf6e, Ann}, year = 2001}\n")
    report = build(src, tmp_path / "out", tmp_path)
    assert [
        f"{d.position.path.name}:{d.position.line}:{d.position.column}: {d.message}" for d in report.errors
    ] == [
        "a.md:1:11: unknown citation key 'roe2001' (not in references.bib)",
        "references.bib:2:14: not valid UTF-8 (byte 0xf6); save the .bib file as UTF-8",
    ]
    (src / "references.bib").unlink()
    (src / "references.bib").mkdir()
    assert [d.message.split(":")[0] for d in build(src, tmp_path / "out", tmp_path).errors] == [
        "citation but no bibliography"
    ]
