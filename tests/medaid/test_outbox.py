import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from medaid.core import outbox
from medaid.core.models import HolidayCalendarDay, OutboxEvent

pytestmark = pytest.mark.django_db

TOPIC = "test.happened"


@pytest.fixture
def received(monkeypatch):
    """A handler for TOPIC that records payloads and, when told, writes a row and fails."""
    calls: list[dict] = []

    def handle(payload: dict) -> None:
        calls.append(payload)
        HolidayCalendarDay.objects.create(
            date=dt.date(2030, 1, 1) + dt.timedelta(days=len(calls)), is_workday=False
        )
        if payload.get("fail"):
            raise RuntimeError("处理失败")

    monkeypatch.setitem(outbox.HANDLERS, TOPIC, outbox.Handler(TOPIC, "测试", handle))
    return calls


def _due_now():
    OutboxEvent.objects.filter(state=OutboxEvent.State.PENDING).update(
        next_attempt_at=timezone.now()
    )


def test_an_event_is_delivered_once(received):
    event = outbox.event_emit(TOPIC, {"n": 1}, key="person:1")
    assert outbox.outbox_dispatch()["delivered"] == 1
    assert outbox.outbox_dispatch()["delivered"] == 0
    event.refresh_from_db()
    assert event.state == OutboxEvent.State.DELIVERED
    assert event.attempts == 1
    assert received == [{"n": 1}]


def test_an_event_emitted_in_a_rolled_back_transaction_never_happened(received):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.event_emit(TOPIC, {"n": 1})
        raise RuntimeError("the change itself failed")
    assert OutboxEvent.objects.count() == 0


def test_a_failing_handler_keeps_nothing_and_is_retried_then_parked(received):
    event = outbox.event_emit(TOPIC, {"fail": True})
    counts = outbox.outbox_dispatch()
    assert counts["retried"] == 1
    event.refresh_from_db()
    assert event.state == OutboxEvent.State.PENDING
    assert event.next_attempt_at > timezone.now() + dt.timedelta(seconds=20)
    assert "处理失败" in event.last_error
    # The handler's own write went with its failure.
    assert HolidayCalendarDay.objects.count() == 0
    # Not due yet: nothing happens.
    assert outbox.outbox_dispatch()["retried"] == 0
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        _due_now()
        outbox.outbox_dispatch()
    event.refresh_from_db()
    assert event.state == OutboxEvent.State.PARKED
    assert event.attempts == outbox.MAX_ATTEMPTS

    # A person retries it once the cause is fixed.
    event.payload = {"fail": False}
    event.save(update_fields=["payload"])
    outbox.event_retry(event=event)
    assert outbox.outbox_dispatch()["delivered"] == 1
    event.refresh_from_db()
    assert event.state == OutboxEvent.State.DELIVERED
    assert HolidayCalendarDay.objects.count() == 1


def test_events_of_one_key_wait_behind_a_failing_one_others_go_on(received):
    first = outbox.event_emit(TOPIC, {"fail": True, "n": 1}, key="person:1")
    second = outbox.event_emit(TOPIC, {"n": 2}, key="person:1")
    other = outbox.event_emit(TOPIC, {"n": 3}, key="person:2")
    counts = outbox.outbox_dispatch()
    assert counts["retried"] == 1
    assert counts["delivered"] == 1
    for e in (first, second, other):
        e.refresh_from_db()
    assert other.state == OutboxEvent.State.DELIVERED
    assert second.state == OutboxEvent.State.PENDING
    # Still waiting while the first is waiting for its next attempt.
    outbox.outbox_dispatch()
    second.refresh_from_db()
    assert second.state == OutboxEvent.State.PENDING
    assert [p["n"] for p in received] == [1, 3]

    first.payload = {"n": 1}
    first.save(update_fields=["payload"])
    _due_now()
    outbox.outbox_dispatch()
    assert [p["n"] for p in received] == [1, 3, 1, 2]


def test_retry_refuses_a_delivered_event(received):
    event = outbox.event_emit(TOPIC, {"n": 1})
    outbox.outbox_dispatch()
    with pytest.raises(outbox.Refusal):
        outbox.event_retry(event=event)


def test_an_unknown_topic_is_not_dropped():
    event = outbox.event_emit("nobody.listens", {})
    outbox.outbox_dispatch()
    event.refresh_from_db()
    assert event.state == OutboxEvent.State.PENDING
    assert "no handler" in event.last_error


def test_one_dispatch_is_sent_per_transaction(monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(outbox, "task_send", lambda name, *args: sent.append(name))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox.event_emit(TOPIC, {"n": 1})
        outbox.event_emit(TOPIC, {"n": 2})
    assert sent == [outbox.DISPATCH_TASK]
