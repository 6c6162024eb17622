"""The web UI's speed: the server time of a rerun after one sidebar change on Recommend, and the time from
`streamlit run app.py` to the first interactive page in a real browser.

    python -m benchmarks.bench_ui                 # 15 sidebar changes, 3 starts with empty caches + 3 with
    python -m benchmarks.bench_ui --changes 30 --starts 5

Rerun: the Recommend page is run in-process by streamlit's own script runner (streamlit.testing.v1.AppTest),
with RAM set in turn to values not seen before (each a cache miss: the solver runs) and then to values seen
before (a cache hit). Start: a new `streamlit run` process each time, timed to /_stcore/health answering and to
the top pick and the export buttons shown in Debian's chromium (Playwright). Run it alone: other work on the
machine distorts the timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spread(xs: list[float]) -> str:
    return (f"median {statistics.median(xs) * 1000:.0f} ms (min {min(xs) * 1000:.0f}, max {max(xs) * 1000:.0f}, "
            f"n={len(xs)})")


def reruns(changes: int) -> tuple[list[float], list[float]]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["ram"] = "4GB"
    at.query_params["languages"] = "sv"
    at.run()
    values = [2.0 + 0.5 * i for i in range(changes)]
    miss, hit = [], []
    for series, vals in ((miss, values), (hit, values)):
        for v in vals:
            at.number_input(key="req_ram").set_value(v)
            t = time.perf_counter()
            at.run()
            series.append(time.perf_counter() - t)
            assert not at.exception and any(s.value.startswith(("Top pick", "Nothing")) for s in at.subheader) \
                or at.warning, "the page did not render"
    return miss, hit


def cold_start(home: Path) -> tuple[float, float]:
    import socket

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "tests"))
    from test_ui_browser import CHROMIUM_FLAGS, chromium  # the browser test's own launch settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_DATA_HOME": str(home / ".local" / "share")}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.02)
        healthy = time.perf_counter() - t0
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
            page = b.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/?ram=4GB&languages=sv")
            page.get_by_text("Top pick: ").first.wait_for(timeout=120_000)
            page.get_by_test_id("stDownloadButton").first.wait_for(timeout=120_000)
            ready = time.perf_counter() - t0
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return healthy, ready


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=15)
    ap.add_argument("--starts", type=int, default=3)
    a = ap.parse_args(argv)
    from advisor.hardware import detect

    d = detect()
    print(f"machine: {d.cpu_model}, {d.cores_logical} threads, {d.ram_gb:.1f} GB RAM")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(HOME=tmp, XDG_CACHE_HOME=tmp + "/.cache", XDG_DATA_HOME=tmp + "/.local/share")
        miss, hit = reruns(a.changes)
        print(f"rerun after one sidebar change (RAM), new requirements (solver runs): {spread(miss)}")
        print(f"rerun after one sidebar change (RAM), requirements seen before (cached): {spread(hit)}")
        fresh, warm = [], []
        for _ in range(a.starts):
            home = Path(tempfile.mkdtemp(dir=tmp))
            fresh.append(cold_start(home))  # empty caches: catalog validated, bandwidth measured
            warm.append(cold_start(home))   # the same home again: both cached
        if not fresh:
            return
        print(f"`streamlit run` to the server answering: {spread([s[0] for s in fresh + warm])}")
        print(f"`streamlit run` to the first interactive page (top pick and export shown in chromium), first start "
              f"with empty caches (catalog validated, this machine's bandwidth measured): {spread([s[1] for s in fresh])}")
        print(f"`streamlit run` to the first interactive page, later starts (caches kept): "
              f"{spread([s[1] for s in warm])}")


if __name__ == "__main__":
    main()
