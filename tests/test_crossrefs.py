"""Numbered blocks, captions and references: the cases of fixtures/crossrefs.txt, each built
as a note and checked on its HTML and its diagnostics; and the counter layouts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
from conftest import BuildResult

from notes_render.build.pipeline import build_site
from notes_render.config import make_config
from notes_render.errors import ConfigError
from notes_render.site.check import check_site, note_sources, written_files

FIXTURE = Path(__file__).parent / "fixtures" / "crossrefs.txt"
KINDS = ("text", "absent", "count", "error")
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>\n'


@dataclass
class Case:
    title: str
    markdown: str
    expected: dict[str, list[str]] = field(default_factory=dict)


def load_cases() -> list[Case]:
    """`title / . / note / . / expected / .` blocks; an expected line of an unknown kind fails."""
    lines = FIXTURE.read_text(encoding="utf-8").split("\n")
    cases, index = [], 0
    while index < len(lines):
        if index + 1 < len(lines) and lines[index + 1] == "." and lines[index].strip():
            end_input = lines.index(".", index + 2)
            end_expected = lines.index(".", end_input + 1)
            case = Case(lines[index], "\n".join(lines[index + 2 : end_input]) + "\n")
            for number, line in enumerate(lines[end_input + 1 : end_expected], start=end_input + 2):
                kind, separator, value = line.partition(": ")
                if not separator or kind not in KINDS:
                    raise ValueError(f"{FIXTURE.name}:{number}: expected `kind: value`, kind one of {KINDS}")
                case.expected.setdefault(kind, []).append(value.replace("⏎", "\n"))
            cases.append(case)
            index = end_expected + 1
        else:
            index += 1
    return cases


CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_crossref_fixture(case: Case, build_notes: Callable[..., BuildResult]) -> None:
    result = build_notes({"note.md": case.markdown, "chain.svg": SVG}, "--strict")
    reported = [line.split("note.md:", 1)[1] for line in result.stderr.splitlines() if "note.md:" in line]
    errors = case.expected.get("error", [])
    assert reported == errors, result.stderr
    assert result.code == (1 if any(": warning: " not in e for e in errors) else 0), result.stderr
    page = result.page("note.html")
    for text in case.expected.get("text", []):
        assert text in page
    for text in case.expected.get("absent", []):
        assert text not in page
    for line in case.expected.get("count", []):
        number, _, text = line.partition(" ")
        assert page.count(text) == int(number), text


def test_fixture_file_has_cases() -> None:
    assert len(CASES) >= 15


NOTE = """::: {#lem-a}
A.
:::

::: {#thm-b}
B.
:::

::: {#cor-c}
C.
:::

::: {#alg-d}
1. D.
:::
"""


@pytest.mark.parametrize(
    ("setting", "numbers"),
    [
        ("", ["Lemma 1", "Theorem 1", "Corollary 1", "Algorithm 1"]),
        ('theorem-numbering = "per-kind"', ["Lemma 1", "Theorem 1", "Corollary 1", "Algorithm 1"]),
        ('theorem-numbering = "shared"', ["Lemma 1", "Theorem 2", "Corollary 3", "Algorithm 1"]),
    ],
)
def test_theorem_counters_follow_the_configuration(tmp_path: Path, setting: str, numbers: list[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.notes-render]\n{setting}\n", encoding="utf-8")
    src = tmp_path / "notes"
    src.mkdir()
    (src / "note.md").write_text(NOTE, encoding="utf-8")
    config = make_config(src=src, out=tmp_path / "site", project_dir=tmp_path, use_cache=False)
    report = build_site(config)
    assert report.errors == []
    page = (tmp_path / "site" / "note.html").read_text(encoding="utf-8")
    assert re.findall(r"<strong>(\w+ \d+)</strong>", page) == numbers


def test_an_unknown_counter_layout_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.notes-render]\ntheorem-numbering = "by-section"\n')
    (tmp_path / "notes").mkdir()
    with pytest.raises(ConfigError, match='theorem-numbering must be "per-kind" or "shared"'):
        make_config(src=tmp_path / "notes", out=tmp_path / "site", project_dir=tmp_path)


def test_a_reference_to_another_notes_label_shows_that_note_and_follows_its_numbers(tmp_path: Path) -> None:
    """`[](survey.md#lem-b)` shows "Survey, Lemma 2"; when the survey gains a lemma before it,
    the next build writes "Lemma 3" in the page that refers to it."""
    src = tmp_path / "notes"
    (src / "part").mkdir(parents=True)
    survey = src / "survey.md"
    survey.write_text("# Survey\n\n::: {#lem-a}\nA.\n:::\n\n::: {#lem-b}\nB.\n:::\n", encoding="utf-8")
    (src / "part" / "reader.md").write_text(
        "# Reader\n\nBy [](../survey.md#lem-b) and [](../survey.md#lem-gone).\n", encoding="utf-8"
    )
    config = make_config(src=src, out=tmp_path / "site", project_dir=tmp_path, cache_dir=tmp_path / "cache")
    page = tmp_path / "site" / "part" / "reader.html"

    assert build_site(config).errors == []
    found = check_site(config.out, written_files(config.out), note_sources(src))
    assert [d.message for d in found] == [
        "'../survey.md#lem-gone' points to a missing anchor: survey.html has no id 'lem-gone'"
    ]
    assert (found[0].position.line, found[0].position.column) == (3, 34)
    html = page.read_text(encoding="utf-8")
    assert '<a href="../survey.html#lem-b" class="xref xref-note">Survey, Lemma 2</a>' in html
    assert '<a href="../survey.html#lem-gone" class="xref xref-note">../survey.md#lem-gone</a>' in html

    survey.write_text("# Survey\n\n::: {#lem-0}\n0.\n:::\n\n" + survey.read_text(encoding="utf-8")[10:])
    report = build_site(config)
    assert PurePosixPath("survey.md") in report.built
    assert '<a href="../survey.html#lem-b" class="xref xref-note">Survey, Lemma 3</a>' in page.read_text(
        encoding="utf-8"
    )
