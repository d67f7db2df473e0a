"""Real-browser tests: the portal served by `live_server` (tests/live.py), driven by Playwright through
Debian's Chromium (/usr/bin/chromium; browser downloads are blocked here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.demo import demo  # noqa: F401 - fixture: the demo's configuration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(chromium) -> Iterator[object]:
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page, *, settled: bool = True) -> list[dict]:
    """Run axe-core (from node_modules) on the current page, by default once no htmx request is in flight (a page
    mid-swap is not the page a user reads); return its violations."""
    if settled:
        page.wait_for_function("() => !document.querySelector('.htmx-request')")
    page.evaluate(
        AXE.read_text()
    )  # evaluated through DevTools: the page's CSP stays in force for the page itself
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
    ]
