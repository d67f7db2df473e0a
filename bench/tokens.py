"""POST /oauth/token throughput (client_credentials and password) on gunicorn, next to the same run's
baselines: bare argon2id verifications per second (the password grant's floor cost) and bare RS512 signatures
per second (the cost every issued token pays).

    .venv/bin/python bench/tokens.py                      # SQLite
    .venv/bin/python bench/tokens.py --db sqlite postgresql

The rate limit is raised for the run with PORTAL_TOKEN_RATE_LIMIT; everything else is the default config.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time

from bench_http import gunicorn, throughput
from common import throwaway_database

from portal import create_app, db
from portal.models.staff import ApplicationKind
from portal.services import customers, orgs
from portal.services.audit import SYSTEM

PASSWORD = "bench password 123"  # noqa: S105 - a throwaway benchmark account


def rate(seconds: float, work) -> float:
    """Calls per second of `work()` in this thread."""
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        work()
        done += 1
    return done / seconds


def baselines(app) -> tuple[float, float]:
    from portal.security import signing_keys
    from portal.security.passwords import hash_password, verify_password

    stored = hash_password(PASSWORD)
    argon2 = rate(3, lambda: verify_password(stored, PASSWORD))
    from joserfc import jwt

    with app.app_context():
        key = signing_keys.signing_key(app)
    claims = {"scope": "market:all", "iat": int(time.time()), "jti": secrets.token_urlsafe(24)}
    rs512 = rate(3, lambda: jwt.encode({"alg": "RS512", "kid": key.kid}, claims, key, algorithms=["RS512"]))
    return argon2, rs512


def token_rate(base: str, body: dict, seconds: float, clients: int) -> float:
    """Token requests per second from `clients` keep-alive connections."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return throughput(base, "/oauth/token", headers, seconds, clients, body=json.dumps(body))


def seed(url: str, instance: str) -> tuple[dict, dict, object]:
    app = create_app({"DATABASE_URL": url, "JWT_KEYS_PATH": f"{instance}/jwt-keys.json"})
    with app.app_context():
        org = orgs.create_org(SYSTEM, slug="bench", name="Bench")
        orgs.create_market(SYSTEM, org, name="Main", code="main")
        sales, _ = orgs.create_application(SYSTEM, org, name="shop", kind=ApplicationKind.SALES_CHANNEL)
        customers.create_customer(SYSTEM, org, {"email": "bench@example.com", "password": PASSWORD})
        db.session.commit()
        guest = {
            "grant_type": "client_credentials",
            "client_id": sales.client_id,
            "scope": "market:code:main",
        }
        login = {**guest, "grant_type": "password", "username": "bench@example.com", "password": PASSWORD}
    db.engine_of(app).dispose()
    return guest, login, app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    rows = []
    for kind in args.db:
        with throwaway_database(kind) as url, tempfile.TemporaryDirectory() as instance:
            guest, login, app = seed(url, instance)
            env = {
                "PORTAL_DATABASE_URL": url,
                "PORTAL_SECRET_KEY": secrets.token_hex(32),
                "PORTAL_INSTANCE_PATH": instance,
                "PORTAL_JWT_KEYS_PATH": f"{instance}/jwt-keys.json",
                "PORTAL_TOKEN_RATE_LIMIT": "1000000 per minute",
            }
            with gunicorn("wsgi:app", env, workers=args.workers) as base:
                token_rate(base, guest, 1, 2)  # warm-up: imports, key load, connection pools
                rows.append((kind, "client_credentials", token_rate(base, guest, args.seconds, args.clients)))
                rows.append((kind, "password", token_rate(base, login, args.seconds, args.clients)))
    argon2, rs512 = baselines(app)
    print(
        f"\ngunicorn {args.workers} sync workers, {args.clients} keep-alive clients, {args.seconds:.0f} s per row"
    )
    print(f"{'database':<11} {'grant':<20} {'tokens/s':>9}")
    for kind, grant, value in rows:
        print(f"{kind:<11} {grant:<20} {value:9.1f}")
    print(f"\nbaseline (one core, same run): argon2id verify {argon2:.1f}/s, RS512 sign {rs512:.0f}/s")
    print(
        f"password-grant ceiling ≈ argon2 × workers = {argon2 * args.workers:.1f}/s; "
        f"RS512 signing ceiling ≈ {rs512 * args.workers:.0f}/s"
    )


if __name__ == "__main__":
    main()
