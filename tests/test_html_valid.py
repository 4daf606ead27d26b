"""The Nu HTML Checker (npm's vnu-jar, run with Java) accepts every page we build."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from conftest import FIXTURES, REPO, BuildResult
from test_crossrefs import CASES as CROSSREF_CASES
from test_crossrefs import SVG

VNU_JAR = REPO / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def nu_errors(*folders: Path) -> list[str]:
    """Every error the Nu checker reports for the HTML files under folders (warnings ignored)."""
    java = shutil.which("java")
    assert java, "java not found: .ci/run installs default-jre-headless"
    assert VNU_JAR.is_file(), "vnu.jar not found: run npm ci"
    done = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--skip-non-html", "--format", "json", *map(str, folders)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(done.stderr)["messages"]
    errors = [
        f"{m.get('url')}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m["type"] in ("error", "non-document-error")
    ]
    assert errors or done.returncode == 0, done.stderr
    return errors


def test_nu_checker_rejects_invalid_html(tmp_path: Path) -> None:
    (tmp_path / "bad.html").write_text("<!DOCTYPE html><title>x</title><p><div></span>", encoding="utf-8")
    assert any("span" in e for e in nu_errors(tmp_path))


def test_built_sites_are_valid_html(run_cli: Callable[..., BuildResult], tmp_path: Path) -> None:
    errors_src = tmp_path / "errors-src"
    errors_src.mkdir()
    shutil.copy(FIXTURES / "errors.md", errors_src / "errors.md")
    outs = []
    crossrefs_src = tmp_path / "crossrefs-src"
    crossrefs_src.mkdir()
    (crossrefs_src / "chain.svg").write_text(SVG, encoding="utf-8")
    for number, case in enumerate(CROSSREF_CASES):
        (crossrefs_src / f"case-{number}.md").write_text(case.markdown, encoding="utf-8")
    sources = {
        "notes": REPO / "notes",
        "basic": FIXTURES / "site-basic",
        "errors": errors_src,
        "habits": FIXTURES / "math-preamble" / "notes",  # failed formulas inside a sentence
        "citations": FIXTURES / "citations",  # showcase.md: every form of citation, a bibliography
        "crossrefs": crossrefs_src,
    }
    for name, src in sources.items():
        out = tmp_path / name
        result = run_cli("--src", src, "--out", out, out=out)
        assert result.code == 0, result.stderr
        outs.append(out)
    assert nu_errors(*outs) == []
