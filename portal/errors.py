"""Domain errors. Services raise them; each front door maps them once (page, JSON:API error, CLI message)."""

from __future__ import annotations


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
