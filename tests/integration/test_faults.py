"""Faults with a real worker, Redis and PostgreSQL: a worker killed with SIGKILL in the middle of
a settlement, a recompute or a roster apply is resumed by the job sweeper (what beat runs every
minute; called from the test here) and ends in exactly the state of an uninterrupted run; two
settlements of one month at once, one refused; a database connection cut during an import fails
it in Chinese, whole, and a rerun succeeds.

Each test builds two identical copies of its data in two counties: the faulted copy goes through
the worker, the other through the same service in this process without interruption, and the two
end states are compared row by row.
"""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from beneficiaries import id_numbers
from beneficiaries.models import (
    County,
    Department,
    DepartmentKind,
    Identity,
    Person,
    PoolingArea,
    RosterImport,
)
from beneficiaries.services import (
    roster_import_job,
    roster_import_job_start,
    roster_import_process,
    roster_import_receive,
)
from claims.models import Claim, Decision, DecisionRun, Hospital, RunPartition
from claims.services import run_create, run_dispatch, run_execute
from funds import services as funds_services
from funds import tasks as funds_tasks
from funds.models import Entry, EntryKind, Posting, SettlementRun
from funds.settlement import SettlementLocked, settlement_run
from medaid.core.jobs import JOB_LOCK_SPACE, job_create, jobs_sweep
from medaid.core.models import Job
from tests.funds.conftest import fund, make_claim
from tests.integration_support import WorkerProcess, people_with_claims, wait_for
from tests.money_support import posting_approved, settle

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

YEAR, MONTH = 2024, 5
PAUSES = ("FUNDS_STATEMENT_PAUSE_SECONDS", "CLAIMS_PARTITION_PAUSE_SECONDS")
PAUSES += ("BENEFICIARIES_APPLY_PAUSE_SECONDS",)


@pytest.fixture
def area(db):
    return PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")


@pytest.fixture
def county(area):
    return County.objects.create(pooling_area=area, code="530502", name="隆阳区")


@pytest.fixture
def twin(area):
    """The county whose identical copy of the data runs without a fault."""
    return County.objects.create(pooling_area=area, code="530521", name="施甸县")


@pytest.fixture
def accounts(area, county, twin):
    return {
        (a.county_id, a.kind): a
        for a in funds_services.accounts_open_for_area(
            pooling_area=area, opened_on=dt.date(2024, 1, 1)
        )
    }


@pytest.fixture
def start_worker(monkeypatch, settings):
    """Start `celery worker` processes (queue heavy) with the given test pauses; stopped at the
    end. The worker shares this test's media folder (roster files)."""
    started = []

    def start(concurrency: int = 1, **pauses) -> WorkerProcess:
        monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
        for name in PAUSES:
            monkeypatch.setenv(name, str(pauses.get(name, 0)))
        worker = WorkerProcess(queues="heavy", concurrency=concurrency)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def _sweep(what: str, timeout: float = 30) -> dict:
    """Run the sweeper (as beat would, a minute and a half later) until it resends something:
    the killed worker's backend must first have ended and freed its locks."""
    return wait_for(
        lambda: (c := jobs_sweep(now=timezone.now() + dt.timedelta(seconds=90)))["resent"] and c,
        timeout=timeout,
        what=what,
    )


