"""The package imports and builds on Windows and macOS too: nothing in it imports a
POSIX-only module or reaches for what Windows lacks, and it starts workers the way each
system allows. Checked here on Linux, so a regression is red before it reaches a runner."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "syslog", "posix")
"""Standard-library modules that Windows does not have."""

NOT_ON_WINDOWS = {
    "os": {
        "fork", "forkpty", "getuid", "geteuid", "getgid", "getegid", "getgroups", "setsid", "getpgid",
        "setpgid", "killpg", "chown", "lchown", "fchown", "mkfifo", "mknod", "sync", "statvfs",
        "getloadavg", "uname", "nice", "pipe2", "O_NOFOLLOW", "O_DIRECTORY", "O_NONBLOCK", "O_CLOEXEC",
        "O_NOCTTY", "O_SYNC", "WNOHANG",
    },
    "signal": {
        "SIGHUP", "SIGKILL", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGPIPE",
        "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGWINCH", "alarm", "pause", "setitimer", "siginterrupt",
        "pthread_kill", "pthread_sigmask", "sigwait",
    },
}  # fmt: skip
"""Attributes of os and signal that exist on Linux and macOS but not on Windows: code that
may run there reads them with getattr or hasattr, never directly."""

_BLOCKED_IMPORTS = """\
import builtins, importlib, pkgutil, sys

POSIX_ONLY = set(sys.argv[1].split(","))
real_import, real_import_module = builtins.__import__, importlib.import_module


def refuse(name, importer):
    if name.partition(".")[0] in POSIX_ONLY and importer.partition(".")[0] == "notes_render":
        raise ModuleNotFoundError(f"No module named {name!r} ({importer} imports it)", name=name)


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0:
        refuse(name, (globals or {}).get("__name__", ""))
    return real_import(name, globals, locals, fromlist, level)


def guarded_import_module(name, package=None):
    refuse(name, sys._getframe(1).f_globals.get("__name__", ""))
    return real_import_module(name, package)


# Libraries may import them (filelock picks its lock by system); the package may not.
builtins.__import__, importlib.import_module = guarded_import, guarded_import_module
import notes_render
from notes_render import cli

walked = pkgutil.walk_packages(notes_render.__path__, "notes_render.")
names = [m.name for m in walked if not m.name.endswith(".__main__")]  # that one runs a build
for name in names:
    importlib.import_module(name)
print(len(names), "modules")
sys.exit(cli.main(sys.argv[2:]))
"""


def test_every_module_imports_and_a_site_builds_without_posix_only_modules(tmp_path: Path) -> None:
    src, out = tmp_path / "notes", tmp_path / "out"
    src.mkdir()
    (src / "a.md").write_text("# A\n\n$x^2$ and [b](b.md)\n", encoding="utf-8")
    (src / "b.md").write_text("# B\n\n$$\\int_0^1 x\\,dx$$\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORTS, ",".join(POSIX_ONLY)]
        + ["--src", str(src), "--out", str(out), "--no-cache", "--strict", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    files = [p for p in (REPO / "notes_render").rglob("*.py") if p.stem != "__main__"]
    modules = len(files) - 1  # a package's __init__ is its name; the top one is not walked
    assert done.stdout == f"{modules} modules\n"
    assert "<mi>x</mi>" in (out / "a.html").read_text(encoding="utf-8")
    assert (out / "b.html").is_file()


def test_the_import_check_is_not_blind(tmp_path: Path) -> None:
    package = tmp_path / "notes_render"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "cli.py").write_text("import fcntl\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORTS, ",".join(POSIX_ONLY)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'fcntl' (notes_render.cli imports it)" in done.stderr


def _windows_gaps(path: Path, root: Path = REPO, *, collected_only: bool = False) -> list[str]:
    """Where a file imports a POSIX-only module unguarded at its top, reads an attribute of
    os or signal that Windows lacks, or passes dir_fd (unsupported there): `file:line: what`.
    With `collected_only`, only in what runs when the file is imported (a test file's
    collection): its top level, decorators and default values, not function bodies."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:  # a module's top level: imported on every system
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"{node.lineno}: imports {n}" for n in names if n.partition(".")[0] in POSIX_ONLY]
    for node in (n for top in _run_at_import(tree, collected_only) for n in ast.walk(top)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in NOT_ON_WINDOWS.get(node.value.id, ())
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.keyword) and node.arg == "dir_fd":
            found.append(f"{node.value.lineno}: dir_fd=")
    return [f"{path.relative_to(root).as_posix()}:{where}" for where in sorted(found, key=_line_first)]


def _run_at_import(tree: ast.Module, collected_only: bool) -> list[ast.AST]:
    if not collected_only:
        return [tree]
    nodes: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nodes += [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]
        else:
            nodes.append(node)
    return [node for node in nodes if node is not None]


def _line_first(where: str) -> tuple[int, str]:
    line, _, what = where.partition(": ")
    return int(line), what


def test_the_package_reaches_for_nothing_windows_lacks() -> None:
    assert [
        gap for path in sorted((REPO / "notes_render").rglob("*.py")) for gap in _windows_gaps(path)
    ] == []


def test_every_test_file_is_collected_on_windows_too() -> None:
    # What a test does inside may be POSIX's (and skipped elsewhere); collecting it may not be.
    paths = sorted((REPO / "tests").glob("*.py"))
    assert [gap for path in paths for gap in _windows_gaps(path, collected_only=True)] == []


def test_the_windows_check_is_not_blind(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        textwrap.dedent(
            """\
            import fcntl
            import os, signal

            def stop():
                os.open("x", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=3)
                signal.signal(signal.SIGHUP, signal.SIG_DFL)
                return getattr(signal, "SIGKILL", None), os.name

            @mark(signal.SIGKILL)
            def test_kill(stop=os.WNOHANG):
                os.kill(0, signal.SIGQUIT)
            """
        ),
        encoding="utf-8",
    )
    assert _windows_gaps(bad, tmp_path) == [
        "bad.py:1: imports fcntl",
        "bad.py:5: dir_fd=",
        "bad.py:5: os.O_NOFOLLOW",
        "bad.py:6: signal.SIGHUP",
        "bad.py:9: signal.SIGKILL",
        "bad.py:10: os.WNOHANG",
        "bad.py:11: signal.SIGQUIT",
    ]
    assert _windows_gaps(bad, tmp_path, collected_only=True) == [
        "bad.py:1: imports fcntl",
        "bad.py:9: signal.SIGKILL",
        "bad.py:10: os.WNOHANG",
    ]


@pytest.mark.parametrize(
    ("platform", "v8", "method"),
    [
        ("win32", False, "spawn"),
        ("darwin", False, "spawn"),
        ("linux", False, "fork"),
        ("linux", True, "spawn"),
    ],
)
def test_workers_start_the_way_each_system_allows(platform: str, v8: bool, method: str) -> None:
    # In a fresh process, with V8 loaded or not (in this one it may be either).
    script = f"{'import py_mini_racer; ' if v8 else ''}from notes_render.build import workers; "
    done = subprocess.run(
        [sys.executable, "-c", script + f"print(workers.start_method({platform!r}))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == f"{method}\n", done.stderr
