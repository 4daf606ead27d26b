"""The code keeps to its own rules: ruff's lint and format, and mypy --strict on the package."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

CHECKED = ["notes_render", "tests", "bench", "scripts", "build.py"]


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", *CHECKED],
        [sys.executable, "-m", "ruff", "format", "--check", *CHECKED],
        [sys.executable, "-m", "mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_passes(command: list[str]) -> None:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
