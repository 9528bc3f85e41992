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
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from beneficiaries.models import County
from funds.models import SettlementRun
from funds.reconciliation.base import CHECKS, DEFAULT_SAMPLE, JOB_KIND, ReconcileResult, Row, Scope
from funds.reconciliation.engine import check_recompute
from funds.reconciliation.ledger import check_accounts_overdrawn, check_entries_balance
from funds.reconciliation.reports import check_reports
from funds.reconciliation.settlements import (
    check_applications,
    check_claim_states,
    check_ledger_against_statements,
    check_settled_against_decisions,
    check_statements,
)
from funds.reconciliation.year_end import check_premium_transfers, check_year_end
from medaid.core.jobs import job_create, job_running
from medaid.core.models import Job
from medaid.core.money import ZERO

__all__ = [
    "CHECKS",
    "DEFAULT_SAMPLE",
    "JOB_KIND",
    "MonthDifference",
    "ReconcileResult",
    "Reconciliation",
    "Row",
    "reconcile",
    "reconcile_job",
    "reconcile_settlement",
]


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
    scope = Scope(county, year, month)
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
    checks = (
        ("entries", lambda: check_entries_balance(result, scope, today)),
        ("accounts", lambda: check_accounts_overdrawn(result, scope)),
        ("statements", lambda: check_statements(result, scope, today)),
        ("ledger", lambda: check_ledger_against_statements(result, scope, runs)),
        ("settled", lambda: check_settled_against_decisions(result, scope)),
        ("claim_states", lambda: check_claim_states(result, scope, runs)),
        ("applications", lambda: check_applications(result, scope)),
        (
            "recompute",
            lambda: check_recompute(result, scope, full=full_recompute, sample=sample, seed=seed),
        ),
        ("year_end", lambda: check_year_end(result, scope)),
        ("premium", lambda: check_premium_transfers(result, scope)),
        ("reports", lambda: check_reports(result, scope, runs, full=full_recompute)),
    )
    for name, check in checks:
        started = time.monotonic()
        check()
        result.timings[name] = round(time.monotonic() - started, 3)


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
