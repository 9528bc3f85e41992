"""Monthly settlement (按月结算; Baoshan Art.25, 27; Kunming §五; Pingshun Art.26).

For one county and one month, the payable claims become one statement per hospital (direct
settlement) and one payment batch for individuals (application-based), each posted as one
ledger entry from the county's paying account.

Which claims a month settles: a claim of the county whose status is ``accepted``, whose current
decision was made before the end of the month (the acceptance cut-off: 24:00 on the last day,
Asia/Shanghai), whose discharge date is in the month or earlier, and that no settlement line
holds yet. A claim accepted after the cut-off — even with a discharge date inside the month —
rolls into the next month's settlement; so does one that missed an earlier month. Recomputation
differences (`claims.Adjustment`) of already settled claims, created before the cut-off, are
settled with the same payee as their claim.

Guarantees:
- Idempotent: the run row is unique per county and month, a claim and an adjustment can be
  held by one settlement line only (database unique constraints), a statement is posted once
  (its entry carries an idempotency key). Running a settled month again changes nothing.
- Locked: on PostgreSQL a session advisory lock per county and month; a second run while one is
  going is refused with `SettlementLocked`. SQLite (the embedded default, one process) has none.
- Resumable: staging (claims → lines → statements) is one transaction; each statement is then
  posted in its own transaction. A run that died resumes with the statements not yet posted.
- Maker–checker: a run stages its statements and stops (`STAGED`, 待复核记账) until a person
  proposes their posting and a second person approves it (`funds.moves`); the approval sends
  the run again, and only then are the statements posted, each voucher carrying the move.
  A month with nothing to pay needs no review.
- Refuses, before paying anything, when the paying account holds less than the month's total
  on the vouchers' date (`posting_date`) or any later day: a month settled late pays with the
  money the account held at the month's end, never with money that arrived after it.
- A run whose job the sweeper gave up (its worker died too often) or someone cancelled is
  failed, with the reason (`settlement_runs_sweep`); running it again starts a new job.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import time
import zoneinfo
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from beneficiaries.models import County
from claims.models import Adjustment, Claim, Decision
from claims.services import claims_mark_settled
from funds.models import (
    Account,
    AccountKind,
    EntryKind,
    MoneyMove,
    SettlementLine,
    SettlementRun,
    SettlementStatement,
    sum_money,
)
from funds.services import (
    FundsError,
    account_available,
    account_open,
    entries_post_many,
    period_close,
)
from medaid import policy
from medaid.core import topics
from medaid.core.jobs import job_create, job_running, lock_release, lock_try
from medaid.core.models import Job
from medaid.core.outbox import event_emit

JOB_KIND = "funds.settle_month"
# What the job sweeper sends again when the worker running a settlement died (beat and the
# admin send the same task with the same arguments).
JOB_TASK = "funds.tasks.settle_month"
BATCHES = 20
# Advisory-lock namespace: "MEDAID-FUNDS" would not fit, this constant just has to be unique.
_LOCK_NAMESPACE = 0x4D45_4446  # "MEDF"


class SettlementLocked(FundsError):
    pass


def period_bounds(year: int, month: int) -> tuple[dt.date, dt.date, dt.datetime]:
    """First day, last day, and the acceptance cut-off (start of the next month, local time)."""
    if not 1 <= month <= 12:
        raise FundsError("结算月份必须在 1 至 12 之间。", code="bad_period")
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    nxt = last + dt.timedelta(days=1)
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return dt.date(year, month, 1), last, dt.datetime(nxt.year, nxt.month, 1, tzinfo=tz)


def previous_month(today: dt.date) -> tuple[int, int]:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return first.year, first.month


def posting_date(run: SettlementRun) -> dt.date:
    """The date a run's payment vouchers carry: the last day of the month settled, so that a
    December settled in January counts against the year it was spent in at the year-end close
    — or today when the month is still running (a month settled before its end is paid today,
    never on a day still to come), or when the year-end close has closed the month: what is
    paid late for a closed month is posted in the open one."""
    today = timezone.localdate()
    day = min(period_bounds(run.year, run.month)[1], today)
    county = run.county
    if period_close(pooling_area=county.pooling_area, county=county, on=day) is not None:
        return today
    return day


def period_covered(run: SettlementRun) -> str:
    """What a run settles, in words for its page (see the module docstring)."""
    _, last, cutoff = period_bounds(run.year, run.month)
    return (
        f"出院（就诊）日期截至 {last:%Y-%m-%d}、{timezone.localtime(cutoff):%Y-%m-%d %H:%M} 前"
        "完成审核的已受理救助明细（含此前各月尚未结算的），以及同一时点前产生的已结算明细重算"
        f"调整；凭证记账日期 {posting_date(run):%Y-%m-%d}。"
    )


def posting_move(run: SettlementRun) -> MoneyMove | None:
    """The approved move that lets the run post its statements, if any."""
    approved = (MoneyMove.State.APPROVED, MoneyMove.State.POSTED)
    return MoneyMove.objects.filter(settlement_run=run, state__in=approved).first()


def paying_account(county: County, on: dt.date) -> Account:
    """The county's account the month's settlement pays from, as the pack in force on `on`
    says: the expenditure account, or the fiscal special account (Pingshun Art.26)."""
    paid = policy.settlement_paid_from(county.pooling_area.policy_code, on)
    return account_open(kind=paid.account, pooling_area=county.pooling_area, county=county)


@contextmanager
def settlement_lock(county_id: int, year: int, month: int):
    """Hold the per-county-and-month lock for the block or raise `SettlementLocked`. A session
    lock, so that it spans the run's many transactions and dies with a killed worker's
    connection."""
    key = (county_id << 20) | (year * 12 + month - 1)
    if not lock_try(key, _LOCK_NAMESPACE):
        raise SettlementLocked(
            f"该区县 {year}年{month}月 的结算正在进行中，本次结算请求已拒绝，请稍后查看进度。",
            code="settlement_locked",
        )
    try:
        yield
    finally:
        lock_release(key, _LOCK_NAMESPACE)


def _stage(run: SettlementRun) -> None:
    """Claims and adjustments → lines → statements, set-based, in one transaction. The payable
    claims and adjustments are read once into a temporary table, so that statements and lines
    come from the same snapshot and claims are joined to decisions once."""
    _, last, cutoff = period_bounds(run.year, run.month)
    cutoff = connection.ops.adapt_datetimefield_value(cutoff)
    claim, decision = Claim._meta.db_table, Decision._meta.db_table
    line, statement = SettlementLine._meta.db_table, SettlementStatement._meta.db_table
    adjustment = Adjustment._meta.db_table
    staged = f"funds_stage_{run.pk}"
    hospital = "CASE WHEN c.settlement = 'direct' THEN c.hospital_id END"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {staged}")
        # A claim line stands unless the voucher that paid it was reversed (`reopened`).
        # A claim whose only claim lines were reversed is staged again ("restaged") at its
        # current decision less what its standing adjustment lines paid and less the
        # adjustments staged with it, so that what stands for a claim always adds up to its
        # current decision.
        standing_claim_line = (
            f"SELECT 1 FROM {line} l WHERE l.claim_id = c.id AND l.adjustment_id IS NULL"
            " AND l.reopened = %s"
        )
        restaged = (
            f"c.status = %s AND c.discharged <= %s"
            f" AND EXISTS (SELECT 1 FROM {line} l WHERE l.claim_id = c.id"
            f" AND l.adjustment_id IS NULL AND l.reopened = %s)"
            f" AND NOT EXISTS ({standing_claim_line})"
            f" AND EXISTS (SELECT 1 FROM {decision} d WHERE d.claim_id = c.id"
            f" AND d.is_current = %s AND d.decided_at < %s)"
        )
        restaged_params = [Claim.Status.ACCEPTED, last, True, False, True, cutoff]
        unpaid_adjustment = (
            f"a.created_at < %s AND NOT EXISTS"
            f" (SELECT 1 FROM {line} l WHERE l.adjustment_id = a.id AND l.reopened = %s)"
        )
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {staged} AS
            SELECT c.id AS claim_id, CAST(NULL AS BIGINT) AS adjustment_id,
                c.person_id AS person_id, {hospital} AS hospital_id, d.total AS amount,
                c.declared_assistance AS declared
            FROM {claim} c
            JOIN {decision} d ON d.claim_id = c.id AND d.is_current = %s
            WHERE c.county_id = %s AND c.status = %s AND c.discharged <= %s
              AND d.decided_at < %s
              AND NOT EXISTS (
                  SELECT 1 FROM {line} l WHERE l.claim_id = c.id AND l.adjustment_id IS NULL)
            UNION ALL
            SELECT c.id, NULL, c.person_id, {hospital},
                d.total
                - COALESCE((SELECT SUM(l.amount) FROM {line} l WHERE l.claim_id = c.id
                    AND l.adjustment_id IS NOT NULL AND l.reopened = %s), 0)
                - COALESCE((SELECT SUM(a.amount) FROM {adjustment} a WHERE a.claim_id = c.id
                    AND {unpaid_adjustment}), 0),
                c.declared_assistance
            FROM {claim} c
            JOIN {decision} d ON d.claim_id = c.id AND d.is_current = %s
            WHERE c.county_id = %s AND {restaged}
            UNION ALL
            SELECT c.id, a.id, c.person_id, {hospital}, a.amount, NULL
            FROM {adjustment} a
            JOIN {claim} c ON c.id = a.claim_id
            WHERE c.county_id = %s AND {unpaid_adjustment}
              AND (c.status = %s OR ({restaged}))
            """,
            [
                True,
                run.county_id,
                Claim.Status.ACCEPTED,
                last,
                cutoff,
                # restaged claims
                False,
                cutoff,
                False,
                True,
                run.county_id,
                *restaged_params,
                # adjustments
                run.county_id,
                cutoff,
                False,
                Claim.Status.SETTLED,
                *restaged_params,
            ],
        )
        cursor.execute(
            f"""
            INSERT INTO {statement} (run_id, county_id, payee, hospital_id, claim_count,
                claims_total, declared_total, adjustment_count, adjustments_total, total)
            SELECT %s, %s,
                CASE WHEN t.hospital_id IS NULL THEN 'individuals' ELSE 'hospital' END,
                t.hospital_id, 0, 0, 0, 0, 0, 0
            FROM (SELECT DISTINCT hospital_id FROM {staged}) t
            """,
            [run.pk, run.county_id],
        )
        cursor.execute(
            f"""
            INSERT INTO {line} (statement_id, claim_id, adjustment_id, person_id, amount,
                declared)
            SELECT s.id, t.claim_id, t.adjustment_id, t.person_id, t.amount, t.declared
            FROM {staged} t
            JOIN {statement} s
              ON s.run_id = %s AND COALESCE(s.hospital_id, 0) = COALESCE(t.hospital_id, 0)
            """,
            [run.pk],
        )
        cursor.execute(
            f"""
            UPDATE {statement} SET
                claim_count = agg.claim_count,
                claims_total = agg.claims_total,
                declared_total = agg.declared_total,
                adjustment_count = agg.adjustment_count,
                adjustments_total = agg.adjustments_total,
                total = agg.claims_total + agg.adjustments_total
            FROM (
                SELECT l.statement_id,
                    SUM(CASE WHEN l.adjustment_id IS NULL THEN 1 ELSE 0 END) AS claim_count,
                    COALESCE(SUM(CASE WHEN l.adjustment_id IS NULL THEN l.amount END), 0)
                        AS claims_total,
                    COALESCE(SUM(l.declared), 0) AS declared_total,
                    SUM(CASE WHEN l.adjustment_id IS NULL THEN 0 ELSE 1 END)
                        AS adjustment_count,
                    COALESCE(SUM(CASE WHEN l.adjustment_id IS NULL THEN 0 ELSE l.amount END), 0)
                        AS adjustments_total
                FROM {line} l JOIN {statement} s ON s.id = l.statement_id
                WHERE s.run_id = %s
                GROUP BY l.statement_id
            ) agg
            WHERE {statement}.id = agg.statement_id
            """,
            [run.pk],
        )
        cursor.execute(f"DROP TABLE {staged}")
        SettlementRun.objects.filter(pk=run.pk).update(staged_at=timezone.now())
    run.refresh_from_db()


