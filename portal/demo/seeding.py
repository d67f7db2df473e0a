"""Bulk loading of realistic customers (with address books and orders) for benchmarks and demos.

It writes through the DBAPI, not the ORM: `COPY` on PostgreSQL, `executemany` on SQLite, explicit integer keys.
Seeded registered customers share one password hash (of SEED_PASSWORD): hashing a million argon2 passwords
would take hours and prove nothing.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from portal import db
from portal.db import PUBLIC_ID_ALPHABET
from portal.demo.names import CITIES, DOMAINS, FIRST, LAST
from portal.models import Address, Customer, CustomerAddress, CustomerGroup, Market, Order
from portal.models.orgs import Organization
from portal.security.passwords import hash_password
from portal.services import customer_counts

SEED_PASSWORD = "seed-password-1"  # noqa: S105 - benchmark data only

# 256 byte values → 52 letters without modulo bias: bytes ≥ 208 (= 4 × 52) are dropped.
_ID_TABLE = bytes(PUBLIC_ID_ALPHABET[b % 52].encode()[0] for b in range(208)) + bytes(48)
_DROP = bytes(range(208, 256))


def random_ids(count: int, length: int = 10) -> list[str]:
    """`count` random public ids from the OS's CSPRNG, vectorised (the ORM default is too slow for millions)."""
    needed = count * length
    letters = b""
    while len(letters) < needed:
        letters += os.urandom(int((needed - len(letters)) * 1.3) + 64).translate(_ID_TABLE, _DROP)
    text = letters[:needed].decode()
    return [text[i : i + length] for i in range(0, needed, length)]


class _Writer:
    """Appends rows with explicit keys through the session's own connection: COPY (PostgreSQL) or executemany."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.skip_fk_triggers = dialect == "postgresql" and bool(
            db.session.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        )

    def begin_batch(self) -> None:
        """The generated keys are consistent by construction, so a big load skips the per-row foreign-key
        triggers (as pg_restore --disable-triggers does), for this transaction only. Superusers only; anyone
        else loads with the checks on."""
        if self.skip_fk_triggers:
            db.session.execute(text("SET LOCAL session_replication_role = replica"))

    def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        cursor = db.session.connection().connection.cursor()
        if self.dialect == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608  # nosec
        cursor.close()

    def fix_sequences(self, *models: Any) -> None:
        if self.dialect != "postgresql":
            return
        for model in models:
            table = model.__tablename__
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608  # nosec
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )


BULK_THRESHOLD = 100_000
BULK_TABLES = ("customers", "addresses", "customer_addresses", "orders")
# Plain (non-constraint) indexes and, on SQLite, the search-index triggers: dropped for a big load, then rebuilt.
_DEFERRABLE = {
    "postgresql": """
        SELECT 'INDEX', i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
    "sqlite": """
        SELECT upper(type), name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')
          AND sql IS NOT NULL AND tbl_name IN (SELECT value FROM json_each(:tables))""",
}
# External-content FTS5 tables (the SQLite email search) are refilled from their source after the load.
_FTS_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'"


@contextmanager
def _secondary_indexes_deferred(dialect: str, count: int) -> Iterator[None]:
    """For big loads, drop the tables' plain indexes (and SQLite's search triggers) and rebuild them afterwards:
    one sorted build is much cheaper than a million incremental updates. Seeding is an offline operator action;
    the rebuild happens even if the load fails."""
    if count < BULK_THRESHOLD:
        yield
        return
    tables = list(BULK_TABLES) if dialect == "postgresql" else json.dumps(BULK_TABLES)
    objects = db.session.execute(text(_DEFERRABLE[dialect]), {"tables": tables}).all()
    for kind, name, _ in objects:
        db.session.execute(text(f'DROP {kind} "{name}"'))
    if dialect == "sqlite":  # the unique indexes left are updated row by row: keep their pages in memory
        db.session.execute(text("PRAGMA cache_size = -262144"))
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        if dialect == "postgresql":
            db.session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        else:
            for (fts,) in db.session.execute(text(_FTS_TABLES)).all():
                rebuild = f'INSERT INTO "{fts}"("{fts}") VALUES (\'rebuild\')'  # noqa: S608  # nosec
                db.session.execute(text(rebuild))
        for _, _, definition in objects:
            db.session.execute(text(definition))
        db.session.commit()


def _next_id(model: Any) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _ts(value: datetime, dialect: str) -> Any:
    return value if dialect == "postgresql" else value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


CUSTOMER_COLUMNS = [
    "id",
    "public_id",
    "organization_id",
    "email",
    "password_hash",
    "login_id",
    "shopper_reference",
    "profile_id",
    "status",
    "total_orders_count",
    "customer_group_id",
    "metadata",
    "created_at",
    "updated_at",
]
ADDRESS_COLUMNS = [
    "id",
    "public_id",
    "organization_id",
    "business",
    "first_name",
    "last_name",
    "line_1",
    "city",
    "zip_code",
    "country_code",
    "phone",
    "metadata",
    "created_at",
    "updated_at",
]
BOOK_COLUMNS = [
    "id",
    "public_id",
    "organization_id",
    "customer_id",
    "address_id",
    "metadata",
    "created_at",
    "updated_at",
]
ORDER_COLUMNS = [
    "id",
    "public_id",
    "organization_id",
    "market_id",
    "customer_id",
    "number",
    "status",
    "guest",
    "customer_email",
    "language_code",
    "currency_code",
    "subtotal_amount_cents",
    "shipping_amount_cents",
    "discount_amount_cents",
    "total_tax_amount_cents",
    "total_amount_cents",
    "placed_at",
    "metadata",
    "created_at",
    "updated_at",
]


