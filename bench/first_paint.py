#!/usr/bin/env python3
"""First contentful paint of a built page on a throttled phone, and whether its formulas
are in KaTeX's fonts by then.

    .venv/bin/python bench/first_paint.py [--site site] [--page n1.html] [--runs 5]

The site is served from 127.0.0.1 with gzip, as static hosts serve it; headless Chromium
(the one the browser tests find) loads the page at 390 px under Chromium's DevTools
protocol with DevTools' "Slow 4G" (150 ms latency, 1.6 Mbit/s down, 750 kbit/s up) and
4x CPU slowdown. Each run reports the first contentful paint, how many of the KaTeX fonts
the page loads had arrived by then and when the last arrived (from then on every formula
is in its own fonts); the medians are printed last. Wall-clock figures
on a shared machine are noisy: compare runs made together.
"""

from __future__ import annotations

import argparse
import http.server
import statistics
import sys
import threading
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

SLOW_4G = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}

_PAINT = """() => new Promise(resolve => {
  const fcp = () => performance.getEntriesByName('first-contentful-paint')[0];
  const done = () => {
    const paint = fcp().startTime;
    const fonts = performance.getEntriesByType('resource').filter(e => e.name.endsWith('.woff2'));
    resolve({
      fcp: paint,
      fonts: fonts.length,
      before: fonts.filter(e => e.responseEnd <= paint).length,
      fontsIn: Math.max(0, ...fonts.map(e => e.responseEnd)),
    });
  };
  if (fcp()) done();
  else new PerformanceObserver(done).observe({type: 'paint', buffered: true});
})"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--site", type=Path, default=REPO / "site")
    parser.add_argument("--page", default="n1.html")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from conftest import GzipHandler, launch_chromium  # as the browser tests serve and start

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(GzipHandler, directory=str(args.site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{args.page}"
    paints: list[float] = []
    settled: list[float] = []
    try:
        with launch_chromium() as browser:
            for run in range(args.runs):
                context = browser.new_context(viewport={"width": 390, "height": 844})
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                cdp.send("Network.emulateNetworkConditions", SLOW_4G)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
                page.goto(url, wait_until="load", timeout=120_000)
                seen = page.evaluate(_PAINT)
                paints.append(seen["fcp"])
                settled.append(max(seen["fcp"], seen["fontsIn"]))
                print(
                    f"run {run + 1}: first contentful paint {seen['fcp'] / 1000:.2f} s, "
                    f"{seen['before']} of {seen['fonts']} KaTeX fonts there by then, "
                    f"all there at {seen['fontsIn'] / 1000:.2f} s"
                )
                context.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    print(f"median first contentful paint: {statistics.median(paints) / 1000:.2f} s")
    print(f"median time to formulas in KaTeX's fonts: {statistics.median(settled) / 1000:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
