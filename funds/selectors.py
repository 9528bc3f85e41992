"""Reads of the fund: balances, deadlines due, budget funding shares, and reconciliation of the
ledger against settlement statements, hospital declarations and approved applications."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from claims.models import Claim, Decision
from funds.models import (
    Account,
    Budget,
    Deadline,
    Entry,
    Posting,
    SettlementLine,
    SettlementRun,
    sum_money,
)
from funds.settlement import period_bounds
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


DIFFERENCE_LABELS = {
    "no_run": "尚未结算",
    "statement_lines": "结算单与明细不符",
    "declared_differs": "医院申报与核定差额",
    "not_posted": "结算单未入账",
    "entry_amount": "结算单与凭证不符",
    "entry_reversed": "支付凭证已冲销",
    "ledger_total": "凭证合计与结算单不符",
    "decision_changed": "救助决定已变更待调整",
    "settled_without_line": "已结算无结算单",
    "line_not_settled": "已支付未标记结算",
    "unsettled": "应结未结",
}


@dataclass(frozen=True)
class Difference:
    code: str
    message: str
    expected: Decimal | None = None
    actual: Decimal | None = None
    ref: str = ""

    @property
    def label(self) -> str:
        return DIFFERENCE_LABELS[self.code]


@dataclass
class Reconciliation:
    county: object
    year: int
    month: int
    statements_total: Decimal = Decimal("0.00")
    ledger_total: Decimal = Decimal("0.00")
    claims_total: Decimal = Decimal("0.00")
    differences: list[Difference] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not any(d.code != "declared_differs" for d in self.differences)


def reconcile_settlement(*, county, year: int, month: int) -> Reconciliation:
    """Reconcile one county's month. Listed differences:
    - a statement whose lines do not add up to its total, or whose entry pays another amount,
      or whose entry was reversed (ledger against statements);
    - the month's settlement entries against the statements' total;
    - a settled claim whose current decision now differs from what was settled and has no
      adjustment yet (decision against settled amount);
    - a claim marked settled that no statement holds, or held by a statement but not settled;
    - claims (hospital declarations and approved applications) payable by the month's cut-off
      that are still unsettled;
    - per hospital, what it declared against what was decided (informational: the difference
      is the hospital's declaration error, not the fund's).
    """
    result = Reconciliation(county=county, year=year, month=month)
    run = SettlementRun.objects.filter(county=county, year=year, month=month).first()
    _, last, cutoff = period_bounds(year, month)
    if run is None:
        result.differences.append(Difference("no_run", f"{year}年{month}月尚未结算。"))
        return result
    statements = run.statements.select_related("hospital", "entry").annotate(
        lines_total=Coalesce(Sum("lines__amount"), ZERO_SUM),
        declared_decided=Coalesce(
            Sum("lines__amount", filter=Q(lines__declared__isnull=False)), ZERO_SUM
        ),
    )
    for st in statements:
        who = st.hospital.name if st.hospital else "救助对象个人支付批次"
        if Decimal(str(st.lines_total)).quantize(CENT) != st.total:
            result.differences.append(
                Difference(
                    "statement_lines",
                    f"{who}结算单明细合计与结算单金额不符。",
                    st.total,
                    Decimal(str(st.lines_total)).quantize(CENT),
                    st.number,
                )
            )
        decided = Decimal(str(st.declared_decided)).quantize(CENT)
        if st.payee == "hospital" and st.declared_total != decided:
            result.differences.append(
                Difference(
                    "declared_differs",
                    f"{who}申报救助金额与核定金额存在差额（医院申报差错，不影响支付）。",
                    st.declared_total,
                    decided,
                    st.number,
                )
            )
        if st.posted_at is None:
            result.differences.append(
                Difference("not_posted", f"{who}结算单尚未入账。", st.total, None, st.number)
            )
            continue
        paid = (
            sum_money(st.entry.postings.filter(account__kind__in=["hospital", "individuals"]))
            if st.entry
            else Decimal("0.00")
        )
        if paid != st.total:
            result.differences.append(
                Difference(
                    "entry_amount", f"{who}结算单与记账凭证金额不符。", st.total, paid, st.number
                )
            )
        if st.entry and Entry.objects.filter(reverses=st.entry).exists():
            result.differences.append(
                Difference(
                    "entry_reversed", f"{who}结算单的支付凭证已被冲销。", st.total, None, st.number
                )
            )
    result.statements_total = sum_money(run.statements.all(), "total")
    result.ledger_total = sum_money(
        Posting.objects.filter(
            entry__settlement_statement__run=run, account__kind__in=["hospital", "individuals"]
        )
    )
    if result.ledger_total != result.statements_total:
        result.differences.append(
            Difference(
                "ledger_total",
                "本月结算记账凭证合计与结算单合计不符。",
                result.statements_total,
                result.ledger_total,
            )
        )
    lines = SettlementLine.objects.filter(statement__run=run)
    result.claims_total = sum_money(lines.filter(adjustment_id__isnull=True))
    _claims_against_decisions(result, run)
    settled_without_line = Claim.objects.filter(
        county=county, status=Claim.Status.SETTLED, discharged__lte=last
    ).exclude(settlement_lines__isnull=False)
    for claim in settled_without_line[:200]:
        result.differences.append(
            Difference(
                "settled_without_line",
                f"救助明细 {claim.external_ref} 状态为已结算，但没有任何结算单。",
                ref=claim.external_ref,
            )
        )
    line_not_settled = Claim.objects.filter(
        settlement_lines__statement__run=run, settlement_lines__statement__posted_at__isnull=False
    ).exclude(status=Claim.Status.SETTLED)
    for claim in line_not_settled[:200]:
        result.differences.append(
            Difference(
                "line_not_settled",
                f"救助明细 {claim.external_ref} 已在结算单中支付，但状态为"
                f"“{claim.get_status_display()}”。",
                ref=claim.external_ref,
            )
        )
    unsettled = Claim.objects.filter(
        county=county,
        status=Claim.Status.ACCEPTED,
        discharged__lte=last,
        decisions__is_current=True,
        decisions__decided_at__lt=cutoff,
    ).exclude(settlement_lines__isnull=False)
    count = unsettled.count()
    if count:
        amount = sum_money(unsettled, "decisions__total")
        result.differences.append(
            Difference(
                "unsettled",
                f"截至{year}年{month}月末已受理、应结未结的救助明细 {count} 笔"
                f"（含医院申报和已审批的窗口申请）。",
                amount,
                Decimal("0.00"),
            )
        )
    return result


def _claims_against_decisions(result: Reconciliation, run: SettlementRun) -> None:
    """Per claim of the run: everything settled for it (claim line plus adjustment lines, in any
    month) against its current decision; the gap is an adjustment not yet made or settled."""
    current = Decision.objects.filter(claim=OuterRef("claim_id"), is_current=True).values("total")
    per_claim = (
        SettlementLine.objects.filter(
            claim_id__in=SettlementLine.objects.filter(statement__run=run).values("claim_id")
        )
        .values("claim_id", "claim__external_ref")
        .annotate(settled=Sum("amount"), decided=Subquery(current))
        .exclude(settled=F("decided"))
    )
    for row in per_claim[:500]:
        settled = Decimal(str(row["settled"])).quantize(CENT)
        decided = Decimal(str(row["decided"] or 0)).quantize(CENT)
        if settled != decided:
            result.differences.append(
                Difference(
                    "decision_changed",
                    f"救助明细 {row['claim__external_ref']} 已结算金额与当前救助决定不符，"
                    "待下期结算调整。",
                    decided,
                    settled,
                    row["claim__external_ref"],
                )
            )
