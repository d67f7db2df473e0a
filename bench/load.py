"""A bounded load test on loopback: gunicorn (2 gthread workers × 2 threads, as gunicorn.conf.py) + a throwaway
PostgreSQL database seeded with N customers, 50 virtual users mixing shopper pages, admin search and API calls for a
fixed time (security.md R6).

    .venv/bin/python bench/load.py                                  # 1,000,000 customers, 50 users, 120 s
    .venv/bin/python bench/load.py --customers 200000 --seconds 60
    .venv/bin/python bench/load.py --instances 2 ...                # two gunicorn instances, users split evenly

Each virtual user is a thread with one keep-alive connection and two cookie jars (a shopper session and a staff
session, both opened through the real login forms). Prints, per endpoint: requests, failures, p50/p95/max
latency; the peak number of the database's server connections; the load generator's own share of the CPUs (it runs
on the same machine); exits 1 if any request failed (an unexpected status, a timeout or a dropped connection).
Traffic never leaves 127.0.0.1; the loop ends at the deadline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import sys
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from bench_http import gunicorn
from common import percentile, throwaway_database
from sqlalchemy import create_engine, select, text

from portal import create_app, db
from portal.demo import seeding
from portal.models import Customer
from portal.models.staff import ApplicationKind
from portal.security import tokens
from portal.services import customers, groups, orgs
from portal.services.audit import SYSTEM

SLUG = "loadtest"
PASSWORD = "load-test password 1"  # noqa: S105 - throwaway database
SHOPPER = "shopper@load.example"
ADMIN = "admin@load.example"
MEDIA = "application/vnd.api+json"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NAMES = ["ada", "ben", "lee", "mia", "omar", "sara", "zoe", "smith", "garcia", "chen"]
SAMPLE_IDS = 2000
# endpoint → weight (share of the mix); what each does is in VirtualUser.run_one
MIX = {
    "GET shop login page": 10,
    "GET shop overview": 15,
    "GET admin customer search": 15,
    "GET /api/customers?filter": 25,
    "GET /api/customers/:id": 25,
    "PATCH /api/customers/:id": 10,
}


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, elapsed_ms: float, failure: str | None) -> None:
        with self.lock:
            self.latencies[name].append(elapsed_ms)
            if failure:
                self.failures[name].append(failure)


def prepare(url: str, count: int) -> dict:
    """Seed the org and create the principals; returns what the virtual users need."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32)})
    with app.app_context():
        org = orgs.create_org(SYSTEM, slug=SLUG, name="Load Test Store")
        orgs.create_market(SYSTEM, org, name="Europe", code="europe")
        groups.create_group(SYSTEM, org, {"name": "VIP", "code": "vip"})
        db.session.commit()
        started = time.perf_counter()
        seeding.seed(org, count)
        print(f"seeded {count:,} customers in {time.perf_counter() - started:.1f} s", flush=True)
        customers.create_customer(SYSTEM, org, {"email": SHOPPER, "password": PASSWORD})
        user = orgs.create_user(SYSTEM, email=ADMIN, password=PASSWORD, first_name="Lo", last_name="Ad")
        orgs.set_membership(SYSTEM, org, user, "admin")
        application, _secret = orgs.create_application(
            SYSTEM, org, name="load", kind=ApplicationKind.INTEGRATION, role="admin"
        )
        db.session.commit()
        token = tokens.issue(application)["access_token"]
        ids = db.session.scalars(
            select(Customer.public_id).where(Customer.organization_id == org.id).limit(SAMPLE_IDS)
        ).all()
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    db.engine_of(app).dispose()
    return {
        "secret": app.config["SECRET_KEY"],
        "jwt_keys": app.config["JWT_KEYS_PATH"],
        "token": token,
        "ids": list(ids),
    }


