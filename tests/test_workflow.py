"""The Pages workflow: valid for actionlint, pinned, and running exactly the README's commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "pages.yml"


def _readme_command(marker: str) -> str:
    """The command in the fenced block right after `<!-- marker -->`, as .ci/run reads it."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").split("\n")
    index = lines.index(f"<!-- {marker} -->")
    assert lines[index + 1].startswith("```"), f"no code block after <!-- {marker} -->"
    return lines[index + 2]


def _workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _tool(name: str) -> str:
    """A linter installed by the test extras, next to this Python or on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    assert found, f"{name} not found: install the test extras (pip install -e '.[test]')"
    return found


def test_actionlint_finds_nothing() -> None:
    # shellcheck beside actionlint makes it check the shell in every `run:` step too.
    env = {**os.environ, "PATH": f"{Path(_tool('shellcheck')).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [_tool("actionlint"), "-no-color", str(WORKFLOW)], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_actionlint_is_not_blind(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "x.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.no_such_thing }}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [_tool("actionlint"), "-no-color", str(broken)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1 and "no_such_thing" in done.stdout


def test_ci_script_passes_shellcheck() -> None:
    done = subprocess.run([_tool("shellcheck"), ".ci/run"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_tests_run_through_ci_script_and_build_is_the_readme_command_with_strict() -> None:
    jobs = _workflow()["jobs"]
    assert [step.get("run") for step in jobs["test"]["steps"]][-1] == "bash .ci/run"
    assert jobs["build"]["needs"] == "test"
    steps = jobs["build"]["steps"]
    runs = [step.get("run") for step in steps]
    build = _readme_command("build-command") + " --strict"
    assert build in runs
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@")]
    assert len(upload) == 1 and upload[0]["with"]["path"] == "site"
    assert steps.index(upload[0]) > runs.index(build)
    # .ci/run runs the README's test command, which installs Python and npm packages itself.
    assert "test-command" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _readme_command("test-command")
    assert "pip install -e '.[test]'" in test_command and "npm ci" in test_command


def test_tests_run_on_ubuntu_macos_and_windows_and_ubuntu_gates_the_build() -> None:
    test = _workflow()["jobs"]["test"]
    assert test["strategy"]["matrix"]["os"] == ["ubuntu-24.04", "macos-latest", "windows-latest"]
    assert test["runs-on"] == "${{ matrix.os }}"
    assert test["continue-on-error"] == "${{ matrix.os != 'ubuntu-24.04' }}"
    assert test["steps"][-1]["shell"] == "bash"  # Git Bash on Windows
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "on Ubuntu, macOS and Windows, then builds on Ubuntu" in readme


def test_the_windows_test_command_is_the_test_command_in_windows_layout() -> None:
    # A venv keeps its programs in Scripts/ on Windows, where Python is `python`.
    windows = _readme_command("test-command-windows")
    expected = _readme_command("test-command").replace(".venv/bin/", ".venv/Scripts/")
    assert windows == expected.replace("python3 -m venv", "python -m venv")
    assert "test-command-windows" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_setup_steps_cache_pip_and_npm() -> None:
    for job in ("test", "build"):
        steps = _workflow()["jobs"][job]["steps"]
        by_action = {str(s["uses"]).split("@")[0]: s for s in steps if "uses" in s}
        assert by_action["actions/setup-python"]["with"]["cache"] == "pip"
        assert by_action["actions/setup-node"]["with"]["cache"] == "npm"


def test_deploys_only_on_push_to_main_with_pages_permissions() -> None:
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert "pull_request" in triggers
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert workflow["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(.*)$", WORKFLOW.read_text(encoding="utf-8"), re.M)
    assert len(uses) == 8
    for use in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", use), use
