"""`gunicorn -c gunicorn.conf.py wsgi:app` as deployed: the probes with the embedded defaults, metrics summed over
worker processes (prometheus-client's multiprocess mode), and a JSON access log that names routes, not paths."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from portal import migrate
from tests.serving import environment, gunicorn

TOKEN = "operator-" + "y" * 32
SECRET_PATH = "/no-such-shop/account/password/reset/sEcReTtOkEn123?email=leak%40example.com"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two worker processes on an embedded SQLite database in a fresh instance folder; (base URL, access log)."""
    instance = tmp_path_factory.mktemp("served")
    migrate.upgrade(f"sqlite:///{instance / 'portal.db'}")
    access_log = instance / "access.log"
    env = environment(PORTAL_INSTANCE_PATH=str(instance), PORTAL_METRICS_TOKEN=TOKEN)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with access_log.open("w") as output, gunicorn(env, workers=2, output=output) as base:
        yield base, access_log


def test_probes_answer_with_the_embedded_defaults(served):
    base, _ = served
    assert requests.get(f"{base}/health", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{base}/ready", timeout=10).json() == {"status": "ready"}


def test_metrics_need_the_token_and_sum_every_worker_process(served):
    base, _ = served
    assert requests.get(f"{base}/metrics", timeout=10).status_code == 401
    counter = re.compile(
        r'^portal_http_requests_total\{endpoint="ops.ready",method="GET",status="200"\} (\S+)$', re.M
    )

    def ready_count() -> float:
        text = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
        match = counter.search(text)
        return float(match.group(1)) if match else 0.0

    before = ready_count()
    for _ in range(20):  # a new connection each time: both worker processes answer some
        requests.get(f"{base}/ready", timeout=10)
    # Every scrape, whichever process answers it, sees all 20.
    assert [ready_count() - before for _ in range(6)] == [20.0] * 6


def _log_lines(access_log, request_ids: set[str], seconds: float = 10) -> list[dict]:
    """The access log's lines once every one of `request_ids` is in it: a worker writes its line after the response
    has gone, so a loaded machine may show it a moment later."""
    deadline = time.monotonic() + seconds
    while True:
        lines = [json.loads(line) for line in access_log.read_text().splitlines() if line.strip()]
        if request_ids <= {line.get("request_id") for line in lines} or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_the_access_log_is_json_with_the_request_id_and_no_path(served):
    base, access_log = served
    response = requests.get(base + SECRET_PATH, headers={"X-Request-Id": "trace-0123456789"}, timeout=10)
    assert response.headers["X-Request-Id"] == "trace-0123456789"
    requests.get(f"{base}/health", headers={"X-Request-Id": "trace-health-42"}, timeout=10)
    lines = _log_lines(access_log, {"trace-health-42", "trace-0123456789"})
    (health,) = [line for line in lines if line["request_id"] == "trace-health-42"]
    assert health["endpoint"] == "ops.health" and health["route"] == "/health" and health["status"] == 200
    assert health["method"] == "GET" and health["duration_ms"] >= 0
    (reset,) = [line for line in lines if line["request_id"] == "trace-0123456789"]
    assert reset["route"] == "/<org_slug>/account/password/reset/<token>"
    text = access_log.read_text()
    assert "sEcReTtOkEn123" not in text and "leak" not in text and "127.0.0.1" not in text