class VirtualUser:
    def __init__(self, base: str, token: str, ids: list[str], results: Results, seed: int):
        self.netloc = urlsplit(base).netloc
        self.connection = http.client.HTTPConnection(self.netloc, timeout=30)
        self.token = token
        self.ids = ids
        self.results = results
        self.rng = random.Random(seed)  # noqa: S311 - request mix, not secrets
        self.jars: dict[str, dict[str, str]] = {"shop": {}, "admin": {}, "none": {}}

    def request(self, method: str, path: str, *, jar: str = "none", body=None, headers=None):
        """One request on the keep-alive connection (reconnecting once if the server closed it)."""
        headers = dict(headers or {})
        cookies = self.jars[jar]
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.netloc, timeout=30)
                if attempt == 2:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and jar != "none":
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]
        return response.status, data

    def timed(self, name: str, expected: int, method: str, path: str, **kwargs) -> bytes:
        started = time.perf_counter()
        failure = None
        data = b""
        try:
            status, data = self.request(method, path, **kwargs)
            if status != expected:
                failure = f"{status} {path}"
        except (OSError, http.client.HTTPException) as error:
            failure = f"{type(error).__name__} {path}"
        self.results.record(name, (time.perf_counter() - started) * 1000, failure)
        return data

    def login(self, jar: str, page: str) -> None:
        """Sign in through the real form: GET (session cookie + CSRF token), then POST → 303."""
        html = self.timed(f"GET {jar} login page (setup)", 200, "GET", page, jar=jar).decode()
        match = CSRF.search(html)
        email = SHOPPER if jar == "shop" else ADMIN
        form = urlencode(
            {"csrf_token": match.group(1) if match else "", "email": email, "password": PASSWORD}
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self.timed(f"POST {jar} login (setup)", 303, "POST", page, jar=jar, body=form, headers=headers)

    def run_one(self, name: str) -> None:
        api = {"Authorization": f"Bearer {self.token}", "Accept": MEDIA}
        if name == "GET shop login page":
            self.timed(name, 200, "GET", f"/{SLUG}/account/login")
        elif name == "GET shop overview":
            self.timed(name, 200, "GET", f"/{SLUG}/account/", jar="shop")
        elif name == "GET admin customer search":
            query = urlencode({"q": self.rng.choice(NAMES)})
            self.timed(name, 200, "GET", f"/admin/{SLUG}/customers?{query}", jar="admin")
        elif name == "GET /api/customers?filter":
            query = urlencode(
                {
                    "filter[q][email_cont]": self.rng.choice(NAMES),
                    "filter[q][status_in]": "acquired,repeat",
                    "sort": "-created_at",
                    "page[size]": "25",
                }
            )
            self.timed(name, 200, "GET", f"/api/customers?{query}", headers=api)
        elif name == "GET /api/customers/:id":
            self.timed(name, 200, "GET", f"/api/customers/{self.rng.choice(self.ids)}", headers=api)
        elif name == "PATCH /api/customers/:id":
            customer_id = self.rng.choice(self.ids)
            body = {
                "data": {
                    "type": "customers",
                    "id": customer_id,
                    "attributes": {"metadata": {"load_test": self.rng.randrange(1_000_000)}},
                }
            }
            headers = {**api, "Content-Type": MEDIA}
            self.timed(
                name, 200, "PATCH", f"/api/customers/{customer_id}", body=json.dumps(body), headers=headers
            )

    def run(self, deadline: float) -> None:
        names = list(MIX)
        weights = list(MIX.values())
        while time.perf_counter() < deadline:
            self.run_one(self.rng.choices(names, weights)[0])
        self.connection.close()


def watch_connections(url: str, stop: threading.Event, peak: list[int]) -> None:
    """Sample the database's server connections once a second (the pool bound: R6 "DB connections ≤ pool")."""
    engine = create_engine(url)
    with engine.connect() as connection:
        while not stop.wait(1.0):
            count = connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            ).scalar_one()
            peak[0] = max(peak[0], int(count) - 1)  # minus this monitor
            connection.rollback()
    engine.dispose()


def report(results: Results, seconds: float) -> int:
    total = sum(len(v) for v in results.latencies.values())
    failed = sum(len(v) for v in results.failures.values())
    print(f"\n{'endpoint':<34} {'count':>7} {'failed':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name in sorted(results.latencies, key=lambda n: ("setup" in n, n)):
        values = results.latencies[name]
        print(
            f"{name:<34} {len(values):>7} {len(results.failures[name]):>6} {percentile(values, 50):>8.1f} "
            f"{percentile(values, 95):>8.1f} {max(values):>8.1f}"
        )
    print(f"{'total':<34} {total:>7} {failed:>6}   ({total / seconds:.0f} req/s over {seconds:.0f} s)")
    for name, failures in results.failures.items():
        for failure in failures[:5]:
            print(f"  failure: {name}: {failure}")
    return failed


def drive(args, setup: dict, bases: list[str], url: str, results: Results) -> tuple[float, int, float]:
    """Run the virtual users (user n on instance n mod N); returns (seconds, peak connections, generator CPU s)."""
    users = [
        VirtualUser(bases[n % len(bases)], setup["token"], setup["ids"], results, n)
        for n in range(args.users)
    ]
    for user in users:
        user.login("shop", f"/{SLUG}/account/login")
        user.login("admin", "/admin/login")
    stop, peak = threading.Event(), [0]
    monitor = threading.Thread(target=watch_connections, args=(url, stop, peak), daemon=True)
    monitor.start()
    print(f"{args.users} users for {args.seconds:.0f} s against {', '.join(bases)} ...", flush=True)
    cpu_before = time.process_time()
    started = time.perf_counter()
    deadline = started + args.seconds
    threads = [threading.Thread(target=user.run, args=(deadline,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    generator_cpu = time.process_time() - cpu_before
    stop.set()
    monitor.join(timeout=5)
    return elapsed, peak[0], generator_cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="per worker (gunicorn.conf.py's default)")
    parser.add_argument(
        "--instances", type=int, default=1, help="gunicorn instances on one database (users split evenly)"
    )
    args = parser.parse_args()
    with throwaway_database("postgresql") as url:
        setup = prepare(url, args.customers)
        env = {
            "PORTAL_DATABASE_URL": url,
            "PORTAL_SECRET_KEY": setup["secret"],
            "PORTAL_JWT_KEYS_PATH": setup["jwt_keys"],
        }
        results = Results()
        with ExitStack() as stack:
            bases = [
                stack.enter_context(gunicorn("wsgi:app", env, workers=args.workers, threads=args.threads))
                for _ in range(args.instances)
            ]
            elapsed, peak, generator_cpu = drive(args, setup, bases, url, results)
        failed = report(results, elapsed)
        print(
            f"peak database server connections: {peak} ({args.instances} instance(s) x {args.workers} gunicorn "
            f"workers x {args.threads} threads)"
        )
        cores = len(os.sched_getaffinity(0))
        print(
            f"load generator: {generator_cpu:.1f} CPU s = {generator_cpu / (elapsed * cores):.0%} of the "
            f"{cores} cores over the run"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
