"""Reads of the platform comparison: the per-hospital, per-month mismatch report and the monthly
清算 summary in the platform's style. Both are a few GROUP BY queries over the rows the
comparison already wrote; callers pass a queryset already scoped to the user."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, FilteredRelation, Q, Sum

from claims.models import Claim
from claims.platform.dictionary import CLR_TYPE, MED_TYPE
from claims.platform.models import PlatformSettlement
from medaid.core.money import ZERO, to_yuan

MISMATCH_OUTCOMES = (
    PlatformSettlement.Outcome.MISMATCH,
    PlatformSettlement.Outcome.KEPT_OURS,
    PlatformSettlement.Outcome.PLATFORM_STANDS,
)
REASON_LABELS = dict(PlatformSettlement.Reason.choices)
MED_TYPE_LABELS = {code: label for code, label, _ in MED_TYPE}


@dataclass
class MismatchRow:
    hospital_code: str
    hospital: str
    year: int
    month: int
    compared: int = 0
    count: int = 0
    difference: Decimal = ZERO
    open: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def top_reasons(self) -> str:
        return "；".join(
            f"{REASON_LABELS.get(code, code or '未分类')} {n} 笔"
            for code, n in self.reasons.most_common(3)
        )


def mismatch_report(settlements) -> list[MismatchRow]:
    """Per hospital and declaration month: records compared, mismatches, the sum of the
    differences (platform − ours), how many still wait for a reviewer, and the top reasons."""
    keys = (
        "claim__hospital__code",
        "claim__hospital__name",
        "declaration__year",
        "declaration__month",
    )
    rows: dict[tuple, MismatchRow] = {}

    def row(values) -> MismatchRow:
        key = tuple(values[k] for k in keys)
        if key not in rows:
            rows[key] = MismatchRow(*key)
        return rows[key]

    compared = (
        settlements.exclude(outcome=PlatformSettlement.Outcome.PENDING)
        .order_by()
        .values(*keys)
        .annotate(n=Count("id"))
    )
    for values in compared:
        row(values).compared = values["n"]
    mismatched = (
        settlements.filter(outcome__in=MISMATCH_OUTCOMES)
        .order_by()
        .values(*keys, "reason", "outcome")
        .annotate(n=Count("id"), diff=Sum("difference"))
    )
    for values in mismatched:
        r = row(values)
        r.count += values["n"]
        # SQLite sums decimals as floating point: each sum rounded to the cent, as money is.
        r.difference += to_yuan(values["diff"] or ZERO)
        r.reasons[values["reason"]] += values["n"]
        if values["outcome"] == PlatformSettlement.Outcome.MISMATCH:
            r.open += values["n"]
    return sorted(rows.values(), key=lambda r: (r.year, r.month, r.hospital_code))


@dataclass
class ClearingRow:
    hospital_code: str
    hospital: str
    clr_type: str
    med_type: str
    visits: int
    total_cost: Decimal
    assistance: Decimal
    tilted: Decimal

    @property
    def clr_label(self) -> str:
        return CLR_TYPE.get(self.clr_type, self.clr_type)

    @property
    def med_label(self) -> str:
        return MED_TYPE_LABELS.get(self.med_type, self.med_type)


# What is cleared: the claims that stand (accepted or settled); reversed and refused ones and
# those still in review are not.
CLEARED = (Claim.Status.ACCEPTED, Claim.Status.SETTLED)


def clearing_summary(settlements, *, year: int, month: int) -> list[ClearingRow]:
    """清算 of a month (the declaration month, 清算期) per hospital, 清算类别 and 医疗类别:
    人次, 医疗总费用, 医疗救助基金支出 (our current decision) and its 倾斜救助 part."""
    current = FilteredRelation("claim__decisions", condition=Q(claim__decisions__is_current=True))
    rows = (
        settlements.filter(
            declaration__year=year, declaration__month=month, claim__status__in=CLEARED
        )
        .annotate(current=current)
        .order_by()
        .values("claim__hospital__code", "claim__hospital__name", "clr_type", "med_type")
        .annotate(
            visits=Count("id"),
            total_cost=Sum("claim__total_cost"),
            assistance=Sum(F("current__total")),
            tilted=Sum(F("current__tilted_assistance")),
        )
        .order_by("claim__hospital__code", "clr_type", "med_type")
    )
    out = defaultdict(list)
    for r in rows:
        out[r["claim__hospital__code"]].append(
            ClearingRow(
                hospital_code=r["claim__hospital__code"],
                hospital=r["claim__hospital__name"],
                clr_type=r["clr_type"],
                med_type=r["med_type"],
                visits=r["visits"],
                total_cost=to_yuan(r["total_cost"] or ZERO),
                assistance=to_yuan(r["assistance"] or ZERO),
                tilted=to_yuan(r["tilted"] or ZERO),
            )
        )
    return [row for code in sorted(out) for row in out[code]]
