"""Anonymization throughput: N due requests (each customer with 2 book addresses and 3 placed orders with billing and
shipping copies), drained by 1 and 2 worker processes on PostgreSQL and 1 on SQLite. Target: ≥ 500 customers/s with
2 workers on PostgreSQL.

    .venv/bin/python bench/anonymize.py [--customers 10000] [--backends postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from datetime import UTC, datetime, timedelta

from common import throwaway_database
from sqlalchemy import insert, text

TARGET = 500


def seed(url: str, count: int) -> None:
    """Bulk rows through Core executemany (no ORM loop); the org, market and admin through the services."""
    from portal import create_app, db
    from portal.demo.seeding import random_ids
    from portal.models import (
        Address,
        AnonymizationRequest,
        Customer,
        CustomerAddress,
        Order,
    )
    from portal.services import orgs
    from portal.services.audit import SYSTEM

    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        org = orgs.create_org(SYSTEM, slug="bench", name="Bench")
        market = orgs.create_market(SYSTEM, org, name="Main", code="main")
        admin = orgs.create_user(SYSTEM, email="admin@example.com", password="bench-password-1")  # noqa: S106 - bench data
        orgs.set_membership(SYSTEM, org, admin, "admin")
        db.session.flush()
        now = datetime.now(UTC)
        due = now - timedelta(minutes=1)
        ids = iter(random_ids(count * 20))
        customers, addresses, book, orders, requests = [], [], [], [], []
        address_id = 0
        for n in range(1, count + 1):
            email = f"shopper{n}@example.com"
            customers.append(
                dict(
                    id=n,
                    public_id=next(ids),
                    organization_id=org.id,
                    email=email,
                    login_id=next(ids) + next(ids),
                    shopper_reference=f"shopper-{n}",
                    profile_id=f"profile-{n}",
                    metadata_={"crm": f"c{n}"},
                    anonymization_status="requested",
                    reference=f"ext-{n}",
                )
            )

            def address(kind: str, n: int = n) -> int:
                nonlocal address_id
                address_id += 1
                addresses.append(
                    dict(
                        id=address_id,
                        public_id=next(ids),
                        organization_id=org.id,
                        first_name=f"First{n}",
                        last_name=f"Last{n}",
                        line_1=f"{n} {kind} Street",
                        city="Milan",
                        zip_code="20100",
                        country_code="IT",
                        phone="+39 02 0000",
                        metadata_={},
                    )
                )
                return address_id

            for _ in range(2):
                book.append(
                    dict(
                        public_id=next(ids),
                        organization_id=org.id,
                        customer_id=n,
                        address_id=address("Book"),
                        metadata_={},
                    )
                )
            for k in range(3):
                orders.append(
                    dict(
                        public_id=next(ids),
                        organization_id=org.id,
                        market_id=market.id,
                        customer_id=n,
                        number=f"{n}-{k}",
                        status="placed",
                        customer_email=email,
                        currency_code="EUR",
                        total_amount_cents=1000 + k,
                        billing_address_id=address("Billing"),
                        shipping_address_id=address("Shipping"),
                        placed_at=now,
                        metadata_={},
                    )
                )
            requests.append(
                dict(
                    public_id=next(ids),
                    organization_id=org.id,
                    customer_id=n,
                    status="requested",
                    requester_id=admin.id,
                    requested_at=due,
                    due_at=due,
                )
            )
        for model, rows in (
            (Customer, customers),
            (Address, addresses),
            (CustomerAddress, book),
            (Order, orders),
            (AnonymizationRequest, requests),
        ):
            for start in range(0, len(rows), 5000):
                db.session.execute(insert(model), rows[start : start + 5000])
        if url.startswith("postgresql"):
            for table in ("customers", "addresses"):
                db.session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
                    )
                )
        db.session.commit()
    db.engine_of(app).dispose()


def drain(url: str, batch: int, barrier, results) -> None:
    from portal import create_app, db
    from portal.jobs import anonymizer

    app = create_app({"DATABASE_URL": url, "ANONYMIZATION_BATCH": batch})
    with app.app_context():
        db.session.connection()  # connect before the clock starts
        db.session.rollback()
        barrier.wait()
        results.put(anonymizer.process_due(app))
    db.engine_of(app).dispose()


def run(kind: str, workers: int, count: int, batch: int) -> float:
    with throwaway_database(kind) as url:
        started = time.perf_counter()
        seed(url, count)
        print(f"  seeded {count} customers in {time.perf_counter() - started:.1f}s", flush=True)
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(workers + 1), context.Queue()
        processes = [
            context.Process(target=drain, args=(url, batch, barrier, results)) for _ in range(workers)
        ]
        for process in processes:
            process.start()
        barrier.wait()
        started = time.perf_counter()
        done = [results.get() for _ in processes]
        elapsed = time.perf_counter() - started
        for process in processes:
            process.join()
        assert sum(done) == count, done
        rate = count / elapsed
        label = f"batch {batch}"
        print(
            f"{kind:10} ({label}) workers={workers} per-worker={done} {elapsed:.1f}s → {rate:.0f} customers/s"
        )
        return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--batch", type=int, default=50, help="ANONYMIZATION_BATCH")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "postgresql" in backends:
        run("postgresql", 1, args.customers, args.batch)
        rate = run("postgresql", 2, args.customers, args.batch)
        verdict = "met" if rate >= TARGET else "NOT met"
        print(f"target ≥ {TARGET}/s with 2 workers on PostgreSQL: {verdict} ({rate:.0f}/s)")
    if "sqlite" in backends:
        run("sqlite", 1, args.customers, args.batch)


if __name__ == "__main__":
    main()