def _backend_gone(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 0


def _no_job_running() -> None:
    assert not Job.objects.filter(status__in=[Job.Status.RUNNING, Job.Status.PENDING]).exists()


# --- settlement ------------------------------------------------------------------------------


def _month(county, accounts, *, hospitals: int):
    """`hospitals` hospital statements and an individuals' batch; the same amounts in every
    county, so that two counties' settlements can be compared statement by statement."""
    for i in range(hospitals):
        hospital = Hospital.objects.create(
            code=f"F{county.code}{i:02d}", name=f"{county.name}医院{i:02d}", level=2, county=county
        )
        for j in range(2):
            make_claim(county, hospital, f"{100 + 10 * i}.{j:02d}")
    make_claim(county, hospital, "77.70", settlement="application")
    fund(accounts, county, 1_000_000)


def _settlement_state(county) -> list[tuple]:
    run = SettlementRun.objects.get(county=county, year=YEAR, month=MONTH)
    rows = []
    for st in run.statements.select_related("hospital", "entry").order_by("pk"):
        paid = Posting.objects.filter(entry=st.entry, amount__gt=0).aggregate(s=Sum("amount"))
        rows.append(
            (
                st.payee,
                st.hospital.code[-2:] if st.hospital_id else "",
                st.claim_count,
                st.claims_total,
                st.total,
                st.entry.kind,
                st.entry.date,
                paid["s"],
                st.posted_at is not None,
            )
        )
    return sorted(rows)


def _posted(county) -> int:
    run = SettlementRun.objects.filter(county=county).first()
    return run.statements.filter(posted_at__isnull=False).count() if run else 0


def _entries(county) -> int:
    kinds = [EntryKind.HOSPITAL_PAYMENT, EntryKind.INDIVIDUAL_PAYMENT]
    return Entry.objects.filter(county=county, kind__in=kinds).count()


def test_a_settlement_killed_mid_run_is_resumed_by_the_sweeper_and_pays_everything_once(
    county,
    twin,
    accounts,
    celery_broker,
    start_worker,
):
    for c in (county, twin):
        _month(c, accounts, hospitals=8)
    settle(county=twin, year=YEAR, month=MONTH)  # the uninterrupted run
    clean = _settlement_state(twin)
    assert len(clean) == 9

    worker = start_worker(FUNDS_STATEMENT_PAUSE_SECONDS=0.4)
    posting_approved(county=county, year=YEAR, month=MONTH)  # sends the posting job
    wait_for(lambda: _posted(county) >= 2, timeout=60, what="statements posted")
    worker.kill()
    run = SettlementRun.objects.get(county=county)
    job = Job.objects.get(pk=run.job_id)
    assert 2 <= _posted(county) < 9, "the kill must land mid-run"
    assert (run.status, job.status) == (SettlementRun.Status.RUNNING, Job.Status.RUNNING)
    assert (job.task_name, job.task_args) == (
        "funds.tasks.settle_month",
        [county.pk, YEAR, MONTH],
    )

    start_worker()
    assert _sweep("the sweeper to resend the settlement") == {"resent": 1, "failed": 0}
    wait_for(
        lambda: SettlementRun.objects.get(pk=run.pk).status == SettlementRun.Status.SUCCEEDED,
        timeout=60,
        what="the resumed settlement",
    )
    run.refresh_from_db()
    job.refresh_from_db()
    assert _settlement_state(county) == clean
    assert _entries(county) == _entries(twin) == run.statements.count() == 9
    # The run: staged, killed mid-posting, resumed; its posting job: killed, resumed.
    assert run.attempts == 3 and job.attempts == 2
    assert (job.status, job.progress_done, job.progress_total) == (Job.Status.SUCCEEDED, 9, 9)
    keyed = Entry.objects.exclude(idempotency_key=None)
    assert not keyed.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1)
    for c in (county, twin):
        assert set(Claim.objects.filter(county=c).values_list("status", flat=True)) == {"settled"}
    _no_job_running()


def test_two_settlements_of_one_month_at_once_one_runs_the_other_is_refused(
    county,
    twin,
    accounts,
    celery_broker,
    start_worker,
):
    _month(county, accounts, hospitals=4)
    worker = start_worker(concurrency=2, FUNDS_STATEMENT_PAUSE_SECONDS=0.4)
    # Two worker processes take one message each: the approval's and a second one.
    posting_approved(county=county, year=YEAR, month=MONTH)
    funds_tasks.settle_month.delay(county.pk, YEAR, MONTH)
    wait_for(lambda: _posted(county) >= 1, timeout=60, what="one run to start")
    # A clerk's run from the admin while it goes: refused, in words.
    with pytest.raises(SettlementLocked) as refused:
        settlement_run(county=county, year=YEAR, month=MONTH)
    assert "正在进行中" in refused.value.message
    wait_for(
        lambda: SettlementRun.objects.get(county=county).status == SettlementRun.Status.SUCCEEDED,
        timeout=60,
        what="the settlement",
    )
    wait_for(lambda: worker.log().count("succeeded in") >= 2, timeout=30, what="both tasks")
    log = worker.log()
    assert log.count("'status': 'refused'") == 1 and "settlement_locked" in log
    run = SettlementRun.objects.get(county=county)
    assert run.attempts == 2  # staged in-process, posted once
    assert _entries(county) == run.statements.count() == 5
    # The staging job and the posting job the approval made.
    assert Job.objects.filter(kind="funds.settle_month").count() == 2
    _no_job_running()


