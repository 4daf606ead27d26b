#!/usr/bin/env python3
"""How long from saving a note to seeing the rebuilt page, with `build.py preview`.

    .venv/bin/python bench/preview_latency.py [--note notes/n1.md] [--runs 20] [--browser]

A copy of the note's folder is previewed (the real notes are never touched). Each run
changes one sentence of the note, then measures until the server's event stream says
"reload" and until the new page, fetched over HTTP, holds the new sentence. With
--browser, headless Chromium (the one the browser tests find) also keeps the page open
and the time until it shows the new sentence by itself is measured too. Finally a burst
of saves is made, to count how many rebuilds it causes (one is expected).
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
WAIT_S = 20.0


class Events:
    """The preview's server-sent events, read line by line."""

    def __init__(self, host: str, port: int) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=WAIT_S)
        self.connection.request("GET", "/__notes_render/events")
        self.sock = self.connection.sock  # the response keeps it, the connection lets it go
        self.response = self.connection.getresponse()

    def next(self) -> tuple[str, str]:
        name, data = "message", ""
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and data:
                return name, data


def generation(host: str, port: int, path: str) -> int:
    """The build generation the server labels its pages with."""
    found = re.search(r"var built = (\d+);", fetch(host, port, path))
    if found is None:
        raise SystemExit("the preview page has no reload script")
    return int(found.group(1))


def fetch(host: str, port: int, path: str) -> str:
    connection = http.client.HTTPConnection(host, port, timeout=WAIT_S)
    try:
        connection.request("GET", path)
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return (
        f"{name}: median {statistics.median(ms):.0f} ms, p90 {p90:.0f} ms, "
        f"min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms over {len(ms)} saves"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--note", type=Path, default=Path("notes/n1.md"), help="note to preview")
    parser.add_argument("--runs", type=int, default=20, help="measured saves (after 3 warm-up saves)")
    parser.add_argument("--browser", action="store_true", help="also measure in headless Chromium")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="preview-bench-") as tmp:
        src = Path(tmp) / "notes"
        shutil.copytree(REPO / args.note.parent, src)
        note = src / args.note.name
        original = note.read_text(encoding="utf-8")
        log = Path(tmp) / "preview.log"  # not a pipe: one left unread fills up and blocks the server
        with log.open("w", encoding="utf-8") as stderr:
            process = subprocess.Popen(
                [sys.executable, "build.py", "preview", str(note), "--src", str(src), "--port", "0"],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        try:
            assert process.stdout is not None
            url = re.search(r"http://\S+", process.stdout.readline())
            if url is None:
                raise SystemExit("preview did not print its URL")
            parts = urlsplit(url.group(0))
            host, port = parts.hostname or "127.0.0.1", parts.port or 80
            page_path = "/" + args.note.with_suffix(".html").name
            events = Events(host, port)
            assert events.next()[0] == "hello"

            def save(run: int) -> str:
                token = f"Latency probe {run} {time.monotonic_ns()}."
                note.write_text(original + f"\n{token}\n", encoding="utf-8")
                return token

            reload_s, page_s = [], []
            for run in range(-3, args.runs):
                started = time.perf_counter()
                token = save(run)
                while events.next()[0] != "reload":
                    pass
                reloaded = time.perf_counter()
                if token not in fetch(host, port, page_path):
                    raise SystemExit(f"run {run}: the page announced by 'reload' lacks the new text")
                fetched = time.perf_counter()
                if run >= 0:
                    reload_s.append(reloaded - started)
                    page_s.append(fetched - started)
            print(summary("save -> 'reload' event", reload_s))
            print(summary("save -> new page fetched", page_s))

            if args.browser:
                print(
                    summary(
                        "save -> new text shown in Chromium",
                        browser_runs(url.group(0), page_path, save, args.runs),
                    )
                )

            time.sleep(1.0)  # let the last rebuild settle
            before = generation(host, port, page_path)
            for burst in range(20):
                note.write_text(original + f"\nBurst save {burst}.\n", encoding="utf-8")
            time.sleep(2.0)  # far longer than a rebuild: every rebuild the burst caused is done
            after = generation(host, port, page_path)
            print(f"a burst of 20 saves in a row caused {after - before} rebuild(s)")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
        builds = [int(ms) for ms in re.findall(r"built 1 pages in (\d+) ms", log.read_text(encoding="utf-8"))]
        if builds:
            print(f"build of the note alone (server's own log): median {statistics.median(builds):.0f} ms")
        print(f"preview exited with {process.returncode}")
    return 0


def browser_runs(url: str, page_path: str, save: Callable[[int], str], runs: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO / "tests"))
    from conftest import CHROMIUM, CHROMIUM_ARGS  # the browser and flags the browser tests use

    seconds = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(WAIT_S * 1000)
            page.goto(url.rstrip("/") + page_path)
            for run in range(-3, runs):
                started = time.perf_counter()
                token = save(1000 + run)
                page.wait_for_function(
                    "t => document.body && document.body.innerText.includes(t)", arg=token, polling="raf"
                )
                if run >= 0:
                    seconds.append(time.perf_counter() - started)
        finally:
            browser.close()
    return seconds


if __name__ == "__main__":
    raise SystemExit(main())
