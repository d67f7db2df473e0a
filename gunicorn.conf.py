"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` (README, Deploying). Each default has its reason;
PORTAL_WEB_* environment variables (or gunicorn's own flags, which win) change them per machine.

Processes: gthread workers, one per CPU (at least 2, so one can be recycled while the other serves), 2 threads each.
Processes give the CPU; a second thread keeps a worker busy while the first waits on the database. More threads
only contend for the worker's GIL: at a million customers a request spends about 70 % of its time in Python and
25 % in PostgreSQL, and 50 users with no think time (bench/load.py, README Performance) were served at 285 req/s
with p95 320-359 ms on 4 threads, 322 req/s with p95 248-276 ms on 2, p95 376-406 ms on 3. Each thread holds at most
one database connection (SQLAlchemy's pool of 5 per process), so one instance uses up to workers x threads
connections: size PostgreSQL's max_connections for every instance plus the job workers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gunicorn import glogging

# Prometheus multiprocess mode: every worker writes its metrics to files in this directory and a scrape of any worker
# sums them. One directory per gunicorn instance (systemd: RuntimeDirectory); emptied when the master starts. Set
# before prometheus_client is first imported (portal.ops imports it, so before portal too): it picks its
# multiprocess value class at import time.
OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="portal-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR
# Imported here, in the master, once the variable is set (not in child_exit: an import inside a signal handler
# during shutdown fails).
from prometheus_client import multiprocess  # noqa: E402

from portal.ops import logs  # noqa: E402 - after PROMETHEUS_MULTIPROC_DIR is set


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(f"PORTAL_WEB_{name}", default))


bind = os.environ.get("PORTAL_WEB_BIND", "127.0.0.1:8000")  # the TLS proxy in front connects here
worker_class = "gthread"
workers = _setting("WORKERS", max(2, len(os.sched_getaffinity(0))))
threads = _setting("THREADS", 2)
# A worker silent for 30 s is stuck (the slowest page, the API's largest list, answers in well under 1 s): killed.
timeout = _setting("TIMEOUT", 30)
# SIGTERM or SIGHUP (graceful restart, new code): in-flight requests get 30 s to finish before workers are killed.
graceful_timeout = _setting("GRACEFUL_TIMEOUT", 30)
# Idle keep-alive connections from the proxy: longer than the proxy's own idle timeout (nginx's upstream default is
# 60 s), so the proxy, not gunicorn, closes them and never sends a request on a socket being closed.
keepalive = _setting("KEEPALIVE", 75)
# Recycle a worker after ~2,000 requests (memory growth from fragmentation stays bounded); the jitter keeps the
# workers from restarting all at once.
max_requests = _setting("MAX_REQUESTS", 2000)
max_requests_jitter = _setting("MAX_REQUESTS_JITTER", 200)
# The app is imported in each worker after the fork: no database connection is ever shared between processes,
# and a SIGHUP reloads the code.
preload_app = False

# Client address and scheme come only from Werkzeug's ProxyFix, configured by PORTAL_PROXY_HOPS (default 0: no
# X-Forwarded-* header is believed). gunicorn's own defaults would believe X-Forwarded-Proto from 127.0.0.1.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# Logs: JSON lines, errors on stderr and one access line per request on stdout (portal/logs.py).
loglevel = os.environ.get("PORTAL_LOG_LEVEL", "info").lower()
accesslog = "-"
errorlog = "-"
logconfig_dict = logs.dict_config(loglevel.upper())


class JsonAccessLogger(glogging.Logger):
    """One structured access record per request: request id, endpoint and route pattern (never the raw path or
    query string, which may hold tokens or email addresses), status, bytes and latency. No client address."""

    def access(self, resp, req, environ, request_time) -> None:
        self.access_log.info(
            "request",
            extra={
                "request_id": environ.get(logs.ENVIRON_REQUEST_ID),
                "method": environ.get("REQUEST_METHOD"),
                "endpoint": environ.get(logs.ENVIRON_ENDPOINT, "unmatched"),
                "route": environ.get(logs.ENVIRON_ROUTE),
                "status": resp.status_code,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
            },
        )


logger_class = JsonAccessLogger


def on_starting(server) -> None:
    Path(METRICS_DIR).mkdir(parents=True, exist_ok=True)
    for stale in Path(METRICS_DIR).glob("*.db"):
        stale.unlink()


def on_exit(server) -> None:
    """A directory of our own making (no PROMETHEUS_MULTIPROC_DIR was given): leave nothing behind."""
    if OWN_METRICS_DIR:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)


def child_exit(server, worker) -> None:
    multiprocess.mark_process_dead(worker.pid)
