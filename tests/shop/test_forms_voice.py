"""Issue 13 items 8 and 9: every field is sized by its model column (maxlength and a server check), and forms
report every problem at once in one voice ("Enter an email address"), whether the form or a service found it."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import ActionToken, Address, Customer, CustomerAddress
from portal.shop.forms import AddressForm, ChangeEmailForm, SignupForm
from tests.factories import PASSWORD
from tests.shop.conftest import post_form
from tests.shop.test_addresses_orders_privacy import ADDRESS

OLD_VOICE = ("can't be blank", "This field is required", "doesn't match", "is too short", "is invalid")


def _errors(html: str) -> dict[str, str]:
    return {
        k: unescape(v) for k, v in re.findall(r'<p class="field-error" id="([\w-]+)-error">([^<]*)</p>', html)
    }


def _maxlengths(html: str) -> dict[str, int]:
    return {
        name: int(n) for n, name in re.findall(r'<input[^>]*maxlength="(\d+)"[^>]*name="(\w+)"', html)
    } | {name: int(n) for name, n in re.findall(r'<input[^>]*name="(\w+)"[^>]*maxlength="(\d+)"', html)}


def test_address_inputs_carry_the_column_lengths(signed_in, org):
    lengths = _maxlengths(signed_in.get(f"/{org.slug}/account/addresses").text)
    columns = Address.__table__.c
    expected = {name: columns[name].type.length for name in ADDRESS if name != "country_code"}
    assert {name: lengths.get(name) for name in expected} == expected
    assert lengths["country_code"] == 2


@pytest.mark.parametrize("form_class", [AddressForm, SignupForm, ChangeEmailForm])
def test_every_text_field_has_a_maxlength(app, form_class):
    with app.test_request_context():
        form = form_class(meta={"csrf": False})
        for field in form:
            if field.type in ("StringField", "EmailField"):
                assert "maxlength" in field(), f"{form_class.__name__}.{field.name}"


def test_an_over_long_address_is_refused_and_nothing_is_written(signed_in, org, hx):
    base = f"/{org.slug}/account/addresses"
    long = {**ADDRESS, "line_1": "x" * 300, "city": "y" * 256}
    for headers in ({}, hx):
        response = post_form(signed_in, base, long, headers=headers)
        assert response.status_code == 422
        errors = _errors(response.text)
        assert errors["line_1"] == errors["city"] == "Use 255 characters or fewer"
    assert db.session.scalar(select(func.count()).select_from(CustomerAddress)) == 0


def test_sign_up_reports_every_problem_at_once_in_one_voice(client, org, hx):
    data = {"email": "", "password": "short", "confirm": "other"}
    for headers in ({}, hx):
        response = post_form(client, f"/{org.slug}/account/signup", data, headers=headers)
        assert response.status_code == 422
        assert _errors(response.text) == {
            "email": "Enter an email address",
            "password": "Use at least 8 characters",
            "confirm": "Enter the same password twice",
        }
        assert not any(old in response.text for old in OLD_VOICE)
    bad = post_form(
        client, f"/{org.slug}/account/signup", {"email": "nope", "password": "password", "confirm": ""}
    )
    assert _errors(bad.text) == {
        "email": "Enter an email address like name@example.com",
        "password": "Choose a password that is harder to guess",
        "confirm": "Enter the new password again",
    }
    assert db.session.scalar(select(func.count()).select_from(ActionToken)) == 0
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_service_refusals_speak_the_same_voice(signed_in, org, shopper):
    page = f"/{org.slug}/account/profile"
    wrong = post_form(signed_in, page, {"email": "new@example.com", "current_password": "not it"})
    assert wrong.status_code == 422 and _errors(wrong.text) == {
        "current_password": "That isn't your current password"
    }
    same = post_form(signed_in, page, {"email": shopper.email, "current_password": PASSWORD})
    assert _errors(same.text) == {"email": "That is already your email address"}


def test_errors_are_translated_too(client, org):
    response = post_form(
        client,
        f"/{org.slug}/account/signup",
        {"email": "", "password": "", "confirm": ""},
        headers={"Accept-Language": "it"},
    )
    assert _errors(response.text) == {
        "email": "Inserisci un indirizzo email",
        "password": "Inserisci una password",
        "confirm": "Inserisci di nuovo la nuova password",
    }
