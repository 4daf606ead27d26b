"""The golden site, built now, is byte for byte the committed copy (see golden_site.py).

A failure means the build's output changed: if the change is meant, update the copy with
`python tests/golden_site.py --update` and commit the diff of tests/golden with the change.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from golden_site import EXPECTED, build, read_expected, snapshot, version_changes

UPDATE = "if the change is meant, run `python tests/golden_site.py --update` and commit tests/golden"


def _explain(problems: list[str]) -> str:
    versions = version_changes()
    cause = ["versions differ from the golden copy's:", *versions] if versions else []
    return "\n".join([*problems, *cause, UPDATE])


def _diff(rel: str, expected: bytes, actual: bytes) -> str:
    lines = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(),
        actual.decode("utf-8", "replace").splitlines(),
        f"golden/{rel}",
        f"built/{rel}",
        lineterm="",
        n=1,
    )
    return "\n".join(line[:300] for line, _ in zip(lines, range(40), strict=False))


def test_the_golden_notes_build_to_the_committed_site(tmp_path: Path) -> None:
    build(tmp_path / "site")
    made, copied = snapshot(tmp_path / "site")
    expected_made, expected_copied = read_expected()
    problems = []
    for rel in sorted(expected_made.keys() | expected_copied.keys()):
        if rel not in made and rel not in copied:
            problems.append(f"{rel}: in the golden copy, not built")
    for rel in sorted(made.keys() | copied.keys()):
        if rel not in expected_made and rel not in expected_copied:
            problems.append(f"{rel}: built, not in the golden copy")
    for rel in sorted(made.keys() & expected_made.keys()):
        if made[rel] != expected_made[rel]:
            problems.append(_diff(rel, expected_made[rel], made[rel]))
    for rel in sorted(copied.keys() & expected_copied.keys()):
        if copied[rel] != expected_copied[rel]:
            problems.append(f"{rel}: SHA-256 {copied[rel]}, the golden copy lists {expected_copied[rel]}")
    assert not problems, _explain(problems)


def test_the_golden_copy_holds_no_katex_file() -> None:
    """KaTeX's files, even the stylesheet the build changes, are listed by digest only."""
    made, copied = read_expected()
    assert not [rel for rel in made if rel.startswith("assets/katex/")]
    assert {"assets/katex/katex.min.css", "assets/katex/fonts/KaTeX_Main-Regular.woff2"} <= copied.keys()
    assert (EXPECTED / "topics" / "averages.html").is_file()
