"""Webhook delivery: event rows of the outbox become one event callback per matching webhook, and each callback is
POSTed, signed, until the receiver answers 2xx.

Two steps, each an edge that commits, claiming rows with `FOR UPDATE SKIP LOCKED` like the mailer (PostgreSQL: any
number of workers; SQLite: one):
1. fan-out: an undelivered event row is locked; for every enabled webhook of its org and topic an `event_callbacks`
   row is written with the body built now (the API's JSON:API document of the record, `include_resources`
   included), and the event is marked delivered, in one transaction. A unique (event, webhook) pair makes a rerun
   harmless. A webhook whose body can't be built is that webhook's failure alone: the event is tried again later
   for it (backing off like a failed POST) and the other webhooks and events go on, whatever their organization.
2. send: a due callback is locked, POSTed, and its outcome written in the same transaction. A worker killed after the
   POST and before the commit leaves the callback as it was: it is sent again, with the same body, signature and
   `X-CommerceLayer-Idempotency-Id` (the callback's id). Delivery is at least once; receivers dedupe on that id.

Every attempt re-checks the callback URL against the outbound policy and connects to the checked address
(`portal.security.outbound`); no redirect is followed. A failure (no answer, timeout, non-2xx) is retried after
WEBHOOK_BACKOFF × 2^(attempts-1) seconds (capped at a day) until WEBHOOK_MAX_ATTEMPTS; each one counts against the
webhook's circuit breaker, which opens after WEBHOOK_CIRCUIT_THRESHOLD consecutive failures (30, as Commerce Layer):
then its deliveries wait until `_reset_circuit`. A success closes the count at zero.

Crash drill: WEBHOOK_FAULT=after_send SIGKILLs the worker between the POST and its bookkeeping (`after_send:raise`
raises instead), the same hook as the anonymizer's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from portal import db, jobs
from portal.jobs.anonymizer import fault
from portal.models import EventCallback, OutboxMessage, Webhook
from portal.models.orgs import Organization
from portal.security import outbound

log = logging.getLogger(__name__)
BATCH = 50
MAX_BACKOFF = 24 * 3600
USER_AGENT = "CustomerPortal-Webhooks/1"


def signature(secret: str, body: bytes) -> str:
    """`X-CommerceLayer-Signature`: base64 of the HMAC-SHA256 of the raw body, keyed with the shared secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver_due(app: Flask, now: datetime | None = None) -> int:
    """Fan out new events, then send due callbacks. `now` is injectable so tests can step through the backoff."""
    return fan_out(app, now) + send_due(app, now)


