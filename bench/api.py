"""GET /api/customers at scale on gunicorn (2 workers): cold p50/p95 per query (no count cache: every request counts
or reads the counters), next to the same run's lean floor handler (bench/floor_app.py: RS512 verify, token row,
page query, count, orjson) and the raw page SQL; then throughput of the portal against the floor.

    .venv/bin/python bench/api.py --db postgresql --customers 1000000
    .venv/bin/python bench/api.py --db sqlite --customers 100000

Targets (issue 16): cold p95 ≤ 30 ms at 1 M; portal ≥ 75 % of the floor's throughput.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time

from bench_http import gunicorn, latencies, throughput
from common import summary, throwaway_database
from sqlalchemy import text

from portal import create_app, db
from portal.demo import seeding
from portal.models.staff import ApplicationKind
from portal.security import tokens
from portal.services import groups, orgs
from portal.services.audit import SYSTEM

QUERIES = {
    "first page": ("sort=-created_at&page[size]=25", ""),
    "status_in": ("filter[q][status_in]=acquired,repeat&sort=-created_at&page[size]=25", "q=status_in"),
    "email_cont": (
        "filter[q][email_cont]=ada.smith&sort=-created_at&page[size]=25",
        "q=email_cont&v=ada.smith",
    ),
    "email_cont lee": ("filter[q][email_cont]=lee&sort=-created_at&page[size]=25", "q=email_cont&v=lee"),
    "sort -total_orders_count": ("sort=-total_orders_count&page[size]=25", None),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, throwaway_database(args.db) as url:
        os.environ["PORTAL_INSTANCE_PATH"] = directory
        secret = secrets.token_hex(32)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret})
        with app.app_context():
            org = orgs.create_org(SYSTEM, slug="bench", name="Bench")
            orgs.create_market(SYSTEM, org, name="Main", code="main")
            groups.create_group(SYSTEM, org, {"name": "VIP", "code": "vip"})
            db.session.commit()
            started = time.perf_counter()
            seeding.seed(org, args.customers)
            elapsed = time.perf_counter() - started
            print(f"{args.db}: seeded {args.customers:,} customers in {elapsed:.1f} s", flush=True)
            db.session.execute(text("ANALYZE"))
            db.session.commit()
            application, _ = orgs.create_application(
                SYSTEM, org, name="bench", kind=ApplicationKind.INTEGRATION, role="admin"
            )
            token = tokens.issue(application)["access_token"]
            db.session.commit()
            org_id = org.id
        db.engine_of(app).dispose()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.api+json"}
        env = {"PORTAL_DATABASE_URL": url, "PORTAL_SECRET_KEY": secret, "PORTAL_API_COUNT_CACHE_SECONDS": "0"}
        floor_env = {
            "FLOOR_DATABASE_URL": url,
            "FLOOR_KEYS_PATH": app.config["JWT_KEYS_PATH"],
            "FLOOR_ORG_ID": str(org_id),
        }
        print(f"\n{'query (cold: no count cache)':<26} {'portal':<44} floor handler")
        with gunicorn("wsgi:app", env) as base, gunicorn("bench.floor_app:app", floor_env) as floor:
            for name, (query, floor_query) in QUERIES.items():
                portal = latencies(base, f"/api/customers?{query}", headers, args.requests)
                lean = []
                if floor_query is not None:
                    lean = latencies(floor, f"/floor?{floor_query}", headers, args.requests)
                print(f"{name:<26} {summary(portal):<44} {summary(lean) if lean else '-'}", flush=True)
            for name in ("first page", "status_in"):
                query, floor_query = QUERIES[name]
                floor_rps = throughput(floor, f"/floor?{floor_query}", headers, args.seconds)
                portal_rps = throughput(base, f"/api/customers?{query}", headers, args.seconds)
                print(
                    f"throughput {name}: portal {portal_rps:.0f} req/s, floor {floor_rps:.0f} req/s = "
                    f"{portal_rps / floor_rps:.0%} (target ≥ 75 %)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
