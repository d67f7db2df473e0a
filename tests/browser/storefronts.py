"""The sample storefront (examples/storefront.py) in browser journeys: served on another site (localhost, the
portal is on 127.0.0.1), registered as its org's storefront origin and redirect URI, and signing a shopper in with
the authorization code flow."""

from __future__ import annotations

from portal import db
from portal.models import Application, Organization
from tests.live import _serve


def serve_storefront(live_server, org_id: int, application_id: int, slug: str, client_id: str):
    """Start the storefront; return (server, url). Its origin may frame the shopper pages; /callback and
    /signed-out are registered."""
    from examples import storefront

    server, url = _serve(storefront.create_app(live_server.url, slug, client_id), "localhost")
    with live_server.data():
        db.session.get(Organization, org_id).allowed_origins = [url]
        db.session.get(Application, application_id).redirect_uri = f"{url}/callback\n{url}/signed-out"
        db.session.commit()
    return server, url


def sign_in_through_the_store(page, shop_url: str, email: str, password: str) -> None:
    """Storefront → the portal's hosted sign-in (top level) → consent the first time → back to the store's
    account page, whose frame opens the portal session with the token the code bought."""
    page.goto(shop_url + "/")
    page.get_by_role("link", name="Sign in to the store").click()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    allow = page.get_by_role("button", name="Allow")
    if page.url.startswith(shop_url) is False and allow.count():
        allow.click()
    page.wait_for_url(f"{shop_url}/account")
    page.frame_locator("#portal").get_by_role("heading", name="Hello").wait_for()
