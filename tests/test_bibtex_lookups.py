"""Reading a .bib costs the same per entry however many entries it has: pybtex's plugin
lookup (a scan of every installed package's entry points) happens a fixed number of times,
not once per field (counted, not timed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pybtex.plugin
import pytest

from notes_render.passes import bibtex

ENTRY = r"""@article{keyN,
  author = {M{\"u}ller, Ana and Dupont, Jean},
  title = {On {Bayes} nets -- part N},
  journal = {J. Learn.},
  year = {2020},
}
"""


def _bib(entries: int) -> str:
    return "".join(ENTRY.replace("N", str(i)) for i in range(entries))


def test_plugin_lookups_do_not_grow_with_the_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[tuple[Any, ...]] = []
    find_plugin = pybtex.plugin.find_plugin

    def counted(*args: Any, **kwargs: Any) -> Any:
        lookups.append(args)
        return find_plugin(*args, **kwargs)

    monkeypatch.setattr(pybtex.plugin, "find_plugin", counted)
    counts = []
    for entries in (2, 8):
        path = tmp_path / f"refs{entries}.bib"
        path.write_text(_bib(entries), encoding="utf-8")
        loaded = bibtex.load(path)
        assert not loaded.diagnostics
        last = loaded.entries[f"key{entries - 1}"]
        assert last.title == ((f"On Bayes nets – part {entries - 1}", False),)
        assert last.authors[0].last == "Müller"
        counts.append(len(lookups))
        lookups.clear()
    assert counts[0] == counts[1], counts
