"""Issue 13 item 10 in the admin area: who did it by email (or "the customer", "the system"), field names as
words, relative times, delays as durations, and the customer's orders with what was bought."""

from __future__ import annotations

import re

from portal.services import orders
from portal.services.audit import SYSTEM, Actor
from portal.services.customers import update_customer
from tests.factories import make_order


def test_audit_log_and_timeline_name_the_staff_member(as_admin, org, admin, customer):
    update_customer(Actor.of_user(admin), org, customer, {"tax_exemption_code": "X1"})
    update_customer(Actor.of_customer(customer), org, customer, {"reference": "r-1"})
    log = as_admin.get(f"/admin/{org.slug}/audit").text
    timeline = as_admin.get(f"/admin/{org.slug}/customers/{customer.public_id}").text
    actors = {
        "audit log": set(re.findall(r"</code></td><td>([^<]*)</td>", log)),
        "timeline": {a.strip() for a in re.findall(r"</strong> by ([^<—]+)", timeline)},
    }
    for page, names in actors.items():
        assert {admin.email, "the customer", "the system"} <= names, page
        assert not any(re.fullmatch(r"\w{10}|user.*|customer \w+", name) for name in names), (page, names)
    assert (
        "<strong>Profile updated</strong>" in timeline and "customer.update" not in timeline
    )  # actions as words
    assert "Profile updated" in log
    for html in (log, timeline):
        assert "Tax exemption code" in html and "tax_exemption_code" not in html
        assert re.search(r">\d+ seconds? ago</time>", html)


def test_anonymization_delay_reads_as_a_duration(as_admin, org, customer):
    org.anonymization_delay_seconds = 120
    base = f"/admin/{org.slug}/customers/{customer.public_id}"
    html = as_admin.get(f"{base}/anonymization?action=request").text
    assert "In 2 minutes the customer" in html and "0:02:00" not in html


def test_customer_page_shows_what_each_order_holds(as_admin, org, customer):
    order = make_order(org, customer, placed=False)
    orders.add_line_item(org, order, {"name": "Ceramic mug", "quantity": 2, "unit_amount_cents": 1400})
    orders.place_order(SYSTEM, org, order)
    html = as_admin.get(f"/admin/{org.slug}/customers/{customer.public_id}").text
    assert "2 × Ceramic mug" in html and "€10.00" in html
