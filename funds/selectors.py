"""Reads of the fund: balances, deadlines due, budget funding shares, ledger rows. The
reconciliation of the fund (ledger, statements, claims, applications, reports) is
`funds.reconciliation`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractMonth

from funds.models import (
    INTERNAL_KINDS,
    SPENDING_KINDS,
    Account,
    Budget,
    Deadline,
    Posting,
    SettlementStatement,
    sum_money,
)
from medaid import policy
from medaid.core.money import CENT, to_yuan
from medaid.core.scoping import scope_to_user
from medaid.core.workdays import month_range

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


# --- an account's statement (账户明细): months, then a month's entries ---------------------


@dataclass(frozen=True)
class AccountMonth:
    """One month of an account: 期初余额, 本月收入 (debit, the positive postings), 本月支出
    (credit, the negative postings shown as a positive amount), 期末余额, and its entries."""

    month: dt.date
    opening: Decimal
    debit: Decimal
    credit: Decimal
    closing: Decimal
    entries: int


MonthSums = dict[tuple[int, int], tuple[Decimal, Decimal, int]]


def account_month_sums(account: Account) -> MonthSums:
    """(year, month) → (debit, credit as a positive amount, vouchers) over the account's whole
    history: the one pass over its postings that the page's years, openings, months and
    balance are all read from (a sum "before a day" would be another pass each). Grouped by
    the posting's own day, off the (account, date, entry) index, and folded into months here:
    an expression per row (EXTRACT, date_trunc) costs more than the few thousand days."""
    rows = (
        account.postings.values("date")
        .annotate(
            debit=Sum("amount", filter=Q(amount__gt=0)),
            credit=Sum("amount", filter=Q(amount__lt=0)),
            n=Count("entry"),
        )
        .order_by()
    )
    zero = Decimal("0.00")
    sums: MonthSums = {}
    for row in rows:
        key = (row["date"].year, row["date"].month)
        debit, credit, n = sums.get(key, (zero, zero, 0))
        sums[key] = (
            debit + to_yuan(row["debit"] or 0),
            credit - to_yuan(row["credit"] or 0),
            n + row["n"],
        )
    return sums


def account_years(sums: MonthSums) -> list[int]:
    """The years in which the account of `sums` has postings, newest first."""
    return sorted({year for year, _ in sums}, reverse=True)


def sums_balance(sums: MonthSums, *, before: tuple[int, int] | None = None) -> Decimal:
    """The balance of `sums` (before the month `before` = (year, month) when given)."""
    return sum(
        (d - c for key, (d, c, _) in sums.items() if before is None or key < before),
        Decimal("0.00"),
    )


def account_months(*, account: Account, year: int, sums: MonthSums | None = None):
    """The twelve months of `year` for `account`, each with its opening, debit, credit and
    closing, from `account_month_sums` (read once when not given)."""
    sums = account_month_sums(account) if sums is None else sums
    opening = sums_balance(sums, before=(year, 1))
    months = []
    for m in range(1, 13):
        debit, credit, n = sums.get((year, m), (Decimal("0.00"), Decimal("0.00"), 0))
        closing = opening + debit - credit
        months.append(AccountMonth(dt.date(year, m, 1), opening, debit, credit, closing, n))
        opening = closing
    return months


def account_month_postings(
    *, account: Account, month: dt.date, counterparty_id: int | None = None, kind: str = ""
) -> QuerySet[Posting]:
    """The postings of `account` in `month`, in booking order (date, then voucher), read off the
    (account, date, entry) index, optionally
    only the vouchers whose other side is `counterparty_id` (对方账户) or of `kind` (业务类型)."""
    start, end = month.replace(day=1), month_range(month.year, month.month)[1]
    postings = account.postings.filter(date__range=(start, end))
    if counterparty_id:
        postings = postings.filter(
            entry__in=Posting.objects.filter(account_id=counterparty_id).values("entry_id")
        )
    if kind:
        postings = postings.filter(entry__kind=kind)
    return postings.select_related("entry").order_by("date", "entry_id")


def running_balances(
    *, account: Account, postings, opening: Decimal | None = None
) -> list[Decimal]:
    """The account's balance after each of `postings` (one page of `account_month_postings`,
    filtered or not): the sum of every posting of the account up to and including it, as one
    conditional sum per row in a single query over the page's month alone, so a filtered page
    still shows the account's true balance and a page deep in a busy month costs no more.
    `opening` is the balance before the first row's month when the caller has it (the month
    table); else it is summed."""
    postings = list(postings)
    if not postings:
        return []
    first = min(p.date for p in postings).replace(day=1)
    last = max(p.date for p in postings)
    if opening is None:
        opening = sum_money(account.postings.filter(date__lt=first))
    upto = {
        f"b{i}": Sum(
            "amount",
            filter=Q(date__lt=p.date) | Q(date=p.date, entry_id__lte=p.entry_id),
        )
        for i, p in enumerate(postings)
    }
    sums = account.postings.filter(date__range=(first, last)).aggregate(**upto)
    return [opening + to_yuan(sums[f"b{i}"] or 0) for i in range(len(postings))]


def entry_counterparties(*, account: Account, entry_ids) -> dict[int, list[Account]]:
    """对方账户: for each voucher, the accounts on its other side (one query for a page)."""
    result: dict[int, list[Account]] = {}
    others = (
        Posting.objects.filter(entry_id__in=list(entry_ids))
        .exclude(account=account)
        .select_related("account")
        .order_by("entry_id", "account__code")
    )
    for posting in others:
        result.setdefault(posting.entry_id, []).append(posting.account)
    return result


def month_counterparties(*, account: Account, month: dt.date) -> QuerySet[Account]:
    """The accounts `account` dealt with in `month`: the choices of the 对方账户 filter."""
    start, end = month.replace(day=1), month_range(month.year, month.month)[1]
    entries = account.postings.filter(date__range=(start, end)).values("entry_id")
    return (
        Account.objects.filter(postings__entry__in=entries)
        .exclude(pk=account.pk)
        .distinct()
        .order_by("code")
    )


# --- what the finance charts draw -----------------------------------------------------------


def monthly_spending(*, year: int, user) -> dict[int, list[Decimal]]:
    """Each county's spending in each month of `year` (twelve amounts), on the ledger's own
    definition (`services.county_spending_parts`: outflows of the spending kinds from internal
    accounts, net of reversals, booked to the county whose people they are), scoped to `user`:
    one grouped sum."""
    rows = (
        scope_to_user(
            Posting.objects.filter(
                entry__county__isnull=False,
                entry__kind__in=SPENDING_KINDS,
                entry__date__year=year,
                account__kind__in=INTERNAL_KINDS,
            ),
            user,
            county_field="entry__county",
        )
        .annotate(m=ExtractMonth("entry__date"))
        .values("entry__county", "m")
        .annotate(s=Sum("amount"))
        .order_by()
    )
    result: dict[int, list[Decimal]] = {}
    for row in rows:
        months = result.setdefault(row["entry__county"], [Decimal("0.00")] * 12)
        months[row["m"] - 1] = -to_yuan(row["s"] or 0)
    return result


def budgets_of_year(*, year: int, user) -> dict[int, Decimal]:
    """The spending budget of each county `user` may see, for `year`."""
    budgets = scope_to_user(Budget.objects.filter(year=year), user)
    return {b.county_id: b.amount for b in budgets}


def hospital_settlements(*, year: int, user) -> list[tuple[str, Decimal]]:
    """What each hospital was paid by the posted monthly settlements of `year` (the 应付合计 of
    its statements, the amount of their ledger entries), largest first."""
    rows = (
        scope_to_user(
            SettlementStatement.objects.filter(
                run__year=year, payee=SettlementStatement.Payee.HOSPITAL, entry__isnull=False
            ),
            user,
        )
        .values("hospital_id", "hospital__name", "hospital__county__name")
        .annotate(s=Sum("total"))
        .order_by("-s", "hospital_id")
    )
    return [
        (f"{row['hospital__name']}（{row['hospital__county__name']}）", to_yuan(row["s"] or 0))
        for row in rows
    ]


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
