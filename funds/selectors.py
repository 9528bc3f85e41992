"""Reads of the fund: balances, deadlines due, budget funding shares, ledger rows. The
reconciliation of the fund (ledger, statements, claims, applications, reports) is
`funds.reconciliation`."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from funds.models import (
    Account,
    Budget,
    Deadline,
    SettlementStatement,
    sum_money,
)
from medaid import policy
from medaid.core.money import CENT
from medaid.core.scoping import scope_to_user

# A deadline this close is shown as due on the dashboard.
DUE_SOON_DAYS = 7
ZERO_SUM = Value(Decimal("0"), output_field=DecimalField(max_digits=16, decimal_places=2))


def accounts_with_balances(*, user=None, on: dt.date | None = None) -> QuerySet[Account]:
    """Accounts annotated with `balance_value` derived from postings (up to `on` inclusive)."""
    postings = Q(postings__entry__date__lte=on) if on else Q()
    qs = Account.objects.select_related("county", "pooling_area").annotate(
        balance_value=Coalesce(Sum("postings__amount", filter=postings), ZERO_SUM)
    )
    return scope_to_user(qs, user) if user is not None else qs


def deadlines_with_status(*, user=None, today: dt.date) -> QuerySet[Deadline]:
    """Deadlines annotated with `state`: done / overdue / due (within a week) / open."""
    qs = Deadline.objects.select_related("county", "pooling_area").annotate(
        state=Case(
            When(completed_on__isnull=False, then=Value("done")),
            When(due_on__lt=today, then=Value("overdue")),
            When(due_on__lte=today + dt.timedelta(days=DUE_SOON_DAYS), then=Value("due")),
            default=Value("open"),
            output_field=CharField(),
        )
    )
    return scope_to_user(qs, user) if user is not None else qs


def deadlines_attention(*, user, today: dt.date) -> QuerySet[Deadline]:
    """What the admin dashboard lists: overdue first, then due soon."""
    return (
        deadlines_with_status(user=user, today=today)
        .filter(state__in=["overdue", "due"])
        .order_by("due_on")
    )


def budget_funding_split(budget: Budget) -> tuple[Decimal, Decimal] | None:
    """The city's and county's parts of a county budget by the county's funding tier, in the
    shares the pack sets (Kunming §六(三)); None where the county has no tier or the pack
    has no shares for it."""
    tier = budget.county.funding_tier
    if tier is None:
        return None
    try:
        shares = policy.funding_shares(
            budget.county.pooling_area.policy_code, dt.date(budget.year, 1, 1), tier.tier
        )
    except LookupError:
        return None
    if shares is None:
        return None
    city = (budget.amount * shares.city).quantize(CENT, rounding=ROUND_HALF_UP)
    return city, budget.amount - city


def ledger_rows(*, account: Account, start: dt.date, end: dt.date):
    """基金收支明细: the opening balance, each posting in date order with its running balance."""
    opening = sum_money(account.postings.filter(entry__date__lt=start))
    rows = []
    balance = opening
    postings = (
        account.postings.filter(entry__date__range=(start, end))
        .select_related("entry")
        .order_by("entry__date", "entry_id")
    )
    for posting in postings:
        balance += posting.amount
        rows.append((posting, balance))
    return opening, rows


# --- who holds a settlement run or a money move now ---------------------------------------


def _name(user) -> str:
    return "系统" if user is None else user.display_name


def move_holder(move) -> str:
    """Who a money move waits for, in words: a checker who is not the maker, the posting, or
    nobody (posted); a refused move goes back to its maker."""
    from funds.models import MoneyMove

    State = MoneyMove.State
    if move.state == State.PENDING:
        return f"资金复核人：{_name(move.maker)}（制单人）以外持有复核权限的人"
    if move.state == State.APPROVED:
        return "系统：记账中"
    if move.state == State.REFUSED:
        return f"制单人（{_name(move.maker)}）：按复核意见修改后重新提交"
    return "已办结"


def settlement_run_holder(run) -> str:
    """Who a month's settlement waits for: the job, finance proposing its posting, a second
    person checking it, or nobody (settled)."""
    from funds.models import MOVE_OPEN_STATES, SettlementRun

    Status = SettlementRun.Status
    if run.status == Status.RUNNING:
        return "系统：后台结算任务进行中"
    if run.status == Status.FAILED:
        return "财务：查看错误后继续/重新执行结算"
    if run.status == Status.SUCCEEDED:
        return "已办结"
    move = (
        run.moves.filter(state__in=MOVE_OPEN_STATES).select_related("maker").order_by("-pk").first()
    )
    if move is None:
        return "财务：提交结算记账复核"
    return move_holder(move)


def statement_summary_values(statements: QuerySet[SettlementStatement]) -> QuerySet:
    """The figures of each statement the county's summary sheet (汇总) shows, as plain value
    rows in the sheet's order: the summary of a whole year is tens of thousands of rows, and
    model instances with their hospital, county and run cost seconds to build."""
    return statements.order_by("hospital__code", "pk").values(
        "pk",
        "run_id",
        "run__year",
        "run__month",
        "county__code",
        "hospital__name",
        "claim_count",
        "adjustment_count",
        "claims_total",
        "declared_total",
        "adjustments_total",
        "total",
        "posted_at",
    )
