"""The web UI in a real browser: `streamlit run app.py` on a free local port, driven by Playwright for Python
through Debian's chromium (executable_path; nothing downloads a browser). Screenshots of every page are kept
as test artifacts in test-artifacts/ui/ (or $ADVISOR_TEST_ARTIFACTS/ui/)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = (("Why", "Model"), ("Compare", "Stacks to compare"), ("Catalog", "models"),
         ("Profiles and verify", "Measured profiles"))


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Debian's chromium is not installed: run tools/install_system_packages.sh (the README's test command does)")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """The app as a user starts it, in its own process, with the test's isolated home."""
    port = free_port()
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("streamlit did not start: " + (tmp_path / "streamlit.log").read_text()[-2000:])
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_the_app_in_chromium(server):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("ADVISOR_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "ui"
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/?ram=4GB&languages=sv")
        top = page.get_by_text("Top pick: ").first
        top.wait_for(timeout=90_000)
        page.get_by_text("Export", exact=True).wait_for(timeout=60_000)
        first = top.inner_text()
        table = page.get_by_test_id("stDataFrame").first
        before = table.screenshot()
        page.screenshot(path=str(shots / "recommend.png"))
        # the page is horizontally whole at 1280 px
        assert page.evaluate("document.querySelector('[data-testid=stMain]').scrollWidth <= window.innerWidth")

        # a sidebar value changes: the pick and the table follow
        ram = page.get_by_role("spinbutton", name="RAM (GB)", exact=True)
        ram.fill("2")
        ram.press("Enter")
        page.wait_for_function("t => ![...document.querySelectorAll('h3')].some(h => h.innerText.startsWith(t))",
                               arg=first, timeout=60_000)
        page.get_by_text("Export", exact=True).wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        assert page.get_by_text("Top pick: ").first.inner_text() != first
        assert page.get_by_test_id("stDataFrame").first.screenshot() != before
        assert "ram=2GB" in page.url

        # nothing fits: a relaxation pressed gives a recommendation
        page.goto(server + "/?ram=1GB&languages=sv&lang_strict=True&min_tps=30")
        page.get_by_text("Nothing fits").wait_for(timeout=60_000)
        assert page.get_by_text("Top pick: ").count() == 0
        page.get_by_test_id("stDownloadButton").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "recommend-nothing-fits.png"))
        page.get_by_role("button", name="--ram").first.click()
        page.get_by_text("Top pick: ").first.wait_for(timeout=60_000)

        # every page, through the navigation
        for name, wait in PAGES:
            page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
            page.get_by_text(wait).first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            assert page.get_by_test_id("stException").count() == 0, name
            page.screenshot(path=str(shots / (name.split()[0].lower() + ".png")))
        browser.close()
    assert errors == []
    assert {f.name for f in shots.glob("*.png")} >= {"recommend.png", "why.png", "compare.png", "catalog.png",
                                                    "profiles.png"}
