"""Prometheus metrics (prometheus-client): per-endpoint request counts and latency, and the worker's backlog.

Under gunicorn every worker process counts its own requests; gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a
directory that the workers share, and a scrape of any one of them sums them all (prometheus-client's multiprocess
mode). The backlog gauges are read from the database at scrape time, so they are the same from every process.
Labels are the endpoint name and the method, never the path: bounded cardinality, no ids or tokens in labels.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from portal import db
from portal.services import backlog

REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by endpoint, method and status",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time from the request reaching Flask to its response, by endpoint and method",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_KINDS = ("email", "event")
OPEN_STATUSES = tuple(str(status) for status in backlog.OPEN)


class _Collected:
    """A collector over metric families gathered once (one scrape)."""

    def __init__(self, families: Iterable[Metric]):
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _by_label(name: str, documentation: str, label: str, values: dict[str, int], keys: Iterable[str]):
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key in keys:
        family.add_metric([key], values.get(key, 0))
    return family


def backlog_families(state: backlog.Backlog) -> list[Metric]:
    return [
        _by_label(
            "portal_outbox_pending",
            "Outbox messages not yet delivered",
            "kind",
            state.outbox_pending,
            OUTBOX_KINDS,
        ),
        _by_label(
            "portal_outbox_failing",
            "Undelivered outbox messages whose last attempt failed (mail: SMTP; event: webhook)",
            "kind",
            state.outbox_failing,
            OUTBOX_KINDS,
        ),
        _by_label(
            "portal_anonymization_requests_open",
            "Anonymization requests not finished, due or not",
            "status",
            state.anonymizations_open,
            OPEN_STATUSES,
        ),
        GaugeMetricFamily(
            "portal_anonymization_requests_due",
            "Open anonymization requests past their due time",
            value=state.anonymizations_due,
        ),
        GaugeMetricFamily(
            "portal_anonymization_oldest_due_age_seconds",
            "How long the oldest due anonymization request has been waiting past its due time (0: none)",
            value=state.oldest_due_age_seconds,
        ),
        GaugeMetricFamily(
            "portal_anonymization_requests_failed",
            "Anonymization requests that failed and wait for an admin to request again",
            value=state.anonymizations_failed,
        ),
    ]


def exposition() -> tuple[bytes, str]:
    """The text exposition of one scrape: every process's request metrics, then the backlog."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Collected(REGISTRY.collect()))
    registry.register(_Collected(backlog_families(backlog.read(db.utcnow()))))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    endpoint = request.endpoint or "unmatched"
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    if "metrics_started" in g:
        LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - g.metrics_started)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_observe)