# --- recompute ---------------------------------------------------------------------------------


def _recompute(county, partitions: int, job=None) -> DecisionRun:
    people = Person.objects.filter(county=county).values("id")
    return run_create(
        kind=DecisionRun.Kind.RECOMPUTE,
        year=2024,
        people=people,
        reason="故障测试重算",
        partitions=partitions,
        job=job,
    )


def _decisions(county) -> list[tuple]:
    return sorted(
        (ref[-6:], *rest)
        for ref, *rest in Decision.objects.filter(claim__county=county).values_list(
            "claim__external_ref",
            "is_current",
            "identity",
            "eligible",
            "policy_self_pay",
            "deductible_applied",
            "assistance",
            "tilted_assistance",
            "total",
            "parameters_hash",
            "claim__status",
        )
    )


def test_a_recompute_killed_mid_run_is_resumed_partition_by_partition(
    county, twin, celery_broker, start_worker
):
    for c in (county, twin):
        people_with_claims(c, 24)
    run_execute(run=_recompute(twin, partitions=8))
    clean = _decisions(twin)
    assert len(clean) == 48 and all(total > 0 for *_, total, _h, _s in clean)

    job = job_create(kind="claims.recompute", parameters={"year": 2024}, county=county)
    run = _recompute(county, partitions=8, job=job)
    worker = start_worker(CLAIMS_PARTITION_PAUSE_SECONDS=0.3)
    run_dispatch(run=run)
    parts = RunPartition.objects.filter(run=run)

    def in_flight():
        if parts.filter(done=True).count() < 2:
            return None
        return parts.filter(done=False, started_at__isnull=False).first()

    # Killed while a partition is written and not committed.
    orphan = wait_for(in_flight, timeout=60, what="a partition in flight")
    worker.kill()
    done = parts.filter(done=True).count()
    assert 2 <= done < 8
    orphan.refresh_from_db()
    assert not orphan.done
    assert Decision.objects.filter(run=run).count() == 6 * done  # 3 people × 2 claims each

    # The partitions still queued are not resent (their messages wait in Redis); the one the
    # dead worker held is, once its backend has gone and freed the partition's lock.
    assert _sweep("the sweeper to resend the orphan partition") == {"resent": 1, "failed": 0}
    assert list(parts.filter(resends__gt=0).values_list("number", flat=True)) == [orphan.number]
    start_worker()
    wait_for(
        lambda: DecisionRun.objects.get(pk=run.pk).status == DecisionRun.Status.DONE,
        timeout=60,
        what="the resumed recompute",
    )
    run.refresh_from_db()
    assert _decisions(county) == clean
    assert run.decisions_written == Decision.objects.filter(claim__county=county).count() == 48
    assert not parts.filter(done=False).exists()
    job.refresh_from_db()
    assert (job.status, job.progress_done, job.error) == (Job.Status.SUCCEEDED, 8, "")
    _no_job_running()


# --- rosters -------------------------------------------------------------------------------


