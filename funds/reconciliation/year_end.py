"""The year-end close and the premium transfers against the ledger."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import F, Q, Sum
from django.db.models.functions import ExtractYear

from beneficiaries.models import PremiumTransferRequest
from funds.models import (
    INTERNAL_KINDS,
    SPENDING_KINDS,
    Entry,
    EntryKind,
    Posting,
    YearEndClose,
)
from funds.reconciliation.base import (
    CHECKS,
    ReconcileResult,
    Row,
    Scope,
    add_difference,
    as_money,
    differs,
)
from medaid.core.money import ZERO, yuan_text


def spending_by_county_year(scope: Scope, years) -> dict[tuple[int, int], tuple[Decimal, Decimal]]:
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
        out[(r["county"], r["y"])][part] -= as_money(r["s"])
    return {k: (v[0], v[1]) for k, v in out.items()}


def check_year_end(result: ReconcileResult, scope: Scope) -> None:
    closes = scope.county(YearEndClose.objects.all(), "county_id")
    if scope.year:
        closes = closes.filter(year=scope.year)
    if scope.month:
        return  # a year-level check
    closes = list(closes.select_related("county").order_by("year", "county__code"))
    if not closes:
        return
    spending = spending_by_county_year(scope, {c.year for c in closes})
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
            balances[(r["account__county_id"], year)] = as_money(r["s"])
    for c in closes:
        medical, premium = spending.get((c.county_id, c.year), (ZERO, ZERO))

        def add(check, message, rows, c=c):
            add_difference(result, check, c.county_id, c.year, None, message, rows)

        if differs(c.actual, medical + premium):
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
        if differs(c.premium_subsidies, premium):
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
        if differs(shared, c.overspend):
            rows.append(
                Row(
                    "funds.YearEndClose",
                    c.pk,
                    c.overspend,
                    shared,
                    "滚存结余弥补、市级承担、县级承担、待定之和应等于超支金额",
                )
            )
        if differs(c.overspend - c.surplus, c.actual - c.budget) or (c.overspend and c.surplus):
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
        if differs(c.closing_balance, balance):
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


def check_premium_transfers(result: ReconcileResult, scope: Scope) -> None:
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
                        as_money(e["paid"]),
                        "资助参保划转凭证不属于任何已记账的划转申请（重复划转？）",
                        e["document_ref"],
                    )
                )
        elif differs(request["amount"], e["paid"]):
            wrong[key].append(
                Row(
                    "funds.Entry",
                    e["id"],
                    as_money(request["amount"]),
                    as_money(e["paid"]),
                    f"划转申请 {request['id']} 的金额与凭证划入居民医保基金的金额不符",
                    e["document_ref"],
                )
            )
    for check, grouped in (("premium_unlinked", unlinked), ("premium_amount", wrong)):
        for (county_id, year, month), rows in grouped.items():
            add_difference(
                result,
                check,
                county_id,
                year,
                month,
                f"{len(rows)} 张资助参保凭证：{CHECKS[check]}。",
                rows,
            )
