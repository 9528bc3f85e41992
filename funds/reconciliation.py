"""Reconciliation (对账): does every figure of the fund agree with every other? Read-only.

`reconcile(county=…, year=…, month=…)` runs every check below over the scope and returns the
differences, each with the rows that cause it (model, id, expected, actual, a Chinese
explanation), grouped per county and month (a year-level difference has no month). Zero
differences is the only green.

The checks, each set-based (one aggregate query per check, grouped by county and month; no
query per row — the reports' checks build one report per county-month or year):

- `entry_unbalanced`: every voucher's postings sum to 0 (and it has at least two).
- `entry_future`: no voucher is dated after today.
- `account_overdrawn`: balances are not stored anywhere (an account's balance is the sum of its
  postings), so what is checked is that an internal account's day-end running balance never
  goes below zero on any day the ledger shows — a payment dated before the money it spends.
- `statement_lines`: a statement's total, claim and adjustment sums and counts equal its
  settlement lines (the claims' decisions and adjustments it settled).
- `not_posted`, `entry_amount`, `entry_reversed`, `entry_date`: a statement is posted, its
  entry pays the payee exactly the statement's total from an internal account (right kind,
  right payee), is not reversed, and is dated inside the month settled and not after today.
- `ledger_total`: per county and month, the ledger's payments to hospitals and individuals
  equal the month's posted statements; `payment_without_statement`: no payment voucher
  without its statement.
- `decision_changed`: per settled claim, what was settled (claim line plus adjustment lines)
  plus adjustments not yet settled equals its current decision.
- `settled_without_line`, `line_not_settled`, `unsettled`: claim states against the lines —
  settled means held by a line; a line of a posted statement means settled; an accepted
  claim that a month's run should have staged (decided before the cut-off and unchanged since
  before the run was staged) is still unsettled.
- `application_not_paid`, `application_paid_twice`: every approved application whose claims
  are all settled is paid, and a paid one had each of its claims settled exactly once (one
  claim line in a posted statement).
- `recompute_differs`: every current decision equals a fresh run of the engine on the same
  person's year (`claims.services.recompute_preview`: the recompute's own reads and engine
  call, nothing written) — for `sample` people per county and year, or everyone with
  `full_recompute=True`.
- `year_end_actual`, `year_end_premium`, `year_end_figures`, `year_end_balance`: a year-end
  close's 实际支出 and its 资助参保 part equal the ledger's spending for the county and year
  (premium transfers included, whichever account paid them: see
  `funds.services.county_spending_parts`), its sharing adds up, its closing balance is the
  accounts' balance on 31 December.
- `premium_unlinked`, `premium_amount`: every premium-subsidy voucher belongs to a posted
  transfer request (beneficiaries.PremiumTransferRequest) and pays exactly its amount.
- `report_totals`: the 合计 rows of the reports as the exports build them — the county's
  settlement summary (汇总) per month, the hospital statements (one per month sampled, all in
  full), the year-end sharing sheet (the close rows, or the trial before the close) — equal
  the sum of their rows and the database's and the ledger's figures.

Informational, not differences (`notes`): a hospital's declared assistance against what was
decided (`declared_differs`: the hospital's declaration error, which does not affect payment).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone

from beneficiaries.models import County, PremiumTransferRequest
from claims import services as claims_services
from claims.models import Adjustment, Application, Claim, Decision
from funds.models import (
    INTERNAL_KINDS,
    SPENDING_KINDS,
    Account,
    Budget,
    Entry,
    EntryKind,
    Posting,
    SettlementLine,
    SettlementRun,
    SettlementStatement,
    YearEndClose,
)
from funds.settlement import period_bounds
from medaid.core.jobs import job_create, job_running, register_job_kind
from medaid.core.models import Job
from medaid.core.money import ZERO, to_yuan, yuan_text
from medaid.core.xlsx import totals_row

JOB_KIND = "funds.reconcile"
register_job_kind(JOB_KIND, "基金对账")
DEFAULT_SAMPLE = 200
# The rows listed per check and period; the count of differences is always complete.
ROWS_LISTED = 200
TOLERANCE = Decimal("0.001")  # SQLite sums money as floats

CHECKS = {
    "entry_unbalanced": "记账凭证借贷不平",
    "entry_future": "记账凭证日期晚于今天",
    "account_overdrawn": "账户余额为负",
    "statement_lines": "结算单与明细不符",
    "not_posted": "结算单未入账",
    "entry_amount": "结算单与凭证不符",
    "entry_reversed": "支付凭证已冲销",
    "entry_date": "结算凭证日期不在结算期间",
    "ledger_total": "凭证合计与结算单不符",
    "payment_without_statement": "支付凭证没有结算单",
    "decision_changed": "已结算金额与当前救助决定不符",
    "settled_without_line": "已结算无结算单",
    "line_not_settled": "已支付未标记结算",
    "unsettled": "应结未结",
    "application_not_paid": "申请已审批已结算未支付",
    "application_paid_twice": "已支付申请的明细未恰好结算一次",
    "recompute_differs": "救助决定与重新计算不符",
    "year_end_actual": "决算实际支出与账簿不符",
    "year_end_premium": "决算资助参保与账簿不符",
    "year_end_figures": "决算分担数字不自洽",
    "year_end_balance": "决算年末余额与账簿不符",
    "premium_unlinked": "资助参保凭证没有划转申请",
    "premium_amount": "资助参保凭证与划转申请不符",
    "report_totals": "报表合计与数据不符",
    "no_run": "尚未结算",
    "declared_differs": "医院申报与核定差额",
}


@dataclass(frozen=True)
class Row:
    """One row that causes a difference."""

    model: str
    id: int | None
    expected: Any
    actual: Any
    explanation: str
    ref: str = ""

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "id": self.id,
            "ref": self.ref,
            "expected": _plain(self.expected),
            "actual": _plain(self.actual),
            "explanation": self.explanation,
        }


@dataclass
class Difference:
    check: str
    county_id: int | None
    year: int
    month: int | None
    message: str
    rows: list[Row] = field(default_factory=list)

    @property
    def label(self) -> str:
        return CHECKS[self.check]

    def as_dict(self) -> dict:
        return {
            "check": self.check,
            "label": self.label,
            "county_id": self.county_id,
            "year": self.year,
            "month": self.month,
            "message": self.message,
            "rows": [r.as_dict() for r in self.rows],
        }


@dataclass
class Period:
    """What one county's month (or year, `month=None`) held, for the summary."""

    county_id: int | None
    year: int
    month: int | None
    statements: int = 0
    statements_total: Decimal = ZERO
    ledger_total: Decimal = ZERO
    claims_total: Decimal = ZERO
    # Statements whose voucher was reversed in this month (the ledger shows the reversal here).
    reversed_total: Decimal = ZERO


PeriodKey = tuple[int | None, int, int | None]


