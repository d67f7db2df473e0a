"""Issue 13: the front page leads to the shopper area (by the store's name) and the staff sign-in, without listing
the organizations the portal hosts."""

from __future__ import annotations

from tests.factories import make_org


def test_home_links_to_staff_sign_in_and_finds_a_store(client, db_session):
    org = make_org()
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/admin/login"' in page.text and 'name="store"' in page.text
    assert org.slug not in page.text  # no tenant list
    found = client.get("/", query_string={"store": f"  {org.slug.upper()} "})
    assert found.status_code == 303 and found.headers["Location"] == f"/{org.slug}/account/"


def test_an_unknown_store_is_a_404_with_the_form_again(client, db_session):
    missing = client.get("/", query_string={"store": "no-such-store" + "x" * 300})
    assert missing.status_code == 404
    assert "There is no store called" in missing.text and 'aria-invalid="true"' in missing.text


def test_a_store_is_found_by_the_name_it_shows_when_only_one_carries_it(client, db_session):
    org = make_org()
    org.name = "Linen & Co Milano"
    found = client.get("/", query_string={"store": " linen & co MILANO "})
    assert found.status_code == 303 and found.headers["Location"] == f"/{org.slug}/account/"
    make_org().name = "Linen & Co Milano"  # two stores show that name: neither is guessed
    assert client.get("/", query_string={"store": "Linen & Co Milano"}).status_code == 404