def _payee_accounts(county: County, statements) -> dict[int | None, Account]:
    """The payee account of every statement, keyed by hospital id (None: individuals), opened
    in one go where missing."""
    area = county.pooling_area
    hospitals = {st.hospital_id: st.hospital for st in statements if st.hospital_id}
    codes = {f"hospital:{h.code}": h for h in hospitals.values()}
    existing = {a.code: a for a in Account.objects.filter(code__in=codes)}
    missing = [code for code in codes if code not in existing]
    if missing:
        Account.objects.bulk_create(
            [
                Account(
                    code=code,
                    name=codes[code].name,
                    kind=AccountKind.HOSPITAL,
                    pooling_area=area,
                    county_id=codes[code].county_id,
                    hospital=codes[code],
                )
                for code in missing
            ],
            ignore_conflicts=True,
        )
        existing = {a.code: a for a in Account.objects.filter(code__in=codes)}
    accounts: dict[int | None, Account] = {
        pk: existing[f"hospital:{h.code}"] for pk, h in hospitals.items()
    }
    if any(st.hospital_id is None for st in statements):
        accounts[None] = account_open(
            kind=AccountKind.INDIVIDUALS, pooling_area=area, county=county
        )
    return accounts


def _post_batch(
    run: SettlementRun,
    statement_ids: list[int],
    account: Account,
    payees: dict[int | None, Account],
    move: MoneyMove | None,
    on: dt.date,
) -> int:
    """Post a batch of statements in one transaction: one entry per statement (none for a
    statement of zero), the statements marked posted, their claims marked settled — set-based.
    `payees` holds every statement's payee account (`_payee_accounts`, opened once per run);
    `on` is the vouchers' date (`posting_date`, read once per run: the lock keeps the run
    alone, and `entries_post_many` still refuses a period closed since). Returns how many
    statements this call posted (0 when another run got there first)."""
    county = run.county
    with transaction.atomic():
        statements = list(
            SettlementStatement.objects.select_for_update(of=("self",))
            .select_related("hospital")
            .filter(pk__in=statement_ids, posted_at__isnull=True)
            .order_by("pk")
        )
        if not statements:
            return 0
        paying = [st for st in statements if st.total != 0]
        entries = entries_post_many(
            pooling_area=county.pooling_area,
            county=county,
            date=on,
            entries=[_payment(run, st, account, payees[st.hospital_id]) for st in paying],
            created_by=move.checker if move is not None else None,
            move=move,
        )
        now = timezone.now()
        for st, entry in zip(paying, entries, strict=True):
            st.entry = entry
        for st in statements:
            st.posted_at = now
        SettlementStatement.objects.bulk_update(statements, ["entry", "posted_at"])
        # Their claims become settled: the claims app's write, one UPDATE for the batch.
        paid_lines = SettlementLine.objects.filter(
            statement_id__in=[st.pk for st in statements], adjustment_id__isnull=True
        )
        claims_mark_settled(claim_ids=paid_lines.values("claim_id"), at=now)
        # Counter applications become paid on the claims app's side, when it hears of it.
        application_claims = list(
            paid_lines.filter(claim__application__isnull=False).values_list("claim_id", flat=True)
        )
        if application_claims:
            event_emit(
                topics.SETTLEMENT_POSTED,
                {"run": run.pk, "claims": application_claims},
                key=f"county:{county.pk}",
            )
    return len(statements)