@dataclass
class ReconcileResult:
    county_id: int | None
    year: int | None
    month: int | None
    full_recompute: bool
    sample: int
    differences: list[Difference] = field(default_factory=list)
    notes: list[Difference] = field(default_factory=list)
    periods: dict[PeriodKey, Period] = field(default_factory=dict)
    county_names: dict[int, str] = field(default_factory=dict)
    recomputed_people: int = 0
    recomputed_claims: int = 0
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.differences)

    @property
    def balanced(self) -> bool:
        return not self.differences

    def period(self, county_id, year, month) -> Period:
        key = (county_id, year, month)
        if key not in self.periods:
            self.periods[key] = Period(county_id, year, month)
        return self.periods[key]

    def by_period(self) -> list[tuple[Period, list[Difference]]]:
        found: dict[PeriodKey, list[Difference]] = defaultdict(list)
        for d in self.differences:
            found[(d.county_id, d.year, d.month)].append(d)
            self.period(d.county_id, d.year, d.month)
        keys = sorted(self.periods, key=lambda k: (k[1], k[0] or 0, k[2] or 13))
        return [(self.periods[k], found.get(k, [])) for k in keys]

    def place(self, county_id: int | None, year: int, month: int | None) -> str:
        who = self.county_names.get(county_id, "市级") if county_id else "市级"
        return f"{who} {year}年{month}月" if month else f"{who} {year}年度"

    def summary(self) -> dict:
        by_check: dict[str, int] = defaultdict(int)
        by_county: dict[str, int] = defaultdict(int)
        for d in self.differences:
            by_check[d.check] += 1
            by_county[str(d.county_id or "")] += 1
        return {
            "differences": self.count,
            "by_check": dict(sorted(by_check.items())),
            "by_county": dict(sorted(by_county.items())),
            "periods": len(self.periods),
            "periods_with_differences": len(
                {(d.county_id, d.year, d.month) for d in self.differences}
            ),
            "recomputed_people": self.recomputed_people,
            "recomputed_claims": self.recomputed_claims,
            "full_recompute": self.full_recompute,
            "sample": self.sample,
            "county_id": self.county_id,
            "year": self.year,
            "month": self.month,
            "seconds": round(self.seconds, 3),
        }

    def as_dict(self, limit: int = 100) -> dict:
        return {**self.summary(), "items": [d.as_dict() for d in self.differences[:limit]]}

    def json(self) -> str:
        return json.dumps(self.summary(), ensure_ascii=False)


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _money(value) -> Decimal:
    return to_yuan(value or 0)


def _differs(a, b) -> bool:
    return abs(_money(a) - _money(b)) > TOLERANCE


def _date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


class _Scope:
    """The filter of every check: county, year, month."""

    def __init__(self, county, year, month):
        self.county_id = county.pk if county is not None else None
        self.year = year
        self.month = month
        if month is not None and year is None:
            raise ValueError("按月对账须同时指定年度")
        if year is not None and month is not None:
            first, last, _ = period_bounds(year, month)
        elif year is not None:
            first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        else:
            first = last = None
        self.first, self.last = first, last

    def runs(self):
        runs = SettlementRun.objects.all()
        if self.county_id:
            runs = runs.filter(county_id=self.county_id)
        if self.year:
            runs = runs.filter(year=self.year)
        if self.month:
            runs = runs.filter(month=self.month)
        return runs

    def dates(self, qs, path: str):
        if self.first is not None:
            qs = qs.filter(**{f"{path}__gte": self.first, f"{path}__lte": self.last})
        return qs

    def county(self, qs, path: str):
        return qs.filter(**{path: self.county_id}) if self.county_id else qs

    def sql_runs(self, alias: str = "r") -> tuple[str, list]:
        where, params = ["1=1"], []
        for column, value in (
            ("county_id", self.county_id),
            ("year", self.year),
            ("month", self.month),
        ):
            if value is not None:
                where.append(f"{alias}.{column} = %s")
                params.append(value)
        return " AND ".join(where), params


