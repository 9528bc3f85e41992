import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from claims.models import Adjustment, Claim, Decision
from funds import settlement as settlement_module
from funds import tasks
from funds.models import (
    AccountKind,
    Entry,
    EntryKind,
    MoneyMove,
    SettlementLine,
    SettlementRun,
    SettlementStatement,
)
from funds.services import FundsError
from medaid.core.models import Job
from tests.funds.conftest import at, fund, make_claim, person_in
from tests.money_support import approved, settle


@pytest.fixture
def may(county, hospitals, accounts):
    """May 2024: two hospitals' direct claims and two application claims."""
    h1, h2, _ = hospitals
    claims = [
        make_claim(county, h1, "100.10", declared=Decimal("100.10")),
        make_claim(county, h1, "200.20", declared=Decimal("210.00")),
        make_claim(county, h2, "300.30", discharged=dt.date(2024, 5, 31)),
        make_claim(county, h1, "40.00", settlement="application"),
        make_claim(county, h2, "50.05", settlement="application"),
    ]
    return claims


def test_month_becomes_statements_per_hospital_and_a_batch_for_individuals(
    county, hospitals, accounts, may
):
    exp = fund(accounts, county, 1000)
    run = settle(county=county, year=2024, month=5)
    assert run.status == SettlementRun.Status.SUCCEEDED
    statements = {(s.payee, s.hospital_id): s for s in run.statements.all()}
    h1, h2, h3 = hospitals
    assert statements[("hospital", h1.pk)].total == Decimal("300.30")
    assert statements[("hospital", h1.pk)].claim_count == 2
    assert statements[("hospital", h1.pk)].declared_total == Decimal("310.10")
    assert statements[("hospital", h2.pk)].total == Decimal("300.30")
    assert statements[("individuals", None)].total == Decimal("90.05")
    assert statements[("individuals", None)].claim_count == 2
    assert ("hospital", h3.pk) not in statements
    assert exp.balance() == Decimal("1000") - Decimal("690.65")
    assert set(Claim.objects.values_list("status", flat=True)) == {"settled"}
    for st in statements.values():
        assert st.posted_at is not None
        payee = st.entry.postings.get(amount__gt=0)
        assert payee.amount == st.total
        assert payee.account.kind == (
            AccountKind.HOSPITAL if st.payee == "hospital" else AccountKind.INDIVIDUALS
        )
        assert st.entry.kind == (
            EntryKind.HOSPITAL_PAYMENT if st.payee == "hospital" else EntryKind.INDIVIDUAL_PAYMENT
        )
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "succeeded"
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert job.result["total"] == "690.65" and job.result["claims"] == 5


def test_running_a_settled_month_again_changes_nothing(county, hospitals, accounts, may):
    exp = fund(accounts, county, 1000)
    settle(county=county, year=2024, month=5)
    entries, balance = Entry.objects.count(), exp.balance()
    make_claim(county, hospitals[0], "5.00")  # arrives after the run: next month's business
    run = settle(county=county, year=2024, month=5)
    assert run.attempts == 2  # staged once, posted once after the review; not run again
    assert (Entry.objects.count(), exp.balance()) == (entries, balance)
    assert SettlementLine.objects.count() == 5


def test_which_claims_a_month_settles(county, hospitals, accounts):
    fund(accounts, county, 10_000)
    h = hospitals[0]
    in_may = make_claim(county, h, "1.00", discharged=dt.date(2024, 5, 31))
    missed_april = make_claim(county, h, "2.00", discharged=dt.date(2024, 4, 2))
    accepted_late = make_claim(
        county, h, "4.00", discharged=dt.date(2024, 5, 20), decided=dt.date(2024, 6, 1)
    )
    june = make_claim(county, h, "8.00", discharged=dt.date(2024, 6, 1))
    in_review = make_claim(county, h, "16.00", status="review")
    run = settle(county=county, year=2024, month=5)
    settled = set(SettlementLine.objects.filter(statement__run=run).values_list("claim", flat=True))
    assert settled == {in_may.pk, missed_april.pk}
    run = settle(county=county, year=2024, month=6)
    settled = set(SettlementLine.objects.filter(statement__run=run).values_list("claim", flat=True))
    assert settled == {accepted_late.pk, june.pk}
    in_review.refresh_from_db()
    assert in_review.status == "review"