def _payment(run: SettlementRun, st: SettlementStatement, account: Account, payee: Account):
    st.run, st.county = run, run.county  # for `number`, without a query each
    if st.hospital_id:
        kind, memo = EntryKind.HOSPITAL_PAYMENT, f"{st.hospital.name} {run.period}医疗救助费用"
    else:
        kind = EntryKind.INDIVIDUAL_PAYMENT
        memo = f"{run.county.name} {run.period}依申请救助个人支付批次（{st.claim_count}人次）"
    return {
        "kind": kind,
        "document_ref": st.number,
        "memo": memo,
        "idempotency_key": f"settlement-statement:{st.pk}",
        "postings": [(account, -st.total), (payee, st.total)],
    }


def settlement_run(*, county: County, year: int, month: int, created_by=None) -> SettlementRun:
    """Settle one county's month (see the module docstring). Takes the per-county-and-month
    lock itself; the caller must not hold a transaction open (each statement commits alone)."""
    first, _, _ = period_bounds(year, month)
    if first > timezone.localdate():
        raise FundsError(f"{year}年{month}月尚未开始，不能结算。", code="future_period")
    with settlement_lock(county.pk, year, month):
        run, _ = SettlementRun.objects.get_or_create(county=county, year=year, month=month)
        if run.status == SettlementRun.Status.SUCCEEDED:
            return run
        if run.status == SettlementRun.Status.STAGED and posting_move(run) is None:
            return run  # waiting for its posting to be proposed and approved
        if run.job_id is None or run.job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
            # A first run, or a person running a failed one again: a job of its own, so that
            # the sweeper's count of attempts starts afresh.
            run.job = job_create(
                kind=JOB_KIND,
                parameters={"county_id": county.pk, "year": year, "month": month},
                county=county,
                created_by=created_by,
                task=JOB_TASK,
                task_args=[county.pk, year, month],
            )
        run.status = SettlementRun.Status.RUNNING
        run.attempts += 1
        run.error = ""
        run.save(update_fields=["job", "status", "attempts", "error"])
        try:
            with job_running(job=run.job) as progress:
                posted = _settle(run, progress)
            run.job.refresh_from_db(fields=["status", "error"])
            if run.job.status == Job.Status.CANCELLED:
                raise FundsError(f"结算任务已取消：{run.job.error}", code="cancelled")
        except FundsError as exc:
            _finish(run, SettlementRun.Status.FAILED, exc.message)
            raise
        except Exception as exc:
            _finish(run, SettlementRun.Status.FAILED, f"结算异常中止：{exc}")
            raise
        if not posted:
            _finish(run, SettlementRun.Status.STAGED, "")
            return run
        _finish(run, SettlementRun.Status.SUCCEEDED, "")
        MoneyMove.objects.filter(settlement_run=run, state=MoneyMove.State.APPROVED).update(
            state=MoneyMove.State.POSTED, posted_at=run.finished_at
        )
    # Counter applications become paid on the claims app's side when the outbox delivers
    # each posted batch's `settlement.posted` (see `_post_batch`).
    return run


