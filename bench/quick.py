"""`make bench-quick`: the headline ratios on the demo data in under two minutes (SQLite, or PostgreSQL with --db).

Each portal endpoint runs on gunicorn (2 workers) next to a bare Flask app in the same run, with interleaved
rounds (best of N each) so a load spike from other work on the machine hits both sides alike:

- API: `GET /api/customers?page[size]=25&sort=-created_at` and `GET /api/customers/:id` against a bare Flask
  endpoint returning a JSON body of the same size (bench/bare_app.py);
- pages: the signed-in shopper overview and the admin customer list against a bare Flask page rendering a template
  of the same size, compiled once (bench/pages.py's `bare`).

Also prints the portal's server CPU time per API list request (the two workers' CPU over the throughput run), and
Python function calls per request for each endpoint beside a bare Flask request's, counted by cProfile in-process:
a figure the host's noise does not move, so a change's cost shows where the ratios move less than the noise.

    .venv/bin/python bench/quick.py [--db sqlite|postgresql] [--seconds 3] [--rounds 2]

Targets (issue 16): API list ≥ 40 %, single resource ≥ 50 %, pages ≥ 30 %, CPU per API list ≤ 3 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import re
import secrets
import tempfile
import time

import bare_app
import requests
from bench_http import gunicorn, throughput
from common import throwaway_database
from pages import _sign_in
from sqlalchemy import select

from portal import create_app, db
from portal.demo import org as demo
from portal.models import Customer, Organization
from portal.models.staff import ApplicationKind
from portal.security import tokens
from portal.services import orgs
from portal.services.audit import SYSTEM

LIST = "/api/customers?page[size]=25&sort=-created_at"


def _admin_cookie(base: str, email: str, password: str) -> str:
    session = requests.Session()
    page = session.get(f"{base}/admin/login", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/admin/login",
        data={"csrf_token": token, "email": email, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303, response.status_code
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def _worker_cpu(master_pid: int) -> float:
    """User + system CPU seconds of gunicorn's workers (children of the master)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
            if int(fields[1]) == master_pid:
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _gunicorn_master(port_base: str) -> int:
    port = port_base.rsplit(":", 1)[1]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                cmd = open(f"/proc/{pid}/cmdline").read()  # noqa: SIM115
                if "gunicorn" in cmd and f"127.0.0.1:{port}" in cmd:
                    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
                    if "gunicorn" not in open(f"/proc/{fields[1]}/cmdline").read():  # noqa: SIM115
                        return int(pid)
    raise RuntimeError("gunicorn master not found")


def _calls_per_request(app, path: str, headers: dict[str, str], n: int = 20) -> int:
    """Python function calls one request makes in-process (after warm-up requests fill the caches); the cookie is
    the one gunicorn set, sent as it is (the test client's own cookie jar would replace it)."""
    client = app.test_client(use_cookies=False)
    for _ in range(3):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.headers.get("Location"))
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        client.get(path, headers=headers)
    profile.disable()
    return pstats.Stats(profile).total_calls // n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, throwaway_database(args.db) as url:
        secret = secrets.token_hex(32)
        env = {"PORTAL_DATABASE_URL": url, "PORTAL_SECRET_KEY": secret, "PORTAL_INSTANCE_PATH": directory}
        os.environ["PORTAL_INSTANCE_PATH"] = directory  # the same signing keys here and in gunicorn
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret})
        with app.app_context():
            details = demo.load()
            org = db.session.scalar(
                select(Organization).where(Organization.slug == details["organization"]["slug"])
            )
            application, _ = orgs.create_application(
                SYSTEM, org, name="bench", kind=ApplicationKind.INTEGRATION, role="admin"
            )
            token = tokens.issue(application)["access_token"]
            customer_id = db.session.scalar(
                select(Customer.public_id).where(Customer.organization_id == org.id)
            )
            db.session.commit()
        db.engine_of(app).dispose()
        slug = details["organization"]["slug"]
        api = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.api+json"}
        results: dict[str, float] = {}
        cpu_ms = []
        with gunicorn("wsgi:app", env) as base:
            shop = {"Cookie": _sign_in(base, slug, details["shopper_area"]["customers"][0], demo.PASSWORD)}
            admin = {"Cookie": _admin_cookie(base, details["admin_area"]["users"][0]["email"], demo.PASSWORD)}
            targets = {
                "API list": (LIST, api),
                "API single resource": (f"/api/customers/{customer_id}", api),
                "shopper overview": (f"/{slug}/account/", shop),
                "admin customer list": (f"/admin/{slug}/customers", admin),
            }
            sizes = {}
            for label, (path, headers) in targets.items():
                response = requests.get(base + path, headers=headers, timeout=10)
                assert response.status_code == 200, (label, response.status_code)
                sizes[label] = len(response.content)
            master = _gunicorn_master(base)
            bare_env = {"BARE_BYTES": str(sizes["API list"])}
            with (
                gunicorn("bench.bare_app:app", bare_env) as bare_list,
                gunicorn("bench.bare_app:app", {"BARE_BYTES": str(sizes["API single resource"])}) as bare_one,
                gunicorn("bench.pages:bare", {"BARE_BYTES": str(sizes["shopper overview"])}) as bare_shop,
                gunicorn("bench.pages:bare", {"BARE_BYTES": str(sizes["admin customer list"])}) as bare_admin,
            ):
                bares = {
                    "API list": (bare_list, "/json"),
                    "API single resource": (bare_one, "/json"),
                    "shopper overview": (bare_shop, "/page"),
                    "admin customer list": (bare_admin, "/page"),
                }
                time.sleep(1)
                for _ in range(args.rounds):
                    for label, (path, headers) in targets.items():
                        bare_base, bare_path = bares[label]
                        bare_rps = throughput(bare_base, bare_path, {}, args.seconds)
                        before = _worker_cpu(master)
                        started = time.perf_counter()
                        rps = throughput(base, path, headers, args.seconds)
                        if label == "API list":
                            requests_done = rps * (time.perf_counter() - started)
                            cpu_ms.append((_worker_cpu(master) - before) * 1000 / max(requests_done, 1))
                        ratio = rps / bare_rps
                        print(
                            f"  {label:22} {rps:7.0f} req/s  bare {bare_rps:7.0f} req/s  {ratio:5.0%}",
                            flush=True,
                        )
                        results[label] = max(results.get(label, 0), ratio)
        bare_calls = _calls_per_request(bare_app.app, "/json", {})
        calls = {label: _calls_per_request(app, path, headers) for label, (path, headers) in targets.items()}
    targets_pct = {
        "API list": 40,
        "API single resource": 50,
        "shopper overview": 30,
        "admin customer list": 30,
    }
    print(f"\n{args.db}, demo data, gunicorn 2 workers, 4 keep-alive clients, best of {args.rounds} rounds:")
    for label, ratio in results.items():
        goal = targets_pct[label]
        print(
            f"{label:22} {ratio:5.0%} of bare Flask ({sizes[label]} bytes)  target ≥ {goal} %: "
            f"{'met' if ratio * 100 >= goal else 'NOT met'}"
        )
    print(f"server CPU per API list request: {min(cpu_ms):.2f} ms (target ≤ 3 ms)")
    print(f"Python calls per request, in-process (deterministic; a bare Flask request: {bare_calls:,d}):")
    for label, count in calls.items():
        print(f"{label:22} {count:7,d}")


if __name__ == "__main__":
    main()
