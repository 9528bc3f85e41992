"""The foundation's promise: a task sent through Redis reaches a real worker and completes, and
the same task run twice leaves the same state (tasks are idempotent, acknowledged late)."""

import pytest

from beneficiaries.models import County, PoolingArea
from claims.models import Claim, Decision, DecisionRun
from claims.services import run_dispatch, year_recompute_start
from medaid.core.jobs import job_create
from medaid.core.models import Job
from tests.integration_support import people_with_claims, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _municipality_with_claims(n_people: int = 12) -> County:
    area = PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")
    county = County.objects.create(pooling_area=area, code="530502", name="隆阳区")
    people_with_claims(county, n_people)
    return county


def _recompute_year(job, county, reason: str) -> None:
    """What an operator's year recomputation sends: one task per partition of the job's run
    (staged once; sending again re-delivers the same partitions)."""
    run = DecisionRun.objects.filter(job=job).first()
    if run is None:
        run = year_recompute_start(year=2024, county=county, reason=reason, job=job)
    run_dispatch(run=run)


def _state():
    return sorted(
        Decision.objects.filter(is_current=True).values_list(
            "claim_id", "identity", "assistance", "tilted_assistance", "total", "parameters_hash"
        )
    )


def test_a_task_through_redis_completes_and_running_it_twice_changes_nothing(
    celery_broker, celery_worker_process
):
    county = _municipality_with_claims()
    job = job_create(kind="claims.recompute", parameters={"year": 2024}, county=county)

    _recompute_year(job, county, "基础设施测试")
    wait_for(
        lambda: DecisionRun.objects.filter(job=job, status=DecisionRun.Status.DONE).exists(),
        timeout=90,
        what="the worker to finish the recomputation",
    )
    first = _state()
    assert len(first) == Claim.objects.count() == 24
    # Class 3 (Baoshan 第六条): 9000 self-pay on the March stay less the 10% deductible.
    assert all(total > 0 for *_, total, _hash in first)
    decisions_before = Decision.objects.count()

    # The very same message again (a re-delivery): the run's partitions are done, so the
    # worker skips them.
    _recompute_year(job, county, "基础设施测试")
    # And a fresh recomputation of the same year: same facts, same decisions, nothing new.
    again = job_create(kind="claims.recompute", parameters={"year": 2024}, county=county)
    _recompute_year(again, county, "基础设施测试（重复）")
    wait_for(
        lambda: DecisionRun.objects.filter(job=again, status=DecisionRun.Status.DONE).exists(),
        timeout=90,
        what="the second recomputation",
    )
    celery_worker_process.wait_until_idle(celery_broker)
    assert _state() == first
    assert Decision.objects.count() == decisions_before
    assert DecisionRun.objects.filter(job=job).count() == 1
    assert Job.objects.get(pk=job.pk).error == ""
