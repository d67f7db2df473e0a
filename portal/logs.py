"""Structured logs: one JSON object per line, each carrying the id of the request that wrote it.

The request id is a sane inbound `X-Request-Id` (set by the proxy or load balancer, so one id follows a request
through every hop) or a fresh random one, and is echoed as `X-Request-Id` in the response. The WSGI environ gets the
id, the endpoint and the route *pattern* for gunicorn's access log (gunicorn.conf.py): never the raw path or query,
which can carry reset tokens and email addresses. Log messages themselves name records by public id only.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-Id"
# Printable, no spaces or quotes, bounded: a UUID, a hex trace id, a load balancer's "Root=1-abc-def" all pass.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{7,127}")
ENVIRON_REQUEST_ID = "portal.request_id"
ENVIRON_ENDPOINT = "portal.endpoint"
ENVIRON_ROUTE = "portal.route"
JSON_FIELDS = "{asctime}{levelname}{name}{message}{request_id}"


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (None outside a request: the worker, the CLI) to every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def dict_config(level: str = "INFO") -> dict[str, Any]:
    """logging.config.dictConfig for the whole process: JSON lines on stderr, gunicorn's loggers included."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FIELDS,
                "style": "{",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "stderr": {**handler, "stream": "ext://sys.stderr"},
            "stdout": {**handler, "stream": "ext://sys.stdout"},
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        },
    }


def _assign_request_id() -> None:
    inbound = request.headers.get(HEADER, "")
    g.request_id = inbound if SANE_REQUEST_ID.fullmatch(inbound) else uuid.uuid4().hex
    request.environ[ENVIRON_REQUEST_ID] = g.request_id


def _echo_request_id(response: Response) -> Response:
    if "request_id" not in g:  # a response made before any before_request ran (e.g. a routing redirect)
        _assign_request_id()
    response.headers[HEADER] = g.request_id
    request.environ[ENVIRON_ENDPOINT] = request.endpoint or "unmatched"
    request.environ[ENVIRON_ROUTE] = request.url_rule.rule if request.url_rule else None
    return response


def init_app(app: Flask) -> None:
    """Registered first in create_app, so every later hook (and every error page) already has the id."""
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
