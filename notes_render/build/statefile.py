"""Where a build keeps its state: light enough for the command line to ask before it
imports the build (see typeset/forked.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..config import Config


def state_path(config: Config) -> Path | None:
    """Where the state of building config.src into config.out is kept (None: no cache)."""
    if config.cache_dir is None:
        return None
    return config.cache_dir / "builds" / state_name(str(config.src.resolve()), str(config.out.resolve()))


def state_name(src: str, out: str) -> str:
    """The state file's name: a hash of its (resolved) source and output folders."""
    return hashlib.sha256(f"{src}\0{out}".encode()).hexdigest()[:24] + ".json"
