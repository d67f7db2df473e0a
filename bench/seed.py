"""Time to seed N customers (with address books and orders) on SQLite and PostgreSQL, and the database size.

    .venv/bin/python bench/seed.py --customers 1000000 [--backend sqlite|postgresql|both]

Targets (issue 2): ≤ 60 s on PostgreSQL and ≤ 90 s on SQLite for 1,000,000 customers on a 2-core machine.
"""

from __future__ import annotations

import argparse
import time

from common import database_size, throwaway_database

from portal import create_app, db
from portal.demo import seeding
from portal.services import orgs
from portal.services.audit import SYSTEM

TARGETS = {"postgresql": 60.0, "sqlite": 90.0}


def run(kind: str, count: int) -> None:
    with throwaway_database(kind) as url:
        app = create_app({"DATABASE_URL": url})
        with app.app_context():
            org = orgs.create_org(SYSTEM, slug="bench", name="Bench")
            orgs.create_market(SYSTEM, org, name="Main", code="main")
            db.session.commit()
            started = time.perf_counter()
            seeding.seed(org, count)
            elapsed = time.perf_counter() - started
        size = database_size(url)
        db.engine_of(app).dispose()
    verdict = "meets" if elapsed <= TARGETS[kind] * count / 1_000_000 else "MISSES"
    print(
        f"{kind:<11} {count:>9,} customers  {elapsed:7.1f} s  {count / elapsed:9,.0f} customers/s  "
        f"db {size / 2**20:7.0f} MiB  (target {TARGETS[kind]:.0f} s per million: {verdict})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    for kind in ("postgresql", "sqlite") if args.backend == "both" else (args.backend,):
        run(kind, args.customers)


if __name__ == "__main__":
    main()