def test_claims_of_other_counties_are_not_touched(county, other_county, hospitals, accounts):
    fund(accounts, county, 100)
    mine = make_claim(county, hospitals[0], "10.00")
    theirs = make_claim(other_county, hospitals[0], "10.00")
    settle(county=county, year=2024, month=5)
    assert Claim.objects.get(pk=mine.pk).status == "settled"
    assert Claim.objects.get(pk=theirs.pk).status == "accepted"


def test_refuses_to_pay_more_than_the_account_holds_then_resumes(county, hospitals, accounts, may):
    exp = fund(accounts, county, 500)
    with pytest.raises(FundsError) as err:
        settle(county=county, year=2024, month=5)
    assert err.value.code == "insufficient_funds"
    assert "690.65" in err.value.message and "190.65" in err.value.message
    run = SettlementRun.objects.get()
    assert run.status == SettlementRun.Status.FAILED and "余额不足" in run.error
    assert not Entry.objects.filter(kind=EntryKind.HOSPITAL_PAYMENT).exists()
    assert exp.balance() == 500
    assert set(Claim.objects.values_list("status", flat=True)) == {"accepted"}
    fund(accounts, county, 500)
    run = settle(county=county, year=2024, month=5)
    # Refused, then staged for review once the money was there, then posted.
    assert run.status == SettlementRun.Status.SUCCEEDED and run.attempts == 3
    assert exp.balance() == Decimal("1000") - Decimal("690.65")


def test_a_crash_mid_run_resumes_without_paying_twice(
    county, hospitals, accounts, may, monkeypatch
):
    exp = fund(accounts, county, 1000)
    real = settlement_module._post_batch
    calls = []

    def crash_after_first(run, statement_ids, *args):
        if calls:
            raise RuntimeError("worker lost")
        calls.append(statement_ids)
        return real(run, statement_ids, *args)

    monkeypatch.setattr(settlement_module, "_post_batch", crash_after_first)
    with pytest.raises(RuntimeError):
        settle(county=county, year=2024, month=5)
    run = SettlementRun.objects.get()
    assert run.status == SettlementRun.Status.FAILED
    assert run.statements.filter(posted_at__isnull=False).count() == 1
    monkeypatch.setattr(settlement_module, "_post_batch", real)
    run = settle(county=county, year=2024, month=5)
    assert run.status == SettlementRun.Status.SUCCEEDED
    assert exp.balance() == Decimal("1000") - Decimal("690.65")
    assert Entry.objects.filter(kind__in=["hospital_payment", "individual_payment"]).count() == 3


def test_adjustments_settle_once_with_the_claims_payee(county, hospitals, accounts):
    exp = fund(accounts, county, 1000)
    claim = make_claim(county, hospitals[0], "100.00")
    settle(county=county, year=2024, month=5)
    old = Decision.objects.get(claim=claim)
    Decision.objects.filter(pk=old.pk).update(is_current=False)
    new = Decision.objects.create(
        claim=claim,
        eligible=True,
        policy_code="baoshan",
        policy_version="2024",
        parameters_hash="y",
        policy_self_pay=Decimal("3000"),
        assistance=Decimal("70.00"),
        total=Decimal("70.00"),
    )
    adjustment = Adjustment.objects.create(
        claim=claim, decision=new, previous_decision=old, amount=Decimal("-30.00"), reason="重算"
    )
    Adjustment.objects.filter(pk=adjustment.pk).update(created_at=at(dt.date(2024, 6, 10)))
    make_claim(county, hospitals[0], "20.00", discharged=dt.date(2024, 6, 3))
    run = settle(county=county, year=2024, month=6)
    st = run.statements.get()
    assert (st.claims_total, st.adjustments_total, st.total) == (
        Decimal("20.00"),
        Decimal("-30.00"),
        Decimal("-10.00"),
    )
    # The hospital owes back: money comes into the expenditure account.
    assert exp.balance() == Decimal("1000") - Decimal("100") + Decimal("10")
    run = settle(county=county, year=2024, month=7)
    assert not run.statements.exists()


