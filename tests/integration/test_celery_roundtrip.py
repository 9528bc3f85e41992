"""The foundation's promise: a task sent through Redis reaches a real worker and completes, and
the same task run twice leaves the same state (tasks are idempotent, acknowledged late)."""

import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries.models import County, Identity, Person, PoolingArea
from claims.models import Claim, Decision, DecisionRun, Hospital
from claims.services import run_dispatch, year_recompute_start
from medaid.core.jobs import job_create
from medaid.core.models import Job
from tests.integration_support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _municipality_with_claims(n_people: int = 12) -> County:
    area = PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")
    county = County.objects.create(pooling_area=area, code="530502", name="隆阳区")
    hospital = Hospital.objects.create(
        code="H530502001", name="隆阳区人民医院", level=2, county=county
    )
    for n in range(n_people):
        person = Person.objects.create(
            id_number=f"53050219700101{n:04d}",
            name=f"对象{n}",
            sex="F",
            birth_date=dt.date(1970, 1, 1),
            county=county,
        )
        Identity.objects.create(person=person, code="dibao_edge", start=dt.date(2023, 1, 1))
        for month in (3, 7):
            Claim.objects.create(
                person=person,
                county=county,
                hospital=hospital,
                source=Claim.Source.DECLARATION,
                external_ref=f"ZY{n:04d}{month:02d}",
                kind="inpatient",
                admitted=dt.date(2024, month, 1),
                discharged=dt.date(2024, month, 10),
                total_cost=Decimal("20000.00"),
                in_policy_cost=Decimal("20000.00"),
                basic_insurance_paid=Decimal("11000.00"),
            )
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
