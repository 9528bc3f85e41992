"""The claims sweeper (run by `jobs_sweep`): a partition nobody holds and nobody finished long
after it was sent is sent again; a live one, a fresh one and a done one are not; after
`MAX_PARTITION_RESENDS` the run fails in Chinese, and its job with it."""

import datetime as dt

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from beneficiaries.models import Person
from claims.models import DecisionRun, RunPartition
from claims.services import recompute
from medaid.core import jobs
from medaid.core.models import Job
from tests.claims.conftest import make_person

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the locks are PostgreSQL's"),
]


def test_orphaned_partitions_are_resent_live_and_fresh_ones_are_not_and_worn_ones_fail(
    county, monkeypatch
):
    sent = []
    monkeypatch.setattr(recompute, "task_send", lambda name, *args: sent.append((name, args)))
    for _ in range(5):
        make_person(county)
    job = jobs.job_create(kind="claims.recompute", county=county)
    run = recompute.run_create(
        kind=DecisionRun.Kind.RECOMPUTE,
        year=2024,
        people=Person.objects.values("id"),
        partitions=5,
        job=job,
    )
    old, now = timezone.now() - dt.timedelta(minutes=5), timezone.now()
    parts = {p.number: p for p in RunPartition.objects.filter(run=run)}
    # 0: taken by a worker that died; 1: taken by a live worker (holds the lock); 2: sent just
    # now; 3: done; 4: never taken (its message was lost with a prefetching worker).
    RunPartition.objects.filter(run=run).update(sent_at=old)
    RunPartition.objects.filter(pk__in=[parts[0].pk, parts[1].pk]).update(started_at=old)
    RunPartition.objects.filter(pk=parts[2].pk).update(sent_at=now)
    RunPartition.objects.filter(pk=parts[3].pk).update(done=True)

    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    )
    try:
        other.execute(
            "SELECT pg_advisory_lock(%s, %s)", [recompute.PARTITION_LOCK_SPACE, parts[1].pk]
        )
        counts = jobs.jobs_sweep(now=now)
    finally:
        other.close()
    assert counts == {"resent": 2, "failed": 0}
    assert sent == [
        (recompute.PARTITION_TASK, (run.pk, 0)),
        (recompute.PARTITION_TASK, (run.pk, 4)),
    ]
    resent = RunPartition.objects.get(pk=parts[0].pk)
    assert (resent.resends, resent.started_at, resent.sent_at) == (1, None, now)

    # The same partition orphaned again and again: after the third resend the run gives up.
    RunPartition.objects.filter(pk=parts[0].pk).update(resends=3, sent_at=old, started_at=old)
    RunPartition.objects.exclude(pk=parts[0].pk).update(done=True)
    sent.clear()
    assert jobs.jobs_sweep(now=now) == {"resent": 0, "failed": 1}
    assert sent == []
    run.refresh_from_db()
    job.refresh_from_db()
    assert run.status == DecisionRun.Status.FAILED
    assert "计算分区 0 中断后已重新发送 3 次仍未完成" in run.error
    assert (job.status, job.error) == (Job.Status.FAILED, run.error)
    # A failed run's partition is not decided by a late message, nor is the run closed.
    assert recompute.run_finish(run_id=run.pk) is False


def test_a_replay_partition_whose_worker_died_is_resent_and_a_lost_prepare_once(
    area, county, monkeypatch
):
    """The same sweep for replays: a partition a dead worker took, or whose message was lost,
    is sent again (a live one is not); after three resends the replay fails with its job; a
    replay still pending long after it started has its prepare sent again, once."""
    from claims.replay import services as replay_services
    from claims.replay.models import ReplayPartition, ReplayRun

    sent = []
    monkeypatch.setattr(recompute, "task_send", lambda name, *args: sent.append((name, args)))
    monkeypatch.setattr(replay_services, "task_send", lambda name, *a: sent.append((name, a)))
    draft = [
        {
            "parameter": "annual_cap.all.dibao",
            "start": "2024-01-01",
            "value": "5000",
            "ref": "草案",
            "key": "草案1",
        }
    ]
    replay = replay_services.replay_start(
        pooling_area=area, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31), draft=draft
    )
    assert sent == [(replay_services.PREPARE_TASK, (replay.pk,))]
    ReplayRun.objects.filter(pk=replay.pk).update(status=ReplayRun.Status.RUNNING, partitions=3)
    parts = [
        ReplayPartition.objects.create(
            replay=replay, number=n, first_person=n * 10, last_person=n * 10 + 9
        )
        for n in range(3)
    ]
    old, now = timezone.now() - dt.timedelta(minutes=5), timezone.now()
    # 0: taken by a worker that died; 1: taken by a live worker; 2: its message lost.
    ReplayPartition.objects.update(sent_at=old)
    ReplayPartition.objects.filter(pk__in=[parts[0].pk, parts[1].pk]).update(started_at=old)
    monkeypatch.setattr(recompute, "queue_waiting", lambda task: 0)
    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    )
    sent.clear()
    try:
        other.execute(
            "SELECT pg_advisory_lock(%s, %s)",
            [replay_services.PARTITION_LOCK_SPACE, parts[1].pk],
        )
        assert jobs.jobs_sweep(now=now) == {"resent": 2, "failed": 0}
    finally:
        other.close()
    assert sent == [
        (replay_services.PARTITION_TASK, (replay.pk, 0)),
        (replay_services.PARTITION_TASK, (replay.pk, 2)),
    ]
    again = ReplayPartition.objects.get(pk=parts[0].pk)
    assert (again.resends, again.started_at, again.sent_at) == (1, None, now)

    ReplayPartition.objects.filter(pk=parts[0].pk).update(resends=3, sent_at=old, started_at=old)
    ReplayPartition.objects.exclude(pk=parts[0].pk).update(done=True)
    sent.clear()
    assert jobs.jobs_sweep(now=now) == {"resent": 0, "failed": 1}
    replay.refresh_from_db()
    assert replay.status == ReplayRun.Status.FAILED
    assert "测算分区 0 中断后已重新发送 3 次仍未完成" in replay.error
    assert Job.objects.get(pk=replay.job_id).status == Job.Status.FAILED

    # A replay whose prepare message was lost: still pending long after it started.
    lost = replay_services.replay_start(
        pooling_area=area, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31), draft=draft
    )
    ReplayRun.objects.filter(pk=lost.pk).update(created_at=now - dt.timedelta(hours=1))
    sent.clear()
    later = now + dt.timedelta(seconds=1)
    assert jobs.jobs_sweep(now=later)["resent"] >= 1
    assert (replay_services.PREPARE_TASK, (lost.pk,)) in sent
    sent.clear()
    jobs.jobs_sweep(now=later)
    assert (replay_services.PREPARE_TASK, (lost.pk,)) not in sent
