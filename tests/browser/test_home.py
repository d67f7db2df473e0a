"""The front page in a real browser: it loads htmx under the CSP, and passes axe-core."""

import pytest

from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def test_home_page_loads_htmx_without_csp_errors(live_server, page):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Customer Portal"
    assert page.evaluate("typeof window.htmx") == "object"
    assert errors == []
    assert axe_violations(page) == []
