"""A settlement's money on its voucher's date, and the run's state when its job ends without it:
given up by the job sweeper, cancelled, then run again from the admin by finance."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from funds import services
from funds.models import AccountKind, Entry, EntryKind, SettlementRun
from funds.reconciliation import reconcile
from funds.services import FundsError
from funds.settlement import JOB_KIND, JOB_TASK, settlement_run, settlement_runs_sweep
from medaid.core import jobs
from medaid.core.models import Job
from tests.claims.conftest import make_user
from tests.funds.conftest import fund, make_claim
from tests.money_support import settle

MAY_END = dt.date(2024, 5, 31)


def _overdrawn(county):
    return [
        d for d in reconcile(county=county, year=2024).differences if d.check == "account_overdrawn"
    ]


def test_a_month_settled_late_pays_only_with_money_there_on_the_voucher_date(
    county, hospitals, accounts
):
    """May settled in 2026: its vouchers are dated 31 May 2024, so June's money cannot pay it,
    though today's balance would."""
    exp = fund(accounts, county, 50, day=dt.date(2024, 1, 15))
    fund(accounts, county, 100, day=dt.date(2024, 6, 10))
    make_claim(county, hospitals[0], "60.00")
    assert exp.balance() == 150
    with pytest.raises(FundsError) as refused:
        settlement_run(county=county, year=2024, month=5)
    assert refused.value.code == "insufficient_funds"
    assert "2024-05-31 起可用余额 50.00 元" in refused.value.message
    run = SettlementRun.objects.get()
    assert run.status == SettlementRun.Status.FAILED and "余额不足" in run.error
    assert not Entry.objects.filter(kind=EntryKind.HOSPITAL_PAYMENT).exists()

    fund(accounts, county, 20, day=dt.date(2024, 5, 25))  # a late-recorded May allocation
    run = settle(county=county, year=2024, month=5)
    assert run.status == SettlementRun.Status.SUCCEEDED
    (payment,) = Entry.objects.filter(kind=EntryKind.HOSPITAL_PAYMENT)
    assert payment.date == MAY_END
    assert exp.balance(until=MAY_END) == Decimal("10.00")
    assert _overdrawn(county) == []


def test_money_spent_after_the_voucher_date_is_not_there_to_pay_with(county, hospitals, accounts):
    """Enough on 31 May, but a June transfer out already counts on it: paying May now would
    overdraw the account from 15 June on."""
    exp = fund(accounts, county, 100, day=dt.date(2024, 1, 15))
    services.transfer_post(
        kind=EntryKind.INTEREST_REMIT,
        from_account=exp,
        to_account=accounts[(county.pk, AccountKind.FISCAL)],
        amount=90,
        date=dt.date(2024, 6, 15),
        document_ref="缴回1",
    )
    make_claim(county, hospitals[0], "60.00")
    with pytest.raises(FundsError) as refused:
        settlement_run(county=county, year=2024, month=5)
    assert "可用余额 10.00 元" in refused.value.message
    assert services.account_available(exp, on=MAY_END) == Decimal("10.00")
    assert services.account_available(exp, on=dt.date(2024, 6, 15)) == Decimal("10.00")
    assert services.account_available(exp, on=dt.date(2024, 1, 14)) == 0
    assert _overdrawn(county) == []


def test_a_backdated_voucher_may_not_overdraw_the_account_on_its_date(accounts, county):
    exp = fund(accounts, county, 100, day=dt.date(2024, 3, 1))
    with pytest.raises(FundsError) as refused:
        services.transfer_post(
            kind=EntryKind.INTEREST_REMIT,
            from_account=exp,
            to_account=accounts[(county.pk, AccountKind.FISCAL)],
            amount=10,
            date=dt.date(2024, 2, 1),
            document_ref="缴回早",
        )
    assert refused.value.code == "insufficient_balance"
    assert "2024-02-01 起可用余额 0.00 元" in refused.value.message


