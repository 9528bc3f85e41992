import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries.models import Identity, Person
from claims import services
from claims.models import Adjustment, Claim, Decision, DecisionRun, RunPartition
from tests.claims.conftest import make_person

D = Decimal


def manual_claim(person, hospital, ref, day, in_policy, basic="0", **kw):
    kw.setdefault("total_cost", D(in_policy))
    return Claim.objects.create(
        person=person,
        county=person.county,
        hospital=hospital,
        source=Claim.Source.MANUAL,
        external_ref=ref,
        kind="inpatient",
        admitted=day,
        discharged=day,
        in_policy_cost=D(in_policy),
        basic_insurance_paid=D(basic),
        **kw,
    )


def decide_year(person, year=2024):
    return services.people_recompute(
        people=Person.objects.filter(pk=person.pk).values("id"),
        since=dt.date(year, 1, 1),
        until_year=year,
        reason="测试",
    )


def current(claim):
    return claim.decisions.get(is_current=True)


@pytest.mark.django_db
def test_correcting_an_earlier_claim_recomputes_later_ones_as_adjustments(hospital, dibao, clerk):
    # 低保: 70 %, annual cap 60 000 shared by the year's claims (Pingshun Art.18).
    c1 = manual_claim(dibao, hospital, "M1", dt.date(2024, 2, 1), "80000", "0")
    c2 = manual_claim(dibao, hospital, "M2", dt.date(2024, 5, 1), "10000", "0")
    decide_year(dibao)
    before1, before2 = current(c1), current(c2)
    assert before1.assistance == D("56000.00")
    assert before2.assistance == D("4000.00")  # only 4 000 of the cap was left
    Claim.objects.filter(pk__in=[c1.pk, c2.pk]).update(status=Claim.Status.SETTLED)

    services.claim_correct(
        claim=c1,
        changes={"in_policy_cost": D("50000"), "total_cost": D("50000")},
        by=clerk,
        reason="医院更正费用",
    )
    after1, after2 = current(c1), current(c2)
    assert after1.assistance == D("35000.00")
    assert after2.assistance == D("7000.00")
    # Paid decisions stay as history; differences become adjustments for the next settlement.
    assert Decision.objects.filter(pk__in=[before1.pk, before2.pk], is_current=False).count() == 2
    adjustments = {a.claim_id: a for a in Adjustment.objects.all()}
    assert adjustments[c1.pk].amount == after1.total - before1.total
    assert adjustments[c2.pk].amount == after2.total - before2.total
    assert adjustments[c2.pk].previous_decision == before2
    assert adjustments[c2.pk].decision == after2
    assert "医院更正费用" in adjustments[c1.pk].reason


@pytest.mark.django_db
def test_identity_reaching_back_recomputes_and_adjusts(hospital, county):
    person = make_person(county, code=None)
    c1 = manual_claim(person, hospital, "M1", dt.date(2024, 3, 1), "10000", "6000")
    decide_year(person)
    assert not current(c1).eligible and current(c1).reason == "no_identity"
    c1.status = Claim.Status.SETTLED
    c1.save()
    Identity.objects.create(person=person, code="tekun", start=dt.date(2024, 1, 1))
    services.people_recompute(
        people=Person.objects.filter(pk=person.pk).values("id"),
        since=dt.date(2024, 1, 1),
        reason="特困认定追溯",
    )
    assert current(c1).total == D("4000.00")
    assert Adjustment.objects.get(claim=c1).amount == D("4000.00")


@pytest.mark.django_db
def test_unchanged_recompute_writes_nothing(hospital, dibao):
    c1 = manual_claim(dibao, hospital, "M1", dt.date(2024, 2, 1), "10000", "6000")
    decide_year(dibao)
    decide_year(dibao)
    assert c1.decisions.count() == 1
    assert not Adjustment.objects.exists()


@pytest.mark.django_db
def test_partitioned_run_equals_single_and_is_idempotent(hospital, county):
    people = [make_person(county, code) for code in ("tekun", "dibao", "dibao_edge") * 7]
    for i, person in enumerate(people):
        for m in (2, 6, 9):
            manual_claim(
                person,
                hospital,
                f"P{i}-{m}",
                dt.date(2024, m, 3 + i % 20),
                str(20000 + 1000 * i),
                "8000",
            )
    run = services.year_recompute_start(year=2024, reason="全年重算")
    assert run.partitions == services.DEFAULT_PARTITIONS
    assert run.people == len(people)
    services.run_execute(run=run)
    run.refresh_from_db()
    assert run.status == DecisionRun.Status.DONE
    assert run.claims_decided == 3 * len(people)
    assert run.decisions_written == 3 * len(people)
    partitioned = dict(Decision.objects.values_list("claim_id", "total"))

    # Partition again: already done, nothing happens.
    services.run_partition_decide(run_id=run.pk, number=0)
    assert Decision.objects.count() == 3 * len(people)

    # The same year in one partition, after forgetting every decision, gives the same figures.
    Decision.objects.all().delete()
    single = services.run_create(
        kind=DecisionRun.Kind.RECOMPUTE,
        year=2024,
        people=Claim.objects.values("person_id"),
        partitions=1,
    )
    services.run_execute(run=single)
    assert dict(Decision.objects.values_list("claim_id", "total")) == partitioned
    assert RunPartition.objects.filter(run=single, done=True).count() == 1


@pytest.mark.django_db
def test_engine_refusal_queues_the_claim_with_a_reason(hospital, county, area):
    area.policy_code = "atlantis"
    area.save()
    person = make_person(county, "tekun")
    c1 = manual_claim(person, hospital, "M1", dt.date(2024, 2, 1), "10000", "6000")
    decide_year(person)
    c1.refresh_from_db()
    assert c1.status == Claim.Status.REVIEW
    assert c1.review_reason == "engine_refused"
    assert not c1.decisions.exists()


@pytest.mark.django_db
def test_year_recompute_dispatched_reports_progress_on_its_job(hospital, dibao):
    from medaid.core.jobs import job_create
    from medaid.core.models import Job
    from tests.claims.conftest import committed

    manual_claim(dibao, hospital, "M1", dt.date(2024, 2, 1), "10000", "6000")
    job = job_create(kind="claims.recompute_year", parameters={"year": 2024})
    run = services.year_recompute_start(year=2024, reason="新政策版本", job=job)
    with committed():
        services.run_dispatch(run=run)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress_done == job.progress_total == services.DEFAULT_PARTITIONS
    assert job.result["claims"] == 1
