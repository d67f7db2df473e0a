"""Field rules shared by every service. Each raises `Invalid` naming the field and Commerce Layer's error code."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from portal.errors import Invalid, InvalidFields, check_length
from portal.web import json_depth

METADATA_MAX_BYTES = 16 * 1024
METADATA_MAX_DEPTH = 16
_CODE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


# Both databases store integers in 64 bits: a larger number in a filter or cursor is refused, not overflowed.
BIGINT = 2**63


def has_control_characters(value: str) -> bool:
    """Control characters, and lone surrogates (`"\\ud800"` is valid JSON but no UTF-8 can store it)."""
    return any(
        (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r") or unicodedata.category(ch) == "Cs"
        for ch in value
    )


def text(
    value: Any,
    field: str,
    *,
    max_length: int = 255,
    min_length: int = 0,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """A trimmed string, or None when empty and optional. Refuses non-strings, control characters, bad lengths."""
    if value is None:
        if required:
            raise Invalid("can't be blank", field=field, code="blank")
        return None
    if not isinstance(value, str):
        raise Invalid("must be a string", field=field, code="invalid")
    value = value.strip()
    if not value:
        if required:
            raise Invalid("can't be blank", field=field, code="blank")
        return None
    if has_control_characters(value) or (not multiline and ("\n" in value or "\r" in value)):
        raise Invalid("contains characters that are not allowed", field=field, code="invalid")
    check_length(value, field, min_length, max_length)
    return value


def email(value: Any, field: str = "email") -> str:
    """A syntactically valid address (no DNS lookups), lower-cased so uniqueness is case-insensitive."""
    raw = text(value, field, max_length=254, required=True)
    assert raw is not None
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        raise Invalid("is invalid", field=field, code="invalid") from None
    return result.normalized.lower()


def email_key(value: Any) -> str:
    """The address as lookups compare it (NFC, IDNA, lower case), for counters kept per account: `USER@example.com`,
    `user@example．com` (fullwidth dot) and `user@ｅxample.com` reach one account, so they share one budget. Input that
    is no address is keyed on itself, trimmed and lower-cased."""
    try:
        return email(value)
    except Invalid:
        return str(value or "").strip().lower().encode("utf-8", "backslashreplace").decode()


def code(value: Any, field: str = "code", *, max_length: int = 25) -> str | None:
    """Commerce Layer codes: letters, digits, underscores and hyphens, no spaces."""
    cleaned = text(value, field, max_length=max_length)
    if cleaned is not None and not _CODE_RE.match(cleaned):
        raise Invalid(
            "may contain only letters, digits, underscores and hyphens", field=field, code="invalid"
        )
    return cleaned


def http_url(value: Any, field: str = "url", *, max_length: int = 2048) -> str | None:
    """An absolute http(s) URL with a host, or None when empty: never `javascript:`, `data:` or a relative path."""
    cleaned = text(value, field, max_length=max_length)
    if cleaned is None:
        return None
    try:
        parts = urlsplit(cleaned)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a malformed IPv6 host or port
        valid = False
    if not valid or any(ch.isspace() for ch in cleaned):
        raise Invalid("must be an http or https URL", field=field, code="invalid")
    return cleaned


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false", field=field, code="invalid")
    return value


def metadata(value: Any, field: str = "metadata") -> dict[str, Any]:
    """A JSON object of at most 16 KB; None clears it."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("must be an object", field=field, code="invalid")
    if json_depth(value) > METADATA_MAX_DEPTH:
        raise Invalid(
            f"is nested too deeply (maximum is {METADATA_MAX_DEPTH} levels)", field=field, code="invalid"
        )
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
        size = len(encoded.encode())
    except (TypeError, ValueError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
        raise Invalid("must be valid JSON", field=field, code="invalid") from None
    if "\\u0000" in encoded:
        raise Invalid("contains characters that are not allowed", field=field, code="invalid")
    if size > METADATA_MAX_BYTES:
        raise Invalid(
            f"is too large (maximum is {METADATA_MAX_BYTES} bytes)",
            field=field,
            code="too_long",
            count=METADATA_MAX_BYTES,
        )
    return value


def country_code(value: Any, field: str = "country_code", *, required: bool = True) -> str | None:
    cleaned = text(value, field, max_length=2, required=required)
    if cleaned is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{2}", cleaned):
        raise Invalid("must be an ISO 3166-1 alpha-2 code", field=field, code="invalid")
    return cleaned.upper()


def currency_code(value: Any, field: str = "currency_code") -> str:
    cleaned = text(value, field, max_length=3, required=True)
    assert cleaned is not None
    if not re.fullmatch(r"[A-Za-z]{3}", cleaned):
        raise Invalid("must be an ISO 4217 code", field=field, code="invalid")
    return cleaned.upper()


def cents(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("must be an integer", field=field, code="not_an_integer")
    if value < 0 or value > 10**13:
        raise Invalid("is out of range", field=field, code="invalid")
    return value


def unknown_fields(data: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    refused = [
        Invalid("is not an allowed attribute", field=key, code="unpermitted")
        for key in data
        if key not in allowed
    ]
    if refused:
        raise refused[0] if len(refused) == 1 else InvalidFields(refused)


class Checks:
    """Run a record's field checks and refuse them all at once: Commerce Layer answers a create with three bad
    fields with three error objects, and a form shows three messages.

        checks = validation.Checks()
        email = checks(validation.email, attributes["email"])   # None when it failed
        ...
        checks.done()                                           # raises every failure, or nothing
    """

    def __init__(self) -> None:
        self.failures: list[Invalid] = []

    def __call__(self, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except Invalid as error:
            self.failures.extend(error.errors)
            return None

    def add(self, error: Invalid) -> None:
        self.failures.extend(error.errors)

    def failed(self, field: str) -> bool:
        return any(error.field == field for error in self.failures)

    def done(self) -> None:
        if self.failures:
            raise self.failures[0] if len(self.failures) == 1 else InvalidFields(self.failures)


def query_arg(args: Any, name: str) -> str:
    """One query-string parameter, trimmed; control characters refused (a NUL breaks both databases' text search)."""
    value = (args.get(name) or "").strip()
    if has_control_characters(value):
        raise Invalid("contains characters that are not allowed", field=name, code="invalid")
    return value


def query_date(value: str, name: str) -> date | None:
    """An optional YYYY-MM-DD filter value; empty means no filter."""
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise Invalid("must be a date (YYYY-MM-DD)", field=name, code="invalid") from None
    if parsed >= date.max:  # searches run to the next midnight, which 9999-12-31 does not have
        raise Invalid("must be a date before 9999-12-31", field=name, code="invalid")
    return parsed


def like_escape(value: str) -> str:
    """Escape LIKE wildcards so user text matches literally (use with `escape="\\\\"`)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


REDIRECT_URIS_MAX = 10
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})


def redirect_uris(lines: Any, field: str = "redirect_uri", *, development: bool) -> list[str]:
    """An application's redirect URIs (authorization code grant), matched exactly at `/oauth/authorize`: absolute
    https URLs, or http on localhost/127.0.0.1 in development; no fragment (RFC 6749 §3.1.2), no user info, no
    whitespace or control characters, at most REDIRECT_URIS_MAX."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, list | tuple) or not all(isinstance(line, str) for line in lines):
        raise Invalid("must be a list of URLs", field=field, code="invalid")
    uris: list[str] = []
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if len(line) > 2000 or has_control_characters(line) or any(ch.isspace() for ch in line):
            raise Invalid("must be a URL without spaces", field=field, code="invalid")
        try:
            parts = urlsplit(line)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise Invalid("must be a URL", field=field, code="invalid") from None
        if "#" in line:
            raise Invalid("must not have a fragment (#)", field=field, code="invalid")
        if not parts.hostname or parts.username is not None or parts.password is not None:
            raise Invalid("must be an absolute URL with a host and no user name", field=field, code="invalid")
        loopback = development and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if parts.scheme != "https" and not loopback:
            raise Invalid(
                "must be https (http only for localhost or 127.0.0.1 in development)",
                field=field,
                code="invalid",
            )
        if line not in uris:
            uris.append(line)
    if len(uris) > REDIRECT_URIS_MAX:
        raise Invalid(f"at most {REDIRECT_URIS_MAX} redirect URIs", field=field, code="too_long")
    return uris
