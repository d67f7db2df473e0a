"""Configuration: safe embedded defaults, then PORTAL_* environment variables, then explicit overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

DEMO_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused in production mode
DEV_BASE_URL = "http://127.0.0.1:5000"


def defaults(instance_path: str) -> dict[str, Any]:
    instance = Path(instance_path)
    return {
        "ENV_MODE": "development",  # "production" refuses demo secrets and debug
        "SECRET_KEY": DEMO_SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{instance / 'portal.db'}",
        "DOMAIN": "localhost",
        # The public address every emailed and absolute link is built on (never the request's Host header).
        # Required in production; development falls back to DEV_BASE_URL.
        "BASE_URL": None,
        "TRUSTED_HOSTS_EXTRA": None,  # PORTAL_TRUSTED_HOSTS: more host names answered in production, comma-separated
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
        # Lockout and rate-limit counters: in the database, shared by every process of this installation
        # (portal/security/counters.py); redis://… for many machines.
        "RATELIMIT_STORAGE_URL": "database://",
        "TOKEN_RATE_LIMIT": "30 per minute",
        # /api requests per application (the token's), counted in the storage above; empty turns it off.
        "API_RATE_LIMIT": "3000 per 5 minutes",
        # Redis (rate-limit storage) down: keep serving, counting in memory per process (SECURITY.md).
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Per client_id; None means TOKEN_RATE_LIMIT. A sales channel's client id is public, so anyone could
        # spend a storefront's budget: raise this one for busy storefronts rather than the per-IP limit.
        "TOKEN_CLIENT_RATE_LIMIT": None,
        # API sign-ups by a public (guest) sales-channel token, counted whatever the answer (SECURITY.md).
        "SIGNUP_RATE_LIMIT": "10 per hour",  # per client IP
        "SIGNUP_CLIENT_RATE_LIMIT": "500 per hour",  # per sales channel
        # Passkey sign-in challenges asked for by one client IP (anonymous; each one is a row for 5 minutes).
        "PASSKEY_OPTIONS_RATE_LIMIT": "60 per minute",
        # Sign-in codes asked for by one client IP, whatever the addresses (each may send a mail): besides the 5 per
        # hour per address, so one client can't mail code after code to many customers.
        "SIGN_IN_CODE_RATE_LIMIT": "20 per hour",
        "SMTP_URL": None,  # e.g. smtp://user:pass@host:587?starttls=1; None writes .eml files
        "MAIL_DIR": str(instance / "mail"),
        "MAIL_FROM": "Customer Portal <no-reply@localhost>",
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        # The cookie's expiry is set at sign-in and not re-signed on every response: its 12 hours cover the longest
        # absolute lifetime, and the session row enforces idle and absolute lifetimes (security/sessions.py).
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": None,  # the token is tied to the session, which has its own lifetime
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "en",
        # Reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto are trusted (0: none, never forged).
        "PROXY_HOPS": 0,
        # Webhooks (portal/jobs/webhooks.py, SSRF policy in portal/security/outbound.py). ALLOW_LOCAL lets callback
        # URLs use http and loopback addresses (a local receiver): None means on in development, off in production,
        # where turning it on refuses to start.
        "WEBHOOK_ALLOW_LOCAL": None,
        "WEBHOOK_TIMEOUT": 5,  # seconds to connect, and to wait for the answer
        "WEBHOOK_CIRCUIT_THRESHOLD": 30,  # consecutive failures that open a webhook's circuit (Commerce Layer)
        "WEBHOOK_MAX_ATTEMPTS": 10,  # a delivery is given up after this many failed attempts
        "WEBHOOK_BACKOFF": 30,  # seconds before the first retry; doubled each attempt, at most a day
        "WEBHOOK_FAULT": None,  # crash-drill hook (tests): "after_send" dies between the POST and its bookkeeping
        # Bearer token of GET /metrics (Prometheus); None: the endpoint does not exist (404).
        "METRICS_TOKEN": None,
    }


def load(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.update(defaults(app.instance_path))
    app.config.from_prefixed_env("PORTAL")
    if app.config.get("TRUSTED_HOSTS"):  # PORTAL_TRUSTED_HOSTS is the extra list, not Flask's final setting
        app.config["TRUSTED_HOSTS_EXTRA"], app.config["TRUSTED_HOSTS"] = app.config["TRUSTED_HOSTS"], None
    if overrides:
        app.config.update(overrides)
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    if app.config["SESSION_COOKIE_SECURE"] and app.config.get("SESSION_COOKIE_NAME", "session") == "session":
        # HTTPS: the __Host- prefix pins the cookie to this host and path / (ASVS 3.3.3).
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
    if app.config["WEBHOOK_ALLOW_LOCAL"] is None:
        app.config["WEBHOOK_ALLOW_LOCAL"] = app.config["ENV_MODE"] != "production"
    if app.config["ENV_MODE"] == "production":
        check_production(app.config)
        app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    elif not app.config["BASE_URL"]:
        app.config["BASE_URL"] = DEV_BASE_URL


def _base_url_problem(value: Any) -> str | None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        return "PORTAL_BASE_URL must be set to the portal's public https address (e.g. https://portal.example.com)"
    return None


def trusted_hosts(config: dict[str, Any]) -> list[str]:
    """Production answers only the host of BASE_URL and those listed in PORTAL_TRUSTED_HOSTS (Flask refuses
    others with 400), so no link, redirect or page can be made to carry a forged Host."""
    extra = config.get("TRUSTED_HOSTS_EXTRA") or []
    if isinstance(extra, str):
        extra = [host.strip() for host in extra.split(",") if host.strip()]
    return [urlsplit(config["BASE_URL"]).hostname, *(host.lower() for host in extra)]


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
    if config.get("WEBHOOK_ALLOW_LOCAL") not in (None, False, "", "0", "false"):
        problems.append("PORTAL_WEBHOOK_ALLOW_LOCAL must be off (webhooks to local addresses)")
    if problem := _base_url_problem(config.get("BASE_URL")):
        problems.append(problem)
    if problems:
        raise RuntimeError("refusing to start in production mode: " + "; ".join(problems))
