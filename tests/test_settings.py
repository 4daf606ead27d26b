"""Settings in pyproject.toml: an unknown key is an error at its line, naming the nearest known one."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_math_syntax import Case, load_cases

from notes_render import cli

CASES = load_cases("settings.txt")


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_unknown_key_is_reported_at_its_line(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(case.markdown, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["--src", "notes", "--out", "out", "--no-cache"])
    expected = [f"notes-render: error: {tmp_path}/{line}" for line in case.expected["error"]]
    assert (code, capsys.readouterr().err.splitlines()) == (2, expected)
    assert not (tmp_path / "out").exists()


def test_every_known_setting_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("# A\n\n$\\R + \\x$\n", encoding="utf-8")
    (tmp_path / "p.sty").write_text("\\def\\x{1}\n", encoding="utf-8")
    templates = (Path(cli.__file__).parent.parent / "templates").as_posix()
    settings = (
        f'[tool.notes-render]\nsite-title = "S"\ntemplates = "{templates}"\ndialect = "pandoc"\n'
        '[tool.notes-render.katex]\ntrust-links = false\npreamble = "p.sty"\n'
        '[tool.notes-render.katex.macros]\n"\\\\R" = "\\\\mathbb{R}"\n'
    )
    (tmp_path / "pyproject.toml").write_text(settings, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--src", "notes", "--out", "out", "--no-cache", "--strict"]) == 0, (
        capsys.readouterr().err
    )
