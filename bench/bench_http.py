"""A small HTTP load driver (threads + keep-alive connections) and a gunicorn launcher for the benchmarks."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(app: str, env: dict[str, str], workers: int = 2, threads: int = 1):
    """Serve `app` (a gunicorn app spec) on a free loopback port with gunicorn.conf.py's settings (the flags here
    override its process counts); yields the base URL. The access log (stdout) is dropped."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed command
        [
            str(GUNICORN),
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        # No worker recycling (gunicorn.conf.py's max_requests) in the middle of a measurement: a fresh portal worker
        # spends a second of CPU starting, which would be charged to whichever side was being measured.
        env={
            **os.environ,
            "PORTAL_WEB_MAX_REQUESTS": "0",
            # A bench sends far more than an application's API budget (3000 per 5 minutes by default): the limit is
            # raised, not turned off, so the limiter's work per request stays in what is measured.
            "PORTAL_API_RATE_LIMIT": "1000000000 per 5 minutes",
            **env,
            "PYTHONPATH": str(ROOT),
            "PORTAL_LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _request(
    connection: http.client.HTTPConnection, path: str, headers: dict[str, str], body: str | None = None
) -> tuple[int, float]:
    """GET `path`, or POST `body` to it; the status and the latency in ms."""
    started = time.perf_counter()
    connection.request("GET" if body is None else "POST", path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def latencies(base: str, path: str, headers: dict[str, str], count: int) -> list[float]:
    """Sequential requests on one keep-alive connection: per-request latency in ms (warm-up excluded)."""
    connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
    for _ in range(5):
        _request(connection, path, headers)
    results = []
    for _ in range(count):
        status, elapsed = _request(connection, path, headers)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        results.append(elapsed)
    connection.close()
    return results


def throughput(
    base: str,
    path: str,
    headers: dict[str, str],
    seconds: float = 10,
    clients: int = 4,
    body: str | None = None,
) -> float:
    """Requests per second with `clients` concurrent keep-alive connections for `seconds` (each a POST of `body`
    when given); any answer but 200 fails the run."""
    done = [0] * clients
    failures = []
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
        while time.perf_counter() < deadline:
            status, _ = _request(connection, path, headers, body)
            if status != 200:
                failures.append(status)
            done[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests on {path}: statuses {sorted(set(failures))}")
    return sum(done) / seconds
