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
