"""The Commerce Layer-compatible JSON:API under /api. Bearer tokens only: CSRF-exempt, cookies ignored."""

from flask import Blueprint

from portal.api.jsonapi import ApiError, api_error, check_headers, domain_error
from portal.api.limits import add_headers, count_request
from portal.errors import DomainError

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(check_headers)
bp.before_request(count_request)
bp.after_request(add_headers)
bp.register_error_handler(ApiError, api_error)
bp.register_error_handler(DomainError, domain_error)

from portal.api import openapi, payloads, views  # noqa: E402,F401 - registers the routes
from portal.api.resources.webhooks import includable  # noqa: E402

bp.record_once(lambda state: state.app.extensions.__setitem__("webhook_payload", payloads.build))
bp.record_once(lambda state: state.app.extensions.__setitem__("webhook_includes", includable))
