"""JSON:API plumbing for the Commerce Layer-compatible API: request documents, query parameters, errors.

Error codes follow Commerce Layer (built on jsonapi-resources): VALIDATION_ERROR, RECORD_NOT_FOUND, UNAUTHORIZED,
LOCKED, PARAM_NOT_ALLOWED, FILTER_NOT_ALLOWED, INVALID_SORT_CRITERIA, INVALID_INCLUDE, INVALID_FIELD, ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest

from portal.errors import DomainError, Invalid, error_document, error_object
from portal.web import JSON_TOO_DEEP

MEDIA_TYPE = "application/vnd.api+json"
PAGE_SIZE_DEFAULT = 10
PAGE_SIZE_MAX = 25
_DOMAIN_CODES = {
    401: "UNAUTHORIZED",
    404: "RECORD_NOT_FOUND",
    409: "RECORD_NOT_UNIQUE",
    423: "LOCKED",
    422: "VALIDATION_ERROR",
}


def dumps(body: Any) -> bytes:
    """A response document as JSON bytes (orjson: several times faster than the json module on a page of 25).
    Values orjson has no encoding for (Decimal, dates) go through the app's JSON provider as with jsonify."""
    return orjson.dumps(
        body,
        default=current_app.json.default,
        option=orjson.OPT_PASSTHROUGH_DATETIME,  # type: ignore[attr-defined]
    )


