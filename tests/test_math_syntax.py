"""Math fidelity, one case per rule, from tests/fixtures/*.txt fixture files.

Each case is built as a note and checked on the real page: the TeX in KaTeX's annotation,
equation tags, anchors, equation links, literal text, and every diagnostic printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from conftest import FIXTURES, BuildResult, formulas, read_page

FIXTURE_FILES = (
    "math_syntax.txt",
    "references.txt",
    "math_errors.txt",
    "mathjax_habits.txt",
    "math_dialects.txt",
)


@dataclass
class Case:
    title: str
    markdown: str
    formulas: list[tuple[str, str]] = field(default_factory=list)
    expected: dict[str, list[str]] = field(default_factory=dict)
    """`text`, `absent`, `tag`, `anchor`, `link`, `error`, `dialect` lines, by kind."""


EXPECTED_KINDS = ("inline", "display", "text", "absent", "tag", "anchor", "link", "error", "dialect")
"""What an expected line may check; any other `kind: value` is a typo that would check nothing."""


def load_cases(name: str) -> list[Case]:
    """Parse `title / . / input / . / expected / .` blocks.

    A malformed case fails loudly instead of being skipped: every `.` line must belong to
    a case, and every expected line must be `kind: value` with a known kind.
    """
    lines = (FIXTURES / name).read_text(encoding="utf-8").split("\n")
    cases = []
    index = 0
    used_dots: set[int] = set()
    while index < len(lines):
        if index + 1 < len(lines) and lines[index + 1] == "." and lines[index].strip():
            end_input = lines.index(".", index + 2)
            end_expected = lines.index(".", end_input + 1)
            used_dots |= {index + 1, end_input, end_expected}
            case = Case(lines[index], "\n".join(lines[index + 2 : end_input]) + "\n")
            for number, line in enumerate(lines[end_input + 1 : end_expected], start=end_input + 2):
                kind, separator, value = line.partition(": ")
                if not separator or kind not in EXPECTED_KINDS:
                    raise ValueError(
                        f"{name}:{number}: expected `kind: value` with a kind of {EXPECTED_KINDS}"
                    )
                if kind in ("inline", "display"):
                    case.formulas.append((kind, value.replace("⏎", "\n")))
                elif kind in ("text", "absent"):
                    case.expected.setdefault(kind, []).append(value.replace("⏎", "\n"))
                else:
                    case.expected.setdefault(kind, []).append(value)
            cases.append(case)
            index = end_expected + 1
        else:
            index += 1
    stray = [number + 1 for number, line in enumerate(lines) if line == "." and number not in used_dots]
    if stray:
        raise ValueError(f"{name}: `.` lines outside any case (a malformed case?) on lines {stray}")
    return cases


CASES = [case for name in FIXTURE_FILES for case in load_cases(name)]


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_math_fixture(case: Case, build_notes: Callable[..., BuildResult]) -> None:
    errors = case.expected.get("error", [])
    dialect = [f"--dialect={name}" for name in case.expected.get("dialect", [])]
    result = build_notes({"note.md": case.markdown}, "--strict", *dialect)
    reported = [line.split("note.md:", 1)[1] for line in result.stderr.splitlines() if "note.md:" in line]
    assert reported == errors, result.stderr
    assert result.code == (1 if any(": warning: " not in e for e in errors) else 0), result.stderr
    page = result.page("note.html")
    assert formulas(page) == case.formulas
    for text in case.expected.get("text", []):
        assert text in page
    for text in case.expected.get("absent", []):
        assert text not in page
    reader = read_page(page)
    if "tag" in case.expected:
        assert reader.tags == ["" if tag == "none" else tag for tag in case.expected["tag"]]
    if "anchor" in case.expected:
        assert reader.anchors == case.expected["anchor"]
    if "link" in case.expected:
        assert reader.links == case.expected["link"]


def test_fixture_files_have_cases() -> None:
    for name in FIXTURE_FILES:
        assert len(load_cases(name)) >= 8, name
