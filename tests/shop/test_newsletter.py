"""The privacy page's newsletter consent: shown, given, withdrawn (plain POST and htmx), recorded and audited."""

from __future__ import annotations

import json

from sqlalchemy import select

from portal import db
from portal.models import AuditEvent, CustomerSubscription, OutboxMessage
from portal.services import subscriptions
from tests.shop.conftest import post_form


def _consents(customer):
    return db.session.scalars(
        select(CustomerSubscription).where(CustomerSubscription.customer_id == customer.id)
    ).all()


def test_subscribe_and_unsubscribe_without_js(signed_in, org, shopper):
    base = f"/{org.slug}/account/privacy"
    page = signed_in.get(base).get_data(as_text=True)
    assert 'id="newsletter"' in page and "You are not subscribed" in page
    response = post_form(signed_in, base, {"subscribe": "yes"}, url=f"{base}/newsletter")
    assert response.status_code == 303 and response.headers["Location"].endswith("/privacy#newsletter")
    [consent] = _consents(shopper)
    assert (consent.reference, consent.source) == (subscriptions.NEWSLETTER, "shop")
    assert consent.created_at is not None
    page = signed_in.get(base).get_data(as_text=True)
    assert "You agreed to receive the newsletter on" in page and "Unsubscribe" in page
    # a repeated click changes nothing
    post_form(signed_in, base, {"subscribe": "yes"}, url=f"{base}/newsletter")
    assert len(_consents(shopper)) == 1
    post_form(signed_in, base, {"subscribe": "no"}, url=f"{base}/newsletter")
    assert _consents(shopper) == []
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.resource_id == shopper.public_id).order_by(AuditEvent.id)
    ).all()
    assert [a for a in actions if "subscribe" in a] == ["customer.subscribe", "customer.unsubscribe"]
    details = db.session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "customer.subscribe")
    ).all()
    assert details[0]["source"] == "shop"
    topics = db.session.scalars(
        select(OutboxMessage.topic).where(OutboxMessage.customer_id == shopper.id)
    ).all()
    assert {"customer_subscriptions.create", "customer_subscriptions.destroy"} <= set(topics)


def test_htmx_swaps_only_the_section(signed_in, org, shopper, hx):
    base = f"/{org.slug}/account/privacy"
    response = post_form(signed_in, base, {"subscribe": "yes"}, url=f"{base}/newsletter", headers=hx)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="newsletter"') and "You agreed" in html
    assert len(_consents(shopper)) == 1


def test_a_bad_value_or_no_csrf_is_refused(signed_in, org, shopper):
    base = f"/{org.slug}/account/privacy"
    assert post_form(signed_in, base, {"subscribe": "maybe"}, url=f"{base}/newsletter").status_code == 422
    assert signed_in.post(f"{base}/newsletter", data={"subscribe": "yes"}).status_code in (400, 422)
    assert _consents(shopper) == []


def test_signed_out_visitors_cannot_subscribe(client, org):
    response = client.post(f"/{org.slug}/account/privacy/newsletter", data={"subscribe": "yes"})
    assert response.status_code in (302, 303, 400, 401)
    assert db.session.scalars(select(CustomerSubscription)).all() == []


def test_italian(signed_in, org, shopper):
    page = signed_in.get(f"/{org.slug}/account/privacy", headers={"Accept-Language": "it"}).get_data(
        as_text=True
    )
    assert "Iscriviti alla newsletter" in page


def test_my_data_export_holds_the_consent(signed_in, org, shopper):
    base = f"/{org.slug}/account/privacy"
    post_form(signed_in, base, {"subscribe": "yes"}, url=f"{base}/newsletter")
    data = json.loads(signed_in.get(f"{base}/export").get_data(as_text=True))
    assert [s["reference"] for s in data["subscriptions"]] == ["newsletter"]
    assert data["subscriptions"][0]["source"] == "shop"
