"""The background worker: runs every due job, then sleeps. `--once` runs what is due and exits."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

from flask import Flask

from portal import db, jobs
from portal.jobs import anonymizer, mailer
from portal.security import counters

log = logging.getLogger(__name__)

# Each job handles what is due and returns how many items it processed. Jobs commit their own work.
JOBS: list[Callable[[Flask], int]] = [mailer.deliver_due, anonymizer.process_due, counters.purge_expired]


def run_due(app: Flask) -> int:
    done = 0
    for job in JOBS:
        try:
            done += job(app)
        except Exception:
            db.session.rollback()
            log.exception("job %s failed; it will be retried", job.__qualname__)
    return done


def run(app: Flask, *, once: bool, interval: float) -> None:
    jobs.STOPPING.clear()

    def _stop(_signum, _frame):
        jobs.STOPPING.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("worker started")
    while True:
        done = run_due(app)
        db.session.remove()
        if once or jobs.STOPPING.is_set():
            break
        if not done:
            time.sleep(interval)
    log.info("worker stopped")
