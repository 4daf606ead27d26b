#!/usr/bin/env python3
"""Entry script: `python build.py [build|preview|serve|check] [options]`; see --help."""

from notes_render.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
