"""Customer Portal: Commerce Layer's customer domain as a multi-tenant Flask application."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory: defaults, then PORTAL_* environment variables, then `config` (tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("PORTAL_INSTANCE_PATH", str(ROOT / "instance")),
    )
    from portal import config as portal_config

    portal_config.load(app, config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from portal import db, i18n, ops, web
    from portal.extensions import csrf, limiter, login_manager
    from portal.ops import logs
    from portal.security import bearer, cookies, counters, sessions  # counters: the database:// storage
    from portal.security.routes import Policy, allow

    _trust_proxies(app)
    _hosts_ignore_case(app)
    logs.init_app(app)  # first: every later hook and error page has the request id
    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    login_manager.init_app(app)
    cookies.install(app)
    login_manager.user_loader(sessions.load_principal)
    login_manager.session_protection = None  # the sid row does this job, without IP/UA heuristics
    web.init_app(app)
    counters.init_app(app)
    allow(Policy.PUBLIC)(app.view_functions["static"])  # Flask's own view
    bearer.init_app(app)

    from portal import admin, api, cli, oauth, shop

    ops.init_app(app)
    for bearer_only in (api.bp, oauth.bp):
        csrf.exempt(bearer_only)
        app.register_blueprint(bearer_only)
    app.register_blueprint(admin.bp)
    app.register_blueprint(shop.bp)  # last: its first URL segment is an organization slug
    cli.init_app(app)
    return app


def _hosts_ignore_case(app: Flask) -> None:
    """Host names are case-insensitive (RFC 3986): `Portal.Example.com` is the trusted host, not a 400."""
    inner = app.wsgi_app

    def wsgi_app(environ, start_response):
        if "HTTP_HOST" in environ:
            environ["HTTP_HOST"] = environ["HTTP_HOST"].lower()
        return inner(environ, start_response)

    app.wsgi_app = wsgi_app


def _trust_proxies(app: Flask) -> None:
    """Behind PORTAL_PROXY_HOPS reverse proxies, take the client address and scheme from X-Forwarded-For/-Proto.

    0 (the default) trusts no X-Forwarded-* header: anyone could forge them. Host is never taken from
    X-Forwarded-Host: links use PORTAL_BASE_URL.
    """
    hops = int(app.config["PROXY_HOPS"])
    if hops < 0:
        raise RuntimeError("PORTAL_PROXY_HOPS must be 0 or more")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