def _roster(county, n: int) -> RosterImport:
    department = Department.objects.create(
        county=county, kind=DepartmentKind.CIVIL_AFFAIRS, name=f"{county.name}民政局"
    )
    rows = ["变动类型,公民身份号码,姓名,身份类别,原身份类别,起始日期,终止日期"]
    for i in range(n):
        number = id_numbers.make(county.code, dt.date(1980, 1, 1), i)
        name = (
            "张李王赵"[i // 100]
            + "甲乙丙丁戊己庚辛壬癸"[i // 10 % 10]
            + "一二三四五六七八九十"[i % 10]
        )
        rows.append(f"新增,{number},{name},低保对象,,2024-01-01,")
    upload = SimpleUploadedFile("list.csv", ("\n".join(rows) + "\n").encode())
    batch, _ = roster_import_receive(
        department=department,
        kind=RosterImport.Kind.FEED,
        upload=upload,
        file_name=upload.name,
        stated_date=dt.date(2024, 3, 5),
        channel="admin",
    )
    return batch


def _registry(county) -> list[tuple]:
    return sorted(
        (number[6:17], *rest)
        for number, *rest in Identity.objects.filter(person__county=county).values_list(
            "person__id_number", "person__name", "code", "start", "end"
        )
    )


def _paused_backend() -> int | None:
    """The worker's backend holding a roster apply written and not committed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'idle in transaction' AND query = %s",
            ["SELECT 'roster-apply-pause'"],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_a_roster_apply_killed_mid_merge_rolls_back_whole_and_the_sweeper_applies_it_once(
    county, twin, celery_broker, start_worker
):
    clean_batch = _roster(twin, 300)
    roster_import_process(batch=clean_batch, apply=True)
    clean = _registry(twin)
    assert len(clean) == 300

    batch = _roster(county, 300)
    worker = start_worker(BENEFICIARIES_APPLY_PAUSE_SECONDS=30)
    job = roster_import_job_start(batch=batch, apply=True, by=None)
    pid = wait_for(_paused_backend, timeout=60, what="the merge written, not committed")
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
    worker.kill()
    wait_for(lambda: _backend_gone(pid), timeout=30, what="the killed worker's backend to end")
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.STAGED  # not applied, not failed: it died
    assert not Person.objects.filter(county=county).exists()
    assert not Identity.objects.filter(person__county=county).exists()

    start_worker()
    assert _sweep("the sweeper to resend the roster job") == {"resent": 1, "failed": 0}
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED,
        timeout=60,
        what="the resumed roster job",
    )
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.APPLIED
    assert batch.result["counts"] == clean_batch.result["counts"] == {"added": 300}
    assert _registry(county) == [(n, *rest) for n, *rest in clean]
    assert Person.objects.filter(county=county).count() == 300
    assert roster_import_job(batch=batch).pk == job.pk
    assert Job.objects.get(pk=job.pk).attempts == 2
    _no_job_running()


def test_a_database_connection_cut_during_an_import_fails_it_whole_in_chinese_then_a_rerun_applies(
    county, celery_broker, start_worker
):
    batch = _roster(county, 50)
    start_worker(BENEFICIARIES_APPLY_PAUSE_SECONDS=1)
    job = roster_import_job_start(batch=batch, apply=True, by=None)
    pid = wait_for(_paused_backend, timeout=60, what="the merge written, not committed")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == Job.Status.FAILED,
        timeout=60,
        what="the job to fail",
    )
    job.refresh_from_db()
    batch.refresh_from_db()
    assert job.error.startswith("数据库连接中断，本次运行未提交的部分已全部回滚，可重新执行")
    assert batch.status == RosterImport.Status.FAILED
    assert batch.error.startswith("入库失败，已整体回滚：数据库连接中断")
    assert not Person.objects.filter(county=county).exists()
    assert not Identity.objects.filter(person__county=county).exists()
    # The job's lock died with the backend: nothing is left held.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND objid = %s",
            [JOB_LOCK_SPACE, job.pk],
        )
        assert cursor.fetchone()[0] == 0

    again = roster_import_job_start(batch=batch, apply=True, by=None)
    assert again.pk != job.pk
    wait_for(
        lambda: Job.objects.get(pk=again.pk).status == Job.Status.SUCCEEDED,
        timeout=60,
        what="the rerun",
    )
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.APPLIED and batch.error == ""
    assert batch.result["counts"] == {"added": 50}
    assert Identity.objects.filter(person__county=county).count() == 50
    _no_job_running()
