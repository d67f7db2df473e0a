"""What every HTML form shares: mapping a service's DomainError onto the form's fields."""

from __future__ import annotations

from flask_wtf import FlaskForm

from portal.errors import DomainError


def show_error(form: FlaskForm, error: DomainError, *, field_map: dict[str, str] | None = None) -> None:
    """Attach a service error to the field it names (or to the form as a whole)."""
    name = (field_map or {}).get(error.field or "", error.field)
    field = form._fields.get(name) if name else None
    if field is not None:
        field.errors = [*field.errors, error.message] if isinstance(field.errors, list) else [error.message]
    else:
        form.form_errors.append(error.message)
