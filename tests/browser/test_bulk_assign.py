"""Issue 13 #2 in a real browser, with the demo's storefront origin registered: choosing the target group does not
re-run the search, ticks survive live search (and select-all ticks the page), and the confirm page states exactly
what will happen."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import axe_violations
from tests.browser.demo import WIDTHS, new_page, real_errors, shot, staff_sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", WIDTHS)
def test_bulk_assign_keeps_the_selection_and_says_what_it_will_do(chromium, demo, width):
    page = new_page(chromium, width)
    staff_sign_in(page, demo)
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers")
    (a, _), (b, _), _c, (d, d_email), *_rest = demo["people"]
    page.locator(f"#sel-{a}").check()
    page.locator(f"#sel-{b}").check()
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/customers?" in r.url else None)
    page.get_by_label("Group for the selected customers").select_option(label="VIP")
    page.wait_for_timeout(600)
    assert requests == []  # the target group is no search filter
    assert page.locator(f"#sel-{a}").is_checked() and page.locator(f"#sel-{b}").is_checked()

    page.get_by_label("Search").fill(d_email.split("@")[0])  # live search: only d is shown
    page.wait_for_url(re.compile(r"q="))
    page.locator("#results tbody tr").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#results tbody tr').length === 1")
    page.locator(f"#sel-{d}").check()
    page.get_by_text("3 selected").wait_for()
    page.get_by_label("Search").fill("")
    page.locator(f"#sel-{a}").wait_for()
    assert page.locator(f"#sel-{a}").is_checked() and page.locator(f"#sel-{b}").is_checked()
    assert page.locator(f"#sel-{d}").is_checked()
    assert page.get_by_label("Group for the selected customers").input_value() == demo["group"]
    shot(page, "bulk-selection")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Assign selected…").click()
    page.locator("#bulk-summary").wait_for()
    summary = page.locator("#bulk-summary").inner_text()
    assert "Assign 3 selected customers to the group VIP" in summary
    shot(page, "bulk-confirm")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Assign 3 to VIP").click()
    page.get_by_text("3 customers updated.").wait_for()

    # Select-all ticks every row of the page, and unticks them again.
    page.get_by_label("Select every customer on this page").check()
    rows = page.locator("#results input.select-row")
    assert rows.count() >= 8 and all(rows.nth(i).is_checked() for i in range(rows.count()))
    page.get_by_text(f"{rows.count()} selected").wait_for()
    page.get_by_label("Select every customer on this page").uncheck()
    assert not any(rows.nth(i).is_checked() for i in range(rows.count()))
    assert real_errors(page) == []
    page.context.close()
