"""axe-core on every page of the product (tests/browser/pages.py, the list `make screenshots` photographs): shopper
pages in English and Italian, admin pages as admin and as read-only member, at 1280 and 390 px."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations
from tests.browser.demo import WIDTHS, real_errors
from tests.browser.pages import walk

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_passes_axe(chromium, demo, width):
    found, errors, seen = {}, {}, 0
    for name, page in walk(chromium, demo, width):
        seen += 1
        if violations := axe_violations(page):
            found[name] = violations
        if console := real_errors(page):
            errors[name] = list(console)
        page.errors.clear()
    assert seen >= 50  # the walk reached every page (a sign-in that failed would stop it early)
    assert found == {}
    assert errors == {}  # no CSP or script errors either
