"""Ransack-style filters (`filter[q][email_cont]`) and sorting, turned into SQLAlchemy conditions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, cast, func, not_, or_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import ColumnElement

from portal.api.jsonapi import ApiError, filter_not_allowed
from portal.services.validation import BIGINT

_TRUE, _FALSE = ("true", "1", "t"), ("false", "0", "f")


def _invalid(predicate: str, value: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_FILTER_VALUE",
        "Invalid filter value",
        f"{value} is not a valid value for {predicate}.",
        parameter=f"filter[q][{predicate}]",
    )


def _boolean(raw: str, predicate: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise _invalid(predicate, raw)


def convert(kind: str, raw: str, predicate: str) -> Any:
    """A query-string value as the attribute's type; a value that cannot be one is a 400."""
    try:
        if kind == "integer":
            value = int(raw)
            if not -BIGINT <= value < BIGINT:
                raise ValueError(raw)
            return value
        if kind == "float":
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(raw)
            return value
        if kind == "datetime":
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        if kind == "boolean":
            return _boolean(raw, predicate)
    except (ValueError, OverflowError):  # OverflowError: year 9999 pushed past the calendar by its offset
        raise _invalid(predicate, raw) from None
    if "\x00" in raw:
        raise _invalid(predicate, raw)
    return raw


def _jcont(column: Any, raw: str, predicate: str, dialect: str) -> ColumnElement:
    try:
        wanted = json.loads(raw)
    except ValueError:
        raise _invalid(predicate, raw) from None
    if not isinstance(wanted, dict) or not wanted:
        raise _invalid(predicate, raw)
    if dialect == "postgresql":
        return cast(column, JSONB).contains(wanted)
    conditions = []
    for key, value in wanted.items():
        path = "$." + json.dumps(str(key))
        extracted = func.json_extract(column, path)
        if isinstance(value, dict | list):
            conditions.append(extracted == func.json(json.dumps(value)))
        elif isinstance(value, bool):
            conditions.append(extracted == (1 if value else 0))
        else:
            conditions.append(extracted == value)
    return and_(*conditions)


def condition(column: Any, kind: str, matcher: str, raw: str, predicate: str, dialect: str) -> ColumnElement:
    """One attribute × matcher × value → a SQL condition."""
    if matcher == "jcont":
        if kind != "object":
            raise filter_not_allowed(predicate)
        return _jcont(column, raw, predicate, dialect)
    if kind == "object":
        raise filter_not_allowed(predicate)
    if matcher in ("null", "not_null", "present", "blank", "true", "false"):
        wanted = _boolean(raw, predicate)
        expression = {
            "null": column.is_(None),
            "not_null": column.is_not(None),
            "present": and_(column.is_not(None), column != ""),
            "blank": or_(column.is_(None), column == ""),
            "true": column.is_(True),
            "false": column.is_(False),
        }[matcher]
        return expression if wanted else not_(expression)
    if matcher in ("in", "not_in"):
        values = [convert(kind, item, predicate) for item in raw.split(",")]
        return column.in_(values) if matcher == "in" else or_(column.not_in(values), column.is_(None))
    value = convert(kind, raw, predicate)
    text_matchers = {
        "start": lambda: column.istartswith(value, autoescape=True),
        "not_start": lambda: not_(column.istartswith(value, autoescape=True)),
        "end": lambda: column.iendswith(value, autoescape=True),
        "not_end": lambda: not_(column.iendswith(value, autoescape=True)),
        "cont": lambda: column.icontains(value, autoescape=True),
        "i_cont": lambda: column.icontains(value, autoescape=True),
        "not_cont": lambda: not_(column.icontains(value, autoescape=True)),
        "matches": lambda: column.ilike(value),
        "does_not_match": lambda: not_(column.ilike(value)),
    }
    if matcher in text_matchers:
        if kind != "string":
            raise filter_not_allowed(predicate)
        return text_matchers[matcher]()
    return {
        "eq": lambda: column == value,
        "not_eq": lambda: or_(column != value, column.is_(None)),
        "eq_or_null": lambda: or_(column == value, column.is_(None)),
        "not_eq_or_null": lambda: or_(column != value, column.is_(None)),
        "gt": lambda: column > value,
        "gteq": lambda: column >= value,
        "lt": lambda: column < value,
        "lteq": lambda: column <= value,
    }[matcher]()
