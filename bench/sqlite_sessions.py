"""SQLite under concurrency: N signed-in shoppers (separate sessions) browsing their account pages with no think
time, on gunicorn with 2 workers, for a fixed time; counts every status (goal: 0 × 503, i.e. no "database is
locked"). Each session's `last_seen_at` is written every 30 s while other processes read and write.

    .venv/bin/python bench/sqlite_sessions.py [--clients 8] [--seconds 120]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import secrets
import tempfile
import threading
import time
from urllib.parse import urlsplit

from bench_http import gunicorn
from pages import SHOPPER_PAGES, _sign_in

from portal import create_app, db, migrate
from portal.demo import org as demo


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/sessions.db"
        migrate.upgrade(url)
        os.environ["PORTAL_INSTANCE_PATH"] = directory
        env = {"PORTAL_DATABASE_URL": url, "PORTAL_SECRET_KEY": secrets.token_hex(32)}
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": env["PORTAL_SECRET_KEY"]})
        with app.app_context():
            details = demo.load()
            db.session.commit()
        slug, shoppers = details["organization"]["slug"], details["shopper_area"]["customers"]
        statuses: collections.Counter = collections.Counter()
        lock = threading.Lock()
        with gunicorn("wsgi:app", env, workers=2, threads=4) as base:
            cookies = [
                _sign_in(base, slug, shoppers[n % len(shoppers)], demo.PASSWORD) for n in range(args.clients)
            ]
            deadline = time.perf_counter() + args.seconds

            def client(n: int) -> None:
                connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=60)
                step = n
                while time.perf_counter() < deadline:
                    page = SHOPPER_PAGES[step % len(SHOPPER_PAGES)]
                    step += 1
                    try:
                        connection.request("GET", f"/{slug}/account/{page}", headers={"Cookie": cookies[n]})
                        response = connection.getresponse()
                        response.read()
                        status = response.status
                    except (OSError, http.client.HTTPException) as error:
                        status = type(error).__name__
                        connection.close()
                        connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=60)
                    with lock:
                        statuses[status] += 1

            threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    total = sum(statuses.values())
    print(
        f"SQLite, gunicorn 2 workers x 4 threads, {args.clients} signed-in clients, {args.seconds:.0f} s: "
        f"{total} requests, {total / args.seconds:.0f} req/s"
    )
    for status, count in sorted(statuses.items(), key=str):
        print(f"  {status}: {count}")
    print(f"503 (database is locked): {statuses.get(503, 0)}  (goal: 0)")


if __name__ == "__main__":
    main()
