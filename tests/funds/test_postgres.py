"""The ledger's database guards and the settlement's fault behaviour on real PostgreSQL, Redis
and a real `celery worker` (run with `make test-services`; never skipped)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, Sum

from claims.models import Claim, Decision, Hospital
from funds import services, tasks
from funds.models import (
    AccountKind,
    Entry,
    EntryKind,
    FundSource,
    Posting,
    SettlementLine,
    SettlementRun,
)
from funds.settlement import SettlementLocked
from medaid.core.models import Job
from tests.funds.conftest import fund, make_claim
from tests.integration_support import WorkerProcess, require_postgresql, wait_for
from tests.money_support import posting_approved, settle

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 3, 1)


@pytest.fixture
def receipt(accounts):
    require_postgresql()
    return services.receipt_post(
        account=accounts[(None, AccountKind.FISCAL)],
        source=FundSource.DONATION,
        amount=100,
        date=DAY,
        document_ref="捐赠1",
    )


def test_database_refuses_an_unbalanced_entry_at_commit(accounts, receipt):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    with pytest.raises(IntegrityError, match="借贷不平"), transaction.atomic():
        entry = Entry.objects.create(
            kind=EntryKind.RECEIPT, pooling_area=fiscal.pooling_area, date=DAY, document_ref="X"
        )
        Posting.objects.create(entry=entry, account=fiscal, amount=Decimal("5"))
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_database_refuses_an_entry_without_postings(accounts, receipt):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    with pytest.raises(IntegrityError, match="没有分录"), transaction.atomic():
        Entry.objects.create(
            kind=EntryKind.RECEIPT, pooling_area=fiscal.pooling_area, date=DAY, document_ref="X"
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_posted_entries_and_postings_are_immutable(receipt):
    with pytest.raises(DatabaseError), transaction.atomic():
        Posting.objects.filter(entry=receipt).update(amount=Decimal("1"))
    with pytest.raises(DatabaseError), transaction.atomic():
        Entry.objects.filter(pk=receipt.pk).update(document_ref="改")
    with pytest.raises(DatabaseError), transaction.atomic():
        Posting.objects.filter(entry=receipt).delete()
    assert sorted(receipt.postings.values_list("amount", flat=True)) == [-100, 100]


def _month(county, accounts, *, hospitals=40, per_hospital=5, balance=1_000_000):
    """A month with `hospitals` statements plus a batch for individuals."""
    for i in range(hospitals):
        hospital = Hospital.objects.create(
            code=f"PG{i:03d}", name=f"测试医院{i}", level=2, county=county
        )
        for j in range(per_hospital):
            make_claim(county, hospital, f"{100 + i}.{j:02d}")
    make_claim(county, hospital, "77.70", settlement="application")
    fund(accounts, county, balance)
    return Decimal(
        str(
            Decision.objects.filter(claim__county=county, is_current=True).aggregate(
                s=Sum("total")
            )["s"]
        )
    )


def _paid(county) -> Decimal:
    return -(
        Posting.objects.filter(
            entry__county=county,
            entry__kind__in=[EntryKind.HOSPITAL_PAYMENT, EntryKind.INDIVIDUAL_PAYMENT],
            account__kind=AccountKind.EXPENDITURE,
        ).aggregate(s=Sum("amount"))["s"]
        or 0
    )


def _posted(county) -> int:
    run = SettlementRun.objects.filter(county=county).first()
    return run.statements.filter(posted_at__isnull=False).count() if run else 0


@pytest.mark.django_db(transaction=True)
def test_killed_worker_mid_settlement_then_run_again_pays_everything_once(
    county, accounts, celery_broker, monkeypatch
):
    expected = _month(county, accounts)
    monkeypatch.setenv("FUNDS_STATEMENT_PAUSE_SECONDS", "0.15")
    worker = WorkerProcess(queues="heavy").start()
    try:
        posting_approved(county=county, year=2024, month=5)  # sends the posting job
        wait_for(lambda: _posted(county) >= 5, timeout=60, what="some statements posted")
        worker.kill()
    finally:
        worker.stop()
    run = SettlementRun.objects.get(county=county)
    posted = _posted(county)
    assert 5 <= posted < run.statements.count(), "the kill must land mid-run"
    assert run.status == SettlementRun.Status.RUNNING  # the row still says so: it died
    assert Job.objects.get(pk=run.job_id).progress_done == posted

    monkeypatch.setenv("FUNDS_STATEMENT_PAUSE_SECONDS", "0")
    worker = WorkerProcess(queues="heavy").start()
    try:
        tasks.settle_month.delay(county.pk, 2024, 5)
        wait_for(
            lambda: SettlementRun.objects.get(county=county).status == "succeeded",
            timeout=60,
            what="the resumed run",
        )
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.attempts == 3  # staged, killed mid-posting, resumed
    assert _paid(county) == expected
    assert Entry.objects.filter(settlement_statement__run=run).count() == run.statements.count()
    assert not SettlementLine.objects.values("claim").annotate(n=Count("id")).filter(n__gt=1)
    assert set(Claim.objects.filter(county=county).values_list("status", flat=True)) == {"settled"}
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "succeeded" and job.progress_done == job.progress_total


@pytest.mark.django_db(transaction=True)
def test_two_settlements_of_the_same_county_and_month_one_runs_one_is_refused(
    county, accounts, celery_broker, monkeypatch
):
    expected = _month(county, accounts, hospitals=20, per_hospital=2)
    monkeypatch.setenv("FUNDS_STATEMENT_PAUSE_SECONDS", "0.1")
    worker = WorkerProcess(queues="heavy").start()
    try:
        posting_approved(county=county, year=2024, month=5)  # sends the posting job
        wait_for(lambda: _posted(county) >= 1, timeout=60, what="the worker's run to start")
        with pytest.raises(SettlementLocked) as err:
            settle(county=county, year=2024, month=5)
        assert "正在进行中" in err.value.message
        wait_for(
            lambda: SettlementRun.objects.get(county=county).status == "succeeded",
            timeout=60,
            what="the worker's run",
        )
    finally:
        worker.stop()
    run = SettlementRun.objects.get(county=county)
    assert run.attempts == 2  # staged, then posted by the worker; the second run refused
    assert _paid(county) == expected


@pytest.mark.django_db(transaction=True)
def test_advisory_lock_is_per_county_and_month(county, other_county, accounts):
    require_postgresql()
    from funds.settlement import settlement_lock

    with settlement_lock(county.pk, 2024, 5):
        # Another connection is what a second worker would hold.
        from django.db import connections

        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                from funds.settlement import _LOCK_NAMESPACE

                key = (county.pk << 20) | (2024 * 12 + 4)
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, key])
                assert cursor.fetchone()[0] is False
                key = (other_county.pk << 20) | (2024 * 12 + 4)
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, key])
                assert cursor.fetchone()[0] is True
        finally:
            other.close()


@pytest.mark.django_db(transaction=True)
def test_two_checkers_approving_one_move_at_once_post_it_once(county, accounts):
    """The approval locks the move's row: the second checker waits, then finds it decided."""
    import threading

    from django.db import connection as conn

    from funds import moves
    from funds.models import MoneyMove
    from tests.money_support import person

    require_postgresql()
    fiscal = accounts[(county.pk, AccountKind.FISCAL)]
    move = moves.move_propose(
        kind=MoneyMove.Kind.MANUAL_ENTRY,
        maker=person("pg_maker"),
        reason="到账",
        entry_kind=EntryKind.RECEIPT,
        source=FundSource.DONATION,
        to_account=fiscal,
        amount="50.00",
        date=DAY,
        document_ref="并发1",
    )
    checkers = [person("pg_checker_1"), person("pg_checker_2")]
    barrier = threading.Barrier(2)
    outcomes = []

    def approve(checker):
        try:
            barrier.wait()
            moves.move_approve(move=move, checker=checker, reason="同意")
            outcomes.append("posted")
        except services.FundsError as exc:
            outcomes.append(exc.code)
        finally:
            conn.close()

    threads = [threading.Thread(target=approve, args=(c,)) for c in checkers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["move_not_pending", "posted"]
    assert Entry.objects.filter(move=move).count() == 1
    assert fiscal.balance() == Decimal("50.00")
    # Both people and the reasons are in the audit trail (pghistory on PostgreSQL).
    from medaid.core.admin import audit_events

    fields = {c["field"] for e in audit_events(MoneyMove.objects.get()) for c in e["changes"]}
    assert {"复核人", "复核意见", "状态"} <= fields