def seed(
    org: Organization, count: int, *, batch: int = 20_000, progress: Callable[[int], Any] = lambda n: None
) -> None:
    """Add `count` customers to `org`: ~60% registered, ~45% with an address, ~55% with 1–3 placed orders."""
    dialect = db.session.get_bind().dialect.name
    market_ids = db.session.scalars(
        select(Market.id).where(Market.organization_id == org.id, Market.customer_group_id.is_(None))
    ).all()
    if not market_ids:
        raise ValueError("the organization needs a public market")
    group_ids = db.session.scalars(
        select(CustomerGroup.id).where(CustomerGroup.organization_id == org.id)
    ).all()
    existing = db.session.scalar(
        select(func.count()).select_from(Customer).where(Customer.organization_id == org.id)
    )
    order_count = db.session.scalar(
        select(func.count()).select_from(Order).where(Order.organization_id == org.id)
    )
    password_hash = hash_password(SEED_PASSWORD)
    rng = random.Random(count)  # noqa: S311 - shapes of fake data, not secrets
    writer = _Writer(dialect)
    ids = {model: _next_id(model) for model in (Customer, Address, CustomerAddress, Order)}
    now = datetime.now(UTC)
    starts = list(range(0, count, batch))

    def generate(start: int) -> dict[str, list[tuple]]:
        size = min(batch, count - start)
        return _batch(
            org,
            existing + start,
            size,
            ids,
            rng,
            now,
            dialect,
            password_hash,
            market_ids,
            group_ids,
            order_count + start * 3,
        )

    # Generating the next batch (Python) overlaps with the database writing this one (the driver releases the
    # GIL while it waits), which keeps both cores busy.
    with _secondary_indexes_deferred(dialect, count), ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(generate, starts[0]) if starts else None
        for index in range(len(starts)):
            rows = pending.result()
            pending = pool.submit(generate, starts[index + 1]) if index + 1 < len(starts) else None
            if count >= BULK_THRESHOLD:
                writer.begin_batch()
            writer.write("customers", CUSTOMER_COLUMNS, rows["customers"])
            writer.write("addresses", ADDRESS_COLUMNS, rows["addresses"])
            writer.write("customer_addresses", BOOK_COLUMNS, rows["book"])
            writer.write("orders", ORDER_COLUMNS, rows["orders"])
            writer.fix_sequences(Customer, Address, CustomerAddress, Order)
            db.session.commit()
            progress(len(rows["customers"]))
    # A big load skips the counter triggers (dropped on SQLite, replica mode on PostgreSQL): recount once.
    customer_counts.recount(org)
    db.session.commit()


def _batch(org, offset, size, ids, rng, now, dialect, password_hash, market_ids, group_ids, order_count):
    public = iter(random_ids(size * 8))
    secret = iter(random_ids(size * 3, 20))
    rows: dict[str, list[tuple]] = {"customers": [], "addresses": [], "book": [], "orders": []}
    for n in range(offset, offset + size):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{n}@{rng.choice(DOMAINS)}"
        created = now - timedelta(seconds=rng.randrange(3 * 365 * 86400))
        orders = rng.choice((0, 0, 0, 0, 1, 1, 1, 1, 2, 3)) if rng.random() < 0.9 else 0
        status = "prospect" if orders == 0 else "acquired" if orders == 1 else "repeat"
        customer_id = ids[Customer]
        ids[Customer] += 1
        group = rng.choice(group_ids) if group_ids and rng.random() < 0.1 else None
        stamp = _ts(created, dialect)
        rows["customers"].append(
            (
                customer_id,
                next(public),
                org.id,
                email,
                password_hash if rng.random() < 0.6 else None,
                next(secret),
                next(secret),
                next(secret),
                status,
                orders,
                group,
                "{}",
                stamp,
                stamp,
            )
        )
        if rng.random() < 0.45:
            city, country = rng.choice(CITIES)
            address_id = ids[Address]
            ids[Address] += 1
            rows["addresses"].append(
                (
                    address_id,
                    next(public),
                    org.id,
                    False,
                    first.title(),
                    last.title(),
                    f"{rng.randrange(1, 300)} {last.title()} Street",
                    city,
                    f"{rng.randrange(10000, 99999)}",
                    country,
                    "+1 555 0100",
                    "{}",
                    stamp,
                    stamp,
                )
            )
            rows["book"].append(
                (ids[CustomerAddress], next(public), org.id, customer_id, address_id, "{}", stamp, stamp)
            )
            ids[CustomerAddress] += 1
        for _ in range(orders):
            order_count += 1
            placed = _ts(created + timedelta(days=rng.randrange(1, 300)), dialect)
            subtotal = rng.randrange(500, 50_000)
            tax = subtotal // 5
            rows["orders"].append(
                (
                    ids[Order],
                    next(public),
                    org.id,
                    rng.choice(market_ids),
                    customer_id,
                    str(order_count),
                    "placed",
                    False,
                    email,
                    "en",
                    "EUR",
                    subtotal,
                    0,
                    0,
                    tax,
                    subtotal + tax,
                    placed,
                    "{}",
                    placed,
                    placed,
                )
            )
            ids[Order] += 1
    return rows
