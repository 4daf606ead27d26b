#!/usr/bin/env python3
"""Entry script: `python build.py [build|preview|serve|check] [options]`; see --help."""

from notes_render.cli import run

if __name__ == "__main__":
    run()