def test_database_refuses_settling_a_claim_twice(county, hospitals, accounts):
    fund(accounts, county, 100)
    claim = make_claim(county, hospitals[0], "10.00")
    run = settle(county=county, year=2024, month=5)
    st = run.statements.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        SettlementLine.objects.create(
            statement=st, claim=claim, person=claim.person, amount=Decimal("10.00")
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        SettlementStatement.objects.create(
            run=run, county=county, payee="hospital", hospital=hospitals[0]
        )


def test_zero_statements_post_without_an_entry(county, hospitals, accounts):
    fund(accounts, county, 100)
    claim = make_claim(county, hospitals[0], "0.00")
    run = settle(county=county, year=2024, month=5)
    st = run.statements.get()
    assert st.posted_at is not None and st.entry is None
    assert Claim.objects.get(pk=claim.pk).status == "settled"


def test_tasks_settle_and_beat_settles_every_county_with_a_fund(
    county, other_county, hospitals, accounts, monkeypatch, django_capture_on_commit_callbacks
):
    fund(accounts, county, 100)
    make_claim(county, hospitals[0], "10.00", discharged=dt.date(2024, 5, 3))
    result = tasks.settle_month.delay(county.pk, 2024, 5).get()
    assert result["status"] == "staged"  # waits for its posting to be reviewed
    run = SettlementRun.objects.get(pk=result["run_id"])
    with django_capture_on_commit_callbacks(execute=True):
        approved(MoneyMove.Kind.SETTLEMENT, run=run)  # sends the run again, which posts
    run.refresh_from_db()
    assert run.status == "succeeded" and run.statements.get().entry.move is not None
    result = tasks.settle_month.delay(other_county.pk, 2024, 5).get()
    assert result["status"] == "succeeded"  # nothing to pay: nothing to review
    monkeypatch.setattr(tasks.timezone, "localdate", lambda: dt.date(2024, 7, 1))
    with django_capture_on_commit_callbacks(execute=True):
        county_ids = tasks.settle_all_counties.delay().get()
    assert county_ids == sorted([county.pk, other_county.pk])
    assert SettlementRun.objects.filter(year=2024, month=6).count() == 2


def test_task_reports_a_refusal_instead_of_retrying(county, hospitals, accounts):
    make_claim(county, hospitals[0], "10.00")
    result = tasks.settle_month.delay(county.pk, 2024, 5).get()
    assert result["status"] == "failed" and result["code"] == "insufficient_funds"


def test_pingshun_pays_from_the_county_fiscal_special_account(db):
    from beneficiaries.models import County, PoolingArea
    from claims.models import Hospital
    from funds import services

    area = PoolingArea.objects.create(code="140425", name="平顺县", policy_code="pingshun")
    county = County.objects.create(pooling_area=area, code="140425001", name="平顺县本级")
    hospital = Hospital.objects.create(code="PS1", name="平顺县人民医院", level=2, county=county)
    fiscal = services.account_open(kind="fiscal", pooling_area=area, county=county)
    services.receipt_post(
        account=fiscal, source="county", amount=100, date=dt.date(2024, 1, 2), document_ref="F"
    )
    make_claim(county, hospital, "60.00", person=person_in(county))
    settle(county=county, year=2024, month=5)
    assert fiscal.balance() == Decimal("40.00")