def fan_out(app: Flask, now: datetime | None = None) -> int:
    build = app.extensions["webhook_payload"]
    done = 0
    db.session.flush()
    while not jobs.STOPPING.is_set():
        moment = now or db.utcnow()
        events = db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind == "event",
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.available_at <= moment,
            )
            .order_by(OutboxMessage.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        if not events:
            db.session.commit()
            return done
        for event in events:
            error = _fan_out_one(build, event, moment)
            if error is not None:
                _postpone(app, event, error, moment)
                continue
            event.delivered_at = moment
            event.attempts += 1
            event.last_error = None
        try:
            db.session.commit()
        except IntegrityError:  # another worker wrote the same callbacks (SQLite has no SKIP LOCKED)
            db.session.rollback()
            return done
        done += len(events)
    db.session.commit()
    return done


def _postpone(app: Flask, event: OutboxMessage, error: Exception, moment: datetime) -> None:
    """An event with a webhook whose body could not be built is tried again later for that webhook (the others'
    callbacks are written), backing off as a failed delivery does; the events after it go on."""
    event.attempts += 1
    event.last_error = type(error).__name__
    delay = min(MAX_BACKOFF, int(app.config["WEBHOOK_BACKOFF"]) * 2 ** (event.attempts - 1))
    event.available_at = moment + timedelta(seconds=delay)
    log.error(
        "event %s not fanned out (%s), attempt %d; tried again in %d s",
        event.public_id,
        event.last_error,
        event.attempts,
        delay,
        exc_info=error,
    )


def _fan_out_one(build, event: OutboxMessage, moment: datetime) -> Exception | None:
    """Write the event's callback for each enabled webhook of its org and topic that has none yet, each in a
    savepoint: a body that can't be built (a bug, a row written by hand) is that webhook's failure alone. Returns
    the first such failure; the database being unavailable is raised (the job is retried whole)."""
    webhooks = db.session.scalars(
        select(Webhook).where(
            Webhook.organization_id == event.organization_id,
            Webhook.topic == event.topic,
            Webhook.disabled_at.is_(None),
        )
    ).all()
    existing = set(
        db.session.scalars(
            select(EventCallback.webhook_id).where(EventCallback.outbox_message_id == event.id)
        )
    )
    org = db.session.get(Organization, event.organization_id) if webhooks else None
    failed = None
    for webhook in webhooks:
        if webhook.id in existing:
            continue
        try:
            with db.session.begin_nested():
                _write_callback(build, org, event, webhook, moment)
        except (OperationalError, InterfaceError):
            raise
        except Exception as error:
            failed = failed or error
    return failed


def _write_callback(
    build, org: Organization, event: OutboxMessage, webhook: Webhook, moment: datetime
) -> None:
    body = build(org, event.payload or {}, webhook.include_resources or [])
    db.session.add(
        EventCallback(
            organization_id=event.organization_id,
            webhook_id=webhook.id,
            outbox_message_id=event.id,
            customer_id=event.customer_id,
            topic=event.topic,
            callback_url=webhook.callback_url,
            payload=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            available_at=moment,
        )
    )
    db.session.flush()


def _claim(moment: datetime) -> tuple[EventCallback, Webhook] | None:
    row = db.session.execute(
        select(EventCallback, Webhook)
        .join(Webhook, Webhook.id == EventCallback.webhook_id)
        .where(
            EventCallback.delivered_at.is_(None),
            EventCallback.failed_at.is_(None),
            EventCallback.available_at <= moment,
            Webhook.disabled_at.is_(None),
            Webhook.circuit_state == "closed",
        )
        .order_by(EventCallback.available_at, EventCallback.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=EventCallback)
        .execution_options(populate_existing=True)
    ).first()
    return (row[0], row[1]) if row else None


def send_due(app: Flask, now: datetime | None = None) -> int:
    """Send due callbacks one by one, each attempt in its own transaction. A stopping worker returns after the
    callback in hand."""
    sent = 0
    db.session.flush()
    while not jobs.STOPPING.is_set():
        moment = now or db.utcnow()
        claimed = _claim(moment)
        if claimed is None:
            db.session.commit()
            return sent
        callback, webhook = claimed
        status, message = attempt(app, callback, webhook)
        fault(app, "after_send", setting="WEBHOOK_FAULT")
        _record(app, callback, webhook, status, message, moment)
        db.session.commit()
        sent += 1
    db.session.commit()
    return sent


def attempt(app: Flask, callback: EventCallback, webhook: Webhook) -> tuple[int | None, str]:
    """One POST. Returns the answer's status (None: none came) and an excerpt or the failure's name."""
    body = callback.payload.encode()
    headers = {
        "Content-Type": "application/vnd.api+json",
        "User-Agent": USER_AGENT,
        "X-CommerceLayer-Topic": callback.topic,
        "X-CommerceLayer-Signature": signature(webhook.shared_secret, body),
        "X-CommerceLayer-Idempotency-Id": callback.public_id,
    }
    # The webhook's current URL: an admin who corrects it redirects the deliveries still pending.
    callback.callback_url = webhook.callback_url
    try:
        target = outbound.check(callback.callback_url, allow_local=bool(app.config["WEBHOOK_ALLOW_LOCAL"]))
        response = outbound.pinned_post(target, body, headers, timeout=float(app.config["WEBHOOK_TIMEOUT"]))
    except outbound.UnsafeURL as error:
        return None, f"refused: callback_url {error}"
    except Exception as error:  # any transport failure is a failed attempt, never a crashed worker
        return None, type(error).__name__
    return response.status, response.excerpt


def _record(
    app: Flask,
    callback: EventCallback,
    webhook: Webhook,
    status: int | None,
    message: str,
    moment: datetime,
) -> None:
    callback.attempts += 1
    callback.response_code, callback.response_message = status, message[:1000]
    if status is not None and 200 <= status < 300:
        callback.delivered_at = db.utcnow()
        db.session.execute(update(Webhook).where(Webhook.id == webhook.id).values(circuit_failure_count=0))
        log.info("webhook callback %s delivered (%s, %d)", callback.public_id, callback.topic, status)
        return
    if callback.attempts >= int(app.config["WEBHOOK_MAX_ATTEMPTS"]):
        callback.failed_at = moment
    else:
        delay = int(app.config["WEBHOOK_BACKOFF"]) * 2 ** (callback.attempts - 1)
        callback.available_at = moment + timedelta(seconds=min(MAX_BACKOFF, delay))
    threshold = int(app.config["WEBHOOK_CIRCUIT_THRESHOLD"])
    db.session.execute(
        update(Webhook)
        .where(Webhook.id == webhook.id)
        .values(circuit_failure_count=Webhook.circuit_failure_count + 1)
    )
    db.session.execute(
        update(Webhook)
        .where(and_(Webhook.id == webhook.id, Webhook.circuit_failure_count >= threshold))
        .values(circuit_state="open")
    )
    log.warning(
        "webhook callback %s failed (%s), attempt %d",
        callback.public_id,
        status or message,
        callback.attempts,
    )
