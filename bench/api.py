"""GET /api/customers at scale: p50/p95 latency and requests/second on gunicorn + PostgreSQL, next to the same
run's raw SQL time (the floor) and a bare Flask JSON endpoint of the same body size (the stack's ceiling).

    .venv/bin/python bench/api.py --customers 1000000

Targets (issue 4): p95 ≤ 30 ms and throughput ≥ 40 % of the bare endpoint.
"""

from __future__ import annotations

import argparse
import secrets
import time
import urllib.request

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
    "email_cont": "filter[q][email_cont]=ada.smith&sort=-created_at&page[size]=25",
    "status_in": "filter[q][status_in]=acquired,repeat&sort=-created_at&page[size]=25",
    "cont+status+sort": "filter[q][email_cont]=lee&filter[q][status_in]=repeat&sort=email&page[size]=25",
    "first page": "sort=-created_at&page[size]=25",
}
RAW_SQL = {
    "email_cont": "SELECT * FROM customers WHERE organization_id = :org AND email ILIKE '%ada.smith%' "
    "ORDER BY created_at DESC, id LIMIT 25",
    "status_in": "SELECT * FROM customers WHERE organization_id = :org AND status IN ('acquired','repeat') "
    "ORDER BY created_at DESC, id LIMIT 25",
    "cont+status+sort": "SELECT * FROM customers WHERE organization_id = :org AND email ILIKE '%lee%' "
    "AND status IN ('repeat') ORDER BY email, id LIMIT 25",
    "first page": "SELECT * FROM customers WHERE organization_id = :org ORDER BY created_at DESC, id LIMIT 25",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with throwaway_database("postgresql") as url:
        secret = secrets.token_hex(32)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret})
        with app.app_context():
            org = orgs.create_org(SYSTEM, slug="bench", name="Bench")
            orgs.create_market(SYSTEM, org, name="Main", code="main")
            groups.create_group(SYSTEM, org, {"name": "VIP", "code": "vip"})
            db.session.commit()
            started = time.perf_counter()
            seeding.seed(org, args.customers)
            print(f"seeded {args.customers:,} customers in {time.perf_counter() - started:.1f} s", flush=True)
            db.session.execute(text("ANALYZE"))
            db.session.commit()
            application, _ = orgs.create_application(
                SYSTEM, org, name="bench", kind=ApplicationKind.INTEGRATION, role="admin"
            )
            token = tokens.issue(application)["access_token"]
            db.session.commit()
            org_id = org.id
            raw = {}
            for name, sql in RAW_SQL.items():
                samples = []
                for _ in range(args.requests // 4):
                    begin = time.perf_counter()
                    db.session.execute(text(sql), {"org": org_id}).all()
                    samples.append((time.perf_counter() - begin) * 1000)
                raw[name] = samples
        db.engine_of(app).dispose()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.api+json"}
        env = {
            "PORTAL_DATABASE_URL": url,
            "PORTAL_SECRET_KEY": secret,
            "PORTAL_JWT_KEYS_PATH": app.config["JWT_KEYS_PATH"],
        }
        sizes = []
        for label, cache in (("count each time", "0"), ("count cached 10 s", "10")):
            print(f"\n{label:<18} {'portal GET /api/customers':<44} {'raw SQL page query (floor)':<40}")
            with gunicorn("wsgi:app", {**env, "PORTAL_API_COUNT_CACHE_SECONDS": cache}) as base:
                for name, query in QUERIES.items():
                    path = f"/api/customers?{query}"
                    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 - loopback
                    sizes.append(len(urllib.request.urlopen(request).read()))  # noqa: S310 - loopback
                    samples = latencies(base, path, headers, args.requests)
                    print(f"{name:<18} {summary(samples):<44} {summary(raw[name])}", flush=True)
                portal_rps = throughput(base, f"/api/customers?{QUERIES['email_cont']}", headers)
            print(f"throughput, email_cont ({label}): {portal_rps:.0f} req/s")
        with gunicorn("bench.bare_app:app", {"BARE_BYTES": str(max(sizes))}) as base:
            bare_rps = throughput(base, "/json", {})
        print(
            f"\nbare Flask JSON ({max(sizes)} bytes): {bare_rps:.0f} req/s; portal with cached counts: "
            f"{portal_rps:.0f} req/s = {100 * portal_rps / bare_rps:.0f} % of that ceiling (target ≥ 40 %)"
        )


if __name__ == "__main__":
    main()
