"""The transactional outbox: how one app tells the others that something happened.

An app never writes another app's rows. When a change in one app matters to another (an
identity backdated in beneficiaries must recompute claims; a settlement posted in funds makes
claims and applications paid), the app that changed emits an event *inside the transaction of
its change* with `event_emit`. The app that cares registers one handler for the topic in its
`AppConfig.ready` (`handler_register`), naming the topic (`medaid.core.topics`), so a lower
app can react to a higher one without importing it.

Delivery (`outbox_dispatch`, run by Celery beat every few seconds and right after a commit
that emitted something):
- events are handled in id order; an event waits while an earlier event of the same key
  (one person, one county) is not yet delivered, so a person's facts arrive in order;
- the handler's writes and the event's "delivered" mark commit together, so an event is
  delivered once, even if the dispatcher runs twice at the same moment (the row is locked
  and re-read) or a worker dies half-way (nothing of the handler's transaction survives);
- a failing handler is retried with back-off (30 s, 1 min, 2 min … at most an hour apart);
  after `MAX_ATTEMPTS` the event is parked with its error, shown in the admin, and waits for a
  person to retry it (`event_retry`). Nothing is dropped silently.

Handlers must also be idempotent in what they do (mark paid only what is not paid yet),
because the same fact can be emitted twice by two different changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from medaid.core import topics
from medaid.core.errors import Refusal
from medaid.core.jobs import lock_release, lock_try, task_send
from medaid.core.models import OutboxEvent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH = 200
DISPATCH_TASK = "medaid.core.tasks.dispatch_outbox"
# One dispatcher at a time on PostgreSQL (the others return at once): order per key needs it.
OUTBOX_LOCK_SPACE = 7_203_117


@dataclass(frozen=True)
class Handler:
    topic: str
    label: str
    handle: Callable[[dict], None]


HANDLERS: dict[str, Handler] = {}


def handler_register(topic: str, label: str, handle: Callable[[dict], None]) -> None:
    """Subscribe `handle(payload)` to `topic`. One handler per topic: it is the one place
    where the fact reaches the app that acts on it."""
    existing = HANDLERS.get(topic)
    if existing is not None and existing.handle is not handle:
        raise RuntimeError(f"topic {topic} already has a handler: {existing.label}")
    HANDLERS[topic] = Handler(topic, label, handle)


def topic_label(topic: str) -> str:
    return topics.LABELS.get(topic, topic)


def event_emit(topic: str, payload: dict, *, key: str = "") -> OutboxEvent:
    """Record that something happened. Call it inside the transaction of the change; the event
    exists only if the change commits, and delivery starts after the commit."""
    event = OutboxEvent.objects.create(topic=topic, payload=payload, key=key[:64])
    _dispatch_after_commit()
    return event


def _send_dispatch() -> None:
    task_send(DISPATCH_TASK)


def _dispatch_after_commit() -> None:
    # One dispatch per transaction, however many events it emitted; a rollback drops it.
    if not connection.in_atomic_block:
        _send_dispatch()
    elif not any(func is _send_dispatch for _, func, _ in connection.run_on_commit):
        transaction.on_commit(_send_dispatch)


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def outbox_dispatch(*, limit: int = 5000) -> dict:
    """Deliver what is due; returns counts. Safe to run from many places at once."""
    counts = {"delivered": 0, "retried": 0, "parked": 0, "waiting": 0}
    if not lock_try(0, space=OUTBOX_LOCK_SPACE):
        return counts
    try:
        while sum(counts.values()) < limit:
            done = _dispatch_batch(counts)
            if not done:
                break
    finally:
        lock_release(0, space=OUTBOX_LOCK_SPACE)
    return counts


def _dispatch_batch(counts: dict) -> int:
    now = timezone.now()
    due = list(
        OutboxEvent.objects.filter(state=OutboxEvent.State.PENDING, next_attempt_at__lte=now)
        .order_by("id")
        .values_list("id", "key")[:BATCH]
    )
    if not due:
        return 0
    blocked = _keys_waiting_behind(due)
    handled = 0
    for event_id, key in due:
        if key and key in blocked and blocked[key] < event_id:
            counts["waiting"] += 1
            continue
        outcome = _deliver(event_id)
        if outcome is None:
            continue
        handled += 1
        counts[outcome] += 1
        if outcome != "delivered" and key:
            blocked[key] = min(blocked.get(key, event_id), event_id)
    return handled


def _keys_waiting_behind(due: list[tuple[int, str]]) -> dict[str, int]:
    """For each key in the batch, the id of the earliest event of that key that is not
    delivered and not due now (retrying later or parked): later events of the key wait."""
    keys = {key for _, key in due if key}
    if not keys:
        return {}
    first_due = {}
    for event_id, key in due:
        first_due.setdefault(key, event_id)
    earlier = (
        OutboxEvent.objects.filter(key__in=keys)
        .exclude(state=OutboxEvent.State.DELIVERED)
        .exclude(id__in=[event_id for event_id, _ in due])
        .values_list("key", "id")
    )
    blocked: dict[str, int] = {}
    for key, event_id in earlier:
        if event_id < first_due[key]:
            blocked[key] = min(blocked.get(key, event_id), event_id)
    return blocked


def _deliver(event_id: int) -> str | None:
    try:
        with transaction.atomic():
            event = (
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(pk=event_id, state=OutboxEvent.State.PENDING)
                .first()
            )
            if event is None:  # delivered meanwhile, or another dispatcher holds it
                return None
            handler = HANDLERS.get(event.topic)
            if handler is None:
                raise LookupError(f"no handler for topic {event.topic}")
            handler.handle(event.payload)
            event.state = OutboxEvent.State.DELIVERED
            event.attempts += 1
            event.delivered_at = timezone.now()
            event.last_error = ""
            event.save(update_fields=["state", "attempts", "delivered_at", "last_error"])
            return "delivered"
    except Exception as exc:
        logger.exception("outbox event %s failed", event_id)
        return _failed(event_id, exc)


def _failed(event_id: int, exc: Exception) -> str:
    with transaction.atomic():
        event = OutboxEvent.objects.select_for_update().get(pk=event_id)
        event.attempts += 1
        message = exc.message if isinstance(exc, Refusal) else f"{type(exc).__name__}: {exc}"
        event.last_error = (message + "\n\n" + traceback.format_exc())[:8000]
        if event.attempts >= MAX_ATTEMPTS:
            event.state = OutboxEvent.State.PARKED
        else:
            event.next_attempt_at = timezone.now() + _backoff(event.attempts)
        event.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
        return "parked" if event.state == OutboxEvent.State.PARKED else "retried"


def event_retry(*, event: OutboxEvent) -> OutboxEvent:
    """A person sends a parked (or waiting) event again, now."""
    with transaction.atomic():
        event = OutboxEvent.objects.select_for_update().get(pk=event.pk)
        if event.state == OutboxEvent.State.DELIVERED:
            raise Refusal("该事件已投递，无需重试", code="already_delivered")
        event.state = OutboxEvent.State.PENDING
        event.attempts = 0
        event.next_attempt_at = timezone.now()
        event.save(update_fields=["state", "attempts", "next_attempt_at"])
        _dispatch_after_commit()
    return event
