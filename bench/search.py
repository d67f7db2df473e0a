"""Admin customer search at scale: server time of the results fragment vs the raw SQL of the same query.

Usage (after seeding, see README / the issue-7 report):
    PORTAL_DATABASE_URL=sqlite:////tmp/bench/search.db .venv/bin/python bench/search.py --org bench
    PORTAL_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/portal_bench_search \\
        .venv/bin/python bench/search.py --org bench

It signs in a throwaway admin through the real login form, puts every 10th customer in a group (once), then times
GET /admin/<org>/customers with HX-Request (the fragment htmx swaps) in-process, and the compiled SQL of the same
search run directly on the connection (the floor). Prints p50/p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text  # noqa: E402

from portal import create_app, db  # noqa: E402
from portal.models import CustomerGroup  # noqa: E402
from portal.services import groups, orgs, search  # noqa: E402
from portal.services.audit import SYSTEM  # noqa: E402

PASSWORD = "bench password 123"  # noqa: S105 - a throwaway admin in a benchmark database


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def setup(org_slug: str) -> tuple[str, str]:
    org = orgs.get_org(org_slug)
    email = "bench-admin@example.com"
    user = orgs.find_user(email) or orgs.create_user(SYSTEM, email=email, password=PASSWORD)
    orgs.set_membership(SYSTEM, org, user, "admin")
    group = db.session.scalar(
        select(CustomerGroup).where(CustomerGroup.organization_id == org.id, CustomerGroup.code == "bench")
    )
    if group is None:
        group = groups.create_group(SYSTEM, org, {"name": "Bench", "code": "bench"})
        db.session.execute(
            text("UPDATE customers SET customer_group_id = :g WHERE organization_id = :o AND id % 10 = 0"),
            {"g": group.id, "o": org.id},
        )
    db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE customers"))
        db.session.commit()
    return email, group.public_id


def raw_sql(org, args: dict) -> str:
    query = search.parse(args)
    stmt = search.statement(org, query).order_by(*search._order(query)).limit(search.PAGE_SIZE + 1)
    dialect = db.session.get_bind().dialect
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--org", default="bench")
    parser.add_argument("--runs", type=int, default=40)
    options = parser.parse_args()
    app = create_app({"SECRET_KEY": secrets.token_hex(32)})
    with app.app_context():
        email, group_id = setup(options.org)
        dialect = db.session.get_bind().dialect.name
    client = app.test_client()
    page = client.get("/admin/login").text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
    assert response.status_code == 303, response.status_code
    cases = {
        "email substring (selective) 'lee4242'": {"q": "lee4242"},
        "email substring (common) 'garcia'": {"q": "garcia"},
        "email prefix 'emma.gomez1'": {"q": "emma.gomez1", "match": "prefix"},
        "status+group filter": {"status": "acquired", "group": group_id},
        "unfiltered first page": {},
    }
    print(f"database: {dialect}  ({os.environ.get('PORTAL_DATABASE_URL', '').split('@')[-1]})")
    print(f"{'query':42} {'page p50':>9} {'page p95':>9} {'sql p50':>9} {'sql p95':>9}  rows")
    for name, args in cases.items():
        url = f"/admin/{options.org}/customers"
        page_times, sql_times = [], []
        with app.app_context():
            org = orgs.get_org(options.org)
            sql = raw_sql(org, args)
            connection = db.session.connection()
            for i in range(options.runs + 3):
                start = time.perf_counter()
                rows = connection.exec_driver_sql(sql).fetchall()
                if i >= 3:
                    sql_times.append((time.perf_counter() - start) * 1000)
            db.session.rollback()
        for i in range(options.runs + 3):
            start = time.perf_counter()
            response = client.get(url, query_string=args, headers={"HX-Request": "true"})
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, (name, response.status_code)
            if i >= 3:
                page_times.append(elapsed)
        print(
            f"{name:42} {statistics.median(page_times):9.1f} {pct(page_times, 95):9.1f} "
            f"{statistics.median(sql_times):9.1f} {pct(sql_times, 95):9.1f}  {len(rows)}"
        )


if __name__ == "__main__":
    main()
