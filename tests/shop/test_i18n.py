"""Italian in the shopper area: chosen from the customer's stored preference, then the switcher's choice, then
Accept-Language; emails in the customer's language; dates and money as the language writes them; admin stays
English."""

from __future__ import annotations

from email.header import decode_header, make_header

from portal import db
from tests.factories import PASSWORD, make_order
from tests.shop.conftest import csrf_from, login, post_form

ITALIAN = {"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"}


def _switch(client, org, page: str, locale: str, **kwargs):
    return post_form(
        client, page, {"locale": locale, "next": page}, url=f"/{org.slug}/account/language", **kwargs
    )


def test_accept_language_picks_italian(client, org):
    html = client.get(f"/{org.slug}/account/login", headers=ITALIAN).text
    assert '<html lang="it">' in html and "<h1>Accedi</h1>" in html and "Password dimenticata?" in html
    english = client.get(f"/{org.slug}/account/login", headers={"Accept-Language": "de,en;q=0.5"}).text
    assert '<html lang="en">' in english and "<h1>Sign in</h1>" in english


def test_the_switcher_works_without_javascript_and_beats_the_browser(client, org):
    page = f"/{org.slug}/account/login"
    response = _switch(client, org, page, "it")
    assert response.status_code == 303 and response.headers["Location"] == page
    assert "<h1>Accedi</h1>" in client.get(page, headers={"Accept-Language": "en"}).text
    _switch(client, org, page, "en")
    assert "<h1>Sign in</h1>" in client.get(page, headers=ITALIAN).text


def test_the_switcher_refuses_unknown_languages_foreign_next_and_missing_csrf(client, org):
    page = f"/{org.slug}/account/login"
    assert _switch(client, org, page, "xx").status_code == 400
    token = csrf_from(client.get(page).text)
    no_csrf = client.post(f"/{org.slug}/account/language", data={"locale": "it"})
    assert no_csrf.status_code == 400
    away = client.post(
        f"/{org.slug}/account/language",
        data={"locale": "it", "next": "https://evil.example/", "csrf_token": token},
    )
    assert away.status_code == 303 and away.headers["Location"] == f"/{org.slug}/account/"


def test_a_signed_in_choice_is_stored_and_follows_the_customer(client, app, org, shopper):
    login(client, org, shopper.email)
    _switch(client, org, f"/{org.slug}/account/profile", "it")
    assert shopper.locale == "it"
    with app.test_client() as elsewhere:  # another browser, English by default, no session choice
        login(elsewhere, org, shopper.email)
        html = elsewhere.get(f"/{org.slug}/account/", headers={"Accept-Language": "en"}).text
    assert "<h1>Ciao</h1>" in html and "Riepilogo" in html


def test_money_and_dates_follow_the_language(signed_in, org, shopper):
    order = make_order(org, shopper, total_amount_cents=4250)
    italian = signed_in.get(f"/{org.slug}/account/orders/{order.public_id}", headers=ITALIAN).text
    assert "42,50\xa0€" in italian and "Ordine n." in italian
    month = order.placed_at.month
    italian_months = ["gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"]
    assert f" {italian_months[month - 1]} {order.placed_at.year}, " in italian
    english = signed_in.get(
        f"/{org.slug}/account/orders/{order.public_id}", headers={"Accept-Language": "en"}
    ).text
    assert "€42.50" in english


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def test_emails_are_written_in_the_customers_language(signed_in, org, shopper, deliver):
    shopper.locale = "it"
    db.session.flush()
    page = f"/{org.slug}/account/password"
    data = {"current_password": PASSWORD, "password": "a new long secret", "confirm": "a new long secret"}
    # The page is English (the browser asks for it), the email follows the customer's stored choice.
    assert post_form(signed_in, page, data, headers={"Accept-Language": "en"}).status_code == 303
    inbox = deliver()
    message = inbox.to(shopper.email)[0]
    assert _subject(message) == f"La tua password di {org.name} è stata cambiata"
    assert "Se non sei stato tu, scegli subito una nuova password" in inbox.text(message)


def test_sign_up_from_an_italian_page_mails_in_italian(client, org, deliver):
    data = {"email": "nuova@example.com", "password": "una password lunga", "confirm": "una password lunga"}
    assert post_form(client, f"/{org.slug}/account/signup", data, headers=ITALIAN).status_code == 303
    inbox = deliver()
    message = inbox.to("nuova@example.com")[0]
    assert _subject(message) == f"Conferma la tua email per {org.name}"
    assert "Qualcuno (speriamo tu)" in inbox.text(message)


def test_admin_pages_stay_english(client, org):
    assert "Sign in" in client.get("/admin/login", headers=ITALIAN).text
