"""`make screenshots`: a PNG of every page (tests/browser/pages.py) at 1280 and 390 px, shopper pages in English and
Italian, signed in as shopper, admin and read-only member, against a live portal seeded like the demo (storefront
origin registered). Not a test: the file name keeps it out of `make test`; output goes to $SCREENSHOTS_DIR
(default instance/screenshots/, not committed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.demo import WIDTHS
from tests.browser.pages import walk

pytestmark = pytest.mark.browser

OUTPUT = Path(os.environ.get("SCREENSHOTS_DIR", "instance/screenshots"))


def test_screenshots(chromium, demo):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    written = []
    for width in WIDTHS:
        for name, page in walk(chromium, demo, width):
            path = OUTPUT / f"{name}-{width}.png"
            page.screenshot(path=path, full_page=True)
            written.append(path)
    print(f"\n{len(written)} screenshots in {OUTPUT}/")
