"""Domain errors. Services raise them; each front door maps them once (page, JSON:API error, CLI message)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every business-rule refusal. `code` is Commerce Layer's `meta.error` vocabulary."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, **meta: object):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.meta = meta


class Invalid(DomainError):
    """A field's value breaks a rule (blank, taken, too_short, invalid, ...)."""

    status = 422

    @property
    def errors(self) -> list[Invalid]:
        """Every field error this refusal carries (one, unless it is an `InvalidFields`)."""
        return [self]


def check_length(value: str, field: str, minimum: int, maximum: int) -> None:
    """Commerce Layer's too_short / too_long refusals, with the limit in the message and in `count`."""
    if len(value) < minimum:
        raise Invalid(
            f"is too short (minimum is {minimum} characters)", field=field, code="too_short", count=minimum
        )
    if len(value) > maximum:
        raise Invalid(
            f"is too long (maximum is {maximum} characters)", field=field, code="too_long", count=maximum
        )


class InvalidFields(Invalid):
    """Several fields break rules at once: doors show each (the API one error object per field); a door that shows
    one error sees the first, which this error also is."""

    def __init__(self, errors: list[Invalid]):
        first = errors[0]
        super().__init__(first.message, field=first.field, code=first.code, **first.meta)
        self._errors = errors

    @property
    def errors(self) -> list[Invalid]:
        return self._errors


class NotFound(DomainError):
    """The record does not exist *in this organization* (another org's id is simply not found)."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The actor may not do this (Commerce Layer answers 401 UNAUTHORIZED)."""

    status = 401
    code = "unauthorized"


class Conflict(DomainError):
    """The operation collides with the record's current state or a concurrent change."""

    status = 409
    code = "conflict"


class Locked(DomainError):
    """Integrity constraints forbid the operation (a customer with orders cannot be deleted)."""

    status = 423
    code = "locked"


def error_object(
    status: int, code: str, title: str, detail: str, *, integer_status: bool = False, **members: Any
) -> dict[str, Any]:
    """One error in Commerce Layer's shape, for every JSON door (API, OAuth, bearer 401s, the app's error pages).

    JSON:API writes `status` as a string; the OAuth endpoints follow Doorkeeper, whose `status` is an integer (the
    official JS auth client types it so). `members` adds `source` and `meta` where a door has them.
    """
    shown = status if integer_status else str(status)
    return {"title": title, "detail": detail, "code": code, "status": shown, **members}


def error_document(*errors: dict[str, Any]) -> dict[str, Any]:
    """The `{"errors": [...]}` body around one or more `error_object`s."""
    return {"errors": list(errors)}