def _orphaned_run(county) -> SettlementRun:
    """A run whose worker died as many times as the sweeper restarts a job."""
    job = jobs.job_create(
        kind=JOB_KIND, county=county, task=JOB_TASK, task_args=[county.pk, 2024, 5]
    )
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, attempts=jobs.MAX_JOB_ATTEMPTS)
    return SettlementRun.objects.create(
        county=county, year=2024, month=5, job=job, status=SettlementRun.Status.RUNNING, attempts=3
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the sweeper reads PostgreSQL locks")
def test_the_sweeper_giving_up_a_settlement_job_fails_its_run(county, hospitals, accounts):
    run = _orphaned_run(county)
    counts = jobs.jobs_sweep()
    assert counts["failed"] == 1 and counts["settlement_runs_failed"] == 1
    run.refresh_from_db()
    assert run.status == SettlementRun.Status.FAILED
    assert "任务中断，已运行 3 次仍未完成" in run.error and run.finished_at is not None
    assert jobs.jobs_sweep() == {"resent": 0, "failed": 0}  # nothing left to fail


def test_a_run_whose_job_is_over_is_failed_with_its_reason(county, hospitals, accounts):
    run = _orphaned_run(county)
    live = SettlementRun.objects.create(county=county, year=2024, month=6, status="running")
    # What the job sweeper writes when it gives a job up (it then calls the funds sweeper).
    Job.objects.filter(pk=run.job_id).update(status=Job.Status.FAILED, error="任务中断")
    assert settlement_runs_sweep() == {"settlement_runs_failed": 1}
    run.refresh_from_db()
    live.refresh_from_db()
    assert run.status == SettlementRun.Status.FAILED and "任务中断" in run.error
    assert live.status == SettlementRun.Status.RUNNING
    assert settlement_runs_sweep() == {}


def test_a_cancelled_settlement_is_failed_not_succeeded(county, hospitals, accounts, monkeypatch):
    fund(accounts, county, 1000)
    for total in ("10.00", "20.00", "30.00"):
        make_claim(county, hospitals[0], total)
    make_claim(county, hospitals[1], "5.00")

    def cancel_at_once(self):
        raise jobs.JobCancelled("任务已按要求取消")

    monkeypatch.setattr(jobs.JobProgress, "check_cancelled", cancel_at_once)
    with pytest.raises(FundsError) as stopped:
        settlement_run(county=county, year=2024, month=5)
    assert stopped.value.code == "cancelled"
    run = SettlementRun.objects.get()
    assert run.status == SettlementRun.Status.FAILED and "已取消" in run.error
    assert run.job.status == Job.Status.CANCELLED
    monkeypatch.undo()
    assert settle(county=county, year=2024, month=5).status == "succeeded"


def test_finance_runs_a_failed_settlement_again_from_the_admin(
    client, county, hospitals, accounts, django_capture_on_commit_callbacks
):
    fund(accounts, county, 1000)
    make_claim(county, hospitals[0], "60.00")
    run = _orphaned_run(county)
    given_up = run.job
    Job.objects.filter(pk=given_up.pk).update(status=Job.Status.FAILED, error="任务中断")
    settlement_runs_sweep()
    action = {"action": "resume", "index": 0, "_selected_action": [run.pk]}

    auditor = make_user("rec_auditor", county, ["funds.view_settlementrun"], is_staff=True)
    client.force_login(auditor)
    page = client.get("/admin/funds/settlementrun/").content.decode()
    assert 'value="resume"' not in page
    client.post("/admin/funds/settlementrun/", action)
    run.refresh_from_db()
    assert run.status == SettlementRun.Status.FAILED

    finance = make_user(
        "rec_finance", county, ["funds.view_settlementrun", "funds.settle_month"], is_staff=True
    )
    client.force_login(finance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/funds/settlementrun/", action)
    assert response.status_code == 302
    run.refresh_from_db()
    # Staged again, waiting for its posting to be approved by two people (funds.moves).
    assert run.status == SettlementRun.Status.STAGED and run.error == "", run.error
    assert run.job_id != given_up.pk  # a job of its own: the sweeper counts afresh
    assert run.job.status == Job.Status.SUCCEEDED and run.job.attempts == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert settle(county=county, year=2024, month=5).status == "succeeded"
    assert Entry.objects.filter(kind=EntryKind.HOSPITAL_PAYMENT).count() == 1
