"""The preamble file: TeX definitions in effect in every note, errors at the preamble's lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, formulas
from test_cache import SpyEngine
from test_math_config import build_project, problems

from notes_render import cli
from notes_render.build.pipeline import build_site
from notes_render.config import make_config


def test_preamble_definitions_hold_in_every_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = build_project("math-preamble", tmp_path, capsys, monkeypatch)
    page = result.page("habits.html")
    assert [tex for _, tex in formulas(page)][:7] == [
        "\\vect{x} \\in \\R", "\\pair{a}{b}", "\\abs{y}", "\\tr A", "\\KL{p}{q}", "\\first{u}{v}", "\\E",
    ]  # fmt: skip
    for mathml in (
        '<mi mathvariant="bold">x</mi><mo>∈</mo><mi mathvariant="script">R</mi>',  # \renewcommand{\R}
        '<mo stretchy="false">(</mo><mi>a</mi><mo separator="true">,</mo><mi>b</mi>',  # two arguments
        '<mi mathvariant="normal">tr</mi><mo>⁡</mo><mi>A</mi>',  # \DeclareMathOperator
        '<msub><mi>D</mi><mrow><mi mathvariant="normal">K</mi><mi mathvariant="normal">L</mi>',  # {KL}
        '<munder><mrow><mi mathvariant="normal">arg',  # \DeclareMathOperator*: limits below
        '<mi mathvariant="double-struck">E</mi>',  # pyproject.toml's macros still hold
    ):
        assert mathml in page
    # \first declares two arguments and uses one: it takes both, shows the first.
    assert "<mi>u</mi></mrow><annotation" in page and "<mi>v</mi></mrow><annotation" not in page
    assert problems(result) == [
        "notes/habits.md:13:7: Undefined control sequence: \\nosuch",
        "notes/habits.md:16:59: Unexpected end of input in a macro argument, expected '}'",
        "notes/habits.md:16:68: Undefined control sequence: \\undefined",
    ]


PREAMBLE_ERRORS = [
    (
        "\\newcommand{\\a}{x}\n\n  \\frac{a}{b}\n",
        "3:3: a preamble holds only \\newcommand, \\renewcommand, \\providecommand, \\def, \\gdef and "
        "\\DeclareMathOperator definitions",
    ),
    (
        "% defaults\n\\newcommand{\\x}[2][0]{#1 + #2}\n",
        "2:19: \\newcommand{\\x}: KaTeX has no optional arguments; make it a required one",
    ),
    ("\\def\\x#1.{#1}\n", "1:9: \\def{\\x}: KaTeX's macros take only #1…#9 parameters before the {body}"),
    ("\\newcommand{\\x}\n{a + b\n", "2:1: \\newcommand{\\x}: its {body} is never closed"),
    ("\\DeclareMathOperator{}{x}\n", "1:21: \\DeclareMathOperator needs a macro name, such as {\\R}"),
]


@pytest.mark.parametrize(("preamble", "expected"), PREAMBLE_ERRORS)
def test_a_preamble_error_is_reported_at_its_own_line(
    preamble: str,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "math-preamble", project)
    (project / "tex" / "preamble.sty").write_text(preamble, encoding="utf-8")
    monkeypatch.chdir(project)
    code = cli.main(["--src", "notes", "--out", "out", "--no-cache"])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [f"notes-render: error: tex/preamble.sty:{expected}"]
    assert not (project / "out").exists()


def test_editing_the_preamble_typesets_again_only_what_uses_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "notes").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.notes-render.katex]\npreamble = "p.sty"\n', encoding="utf-8"
    )
    (project / "notes" / "a.md").write_text("# A\n\n$\\vect{x}$, $\\abs{y}$ and $z$.\n", encoding="utf-8")
    preamble = project / "p.sty"
    seen: list[str] = []

    def build() -> list[str]:
        seen.clear()
        config = make_config(
            src=project / "notes", out=tmp_path / "out", project_dir=project, cache_dir=tmp_path / "c"
        )
        build_site(config, lambda dist, config: SpyEngine(dist, config, seen))
        return sorted(seen)

    preamble.write_text("\\newcommand{\\vect}[1]{\\mathbf{#1}}\n\\def\\abs#1{|#1|}\n", encoding="utf-8")
    assert build() == ["\\abs{y}", "\\vect{x}", "z"]
    preamble.write_text("% a comment changes no definition\n" + preamble.read_text(encoding="utf-8"))
    assert build() == []
    preamble.write_text("\\newcommand{\\vect}[1]{\\vec{#1}}\n\\def\\abs#1{|#1|}\n", encoding="utf-8")
    assert build() == ["\\vect{x}"]
    assert "<mo>⃗</mo>" in (tmp_path / "out" / "a.html").read_text(encoding="utf-8")


def test_a_missing_preamble_is_reported_at_its_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "math-preamble", project)
    (project / "tex" / "preamble.sty").unlink()
    monkeypatch.chdir(project)
    assert cli.main(["--src", "notes", "--out", "out", "--no-cache"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"notes-render: error: {project}/pyproject.toml:5:1: katex.preamble: "
        f"{project}/tex/preamble.sty does not exist or is not a file"
    ]


@pytest.mark.parametrize(
    ("tex", "lexemes"),
    [
        ("a_{b}", [("{", 2), ("}", 4)]),
        ("\\frac12 & \\\\ x", [("\\frac", 0), ("&", 8), ("\\\\", 10)]),
        ("\\% 50%\\alpha {\n\\beta}", [("\\%", 0), ("\\beta", 15), ("}", 20)]),
        ("% all comment \\x {\n}", [("}", 19)]),
        ("\\\n\\é\\", [("\\\n", 0), ("\\é", 2), ("\\", 4)]),
        ("", []),
    ],
    ids=["braces", "commands", "comments", "comment-line", "odd-ends", "empty"],
)
def test_lex_finds_commands_braces_and_tabs_outside_comments(
    tex: str, lexemes: list[tuple[str, int]]
) -> None:
    from notes_render.typeset.texdefs import lex

    assert [(lexeme.name, lexeme.start, lexeme.end) for lexeme in lex(tex)] == [
        (name, start, start + len(name)) for name, start in lexemes
    ]