class ApiError(Exception):
    """A request the API refuses before any service runs (bad document, unknown parameter, wrong headers)."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        meta: dict[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.pointer, self.parameter, self.meta = pointer, parameter, meta


def param_not_allowed(detail: str, **source: str) -> ApiError:
    """Commerce Layer's 400 for a member or query parameter the request may not send; `source` is `pointer=` (a body
    member) or `parameter=` (a query parameter)."""
    return ApiError(400, "PARAM_NOT_ALLOWED", "Param not allowed", detail, **source)


def filter_not_allowed(predicate: str) -> ApiError:
    return ApiError(
        400,
        "FILTER_NOT_ALLOWED",
        "Filter not allowed",
        f"{predicate} is not allowed.",
        parameter=f"filter[q][{predicate}]",
    )


def error_response(
    status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> Response:
    response = jsonify(error_document(*errors))
    response.status_code = status
    response.content_type = MEDIA_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_error(error: ApiError) -> Response:
    body = error_object(error.status, error.code, error.title, error.detail)
    if error.pointer:
        body["source"] = {"pointer": error.pointer}
    elif error.parameter:
        body["source"] = {"parameter": error.parameter}
    if error.meta:
        body["meta"] = error.meta
    return error_response(error.status, [body])


def domain_error(error: DomainError) -> Response:
    """A service's refusal as Commerce Layer's error objects: one per field error, each pointing into the document."""
    status = error.status if error.status in _DOMAIN_CODES else 422
    if status == 422 and isinstance(error, Invalid):
        return error_response(status, [_field_error(each) for each in error.errors])
    return error_response(status, [_field_error(error, status)])


def _field_error(error: DomainError, status: int = 422) -> dict[str, Any]:
    title = {401: "Unauthorized", 404: "Record not found"}.get(status, error.message)
    if not (error.field and status == 422):
        return error_object(status, _DOMAIN_CODES[status], title, error.message)
    base = error.field.split(".")[0]
    where = "relationships" if base in RELATIONSHIP_FIELDS else "attributes"
    return error_object(
        status,
        _DOMAIN_CODES[status],
        title,
        f"{error.field} - {error.message}",
        source={"pointer": f"/data/{where}/{base}"},
        meta={"error": error.code, **error.meta},
    )


# Relationship names that services report as error fields (pointer goes under /data/relationships).
RELATIONSHIP_FIELDS = frozenset({"customer_group", "customer", "address", "market", "tags", "attachable"})


def check_headers() -> None:
    """406 on an Accept that excludes JSON:API, 415 on a body that is not JSON:API."""
    accept = request.headers.get("Accept")
    if (
        accept
        and not request.accept_mimetypes.accept_json
        and MEDIA_TYPE not in accept
        and "*/*" not in accept
    ):
        raise ApiError(
            406,
            "NOT_ACCEPTABLE",
            "Not acceptable",
            f"All requests must accept the '{MEDIA_TYPE}' media type.",
        )
    if request.method in ("POST", "PATCH"):
        mimetype = request.mimetype
        if mimetype not in (MEDIA_TYPE, "application/json"):
            raise ApiError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                f"All requests that create or update must use the '{MEDIA_TYPE}' Content-Type.",
            )


@dataclass
class Document:
    """The `data` member of a create/update request."""

    type: str
    id: str | None
    attributes: dict[str, Any]
    relationships: dict[str, str | None | list[str]]


def _body() -> Any:
    """The parsed body, None when it is not JSON; a body nested too deeply says so (web.BoundedJSONProvider)."""
    try:
        return request.get_json(force=True)
    except BadRequest as error:
        if JSON_TOO_DEEP in f"{error.description} {error.__cause__}":
            raise ApiError(
                400, "INVALID_DATA_FORMAT", "Invalid data format", JSON_TOO_DEEP, pointer=""
            ) from None
        return None


def parse_document(expected_type: str, *, resource_id: str | None = None) -> Document:
    body = _body()
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ApiError(
            400,
            "INVALID_DATA_FORMAT",
            "Invalid data format",
            "The request body must be a JSON object with a 'data' object.",
            pointer="/data",
        )
    data = body["data"]
    unknown = set(data) - {"type", "id", "attributes", "relationships", "meta", "links"}
    if unknown:
        name = sorted(unknown)[0]
        raise param_not_allowed(f"{name} is not allowed.", pointer=f"/data/{name}")
    if data.get("type") != expected_type:
        raise ApiError(
            400,
            "INVALID_RESOURCE",
            "Invalid resource",
            f"The resource type must be '{expected_type}'.",
            pointer="/data/type",
        )
    if resource_id is not None and data.get("id") != resource_id:
        raise ApiError(
            400,
            "KEY_NOT_INCLUDED_IN_URL",
            "Key is not included in URL",
            f"The URL does not support the key {data.get('id')}",
            pointer="/data/id",
        )
    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict):
        raise ApiError(
            400,
            "INVALID_DATA_FORMAT",
            "Invalid data format",
            "attributes must be an object.",
            pointer="/data/attributes",
        )
    return Document(expected_type, data.get("id"), attributes, _relationships(data.get("relationships", {})))


# Identifiers of one to-many relationship in a request: each is looked up (a 1 MB body holds ~25,000 of them).
RELATED_MAX = 100


def _relationships(value: Any) -> dict[str, str | None | list[str]]:
    if not isinstance(value, dict):
        raise ApiError(
            400,
            "INVALID_DATA_FORMAT",
            "Invalid data format",
            "relationships must be an object.",
            pointer="/data/relationships",
        )
    result: dict[str, str | None | list[str]] = {}
    for name, linkage in value.items():
        pointer = f"/data/relationships/{name}"
        if not isinstance(linkage, dict) or "data" not in linkage:
            raise ApiError(
                400,
                "INVALID_DATA_FORMAT",
                "Invalid data format",
                f"{name} must be an object with a 'data' member.",
                pointer=pointer,
            )
        data = linkage["data"]
        if data is None:
            result[name] = None
        elif isinstance(data, list):
            if len(data) > RELATED_MAX:
                raise ApiError(
                    400,
                    "INVALID_DATA_FORMAT",
                    "Invalid data format",
                    f"{name} may reference at most {RELATED_MAX} resources.",
                    pointer=pointer,
                )
            if not all(_identifier(item) and item.get("id") is not None for item in data):
                raise ApiError(
                    400,
                    "INVALID_DATA_FORMAT",
                    "Invalid data format",
                    f"{name} must be an array of resources, each with a string 'type' and 'id'.",
                    pointer=pointer,
                )
            result[name] = [RelatedId.of(item) for item in data]
        elif _identifier(data):
            # the dashboard clears a to-one with {"type": ..., "id": null}
            result[name] = RelatedId.of(data) if data.get("id") is not None else None
        else:
            raise ApiError(
                400,
                "INVALID_DATA_FORMAT",
                "Invalid data format",
                f"{name} must reference one resource with a string 'id'.",
                pointer=pointer,
            )
    return result


def _identifier(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("type"), str)
        and (data.get("id") is None or isinstance(data.get("id"), str))
    )


class RelatedId(str):
    """A relationship's id that remembers the `type` it was sent with (a polymorphic relationship needs it)."""

    type: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> RelatedId:
        related = cls(data["id"])
        related.type = data["type"]
        return related


@dataclass
class Filter:
    """One `filter[q][...]` parameter: `email_or_reference_cont_any=a,b` → names ["email", "reference"], matcher
    "cont", quantifier "any". `ids` (a list of ids) has the matcher "in" on `id`."""

    predicate: str
    names: list[str]
    matcher: str
    quantifier: str | None
    value: str

    @property
    def values(self) -> list[str]:
        """The comma-separated list a list-valued predicate takes (Commerce Layer: no spaces around commas)."""
        return self.value.split(",")


@dataclass
class Query:
    """Parsed query parameters of a list/retrieve request."""

    filters: list[Filter] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (attribute, descending)
    page_number: int = 1
    page_size: int = PAGE_SIZE_DEFAULT
    fields: dict[str, list[str]] = field(default_factory=dict)
    include: list[list[str]] = field(default_factory=list)


