"""What every HTML form shares: field sizes read from the model columns, validators that speak with the message
table's voice, and mapping a service's DomainError onto the form's fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import Column
from wtforms import Field, ValidationError
from wtforms.validators import InputRequired, Length

from portal import messages
from portal.errors import DomainError, Invalid
from portal.models import column_length


def fits(column: Column[Any]) -> Length:
    """A length check sized by the column; WTForms renders it as the input's `maxlength` attribute too."""
    return Length(max=column_length(column), message=messages.TOO_LONG)


def required(field: str) -> InputRequired:
    return InputRequired(messages.required(field))


def service_check(check: Callable[[Any], object]) -> Callable[[FlaskForm, Field], None]:
    """Run a service's own rule (email syntax, password policy) as a validator, so a form reports every problem
    at once instead of the service's first one after the form's."""

    def validate(form: FlaskForm, field: Field) -> None:
        if not field.data:
            return
        try:
            check(field.data)
        except Invalid as error:
            raise ValidationError(messages.for_error(error)) from None

    return validate


def show_error(form: FlaskForm, error: DomainError, *, field_map: dict[str, str] | None = None) -> None:
    """Attach a service error to the field it names (or to the form as a whole), in the message table's voice."""
    name = (field_map or {}).get(error.field or "", error.field)
    field = form._fields.get(name) if name else None
    message = messages.for_error(error)
    if field is not None:
        field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
    else:
        form.form_errors.append(message)
