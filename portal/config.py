"""Configuration: safe embedded defaults, then PORTAL_* environment variables, then explicit overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

DEMO_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused in production mode


def defaults(instance_path: str) -> dict[str, Any]:
    instance = Path(instance_path)
    return {
        "ENV_MODE": "development",  # "production" refuses demo secrets and debug
        "SECRET_KEY": DEMO_SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{instance / 'portal.db'}",
        "DOMAIN": "localhost",
        "BASE_URL": "http://127.0.0.1:5000",
        # Token lifetimes (seconds), Commerce Layer's defaults.
        "SALES_CHANNEL_TOKEN_LIFETIME": 4 * 3600,
        "INTEGRATION_TOKEN_LIFETIME": 2 * 3600,
        "USER_TOKEN_LIFETIME": 2 * 3600,
        "REFRESH_TOKEN_LIFETIME": 14 * 24 * 3600,
        "JWT_KEYS_PATH": str(instance / "jwt-keys.json"),
        "JWT_KEYS": None,  # a JWK set (JSON text) given by configuration instead of the file
        "ANONYMIZATION_DELAY": 24 * 3600,
        "ANONYMIZATION_BATCH": 50,  # requests the worker anonymizes per transaction
        "ANONYMIZATION_LEASE": 300,  # seconds before a request left `started` by a dead worker is taken over
        "ANONYMIZATION_FAULT": None,  # crash-drill hook (tests): name of the step at which the worker dies
        "API_COUNT_CACHE_SECONDS": 10,  # how long a list's record_count may be reused (0: always count)
        "PASSWORD_MIN_LENGTH": 8,
        "PASSWORD_MAX_LENGTH": 128,
        "RATELIMIT_STORAGE_URL": "memory://",
        "TOKEN_RATE_LIMIT": "30 per minute",
        # Redis (rate-limit storage) down: keep serving, counting in memory per process (SECURITY.md).
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Per client_id; None means TOKEN_RATE_LIMIT. A sales channel's client id is public, so anyone could
        # spend a storefront's budget: raise this one for busy storefronts rather than the per-IP limit.
        "TOKEN_CLIENT_RATE_LIMIT": None,
        "SMTP_URL": None,  # e.g. smtp://user:pass@host:587?starttls=1; None writes .eml files
        "MAIL_DIR": str(instance / "mail"),
        "MAIL_FROM": "Customer Portal <no-reply@localhost>",
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "WTF_CSRF_TIME_LIMIT": None,  # the token is tied to the session, which has its own lifetime
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "en",
        # Reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto are trusted (0: none, never forged).
        "PROXY_HOPS": 0,
        # Bearer token of GET /metrics (Prometheus); None: the endpoint does not exist (404).
        "METRICS_TOKEN": None,
    }


def load(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.update(defaults(app.instance_path))
    app.config.from_prefixed_env("PORTAL")
    if overrides:
        app.config.update(overrides)
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    if app.config["SESSION_COOKIE_SECURE"] and app.config.get("SESSION_COOKIE_NAME", "session") == "session":
        # HTTPS: the __Host- prefix pins the cookie to this host and path / (ASVS 3.3.3).
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
    if app.config["ENV_MODE"] == "production":
        check_production(app.config)


def check_production(config: dict[str, Any]) -> None:
    """Refuse to start a production deployment with demo secrets or debug on."""
    problems = []
    if config.get("SECRET_KEY") in (None, "", DEMO_SECRET_KEY) or len(str(config["SECRET_KEY"])) < 32:
        problems.append("PORTAL_SECRET_KEY must be set to a random value of 32+ characters")
    if config.get("DEBUG"):
        problems.append("debug must be off")
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append("PORTAL_SESSION_COOKIE_SECURE must be true (HTTPS)")
    if os.environ.get("FLASK_DEBUG") not in (None, "", "0"):
        problems.append("FLASK_DEBUG must be unset")
    if problems:
        raise RuntimeError("refusing to start in production mode: " + "; ".join(problems))