def reconcile(
    *,
    county: County | None = None,
    year: int | None = None,
    month: int | None = None,
    full_recompute: bool = False,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    today: dt.date | None = None,
) -> ReconcileResult:
    """Reconcile the scope (see the module docstring). Read-only: nothing is written (the
    year-end trial runs the closing service inside a savepoint that is rolled back)."""
    started = time.monotonic()
    scope = _Scope(county, year, month)
    today = today or timezone.localdate()
    result = ReconcileResult(
        county_id=scope.county_id,
        year=year,
        month=month,
        full_recompute=full_recompute,
        sample=sample,
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The planner's estimates for these joins of aggregates run into the millions and
            # JIT compilation then costs seconds on queries that run in milliseconds.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        _run_checks(result, scope, today, full_recompute, sample, seed)
    result.seconds = time.monotonic() - started
    return result


def _run_checks(result, scope, today, full_recompute, sample, seed) -> None:
    result.county_names = dict(County.objects.values_list("id", "name"))
    runs = list(scope.runs().order_by("year", "month", "county_id"))
    for run in runs:
        result.period(run.county_id, run.year, run.month)
    _entries_balance(result, scope, today)
    _accounts_overdrawn(result, scope)
    _statements(result, scope, today)
    _ledger_against_statements(result, scope, runs)
    _settled_against_decisions(result, scope)
    _claim_states(result, scope, runs)
    _applications(result, scope)
    _recompute(result, scope, full=full_recompute, sample=sample, seed=seed)
    _year_end(result, scope)
    _premium_transfers(result, scope)
    _reports(result, scope, runs, full=full_recompute)


def reconcile_job(
    *,
    county: County | None = None,
    year: int | None = None,
    month: int | None = None,
    full_recompute: bool = False,
    sample: int = DEFAULT_SAMPLE,
    created_by=None,
) -> Job:
    """Run `reconcile` as a job (kind "funds.reconcile"): its summary and the first
    differences land on `job.result`, where the dashboard's 对账 panel reads the latest."""
    job = job_create(
        kind=JOB_KIND,
        parameters={
            "county_id": county.pk if county else None,
            "year": year,
            "month": month,
            "full_recompute": full_recompute,
            "sample": sample,
        },
        county=county,
        created_by=created_by,
    )
    with job_running(job=job) as progress:
        progress.stage("对账")
        result = reconcile(
            county=county, year=year, month=month, full_recompute=full_recompute, sample=sample
        )
        Job.objects.filter(pk=job.pk).update(result=result.as_dict(limit=50))
    job.refresh_from_db()
    return job


def _add(result, check, county_id, year, month, message, rows) -> None:
    result.differences.append(
        Difference(check, county_id, year, month, message, list(rows)[:ROWS_LISTED])
    )


def _fetch(sql: str, params) -> list[tuple]:
    """One check's aggregate query. On PostgreSQL without JIT: the planner's row estimates
    for these joins of aggregates run into the millions, and compiling the plan took seconds
    of a query that runs in milliseconds."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- the ledger ------------------------------------------------------------------------------


def _entries_balance(result: ReconcileResult, scope: _Scope, today: dt.date) -> None:
    entry, posting = Entry._meta.db_table, Posting._meta.db_table
    where, params = ["1=1"], []
    if scope.county_id:
        where.append("e.county_id = %s")
        params.append(scope.county_id)
    if scope.first is not None:
        where.append("e.date >= %s AND e.date <= %s")
        params += [scope.first, scope.last]
    rows = _fetch(
        f"""
        SELECT e.id, e.county_id, e.date, e.document_ref, COALESCE(SUM(p.amount), 0),
            COUNT(p.id)
        FROM {entry} e LEFT JOIN {posting} p ON p.entry_id = e.id
        WHERE {" AND ".join(where)}
        GROUP BY e.id, e.county_id, e.date, e.document_ref
        HAVING ABS(COALESCE(SUM(p.amount), 0)) > %s OR COUNT(p.id) < 2
        ORDER BY e.id
        """,
        [*params, float(TOLERANCE)],
    )
    for entry_id, county_id, date, ref, total, n in rows:
        date = _date(date)
        _add(
            result,
            "entry_unbalanced",
            county_id,
            date.year,
            date.month,
            f"记账凭证 {ref} 各分录合计 {yuan_text(total)} 元（{n} 条分录），应为 0。",
            [
                Row(
                    "funds.Entry",
                    entry_id,
                    ZERO,
                    _money(total),
                    "记账凭证借贷不平：各分录金额合计不为零"
                    + ("，或分录少于两条" if n < 2 else ""),
                    ref,
                )
            ],
        )
    future = scope.county(scope.dates(Entry.objects.filter(date__gt=today), "date"), "county_id")
    grouped: dict[tuple, list[Row]] = defaultdict(list)
    for e in future.values("id", "county_id", "date", "document_ref", "kind").order_by("id"):
        grouped[(e["county_id"], e["date"].year, e["date"].month)].append(
            Row(
                "funds.Entry",
                e["id"],
                today,
                e["date"],
                f"凭证日期 {e['date']} 晚于今天（{today}），记账日期不能是将来的日子",
                e["document_ref"],
            )
        )
    for (county_id, year, month), rows_ in grouped.items():
        _add(
            result,
            "entry_future",
            county_id,
            year,
            month,
            f"{len(rows_)} 张记账凭证的日期晚于今天。",
            rows_,
        )


def _accounts_overdrawn(result: ReconcileResult, scope: _Scope) -> None:
    """Day-end running balances of the internal accounts, one window query."""
    posting, entry, account = Posting._meta.db_table, Entry._meta.db_table, Account._meta.db_table
    where, params = [f"a.kind IN ({', '.join(['%s'] * len(INTERNAL_KINDS))})"], [*INTERNAL_KINDS]
    if scope.county_id:
        where.append("a.county_id = %s")
        params.append(scope.county_id)
    outer, outer_params = "", []
    if scope.first is not None:
        outer = "AND t.date >= %s AND t.date <= %s"
        outer_params = [scope.first, scope.last]
    rows = _fetch(
        f"""
        SELECT t.account_id, t.county_id, t.code, t.date, t.balance FROM (
            SELECT p.account_id, a.county_id, a.code, e.date,
                SUM(SUM(p.amount)) OVER (PARTITION BY p.account_id ORDER BY e.date) AS balance
            FROM {posting} p
            JOIN {entry} e ON e.id = p.entry_id
            JOIN {account} a ON a.id = p.account_id
            WHERE {" AND ".join(where)}
            GROUP BY p.account_id, a.county_id, a.code, e.date
        ) t
        WHERE t.balance < %s {outer}
        ORDER BY t.account_id, t.date
        """,
        [*params, -float(TOLERANCE), *outer_params],
    )
    seen: set[int] = set()
    for account_id, county_id, code, date, balance in rows:
        if account_id in seen:
            continue
        seen.add(account_id)
        date = _date(date)
        _add(
            result,
            "account_overdrawn",
            county_id,
            date.year,
            date.month,
            f"账户 {code} 在 {date} 日终余额为 {yuan_text(balance)} 元：支出早于资金到账。",
            [
                Row(
                    "funds.Account",
                    account_id,
                    ZERO,
                    _money(balance),
                    f"{date} 日终余额为负（应不小于 0）",
                    code,
                )
            ],
        )


# --- statements and payments -----------------------------------------------------------------


def _statements(result: ReconcileResult, scope: _Scope, today: dt.date) -> None:
    st, run, line = (
        SettlementStatement._meta.db_table,
        SettlementRun._meta.db_table,
        SettlementLine._meta.db_table,
    )
    entry, posting, account = Entry._meta.db_table, Posting._meta.db_table, Account._meta.db_table
    where, params = scope.sql_runs("r")
    internal = ", ".join(f"'{k}'" for k in INTERNAL_KINDS)
    rows = _fetch(
        f"""
        WITH s AS (
            SELECT st.id, st.run_id, r.county_id, r.year, r.month, st.payee, st.hospital_id,
                st.total, st.claims_total, st.adjustments_total, st.claim_count,
                st.adjustment_count, st.declared_total, st.posted_at, st.entry_id
            FROM {st} st JOIN {run} r ON r.id = st.run_id
            WHERE {where}
        ),
        l AS (
            SELECT l.statement_id,
                SUM(l.amount) AS total,
                SUM(CASE WHEN l.adjustment_id IS NULL THEN l.amount ELSE 0 END) AS claims_total,
                SUM(CASE WHEN l.adjustment_id IS NULL THEN 0 ELSE l.amount END) AS adj_total,
                SUM(CASE WHEN l.adjustment_id IS NULL THEN 1 ELSE 0 END) AS claims,
                SUM(CASE WHEN l.adjustment_id IS NULL THEN 0 ELSE 1 END) AS adjustments,
                SUM(CASE WHEN l.declared IS NULL THEN 0 ELSE l.amount END) AS decided,
                SUM(COALESCE(l.declared, 0)) AS declared,
                SUM(CASE WHEN l.reopened THEN 0 ELSE 1 END) AS standing
            FROM {line} l JOIN s ON s.id = l.statement_id
            GROUP BY l.statement_id
        ),
        pay AS (
            SELECT p.entry_id,
                SUM(CASE WHEN a.kind IN ('hospital', 'individuals') THEN p.amount ELSE 0 END)
                    AS paid,
                SUM(CASE WHEN a.kind IN ({internal}) THEN p.amount ELSE 0 END) AS paid_from,
                MAX(CASE WHEN a.kind = 'hospital' THEN a.hospital_id END) AS hospital_id,
                MAX(CASE WHEN a.kind = 'individuals' THEN 1 ELSE 0 END) AS to_individuals
            FROM {posting} p JOIN s ON s.entry_id = p.entry_id
            JOIN {account} a ON a.id = p.account_id
            GROUP BY p.entry_id
        )
        SELECT s.id, s.county_id, s.year, s.month, s.payee, s.hospital_id, s.total,
            s.claims_total, s.adjustments_total, s.claim_count, s.adjustment_count,
            s.declared_total, s.posted_at, s.entry_id,
            COALESCE(l.total, 0), COALESCE(l.claims_total, 0), COALESCE(l.adj_total, 0),
            COALESCE(l.claims, 0), COALESCE(l.adjustments, 0), COALESCE(l.decided, 0),
            COALESCE(l.declared, 0), COALESCE(l.standing, 0),
            e.kind, e.date, e.document_ref, pay.paid, pay.paid_from, pay.hospital_id,
            pay.to_individuals, rev.id
        FROM s
        LEFT JOIN l ON l.statement_id = s.id
        LEFT JOIN {entry} e ON e.id = s.entry_id
        LEFT JOIN pay ON pay.entry_id = s.entry_id
        LEFT JOIN {entry} rev ON rev.reverses_id = s.entry_id
        ORDER BY s.year, s.month, s.county_id, s.id
        """,
        params,
    )
    codes = dict(County.objects.values_list("id", "code"))
    for (
        sid,
        county_id,
        year,
        month,
        payee,
        hospital_id,
        total,
        claims_total,
        adjustments_total,
        claim_count,
        adjustment_count,
        declared_total,
        posted_at,
        entry_id,
        l_total,
        l_claims_total,
        l_adj_total,
        l_claims,
        l_adjustments,
        l_decided,
        l_declared,
        l_standing,
        e_kind,
        e_date,
        e_ref,
        paid,
        paid_from,
        paid_hospital,
        to_individuals,
        reversal_id,
    ) in rows:
        number = f"JS{year}{month:02d}-{codes.get(county_id, '')}-{sid:06d}"
        period = result.period(county_id, year, month)
        period.statements += 1
        period.statements_total += _money(total)
        period.claims_total += _money(l_claims_total)

        def add(check, message, rows_, county_id=county_id, year=year, month=month):
            _add(result, check, county_id, year, month, message, rows_)

        problems = []
        if _differs(l_total, total):
            problems.append(("应付合计", total, l_total))
        if _differs(l_claims_total, claims_total):
            problems.append(("本期救助金额", claims_total, l_claims_total))
        if _differs(l_adj_total, adjustments_total):
            problems.append(("追补（扣减）金额", adjustments_total, l_adj_total))
        if _differs(_money(claims_total) + _money(adjustments_total), total):
            problems.append(
                (
                    "应付合计（本期救助＋追补）",
                    _money(claims_total) + _money(adjustments_total),
                    total,
                )
            )
        if int(l_claims) != claim_count:
            problems.append(("结算人次", claim_count, int(l_claims)))
        if int(l_adjustments) != adjustment_count:
            problems.append(("调整笔数", adjustment_count, int(l_adjustments)))
        if _differs(l_declared, declared_total):
            problems.append(("医院申报救助金额", declared_total, l_declared))
        if problems:
            add(
                "statement_lines",
                f"结算单 {number} 与其结算明细不符："
                + "；".join(
                    f"{name}为 {_show(exp)}，明细合计 {_show(act)}" for name, exp, act in problems
                )
                + "。",
                [
                    Row(
                        "funds.SettlementStatement",
                        sid,
                        exp if isinstance(exp, int) else _money(exp),
                        act if isinstance(act, int) else _money(act),
                        f"结算单“{name}”与结算明细合计不符",
                        number,
                    )
                    for name, exp, act in problems
                ],
            )
        if payee == "hospital" and _differs(declared_total, l_decided):
            result.notes.append(
                Difference(
                    "declared_differs",
                    county_id,
                    year,
                    month,
                    f"结算单 {number} 医院申报救助金额与核定金额存在差额"
                    "（医院申报差错，不影响支付）。",
                    [
                        Row(
                            "funds.SettlementStatement",
                            sid,
                            _money(declared_total),
                            _money(l_decided),
                            "医院申报与核定差额",
                            number,
                        )
                    ],
                )
            )
        if posted_at is None:
            add(
                "not_posted",
                f"结算单 {number} 尚未入账。",
                [
                    Row(
                        "funds.SettlementStatement",
                        sid,
                        _money(total),
                        None,
                        "结算单未入账",
                        number,
                    )
                ],
            )
            continue
        if entry_id is None:
            if _differs(total, 0):
                add(
                    "entry_amount",
                    f"结算单 {number} 已入账但没有记账凭证，应付 {yuan_text(total)} 元。",
                    [
                        Row(
                            "funds.SettlementStatement",
                            sid,
                            _money(total),
                            ZERO,
                            "结算单没有支付凭证",
                            number,
                        )
                    ],
                )
            continue
        kind = EntryKind.HOSPITAL_PAYMENT if payee == "hospital" else EntryKind.INDIVIDUAL_PAYMENT
        entry_rows = []
        if _differs(paid, total):
            entry_rows.append(
                Row(
                    "funds.Entry",
                    entry_id,
                    _money(total),
                    _money(paid),
                    "凭证付给收款方的金额",
                    e_ref,
                )
            )
        if _differs(-_money(paid_from), total):
            entry_rows.append(
                Row(
                    "funds.Entry",
                    entry_id,
                    _money(total),
                    -_money(paid_from),
                    "凭证从基金账户付出的金额",
                    e_ref,
                )
            )
        if e_kind != kind:
            entry_rows.append(Row("funds.Entry", entry_id, kind, e_kind, "凭证业务类型", e_ref))
        if payee == "hospital" and paid_hospital != hospital_id:
            entry_rows.append(
                Row("funds.Entry", entry_id, hospital_id, paid_hospital, "凭证收款医疗机构", e_ref)
            )
        if payee == "individuals" and not to_individuals:
            entry_rows.append(
                Row(
                    "funds.Entry",
                    entry_id,
                    "individuals",
                    None,
                    "凭证收款方应为救助对象个人",
                    e_ref,
                )
            )
        if entry_rows:
            add(
                "entry_amount",
                f"结算单 {number}（应付 {yuan_text(total)} 元）与其记账凭证 {e_ref} 不符。",
                entry_rows,
            )
        # A voucher reversed through `entry_reverse` reopens every line of its statement (the
        # next run pays them again, which `decision_changed` checks): only a reversal that
        # left lines standing is a difference.
        if reversal_id is not None and l_standing:
            add(
                "entry_reversed",
                f"结算单 {number} 的支付凭证 {e_ref} 已被冲销，结算单却仍为已入账。",
                [Row("funds.Entry", reversal_id, None, entry_id, "冲销了结算单的支付凭证", e_ref)],
            )
        first, last, _ = period_bounds(year, month)
        e_date = _date(e_date)
        if not first <= e_date <= min(last, today):
            add(
                "entry_date",
                f"结算单 {number} 的支付凭证日期 {e_date} 不在结算期间 {first} 至 "
                f"{min(last, today)} 之内（不得晚于今天）。",
                [
                    Row(
                        "funds.Entry",
                        entry_id,
                        min(last, today),
                        e_date,
                        "结算凭证日期应为结算月份最后一天，当月结算为结算当天",
                        e_ref,
                    )
                ],
            )


def _show(value) -> str:
    return str(value) if isinstance(value, int) else f"{yuan_text(value)} 元"


def _ledger_against_statements(result: ReconcileResult, scope: _Scope, runs) -> None:
    """Per county and month: the payments in the ledger against the posted statements, less
    the statements whose voucher was reversed that month."""
    payments = scope.county(
        scope.dates(
            Posting.objects.filter(
                entry__kind__in=[EntryKind.HOSPITAL_PAYMENT, EntryKind.INDIVIDUAL_PAYMENT],
                account__kind__in=["hospital", "individuals"],
            ),
            "entry__date",
        ),
        "entry__county_id",
    )
    ledger = {
        (r["county"], r["y"], r["m"]): _money(r["s"])
        for r in payments.annotate(
            county=F("entry__county_id"),
            y=ExtractYear("entry__date"),
            m=ExtractMonth("entry__date"),
        )
        .values("county", "y", "m")
        .annotate(s=Sum("amount"))
        .order_by()
    }
    posted = {
        (r["run__county_id"], r["run__year"], r["run__month"]): _money(r["s"])
        for r in SettlementStatement.objects.filter(run__in=scope.runs(), posted_at__isnull=False)
        .values("run__county_id", "run__year", "run__month")
        .annotate(s=Sum("total"))
        .order_by()
    }
    # A statement's voucher reversed (`entry_reverse`) takes its total back in the month of
    # the reversal, where the ledger shows the reversing entry.
    reversals = scope.county(
        scope.dates(
            Entry.objects.filter(
                reverses__settlement_statement__run__in=scope.runs(),
                reverses__settlement_statement__posted_at__isnull=False,
            ),
            "date",
        ),
        "county_id",
    )
    for r in (
        reversals.annotate(y=ExtractYear("date"), m=ExtractMonth("date"))
        .values("county_id", "y", "m")
        .annotate(s=Sum("reverses__settlement_statement__total"))
        .order_by()
    ):
        key = (r["county_id"], r["y"], r["m"])
        posted[key] = posted.get(key, ZERO) - _money(r["s"])
        result.period(*key).reversed_total = _money(r["s"])
    for key in sorted(set(ledger) | set(posted), key=lambda k: (k[1], k[2], k[0] or 0)):
        county_id, year, month = key
        period = result.period(county_id, year, month)
        period.ledger_total = ledger.get(key, ZERO)
        if _differs(ledger.get(key), posted.get(key)):
            _add(
                result,
                "ledger_total",
                county_id,
                year,
                month,
                f"本月支付医疗机构和救助对象的记账凭证合计 {yuan_text(ledger.get(key))} 元，"
                f"已入账结算单合计 {yuan_text(posted.get(key))} 元。",
                [
                    Row(
                        "funds.SettlementRun",
                        next(
                            (
                                r.pk
                                for r in runs
                                if (r.county_id, r.year, r.month) == (county_id, year, month)
                            ),
                            None,
                        ),
                        posted.get(key, ZERO),
                        ledger.get(key, ZERO),
                        "已入账结算单合计（应为）与支付凭证合计（实为）",
                    )
                ],
            )
    orphans = scope.county(
        scope.dates(
            Entry.objects.filter(
                kind__in=[EntryKind.HOSPITAL_PAYMENT, EntryKind.INDIVIDUAL_PAYMENT],
                reverses__isnull=True,
                settlement_statement__isnull=True,
            ),
            "date",
        ),
        "county_id",
    ).annotate(paid=Sum("postings__amount", filter=Q(postings__amount__gt=0)))
    grouped: dict[tuple, list[Row]] = defaultdict(list)
    for e in orphans.values("id", "county_id", "date", "document_ref", "paid").order_by("id"):
        grouped[(e["county_id"], e["date"].year, e["date"].month)].append(
            Row(
                "funds.Entry",
                e["id"],
                None,
                _money(e["paid"]),
                "支付凭证不属于任何结算单",
                e["document_ref"],
            )
        )
    for (county_id, year, month), rows in grouped.items():
        _add(
            result,
            "payment_without_statement",
            county_id,
            year,
            month,
            f"{len(rows)} 张支付定点医疗机构或救助对象的凭证没有对应的结算单。",
            rows,
        )


def _settled_against_decisions(result: ReconcileResult, scope: _Scope) -> None:
    """Per settled claim: settled (its lines that stand: a reversed voucher's lines are
    reopened and no longer count) + adjustments not yet settled by a standing line = the
    current decision. One query over the scope's standing claim lines (one per claim)."""
    line, st, run = (
        SettlementLine._meta.db_table,
        SettlementStatement._meta.db_table,
        SettlementRun._meta.db_table,
    )
    decision, adjustment, claim = (
        Decision._meta.db_table,
        Adjustment._meta.db_table,
        Claim._meta.db_table,
    )
    where, params = scope.sql_runs("r")
    rows = _fetch(
        f"""
        WITH cl AS (
            SELECT l.claim_id, r.county_id, r.year, r.month
            FROM {line} l
            JOIN {st} st ON st.id = l.statement_id
            JOIN {run} r ON r.id = st.run_id
            WHERE l.adjustment_id IS NULL AND l.reopened = %s AND {where}
        ),
        settled AS (
            SELECT l.claim_id, SUM(l.amount) AS amount
            FROM {line} l JOIN cl ON cl.claim_id = l.claim_id
            WHERE l.reopened = %s
            GROUP BY l.claim_id
        ),
        pending AS (
            SELECT a.claim_id, SUM(a.amount) AS amount
            FROM {adjustment} a JOIN cl ON cl.claim_id = a.claim_id
            WHERE NOT EXISTS (
                SELECT 1 FROM {line} l WHERE l.adjustment_id = a.id AND l.reopened = %s)
            GROUP BY a.claim_id
        )
        SELECT cl.claim_id, c.external_ref, cl.county_id, cl.year, cl.month, d.id, d.total,
            settled.amount, COALESCE(pending.amount, 0)
        FROM cl
        JOIN {claim} c ON c.id = cl.claim_id
        JOIN settled ON settled.claim_id = cl.claim_id
        LEFT JOIN {decision} d ON d.claim_id = cl.claim_id AND d.is_current = %s
        LEFT JOIN pending ON pending.claim_id = cl.claim_id
        WHERE d.id IS NULL
           OR ABS(settled.amount + COALESCE(pending.amount, 0) - d.total) > %s
        ORDER BY cl.year, cl.month, cl.county_id, cl.claim_id
        """,
        [False, *params, False, False, True, float(TOLERANCE)],
    )
    grouped: dict[tuple, list[Row]] = defaultdict(list)
    for claim_id, ref, county_id, year, month, decision_id, total, settled, pending in rows:
        grouped[(county_id, year, month)].append(
            Row(
                "claims.Decision" if decision_id else "claims.Claim",
                decision_id or claim_id,
                _money(total) if decision_id else None,
                _money(settled) + _money(pending),
                f"救助明细 {ref}：已结算 {yuan_text(settled)} 元"
                + (f"、待结算调整 {yuan_text(pending)} 元" if _money(pending) else "")
                + (
                    f"，当前救助决定 {yuan_text(total)} 元，且没有相应的结算调整"
                    if decision_id
                    else "，没有当前救助决定"
                ),
                ref,
            )
        )
    for (county_id, year, month), items in grouped.items():
        _add(
            result,
            "decision_changed",
            county_id,
            year,
            month,
            f"{len(items)} 笔已结算救助明细的结算金额（含调整）与当前救助决定不符。",
            items,
        )


def _claim_states(result: ReconcileResult, scope: _Scope, runs) -> None:
    # Settled, but no claim line holds it.
    settled = scope.county(
        scope.dates(Claim.objects.filter(status=Claim.Status.SETTLED), "discharged"), "county_id"
    ).exclude(
        id__in=SettlementLine.objects.filter(adjustment__isnull=True, reopened=False).values(
            "claim_id"
        )
    )
    grouped: dict[tuple, list[Row]] = defaultdict(list)
    for c in settled.values("id", "external_ref", "county_id", "discharged").order_by("id"):
        grouped[(c["county_id"], c["discharged"].year, c["discharged"].month)].append(
            Row(
                "claims.Claim",
                c["id"],
                "accepted",
                "settled",
                "状态为已结算，但没有任何结算单结算过它",
                c["external_ref"],
            )
        )
    for (county_id, year, month), rows in grouped.items():
        _add(
            result,
            "settled_without_line",
            county_id,
            year,
            month,
            f"{len(rows)} 笔救助明细状态为已结算，但没有结算单。",
            rows,
        )
    # Held by a line of a posted statement, not settled.
    lines = (
        SettlementLine.objects.filter(
            adjustment__isnull=True,
            reopened=False,
            statement__posted_at__isnull=False,
            statement__run__in=scope.runs(),
        )
        .exclude(claim__status=Claim.Status.SETTLED)
        .values(
            "claim_id",
            "claim__external_ref",
            "claim__status",
            "statement__run__county_id",
            "statement__run__year",
            "statement__run__month",
        )
        .order_by("claim_id")
    )
    grouped = defaultdict(list)
    for row in lines:
        grouped[
            (
                row["statement__run__county_id"],
                row["statement__run__year"],
                row["statement__run__month"],
            )
        ].append(
            Row(
                "claims.Claim",
                row["claim_id"],
                Claim.Status.SETTLED,
                row["claim__status"],
                "已在入账的结算单中支付，状态却不是已结算",
                row["claim__external_ref"],
            )
        )
    for (county_id, year, month), rows in grouped.items():
        _add(
            result,
            "line_not_settled",
            county_id,
            year,
            month,
            f"{len(rows)} 笔救助明细已支付，但未标记为已结算。",
            rows,
        )
    # Accepted, unsettled, although a staged run should have taken it. The accepted claims
    # without a line are few (those accepted since the last run): one query, matched here
    # against the runs.
    staged = sorted((r for r in runs if r.staged_at is not None), key=lambda r: (r.year, r.month))
    if not staged:
        return
    candidates = (
        scope.county(Claim.objects.filter(status=Claim.Status.ACCEPTED), "county_id")
        .filter(county_id__in={r.county_id for r in staged})
        .exclude(
            id__in=SettlementLine.objects.filter(adjustment__isnull=True, reopened=False).values(
                "claim_id"
            )
        )
        .filter(decisions__is_current=True)
        .values(
            "id",
            "external_ref",
            "county_id",
            "discharged",
            "updated_at",
            "decisions__decided_at",
            "decisions__total",
        )
    )
    by_county = defaultdict(list)
    for run in staged:
        by_county[run.county_id].append((run, *period_bounds(run.year, run.month)))
    grouped = defaultdict(list)
    for c in candidates.iterator(chunk_size=5000):
        for run, _, last, cutoff in by_county.get(c["county_id"], ()):
            decided = c["decisions__decided_at"]
            if (
                c["discharged"] <= last
                and decided < cutoff
                and decided < run.staged_at
                and c["updated_at"] < run.staged_at
            ):
                grouped[(run.county_id, run.year, run.month)].append(
                    Row(
                        "claims.Claim",
                        c["id"],
                        _money(c["decisions__total"]),
                        ZERO,
                        f"已受理、截至 {run.period} 末应结算，未被 {run.period}结算",
                        c["external_ref"],
                    )
                )
                break
    for (county_id, year, month), rows in grouped.items():
        _add(
            result,
            "unsettled",
            county_id,
            year,
            month,
            f"截至{year}年{month}月末已受理、应结未结的救助明细 {len(rows)} 笔，合计 "
            f"{yuan_text(sum((r.expected for r in rows), ZERO))} 元"
            "（含医院申报和已审批的窗口申请）。",
            rows,
        )


def _applications(result: ReconcileResult, scope: _Scope) -> None:
    """Approved and wholly settled → paid; paid → each claim settled exactly once."""
    apps = scope.county(Application.objects.all(), "county_id").annotate(
        n_claims=Count("claims", distinct=True),
        n_settled=Count("claims", filter=Q(claims__status=Claim.Status.SETTLED), distinct=True),
        n_lines=Count(
            "claims__settlement_lines",
            filter=Q(
                claims__settlement_lines__adjustment__isnull=True,
                claims__settlement_lines__reopened=False,
                claims__settlement_lines__statement__posted_at__isnull=False,
            ),
            distinct=True,
        ),
        run_year=Max("claims__settlement_lines__statement__run__year"),
        run_month=Max("claims__settlement_lines__statement__run__month"),
    )
    unpaid = apps.filter(state=Application.State.APPROVED, n_claims__gt=0).filter(
        n_settled=F("n_claims")
    )
    paid = apps.filter(state=Application.State.PAID).exclude(
        n_lines=F("n_claims"), n_settled=F("n_claims")
    )
    fields = ("id", "number", "county_id", "applied", "total", "n_claims", "n_settled", "n_lines")
    for check, qs, explain in (
        (
            "application_not_paid",
            unpaid,
            "申请已审批且全部明细已结算，状态仍为“已审批”，应为“已支付”",
        ),
        (
            "application_paid_twice",
            paid,
            "申请已支付，但其明细并非每笔恰好在一张已入账结算单中结算一次",
        ),
    ):
        grouped: dict[tuple, list[Row]] = defaultdict(list)
        for a in qs.values(*fields, "run_year", "run_month").order_by("id"):
            year = a["run_year"] or a["applied"].year
            month = a["run_month"] or a["applied"].month
            if (scope.year and year != scope.year) or (scope.month and month != scope.month):
                continue
            expected, actual = (
                ("paid", "approved")
                if check == "application_not_paid"
                else (a["n_claims"], a["n_lines"])
            )
            grouped[(a["county_id"], year, month)].append(
                Row(
                    "claims.Application",
                    a["id"],
                    expected,
                    actual,
                    f"{explain}（明细 {a['n_claims']} 笔，已结算 {a['n_settled']} 笔，"
                    f"结算单明细 {a['n_lines']} 笔，救助合计 {yuan_text(a['total'])} 元）",
                    a["number"],
                )
            )
        for (county_id, year, month), rows in grouped.items():
            _add(
                result,
                check,
                county_id,
                year,
                month,
                f"{len(rows)} 件救助申请：{CHECKS[check]}。",
                rows,
            )


# --- the engine ------------------------------------------------------------------------------


def _recompute(result: ReconcileResult, scope: _Scope, *, full: bool, sample: int, seed: int):
    """Current decisions against a fresh run of the engine, per county and year."""
    if not full and sample <= 0:
        return
    claims = scope.county(Claim.objects.filter(decisions__is_current=True), "county_id")
    if scope.month:
        # A month's people: those discharged in it and those its settlement paid.
        paid = SettlementLine.objects.filter(statement__run__in=scope.runs()).values("claim_id")
        in_month = Q(discharged__gte=scope.first, discharged__lte=scope.last)
        claims = claims.filter(in_month | Q(id__in=paid))
    else:
        claims = scope.dates(claims, "discharged")
    years = sorted(
        y for y in claims.order_by().values_list("discharged__year", flat=True).distinct()
    )
    rng = random.Random(seed)
    for year in years:
        of_year = claims.filter(discharged__year=year)
        if full:
            people = of_year.order_by().values("person_id").distinct()
            result.recomputed_people += people.count()
        else:
            by_county: dict[int, list[int]] = defaultdict(list)
            pairs = of_year.order_by().values_list("county_id", "person_id").distinct()
            for county_id, person_id in pairs.iterator(chunk_size=20000):
                by_county[county_id].append(person_id)
            chosen: list[int] = []
            for county_id in sorted(by_county):
                ids = sorted(by_county[county_id])
                chosen += ids if len(ids) <= sample else rng.sample(ids, sample)
            people = sorted(set(chosen))
            result.recomputed_people += len(people)
            if not people:
                continue
        gaps = claims_services.recompute_preview(people=people, year=year)
        result.recomputed_claims += Claim.objects.filter(
            person_id__in=people, discharged__year=year
        ).count()
        if not gaps:
            continue
        info = {
            c["id"]: c
            for c in Claim.objects.filter(id__in=[g.claim_id for g in gaps]).values(
                "id", "external_ref", "county_id", "discharged"
            )
        }
        grouped: dict[tuple, list[Row]] = defaultdict(list)
        for gap in gaps:
            c = info[gap.claim_id]
            if scope.county_id and c["county_id"] != scope.county_id:
                continue
            grouped[(c["county_id"], year, c["discharged"].month)].append(
                Row(
                    "claims.Decision",
                    gap.current_decision_id,
                    gap.engine_total,
                    gap.current_total,
                    f"救助明细 {c['external_ref']} 的当前救助决定与政策引擎按同样事实重新计算的"
                    f"结果不符（重新计算 {yuan_text(gap.engine_total)} 元，"
                    f"当前 {yuan_text(gap.current_total)} 元）",
                    c["external_ref"],
                )
            )
        for (county_id, year_, month), rows in grouped.items():
            _add(
                result,
                "recompute_differs",
                county_id,
                year_,
                month,
                f"{len(rows)} 笔救助明细的当前救助决定与重新计算不符。",
                rows,
            )


# --- year end and premium transfers ----------------------------------------------------------


def _spending(scope: _Scope, years) -> dict[tuple[int, int], tuple[Decimal, Decimal]]:
    """(county, year) → (medical payments, premium subsidies) from the ledger, one query."""
    rows = (
        scope.county(
            Posting.objects.filter(
                entry__kind__in=SPENDING_KINDS,
                entry__date__year__in=list(years),
                account__kind__in=INTERNAL_KINDS,
                entry__county__isnull=False,
            ),
            "entry__county_id",
        )
        .annotate(county=F("entry__county_id"), y=ExtractYear("entry__date"), kind=F("entry__kind"))
        .values("county", "y", "kind")
        .annotate(s=Sum("amount"))
        .order_by()
    )
    out: dict[tuple[int, int], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for r in rows:
        part = 1 if r["kind"] == EntryKind.PREMIUM_SUBSIDY else 0
        out[(r["county"], r["y"])][part] -= _money(r["s"])
    return {k: (v[0], v[1]) for k, v in out.items()}


def _year_end(result: ReconcileResult, scope: _Scope) -> None:
    closes = scope.county(YearEndClose.objects.all(), "county_id")
    if scope.year:
        closes = closes.filter(year=scope.year)
    if scope.month:
        return  # a year-level check
    closes = list(closes.select_related("county").order_by("year", "county__code"))
    if not closes:
        return
    spending = _spending(scope, {c.year for c in closes})
    balances: dict[tuple[int, int], Decimal] = {}
    for year in {c.year for c in closes}:
        rows = (
            Posting.objects.filter(
                account__kind__in=INTERNAL_KINDS,
                account__county_id__in=[c.county_id for c in closes if c.year == year],
                entry__date__lte=dt.date(year, 12, 31),
            )
            .values("account__county_id")
            .annotate(s=Sum("amount"))
            .order_by()
        )
        for r in rows:
            balances[(r["account__county_id"], year)] = _money(r["s"])
    for c in closes:
        medical, premium = spending.get((c.county_id, c.year), (ZERO, ZERO))

        def add(check, message, rows, c=c):
            _add(result, check, c.county_id, c.year, None, message, rows)

        if _differs(c.actual, medical + premium):
            add(
                "year_end_actual",
                f"{c.county.name}{c.year}年度决算实际支出 {yuan_text(c.actual)} 元，账簿支出 "
                f"{yuan_text(medical + premium)} 元（医疗救助支付 {yuan_text(medical)} 元、"
                f"资助参保 {yuan_text(premium)} 元）。",
                [
                    Row(
                        "funds.YearEndClose",
                        c.pk,
                        medical + premium,
                        c.actual,
                        "实际支出应等于账簿中该区县当年医疗救助支付与资助参保划转之和",
                    )
                ],
            )
        if _differs(c.premium_subsidies, premium):
            add(
                "year_end_premium",
                f"{c.county.name}{c.year}年度决算资助参保 {yuan_text(c.premium_subsidies)} 元，"
                f"账簿划转 {yuan_text(premium)} 元。",
                [
                    Row(
                        "funds.YearEndClose",
                        c.pk,
                        premium,
                        c.premium_subsidies,
                        "其中：资助参保应等于账簿中该区县当年资助参保划转",
                    )
                ],
            )
        shared = c.from_surplus + c.city_share + c.county_share + c.unallocated
        rows = []
        if _differs(shared, c.overspend):
            rows.append(
                Row(
                    "funds.YearEndClose",
                    c.pk,
                    c.overspend,
                    shared,
                    "滚存结余弥补、市级承担、县级承担、待定之和应等于超支金额",
                )
            )
        if _differs(c.overspend - c.surplus, c.actual - c.budget) or (c.overspend and c.surplus):
            rows.append(
                Row(
                    "funds.YearEndClose",
                    c.pk,
                    c.actual - c.budget,
                    c.overspend - c.surplus,
                    "超支金额与当年结余之差应等于实际支出减支出预算，且二者至多一项不为零",
                )
            )
        if rows:
            add("year_end_figures", f"{c.county.name}{c.year}年度决算分担数字不自洽。", rows)
        balance = balances.get((c.county_id, c.year), ZERO)
        if _differs(c.closing_balance, balance):
            add(
                "year_end_balance",
                f"{c.county.name}{c.year}年度决算县级账户年末余额 {yuan_text(c.closing_balance)}"
                f" 元，账簿 {c.year}-12-31 余额 {yuan_text(balance)} 元。",
                [
                    Row(
                        "funds.YearEndClose",
                        c.pk,
                        balance,
                        c.closing_balance,
                        "年末余额应等于区县财政专户和支出户截至12月31日的余额",
                    )
                ],
            )


def _premium_transfers(result: ReconcileResult, scope: _Scope) -> None:
    entries = scope.county(
        scope.dates(
            Entry.objects.filter(kind=EntryKind.PREMIUM_SUBSIDY, reverses__isnull=True), "date"
        ),
        "county_id",
    ).annotate(paid=Sum("postings__amount", filter=Q(postings__account__kind="resident_insurance")))
    requests = {
        r["posted_entry_id"]: r
        for r in PremiumTransferRequest.objects.filter(
            status=PremiumTransferRequest.Status.POSTED
        ).values("id", "posted_entry_id", "amount", "county_id", "year")
    }
    unlinked: dict[tuple, list[Row]] = defaultdict(list)
    wrong: dict[tuple, list[Row]] = defaultdict(list)
    for e in entries.values("id", "county_id", "date", "document_ref", "paid", "reversed_by"):
        key = (e["county_id"], e["date"].year, e["date"].month)
        request = requests.get(e["id"])
        if request is None:
            if e["reversed_by"] is None:
                unlinked[key].append(
                    Row(
                        "funds.Entry",
                        e["id"],
                        None,
                        _money(e["paid"]),
                        "资助参保划转凭证不属于任何已记账的划转申请（重复划转？）",
                        e["document_ref"],
                    )
                )
        elif _differs(request["amount"], e["paid"]):
            wrong[key].append(
                Row(
                    "funds.Entry",
                    e["id"],
                    _money(request["amount"]),
                    _money(e["paid"]),
                    f"划转申请 {request['id']} 的金额与凭证划入居民医保基金的金额不符",
                    e["document_ref"],
                )
            )
    for check, grouped in (("premium_unlinked", unlinked), ("premium_amount", wrong)):
        for (county_id, year, month), rows in grouped.items():
            _add(
                result,
                check,
                county_id,
                year,
                month,
                f"{len(rows)} 张资助参保凭证：{CHECKS[check]}。",
                rows,
            )


# --- reports ---------------------------------------------------------------------------------


def _reports(result: ReconcileResult, scope: _Scope, runs, *, full: bool) -> None:
    """The 合计 rows of the reports the exports build, against the database and the ledger."""
    from funds import exports

    figures = {
        r["run_id"]: r
        for r in SettlementStatement.objects.filter(run__in=scope.runs())
        .values("run_id")
        .annotate(
            n=Sum("claim_count"),
            claims=Sum("claims_total"),
            declared=Sum("declared_total"),
            adjustments=Sum("adjustments_total"),
            total=Sum("total"),
        )
        .order_by()
    }
    # Every statement of the scope in one query, handed to each run's summary sheet.
    by_run: dict[int, list[SettlementStatement]] = defaultdict(list)
    for st in (
        SettlementStatement.objects.filter(run__in=scope.runs())
        .select_related("hospital", "county", "run")
        .order_by("run_id", "hospital__code", "pk")
    ):
        by_run[st.run_id].append(st)
    for run in runs:
        if run.pk not in figures:
            continue
        db = figures[run.pk]
        statements = by_run[run.pk]
        summary = exports.county_statement_summary(run, statements)
        totals = totals_row(summary)
        period = result.period(run.county_id, run.year, run.month)
        # The month's own vouchers: what the ledger shows less the reversals dated this month.
        ledger = period.ledger_total + period.reversed_total
        rows = (
            [
                Row(
                    "funds.SettlementRun",
                    run.pk,
                    int(db["n"] or 0),
                    int(totals["结算人次"]),
                    "汇总表“结算人次”合计",
                )
            ]
            if int(totals["结算人次"]) != int(db["n"] or 0)
            else []
        )
        for header, expected in (
            ("本期救助金额", db["claims"]),
            ("医院申报救助金额", db["declared"]),
            ("追补（扣减）金额", db["adjustments"]),
            ("应付合计", db["total"]),
        ):
            if _differs(totals[header], expected):
                rows.append(
                    Row(
                        "funds.SettlementRun",
                        run.pk,
                        _money(expected),
                        _money(totals[header]),
                        f"汇总表“{header}”合计与结算单合计不符",
                    )
                )
        if _differs(totals["应付合计"], ledger) and all(st.posted_at for st in statements):
            rows.append(
                Row(
                    "funds.SettlementRun",
                    run.pk,
                    ledger,
                    _money(totals["应付合计"]),
                    "汇总表“应付合计”与本月支付凭证合计不符",
                )
            )
        sheets = sorted(statements, key=lambda st: st.pk)
        for st in sheets if full else sheets[:1]:
            report = exports.statement_report(st)
            total = totals_row(report)["应付金额"]
            if _differs(total, st.total):
                rows.append(
                    Row(
                        "funds.SettlementStatement",
                        st.pk,
                        st.total,
                        _money(total),
                        f"结算单“{report.title}”的“应付金额”合计与结算单应付合计不符",
                    )
                )
        if rows:
            _add(
                result,
                "report_totals",
                run.county_id,
                run.year,
                run.month,
                f"{run}医疗救助结算单（汇总表及结算单）的合计行与数据不符。",
                rows,
            )
    if scope.month:
        return
    _year_end_report(result, scope)


def _year_end_report(result: ReconcileResult, scope: _Scope) -> None:
    from funds import exports

    budgets = scope.county(Budget.objects.all(), "county_id")
    if scope.year:
        budgets = budgets.filter(year=scope.year)
    years = sorted(set(budgets.values_list("year", flat=True)))
    for year in years:
        closes = list(
            scope.county(YearEndClose.objects.filter(year=year), "county_id")
            .select_related("county")
            .order_by("county__code")
        )
        trial = not closes
        if trial:
            closes = exports.year_end_trial(user=None, year=year)
            if scope.county_id:
                closes = [c for c in closes if c.county_id == scope.county_id]
        if not closes:
            continue
        report = exports.year_end_report(closes, year=year, trial=trial)
        totals = totals_row(report)
        spending = _spending(scope, {year})
        medical = sum((spending.get((c.county_id, year), (ZERO, ZERO))[0] for c in closes), ZERO)
        premium = sum((spending.get((c.county_id, year), (ZERO, ZERO))[1] for c in closes), ZERO)
        rows = []
        for header, expected, why in (
            ("实际支出", medical + premium, "账簿中各区县当年医疗救助支付与资助参保之和"),
            ("其中：医疗救助支付", medical, "账簿中各区县当年医疗救助支付之和"),
            ("其中：资助参保", premium, "账簿中各区县当年资助参保划转之和"),
            ("支出预算", sum((c.budget for c in closes), ZERO), "各区县决算行之和"),
            ("超支金额", sum((c.overspend for c in closes), ZERO), "各区县决算行之和"),
            ("待定", sum((c.unallocated for c in closes), ZERO), "各区县决算行之和"),
            ("当年结余（结转下年）", sum((c.surplus for c in closes), ZERO), "各区县决算行之和"),
            (
                "县级账户年末余额",
                sum((c.closing_balance for c in closes), ZERO),
                "各区县决算行之和",
            ),
        ):
            if _differs(totals[header], expected):
                rows.append(
                    Row(
                        "funds.YearEndClose",
                        None,
                        _money(expected),
                        _money(totals[header]),
                        f"超支分担表“{header}”合计应等于{why}",
                    )
                )
        if trial:
            for c in closes:
                got = spending.get((c.county_id, year), (ZERO, ZERO))
                if _differs(c.actual, got[0] + got[1]):
                    rows.append(
                        Row(
                            "funds.YearEndClose",
                            None,
                            got[0] + got[1],
                            c.actual,
                            f"试算表{c.county.name}“实际支出”应等于账簿支出",
                        )
                    )
        if rows:
            _add(
                result,
                "report_totals",
                scope.county_id,
                year,
                None,
                f"{year}年度超支分担表" + ("（试算）" if trial else "") + "的合计行与数据不符。",
                rows,
            )


# --- the month view the admin's reconcile page shows ------------------------------------------


@dataclass
class Reconciliation:
    """One county's month as the settlement run's 对账 page shows it: `reconcile` over the
    month, its differences flattened to one line per row."""

    county: object
    year: int
    month: int
    statements_total: Decimal = ZERO
    ledger_total: Decimal = ZERO
    claims_total: Decimal = ZERO
    differences: list[MonthDifference] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not any(d.code != "declared_differs" for d in self.differences)


@dataclass(frozen=True)
class MonthDifference:
    code: str
    message: str
    expected: Any = None
    actual: Any = None
    ref: str = ""

    @property
    def label(self) -> str:
        return CHECKS[self.code]


def reconcile_settlement(*, county, year: int, month: int) -> Reconciliation:
    """Reconcile one county's month (`reconcile` with county, year and month, without the
    engine recompute) for the admin's 对账 page; a month without a run says so."""
    out = Reconciliation(county=county, year=year, month=month)
    if not SettlementRun.objects.filter(county=county, year=year, month=month).exists():
        out.differences.append(MonthDifference("no_run", f"{year}年{month}月尚未结算。"))
        return out
    # The engine is not re-run on a page view: the nightly job samples it.
    result = reconcile(county=county, year=year, month=month, sample=0)
    period = result.period(county.pk, year, month)
    out.statements_total = period.statements_total
    out.ledger_total = period.ledger_total
    out.claims_total = period.claims_total
    for d in [*result.differences, *result.notes]:
        for row in d.rows or [Row("", None, None, None, d.message)]:
            out.differences.append(
                MonthDifference(d.check, row.explanation, row.expected, row.actual, row.ref)
            )
    return out
