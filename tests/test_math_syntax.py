"""Math reaches KaTeX verbatim: one case per rule, from tests/fixtures/math_syntax.txt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from conftest import FIXTURES, BuildResult, formulas


@dataclass
class Case:
    title: str
    markdown: str
    formulas: list[tuple[str, str]]
    texts: list[str]


def load_cases(name: str) -> list[Case]:
    """Parse `title / . / input / . / expected / .` blocks."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").split("\n")
    cases = []
    index = 0
    while index < len(lines):
        if index + 1 < len(lines) and lines[index + 1] == "." and lines[index].strip():
            title = lines[index]
            end_input = lines.index(".", index + 2)
            end_expected = lines.index(".", end_input + 1)
            markdown = "\n".join(lines[index + 2 : end_input]) + "\n"
            expected, texts = [], []
            for line in lines[end_input + 1 : end_expected]:
                kind, _, value = line.partition(": ")
                if kind == "text":
                    texts.append(value)
                else:
                    expected.append((kind, value.replace("\\n", "\n")))
            cases.append(Case(title, markdown, expected, texts))
            index = end_expected + 1
        else:
            index += 1
    return cases


CASES = load_cases("math_syntax.txt")


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_math_syntax(case: Case, build_notes: Callable[..., BuildResult]) -> None:
    result = build_notes({"note.md": case.markdown}, "--strict")
    assert result.code == 0, result.stderr
    page = result.page("note.html")
    assert formulas(page) == case.formulas
    for text in case.texts:
        assert text in page


def test_fixture_file_has_cases() -> None:
    assert len(CASES) >= 15
