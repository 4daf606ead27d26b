"""What a build reads and how it places what it finds: nothing dropped by deep nesting,
nothing read from outside the notes folder, positions in linear time, and every URL it
writes percent-encoded."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from conftest import BuildResult, formulas

from notes_render.markdown import parsing
from notes_render.passes import math
from notes_render.sources import NoteSource
from notes_render.typeset import katex
from notes_render.typeset.katex import MathRequest, MiniRacerEngine


def _deep_list(depth: int) -> str:
    return "".join("  " * level + f"- level {level + 1} $x_{{{level + 1}}}$\n" for level in range(depth))


@pytest.mark.parametrize(
    "body",
    [_deep_list(10), "> " * 20 + "quoted $q$\n"],
    ids=["list-10-deep", "quote-20-deep"],
)
def test_deep_nesting_keeps_every_block_after_it(body: str, build_notes: Callable[..., BuildResult]) -> None:
    result = build_notes({"deep.md": f"# One\n\n{body}\nAfter. $y$\n\n## Two\n\n$$z$$\n"}, "--strict")
    assert result.code == 0, result.stderr
    page = result.page("deep.html")
    assert "<p>After. " in page and '<h2 id="two">Two' in page
    tex = [t for _, t in formulas(page)]
    assert tex[-2:] == ["y", "z"]
    if body.startswith("-"):
        assert tex[:10] == [f"x_{{{n}}}" for n in range(1, 11)]
        assert page.count("<li>level ") == 10
    else:
        assert tex[0] == "q" and page.count("<blockquote>") == 20


def test_nesting_beyond_the_limit_is_an_error_at_its_line_and_the_rest_is_kept(
    build_notes: Callable[..., BuildResult],
) -> None:
    depth = parsing.MAX_NESTING + 5  # quotes: one level each
    deep = "> " * depth + "deepest $d$\n"
    result = build_notes({"deep.md": f"# One\n\n{deep}\nAfter. $y$\n\n## Two\n"}, "--strict")
    assert result.code == 1
    column = 2 * parsing.MAX_NESTING + 1
    assert f"deep.md:3:{column}: nested too deeply (quotes and lists over {parsing.MAX_NESTING} levels" in (
        result.stderr
    )
    page = result.page("deep.html")
    assert page.count("<blockquote>") == parsing.MAX_NESTING
    assert "&gt; " * 5 + "deepest" in page  # the markers beyond the limit, as text
    assert [t for _, t in formulas(page)] == ["d", "y"]
    assert '<h2 id="two">Two' in page


# --- containment ----------------------------------------------------------------------

symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")


@symlinks
def test_symlinks_out_of_the_notes_and_hidden_files_are_refused_and_never_published(
    tmp_path: Path, run_cli: Callable[..., BuildResult]
) -> None:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "id_rsa").write_text("SECRET KEY\n", encoding="utf-8")
    (outside / "dir" / "f.txt").write_text("SECRET DIR\n", encoding="utf-8")
    (outside / "passwd.md").write_text("# SECRET NOTE\n", encoding="utf-8")
    src = tmp_path / "src"
    (src / ".config").mkdir(parents=True)
    (src / ".env").write_text("SECRET=env\n", encoding="utf-8")
    (src / ".config" / "x.txt").write_text("SECRET CONFIG\n", encoding="utf-8")
    (src / "ok.txt").write_text("fine\n", encoding="utf-8")
    os.symlink(outside / "id_rsa", src / "key.txt")
    os.symlink(outside / "dir", src / "etc", target_is_directory=True)
    os.symlink(outside / "passwd.md", src / "passwd.md")
    os.symlink(src / "ok.txt", src / "alias.txt")  # inside: allowed
    line = "[k](key.txt) [e](etc/f.txt) [v](.env) [c](.config/x.txt) [p](passwd.md) [ok](alias.txt)"
    (src / "a.md").write_text(f"# A\n\n{line}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("--src", src, "--out", out, "--strict", out=out)
    assert result.code == 1
    outside_message = "leads outside the source folder (a symbolic link to {}); it is never read or published"
    hidden_message = (
        "is hidden (a name on its way starts with a dot); hidden files are never read or published"
    )
    problems = [
        ("key.txt", outside_message.format(outside / "id_rsa")),
        ("etc/f.txt", outside_message.format(outside / "dir" / "f.txt")),
        (".env", hidden_message),
        (".config/x.txt", hidden_message),
        ("passwd.md", outside_message.format(outside / "passwd.md")),
    ]
    expected = [f"{src}/a.md:3:{line.index(f'({url})') + 2}: '{url}' {message}" for url, message in problems]
    expected.append(f"{src}/passwd.md: this note " + outside_message.format(outside / "passwd.md"))
    reported = [line for line in result.stderr.splitlines() if line.startswith(str(src))]
    assert reported == expected
    published = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and "assets" not in p.parts
    )
    assert published == [
        ".notes-render-manifest.json",
        ".notes-render.lock",
        "a.html",
        "alias.txt",
        "index.html",
    ]
    assert not any(b"SECRET" in p.read_bytes() for p in out.rglob("*") if p.is_file())


@symlinks
@pytest.mark.parametrize(
    ("before", "after"),
    [("file", "link-out"), ("link-out", "file"), ("folder", "link-out"), ("file", "link-hidden")],
)
def test_a_linked_path_that_becomes_a_way_out_or_stops_being_one_is_noticed(
    before: str, after: str, tmp_path: Path, run_cli: Callable[..., BuildResult]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET\n", encoding="utf-8")
    src, cache = tmp_path / "src", tmp_path / "cache"
    (src / ".hidden").mkdir(parents=True)
    (src / ".hidden" / "x.txt").write_text("SECRET HIDDEN\n", encoding="utf-8")
    (src / "a.md").write_text("# A\n\nSee [the data](data).\n", encoding="utf-8")

    def shape(kind: str) -> None:
        data = src / "data"
        if data.is_symlink() or data.is_file():
            data.unlink()
        elif data.is_dir():
            shutil.rmtree(data)
        if kind == "file":
            data.write_text("mine\n", encoding="utf-8")
        elif kind == "folder":
            (data / "index.html").parent.mkdir()
            (data / "index.html").write_text("<p>mine</p>\n", encoding="utf-8")
        elif kind == "link-out":
            os.symlink(outside / "secret.txt", data)
        else:
            os.symlink(src / ".hidden" / "x.txt", data)

    def build(out: str, *args: str) -> BuildResult:
        return run_cli("--src", src, "--out", tmp_path / out, *args, out=tmp_path / out)

    shape(before)
    assert build("site", "--cache-dir", str(cache)).code == 0
    shape(after)
    cached = build("site", "--cache-dir", str(cache))
    fresh = build("fresh", "--no-cache")
    assert (cached.code, cached.stderr.splitlines()[:-1]) == (fresh.code, fresh.stderr.splitlines()[:-1])
    assert fresh.code == 0
    assert ("a.md:3:" in fresh.stderr) is (after != "file")  # refused at the link, not at the file
    site = {p.relative_to(tmp_path / "site") for p in (tmp_path / "site").rglob("*") if p.is_file()}
    assert site == {p.relative_to(tmp_path / "fresh") for p in (tmp_path / "fresh").rglob("*") if p.is_file()}
    assert not any(b"SECRET" in p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file())


@symlinks
def test_a_note_moved_out_and_linked_back_is_refused_by_a_cached_build_too(
    tmp_path: Path, run_cli: Callable[..., BuildResult]
) -> None:
    src, cache, outside = tmp_path / "src", tmp_path / "cache", tmp_path / "outside"
    src.mkdir()
    outside.mkdir()
    (src / "a.md").write_text("# A\n", encoding="utf-8")
    (src / "b.md").write_text("# B\n", encoding="utf-8")
    assert run_cli("--src", src, "--out", tmp_path / "site", "--cache-dir", cache).code == 0
    os.replace(src / "b.md", outside / "b.md")  # same time and size: only the link is new
    os.symlink(outside / "b.md", src / "b.md")
    cached = run_cli("--src", src, "--out", tmp_path / "site", "--cache-dir", cache)
    assert f"{src}/b.md: this note leads outside the source folder" in cached.stderr
    assert not (tmp_path / "site" / "b.html").exists()


# --- positions ------------------------------------------------------------------------


class _CountingStr(str):
    """A str that counts the characters its searches may look at."""

    scanned = 0

    def _span(self, start: int | None, end: int | None) -> int:
        return len(range(*slice(start, end).indices(len(self))))

    def find(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        _CountingStr.scanned += self._span(start, end)
        return super().find(sub, start, end)

    def rfind(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        _CountingStr.scanned += self._span(start, end)
        return super().rfind(sub, start, end)

    def count(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        _CountingStr.scanned += self._span(start, end)
        return super().count(sub, start, end)


def test_positions_of_formulas_on_one_long_line_take_linear_work() -> None:
    words = 20_000
    line = " ".join(f"w{n} $x_{{{n}}}$" for n in range(words))
    text = f"# Long\n\n{line}\nsecond $y$ line\n"
    note = parsing.parse_note(NoteSource(Path("long.md"), PurePosixPath("long.md")), text)
    paragraph = next(t for t in note.tokens if t.type == "inline" and t.content.startswith("w0"))
    paragraph.content = _CountingStr(paragraph.content)
    note.lines = [_CountingStr(raw) for raw in note.lines]
    _CountingStr.scanned = 0
    items = math.collect_math(note)
    assert len(items) == words + 1
    # Each formula's place, by the definition: its offset on its line of the source.
    assert items[12_345].starts == [(2, line.index("$x_{12345}$") + 1)]
    assert items[-1].starts == [(3, len("second $"))]
    # Searching back and forth from every formula looks at ~words * len(line) / 2 characters.
    assert _CountingStr.scanned <= 4 * len(text)


def test_each_reference_to_one_url_on_a_line_is_placed_at_its_own_column(
    build_notes: Callable[..., BuildResult],
) -> None:
    line = "See [../../secret.txt](../../secret.txt), [b](../../secret.txt) and ![c](../../secret.txt)."
    result = build_notes({"a.md": f"# A\n\n{line}\n"})
    columns = [int(row.split(":")[2]) for row in result.stderr.splitlines() if "points outside" in row]
    assert columns == [24, 47, 74]
    assert [line[c - 1 :].startswith("../../secret.txt") for c in columns] == [True, True, True]


def test_a_bad_reference_style_link_is_placed_at_its_definition(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    note = "# A\n\nSee [the notes][gone] and [the key][key].\n\n[gone]: missing.txt\n[key]:  .env\n"
    result = build_notes({"a.md": note, ".env": "SECRET=1\n"}, "--strict")
    assert result.code == 1
    reported = [row for row in result.stderr.splitlines() if row.startswith(str(tmp_path))]
    assert reported == [
        f"{tmp_path / 'src' / 'a.md'}:5:9: 'missing.txt' does not exist",
        f"{tmp_path / 'src' / 'a.md'}:6:9: '.env' is hidden (a name on its way starts with a dot); "
        "hidden files are never read or published",
    ]


# --- URLs -----------------------------------------------------------------------------


def test_links_to_notes_with_url_characters_in_their_names_are_percent_encoded(
    build_notes: Callable[..., BuildResult],
) -> None:
    names = ["hash#", "pct%25", "q?", "sub#dir/index", "sub#dir/c"]
    result = build_notes({f"{name}.md": f"# {name}\n\ntext\n" for name in names}, "--strict")
    assert result.code == 0, result.stderr
    home = result.page("index.html")
    for url in ["hash%23.html", "pct%2525.html", "q%3F.html", "sub%23dir/index.html", "sub%23dir/c.html"]:
        assert f'href="{url}"' in home
    assert 'rel="next" href="q%3F.html"' in result.page("pct%25.html")
    assert 'rel="prev" href="../q%3F.html"' in result.page("sub#dir/index.html")


# --- memory ---------------------------------------------------------------------------


def test_a_batch_sent_in_parts_keeps_the_macros_its_formulas_define(
    katex_engine: MiniRacerEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(katex, "PART_SIZE", 2)  # V8 sees parts of 2 formulas, not the batch
    requests = [
        MathRequest("\\gdef\\vecv{\\mathbf{v}}", False),
        MathRequest("a", False),
        MathRequest("\\vecv", False),
        MathRequest("\\R", False),
        MathRequest("\\newcommand{\\w}{\\mathbf{w}}", False),
        MathRequest("\\w", False),
    ]
    results = katex_engine.render_batch(requests, {"\\R": "\\mathbb{R}"})
    assert b'<mi mathvariant="bold">v</mi>' in (results[2].html or b"")
    assert b'<mi mathvariant="double-struck">R</mi>' in (results[3].html or b"")
    assert b'<mi mathvariant="bold">w</mi>' in (results[5].html or b"")
    again = katex_engine.render_batch([MathRequest("\\vecv", False)], {})  # a new batch starts afresh
    assert again[0].html is None and "\\vecv" in (again[0].error or "")
