"""Issue 13, loading states: while an htmx request runs, the spinner region (#busy, the body's hx-indicator) is
shown and the form's submit button is disabled, so a second click cannot send the request twice; both come back
when the response arrives. The request is held by the browser (Playwright's router) to look at the page mid-flight."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import axe_violations
from tests.browser.demo import WIDTHS, new_page, real_errors, shop_sign_in, staff_sign_in

pytestmark = pytest.mark.browser


def _while_held(page, url: re.Pattern, submit) -> None:
    """Hold the POST to `url`, click `submit`, check the loading state, release it and check it is gone."""
    held = []
    page.route(url, lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    submit.click()
    page.locator("#busy.htmx-request").wait_for(state="attached")
    for _ in range(100):  # the router's callback runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the form did not send its request through htmx"
    assert submit.is_disabled()
    assert page.locator("#busy").is_visible()
    assert (
        axe_violations(page, settled=False) == []
    )  # the spinner shown is a status region, not stray content
    held[0].continue_()
    page.locator("#busy.htmx-request").wait_for(state="detached")
    page.locator("#busy").wait_for(
        state="hidden"
    )  # a stuck spinner fails here; a follow-up request may be in flight


@pytest.mark.parametrize("width", WIDTHS)
def test_shop_form_shows_progress_and_disables_submit(chromium, demo, width):
    page = new_page(chromium, width)
    shop_sign_in(page, demo, demo["people"][1][1])
    page.goto(f"{demo['base']}/{demo['slug']}/account/addresses")
    submit = page.get_by_role("button", name="Add address")
    _while_held(page, re.compile(r"/account/addresses$"), submit)
    assert submit.is_enabled()  # the locator finds the swapped-in form's button
    assert real_errors(page) == []
    page.context.close()


def test_admin_form_shows_progress_and_disables_submit(chromium, demo):
    page = new_page(chromium)
    staff_sign_in(page, demo)
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers/{demo['people'][2][0]}/edit")
    submit = page.get_by_role("button", name="Save", exact=True)
    _while_held(page, re.compile(r"/edit$"), submit)
    assert real_errors(page) == []
    page.context.close()
