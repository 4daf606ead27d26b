"""The golden site: tests/golden/notes built, and kept byte for byte in tests/golden/expected/.

Pelican's tests/output/basic/ is the model: a small site of our own whose built output is
committed, so any change of output shows as a diff. Pages and the files the build generates
(pygments.css, the manifest) are kept whole; KaTeX's files (its fonts and script, copied,
and its stylesheet, changed by one rule) and the files copied from the project (the
templates' assets, a note's image) are listed by name and SHA-256 in tests/golden/copied.txt
instead: they are someone else's bytes or already in the repository.

    python tests/golden_site.py --update

builds the notes again and rewrites the copy and the list: run it when a change of output is
meant, then read `git diff tests/golden` before committing. test_golden_site.py compares.

Why it is stable: the notes are built from tests/golden/ (its pyproject.toml, no cache) into a
fresh folder; pages hold only paths relative to the site, no date but the notes' own and no
build time. What else shapes the bytes is pinned: KaTeX exactly (package-lock.json, its
version is in every page's footer), the Python libraries by their ranges in pyproject.toml.
A release of one of those that changes the output fails the test; tests/golden/made-with.txt
records the versions the copy was made with, and the failure names any that differ.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
EXPECTED = GOLDEN / "expected"
COPIED = GOLDEN / "copied.txt"
MADE_WITH = GOLDEN / "made-with.txt"

LIBRARIES = ("markdown-it-py", "mdit-py-plugins", "Jinja2", "Pygments", "pybtex", "PyYAML")
"""The Python libraries whose output is in the pages."""


@contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def build(out: Path) -> None:
    """Build the golden notes into out as a user would, from tests/golden/, without a cache."""
    from notes_render import cli

    with _in_folder(GOLDEN):
        code = cli.main(["--src", "notes", "--out", str(out), "--no-cache", "--strict"])
    if code != 0:
        raise RuntimeError(f"the golden notes did not build (exit {code}); see the messages above")


KATEX_PREFIX = "assets/katex/"
"""Where the site keeps KaTeX's files: copied, or (katex.min.css) changed by one rule; never
committed, whatever the build does to them."""


def copied_from(rel: str) -> Path | None:
    """The project's file that the site's file rel is copied from (a note's file or one of
    the templates' assets), or None."""
    from notes_render.config import PACKAGE_ROOT

    folder, name = (PACKAGE_ROOT / "templates", rel) if rel.startswith("assets/") else (GOLDEN / "notes", rel)
    source = folder / name
    return source if source.is_file() else None


def listed_by_digest(rel: str, data: bytes) -> bool:
    """Whether the site's file is someone else's bytes: KaTeX's, or a copy of a project file."""
    if rel.startswith(KATEX_PREFIX):
        return True
    source = copied_from(rel)
    return source is not None and source.read_bytes() == data


def snapshot(site: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """The site's files: those it made, by name with their bytes, and those it copied, by
    name with their SHA-256."""
    made: dict[str, bytes] = {}
    copied: dict[str, str] = {}
    for path in sorted(site.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(site).as_posix()
        data = path.read_bytes()
        if listed_by_digest(rel, data):
            copied[rel] = hashlib.sha256(data).hexdigest()
        else:
            made[rel] = data
    return made, copied


def read_expected() -> tuple[dict[str, bytes], dict[str, str]]:
    """The committed copy, in the form snapshot gives."""
    made = {
        path.relative_to(EXPECTED).as_posix(): path.read_bytes()
        for path in sorted(EXPECTED.rglob("*"))
        if path.is_file()
    }
    copied = {}
    for line in COPIED.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            digest, rel = line.split("  ", 1)
            copied[rel] = digest
    return made, copied


def made_with() -> str:
    """The versions of what shapes the output, one per line."""
    from notes_render.typeset.katex import find_katex, katex_version

    lines = [f"KaTeX {katex_version(find_katex(None))}"]
    lines += [f"{name} {metadata.version(name)}" for name in LIBRARIES]
    return "\n".join(lines) + "\n"


def version_changes() -> list[str]:
    """Each version installed now that differs from the one the copy was made with."""
    recorded = MADE_WITH.read_text(encoding="utf-8").splitlines() if MADE_WITH.exists() else []
    return [
        f"{now} is installed; the golden copy was made with {then}"
        for now, then in zip(made_with().splitlines(), recorded, strict=False)
        if now != then
    ]


def update() -> None:
    """Build the golden notes and write what they gave as the committed copy."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "site"
        build(out)
        made, copied = snapshot(out)
    for path in sorted(EXPECTED.rglob("*"), reverse=True):
        if path.is_file():
            path.unlink()
        elif path.is_dir():
            path.rmdir()
    for rel, data in made.items():
        (EXPECTED / rel).parent.mkdir(parents=True, exist_ok=True)
        (EXPECTED / rel).write_bytes(data)
    header = "# Files the golden build copies, by SHA-256 (written by tests/golden_site.py --update).\n"
    COPIED.write_text(header + "".join(f"{d}  {rel}\n" for rel, d in copied.items()), encoding="utf-8")
    MADE_WITH.write_text(made_with(), encoding="utf-8", newline="\n")
    print(f"wrote {len(made)} files to {EXPECTED} and {len(copied)} digests to {COPIED}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/golden_site.py --update")
    update()