# Ransack's predicates, longest first where one ends with another (`not_eq` before `eq`).
MATCHERS = (
    "not_eq_or_null",
    "eq_or_null",
    "not_eq",
    "eq",
    "not_in_or_null",
    "not_in",
    "in",
    "not_start",
    "start",
    "not_end",
    "end",
    "not_i_cont",
    "not_cont",
    "i_cont",
    "cont",
    "gteq",
    "gt",
    "lteq",
    "lt",
    "not_null",
    "null",
    "present",
    "blank",
    "true",
    "false",
    "jcont",
    "does_not_match",
    "matches",
    "from",
    "to",
)
# Predicates that take `_any` (OR over a comma-separated list) and `_all` (AND) variants.
QUANTIFIABLE = frozenset(
    {
        "eq",
        "not_eq",
        "matches",
        "does_not_match",
        "lt",
        "lteq",
        "gt",
        "gteq",
        "start",
        "not_start",
        "end",
        "not_end",
        "cont",
        "not_cont",
        "i_cont",
        "not_i_cont",
    }
)
# Bounds that keep one request's SQL small (SQLite refuses expressions deeper than 1000 terms): filters per request,
# attributes OR-ed in one predicate, values in one comma-separated list.
FILTERS_MAX, FILTER_NAMES_MAX, FILTER_VALUES_MAX = 25, 5, 100
LIST_MATCHERS = frozenset({"in", "not_in", "not_in_or_null"})
_FILTER_RE = re.compile(r"^filter\[q\]\[([a-z0-9_]+)\]$")
_BRACKET_RE = re.compile(r"^(fields|page)\[([a-z_]+)\]$")


def split_predicate(predicate: str) -> tuple[list[str], str, str | None] | None:
    """`email_or_reference_cont_any` → (["email", "reference"], "cont", "any"); `ids` → (["id"], "in", None)."""
    if predicate == "ids":
        return ["id"], "in", None
    quantifier = None
    for suffix in ("any", "all"):
        base = predicate.removesuffix("_" + suffix)
        if base != predicate and any(base.endswith("_" + m) for m in QUANTIFIABLE):
            predicate, quantifier = base, suffix
            break
    for matcher in MATCHERS:
        suffix = "_" + matcher
        if predicate.endswith(suffix):
            attributes = predicate[: -len(suffix)]
            if quantifier and matcher not in QUANTIFIABLE:
                return None
            return (attributes.split("_or_") if attributes else []), matcher, quantifier
    return None


def parse_query() -> Query:
    query = Query()
    for key in request.args:
        values = request.args.getlist(key)
        if len(values) > 1:
            raise param_not_allowed(f"{key} is given more than once.", parameter=key)
        value = values[0]
        if match := _FILTER_RE.match(key):
            predicate = match.group(1)
            split = split_predicate(predicate)
            if split is None or not split[0] or not all(split[0]):
                raise filter_not_allowed(predicate)
            query.filters.append(_bounded(Filter(predicate, *split, value), len(query.filters)))
        elif key == "sort":
            query.sort = [(item.lstrip("-"), item.startswith("-")) for item in value.split(",")]
        elif key == "include":
            query.include = [item.split(".") for item in value.split(",")]
        elif match := _BRACKET_RE.match(key):
            group, name = match.groups()
            if group == "fields":
                query.fields[name] = [item for item in value.split(",") if item]
            else:
                _page(query, name, value, key)
        else:
            raise param_not_allowed(f"{key} is not allowed.", parameter=key)
    return query


def _bounded(item: Filter, before: int) -> Filter:
    """A 400 for a request past the filter bounds (FILTERS_MAX, FILTER_NAMES_MAX, FILTER_VALUES_MAX)."""
    if before >= FILTERS_MAX or len(item.names) > FILTER_NAMES_MAX:
        raise ApiError(
            400,
            "FILTER_NOT_ALLOWED",
            "Filter not allowed",
            f"At most {FILTERS_MAX} filters of at most {FILTER_NAMES_MAX} attributes each are allowed.",
            parameter=f"filter[q][{item.predicate}]",
        )
    if (item.quantifier or item.matcher in LIST_MATCHERS) and len(item.values) > FILTER_VALUES_MAX:
        raise ApiError(
            400,
            "INVALID_FILTER_VALUE",
            "Invalid filter value",
            f"{item.predicate} takes at most {FILTER_VALUES_MAX} comma-separated values.",
            parameter=f"filter[q][{item.predicate}]",
        )
    return item


def _page(query: Query, name: str, value: str, key: str) -> None:
    if name not in ("number", "size"):
        raise param_not_allowed(f"{key} is not allowed.", parameter=key)
    limit = PAGE_SIZE_MAX if name == "size" else 10**9
    if not value.isdigit() or not 1 <= int(value) <= limit:
        raise ApiError(
            400,
            "INVALID_PAGE_VALUE",
            "Invalid page value",
            f"{value} is not a valid value for {key} (1..{limit}).",
            parameter=key,
        )
    setattr(query, f"page_{name}", int(value))