def _finish(run: SettlementRun, status: str, error: str) -> None:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])


def _settle(run: SettlementRun, progress) -> bool:
    """Stage, then post what the approved move allows; False when the run stopped to wait for
    its posting to be reviewed."""
    if run.staged_at is None:
        _stage(run)
    statements = run.statements.all()
    progress.set_total(statements.count())
    progress.advance(statements.filter(posted_at__isnull=False).count())
    account = paying_account(run.county, period_bounds(run.year, run.month)[1])
    pending = statements.filter(posted_at__isnull=True)
    owed = sum_money(pending, "total")
    on = posting_date(run)
    held = account_available(account, on=on)
    if owed > held:
        raise FundsError(
            f"{account.name}余额不足，拒绝结算：{run.period}应付 {owed} 元，"
            f"账户 {on} 起可用余额 {held} 元，差额 {owed - held} 元。结算凭证记于 {on}，"
            "只能使用当日已到账的资金；请补记当日及以前的拨款后重新执行结算，"
            "已归集的结算明细将保留。",
            code="insufficient_funds",
        )
    move = posting_move(run)
    if move is None and pending.exclude(total=0).exists():
        Job.objects.filter(pk=run.job_id).update(
            result={"statements": statements.count(), "awaiting_review": True}
        )
        return False
    pause = float(getattr(settings, "FUNDS_STATEMENT_PAUSE_SECONDS", 0) or 0)
    # Refunds (negative statements) first, so that recovered money is there to pay with.
    ids = list(pending.order_by("total", "pk").values_list("pk", flat=True))
    payees = _payee_accounts(run.county, list(pending.select_related("hospital")))
    # About twenty commits per run: progress moves, and a crash loses at most one batch.
    size = max(1, math.ceil(len(ids) / BATCHES))
    for start in range(0, len(ids), size):
        progress.advance(_post_batch(run, ids[start : start + size], account, payees, move, on))
        if pause:
            time.sleep(pause)
    totals = statements.aggregate(claims=Sum("claim_count"), adjustments=Sum("adjustment_count"))
    Job.objects.filter(pk=run.job_id).update(
        result={
            "statements": statements.count(),
            "claims": totals["claims"] or 0,
            "adjustments": totals["adjustments"] or 0,
            "total": str(sum_money(statements, "total")),
        }
    )
    return True


def settlement_runs_sweep(*, now=None) -> dict:
    """After the job sweeper (it calls this every minute): a run still "running" whose job is
    over — given up after too many attempts, or cancelled — is failed with the job's reason,
    so that the run's page says so and finance can run it again."""
    stuck = SettlementRun.objects.filter(
        status=SettlementRun.Status.RUNNING,
        job__status__in=[Job.Status.FAILED, Job.Status.CANCELLED],
    ).select_related("job")
    failed = 0
    for run in stuck:
        reason = run.job.error or run.job.get_status_display()
        _finish(run, SettlementRun.Status.FAILED, f"结算任务中止：{reason}。可在本页重新执行结算。")
        failed += 1
    # Counted apart from the jobs the sweeper failed (each such run's job is one of those).
    return {"settlement_runs_failed": failed} if failed else {}
