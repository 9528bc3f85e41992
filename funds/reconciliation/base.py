"""What a reconciliation finds and how it is kept: the checks' names, a difference and its
rows, the result per county and month, the scope, and the two helpers every check uses."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from funds.models import (
    SettlementRun,
)
from funds.settlement import period_bounds
from medaid.core.jobs import register_job_kind
from medaid.core.money import ZERO, to_yuan

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
    "application_not_paid": "申请已批准已结算未支付",
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
            "expected": plain(self.expected),
            "actual": plain(self.actual),
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
    # Statements of this month paid late, after the year-end close had closed it, whose
    # vouchers are dated in a later month; and such vouchers dated in this month.
    paid_late_total: Decimal = ZERO
    paid_for_closed_total: Decimal = ZERO


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
    # Seconds per check, in the order they ran (the bench prints them).
    timings: dict[str, float] = field(default_factory=dict)

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
            "timings": dict(self.timings),
        }

    def as_dict(self, limit: int = 100) -> dict:
        return {**self.summary(), "items": [d.as_dict() for d in self.differences[:limit]]}

    def json(self) -> str:
        return json.dumps(self.summary(), ensure_ascii=False)


def plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def as_money(value) -> Decimal:
    return to_yuan(value or 0)


def differs(a, b) -> bool:
    return abs(as_money(a) - as_money(b)) > TOLERANCE


def as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


class Scope:
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


def add_difference(result, check, county_id, year, month, message, rows) -> None:
    result.differences.append(
        Difference(check, county_id, year, month, message, list(rows)[:ROWS_LISTED])
    )


def month_index(column: str) -> str:
    """SQL for year × 12 + month of a date column, on PostgreSQL and on SQLite (where a date
    is ISO text), so that a check compares a date with its period in the query."""
    if connection.vendor == "postgresql":
        return (
            f"(CAST(EXTRACT(YEAR FROM {column}) AS INTEGER) * 12"
            f" + CAST(EXTRACT(MONTH FROM {column}) AS INTEGER))"
        )
    return (
        f"(CAST(strftime('%%Y', {column}) AS INTEGER) * 12"
        f" + CAST(strftime('%%m', {column}) AS INTEGER))"
    )


def fetch(sql: str, params) -> list[tuple]:
    """One check's aggregate query. On PostgreSQL without JIT: the planner's row estimates
    for these joins of aggregates run into the millions, and compiling the plan took seconds
    of a query that runs in milliseconds."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()
