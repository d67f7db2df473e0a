"""What every HTML form shares: field sizes read from the model columns, validators that speak with one voice,
and mapping a service's DomainError onto the form's fields.

One voice: the message table below is what the shopper forms' validators and the services' DomainErrors (as shown
on pages) both read, so a page never puts "can't be blank" next to "This field is required.". Messages are whole
sentences that say what to do ("Enter an email address"), translated with the page. The services keep Commerce
Layer's API wording (`is invalid`, `can't be blank`) for JSON:API; `for_error` turns those into this voice for HTML,
by the exact message first, then the field and code, then the code alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from babel import support
from flask_babel import LazyString, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Column
from wtforms import Field, ValidationError
from wtforms.i18n import messages_path
from wtforms.validators import InputRequired, Length

from portal.errors import DomainError, Invalid
from portal.models import column_length


class Form(FlaskForm):
    """Every HTML form's base. WTForms' own texts (a field's default label, "Not a valid choice.") come from its
    catalogue in the page's language, parsed once per language: Flask-WTF parses the file again on every request."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: FlaskForm) -> support.Translations:
            return _wtforms_catalogue(str(get_locale()))


@lru_cache(maxsize=16)
def _wtforms_catalogue(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


REQUIRED = {
    "email": _l("Enter an email address"),
    "password": _l("Enter a password"),
    "current_password": _l("Enter your current password"),
    "confirm": _l("Enter the new password again"),
    "first_name": _l("Enter a first name"),
    "last_name": _l("Enter a last name"),
    "company": _l("Enter a company name"),
    "line_1": _l("Enter a street address"),
    "city": _l("Enter a town or city"),
    "country_code": _l("Enter a country code"),
    "phone": _l("Enter a phone number"),
    "code": _l("Enter the code from the email"),
}
FILL_IN = _l("Fill in this field")
TOO_LONG = _l("Use %(max)d characters or fewer")
TOO_SHORT = _l("Use at least %(min)d characters")
PASSWORDS_DIFFER = _l("Enter the same password twice")
COUNTRY_CODE = _l("Enter two letters, like IT or FR")

BY_FIELD_AND_CODE = {
    ("email", "invalid"): _l("Enter an email address like name@example.com"),
    ("email", "taken"): _l("That email address is already in use"),
    ("current_password", "invalid"): _l("That isn't your current password"),
    ("password", "weak"): _l("Choose a password that is harder to guess"),
    ("country_code", "invalid"): COUNTRY_CODE,
    ("token", "invalid"): _l("This link is invalid or has expired: ask for a new one"),
}
BY_MESSAGE = {
    "is already your email address": _l("That is already your email address"),
    "contains characters that are not allowed": _l("Remove the special characters"),
    "A deletion request is already pending": _l("You already asked to delete your data"),
    "Your data is already being deleted": _l("Your data is already being deleted"),
    "This account is already active: sign in instead": _l("This account is already active: sign in instead"),
    "That email address has already been taken": _l("That email address is already in use"),
}


def message_required(field: str) -> LazyString:
    return REQUIRED.get(field, FILL_IN)


def for_error(error: DomainError) -> str:
    """A service's refusal in the form voice (the original message when the table has nothing better)."""
    field = (error.field or "").rsplit(".", 1)[-1]
    count = error.meta.get("count")
    if error.message in BY_MESSAGE:
        return str(BY_MESSAGE[error.message])
    if (field, error.code) in BY_FIELD_AND_CODE:
        return str(BY_FIELD_AND_CODE[(field, error.code)])
    if error.code == "blank":
        return str(message_required(field))
    if error.code == "too_long" and isinstance(count, int):
        return str(TOO_LONG) % {"max": count}
    if error.code == "too_short" and isinstance(count, int):
        return str(TOO_SHORT) % {"min": count}
    return error.message


def fits(column: Column[Any]) -> Length:
    """A length check sized by the column; WTForms renders it as the input's `maxlength` attribute too."""
    return Length(max=column_length(column), message=TOO_LONG)


def required(field: str) -> InputRequired:
    return InputRequired(message_required(field))


def service_check(check: Callable[[Any], object]) -> Callable[[FlaskForm, Field], None]:
    """Run a service's own rule (email syntax, password policy) as a validator, so a form reports every problem
    at once instead of the service's first one after the form's."""

    def validate(form: FlaskForm, field: Field) -> None:
        if not field.data:
            return
        try:
            check(field.data)
        except Invalid as error:
            raise ValidationError(for_error(error)) from None

    return validate


def show_error(form: FlaskForm, error: DomainError, *, field_map: dict[str, str] | None = None) -> None:
    """Attach a service error to the field it names (or to the form as a whole), in the message table's voice; an
    error naming several fields (`InvalidFields`) is attached to each."""
    for each in error.errors if isinstance(error, Invalid) else [error]:
        name = (field_map or {}).get(each.field or "", each.field)
        field = form._fields.get(name) if name else None
        message = for_error(each)
        if field is not None:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            form.form_errors.append(message)
