"""The operator's door: liveness (/health), readiness (/ready) and Prometheus metrics (/metrics).

/health says the process answers, touching nothing else, so a slow database never gets a healthy process restarted.
/ready says this instance can serve traffic (database reachable, schema at the code's migration head, signing keys
loaded); a load balancer stops routing to it while it answers 503. /metrics exists only when PORTAL_METRICS_TOKEN is
set (404 otherwise) and answers only a request carrying it as a bearer token.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, abort, current_app, request

from portal.ops import metrics, readiness
from portal.security.routes import Policy, allow

bp = Blueprint("ops", __name__)


@bp.get("/health")
@allow(Policy.PUBLIC)
def health():
    return {"status": "ok"}


@bp.get("/ready")
@allow(Policy.PUBLIC)
def ready():
    problem = readiness.problem(current_app._get_current_object())
    if problem:
        return {"status": "unavailable", "reason": problem}, 503
    return {"status": "ready"}


@bp.get("/metrics", endpoint="metrics")
@allow(Policy.OPERATOR)
def metrics_view():
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(
            "the metrics need the operator's token\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    body, content_type = metrics.exposition()
    return Response(body, 200, content_type=content_type)


def init_app(app: Flask) -> None:
    """The request metrics' hooks, then the routes (before the shop's, whose first segment is an org slug)."""
    metrics.init_app(app)
    app.register_blueprint(bp)
