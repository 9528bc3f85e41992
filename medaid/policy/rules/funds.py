"""The statutory fund rules of a pack: deadlines, which account pays the monthly settlement,
the expenditure account's year-end return, funding shares by county tier, and who bears a
county's overspend at the year-end close.

Every rule is read from the pack's `funds.*` parameters (`packs/<code>/funds.yaml`); nothing
here branches on a pack code. `compile_funds` is also the pack's third validation step: a
deadline with no clock or two, or an overspend method without the parameters it needs, is
refused when the pack loads.

Overspend methods (`funds.overspend.method`):

- ``bands`` (Baoshan 第二十一条): the overspend as a share of the county's budget picks the
  band; the city's accumulated surplus covers the band's share. Decision
  (`funds.overspend.band_applies_to_whole`): the band's split applies to the whole overspend;
  with the flag off the split is progressive (the first 3 % of budget all, the next 2 % half).
  Either way the surplus pays only what it holds (第二十一条（四）); the rest falls to the county.
- ``surplus_then_county`` (Pingshun 第二十七条): the fund's accumulated surplus first, then
  county finance.
- ``tier_shares`` (Kunming 六（三）（四）): city and county finance pay the shortfall in the
  county's funding tier's shares (`funds.tier_city_share.tier_<n>`).

A pack without `funds.overspend.method` leaves the overspend unallocated (to be settled by the
government at that level) — a result, not an error.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from medaid.core.money import CENT, ZERO
from medaid.policy.errors import PackError, RuleNotInPack
from medaid.policy.glossary import FUND_DEADLINE_CHOICES
from medaid.policy.parameters import Pack, Snapshot, Value
from medaid.policy.trace import pct, yuan

RATIO_PLACES = Decimal("0.000001")
_CLOCKS = ("working_days", "days", "month_day", "quarter_end")


def cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """How a deadline's due date follows from its start: `working_days` (the Chinese
    working-day calendar, which the caller supplies), `days` (calendar days), a fixed
    `month_day` of the deadline's year, or the end of the start's quarter."""

    kind: str
    ref: str
    working_days: int | None = None
    days: int | None = None
    month_day: tuple[int, int] | None = None
    quarter_end: bool = False

    def due_on(
        self,
        starts_on: date,
        year: int,
        *,
        add_working_days: Callable[[date, int], date] | None = None,
    ) -> date:
        if self.working_days is not None:
            if add_working_days is None:
                raise ValueError(f"{self.kind}: 按工作日计算的时限需要工作日历")
            return add_working_days(starts_on, self.working_days)
        if self.days is not None:
            return starts_on + timedelta(days=self.days)
        if self.month_day is not None:
            return date(year, *self.month_day)
        last_month = (starts_on.month - 1) // 3 * 3 + 3
        return date(starts_on.year, last_month, calendar.monthrange(starts_on.year, last_month)[1])


@dataclass(frozen=True, slots=True)
class FundingShares:
    """The city's and the county's shares of a county tier's funding (Kunming 六（三））."""

    tier: int
    city: Decimal
    county: Decimal
    ref: str


@dataclass(frozen=True, slots=True)
class PaidFrom:
    """The account the monthly settlement pays from: `expenditure` or `fiscal`."""

    account: str
    ref: str


@dataclass(frozen=True, slots=True)
class OverspendSplit:
    """How a county's year was closed. `from_surplus` comes out of the accumulated surplus at
    `surplus_level` (the city's fund, or the county's own); `city` and `county` are further
    payments by city and county finance; `unallocated` is what the pack does not assign;
    `surplus` is an underspend carried forward. `from_surplus + city + county + unallocated ==
    overspend`."""

    overspend: Decimal
    share_of_budget: Decimal
    from_surplus: Decimal
    city: Decimal
    county: Decimal
    unallocated: Decimal
    surplus: Decimal
    surplus_level: str | None
    lines: tuple[str, ...]
    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Overspend:
    method: str
    ref: str
    surplus_level: str | None
    surplus_ref: str
    bands: tuple[Value, Value, Value, Value] | None  # full, shared, city share, whole


@dataclass(frozen=True, slots=True)
class FundTerms:
    deadlines: dict[str, DeadlineRule]
    paid_from: PaidFrom | None
    tiers: dict[int, FundingShares]
    overspend: _Overspend | None


def _fail(snap: Snapshot, name: str, problem: str) -> PackError:
    param = snap.pack.parameters.get(name)
    file = param.file if param is not None else str(snap.pack.directory)
    return PackError(file, name, f"{problem} (in force on {snap.start})")


def compile_funds(snap: Snapshot) -> FundTerms:
    """Read the fund rules in force on one date-range, refusing an inconsistent pack."""
    deadlines: dict[str, DeadlineRule] = {}
    for kind, _label in FUND_DEADLINE_CHOICES:
        clocks = {c: snap.get(f"funds.deadline.{kind}.{c}") for c in _CLOCKS}
        set_ = {c: v for c, v in clocks.items() if v is not None}
        if not set_:
            continue
        if len(set_) > 1:
            raise _fail(snap, f"funds.deadline.{kind}", f"more than one clock: {sorted(set_)}")
        ((clock, value),) = set_.items()
        if clock == "quarter_end" and value.value is not True:
            raise _fail(snap, f"funds.deadline.{kind}.quarter_end", "only true is meaningful")
        if clock == "month_day":
            month, day = (int(part) for part in value.value.split("-"))
            arg: object = (month, day)
        else:
            arg = value.value
        deadlines[kind] = DeadlineRule(kind=kind, ref=value.ref, **{clock: arg})

    paid = snap.get("funds.settlement_paid_from")
    paid_from = PaidFrom(paid.value, paid.ref) if paid is not None else None

    tiers: dict[int, FundingShares] = {}
    for name in snap.names("funds.tier_city_share"):
        value = snap.values[name]
        tier = int(name.rsplit("_", 1)[1])
        tiers[tier] = FundingShares(tier, value.value, 1 - value.value, value.ref)

    overspend = None
    method = snap.get("funds.overspend.method")
    band_names = (
        "funds.overspend.city_covers_all_up_to",
        "funds.overspend.shared_up_to",
        "funds.overspend.city_share_when_shared",
        "funds.overspend.band_applies_to_whole",
    )
    level = snap.get("funds.overspend.surplus_level")
    if method is None:
        for name in (*band_names, "funds.overspend.surplus_level"):
            if snap.get(name) is not None:
                raise _fail(snap, name, "set without funds.overspend.method")
    else:
        bands = None
        if method.value == "bands":
            missing = [n for n in band_names if snap.get(n) is None]
            if missing:
                raise _fail(snap, missing[0], "required by overspend method 'bands'")
            bands = tuple(snap.values[n] for n in band_names)
            if bands[0].value > bands[1].value:
                raise _fail(snap, band_names[0], "the first band ends above the second")
        if method.value in ("bands", "surplus_then_county") and level is None:
            raise _fail(snap, "funds.overspend.surplus_level", f"required by {method.value!r}")
        if method.value == "tier_shares" and not tiers:
            raise _fail(snap, "funds.tier_city_share", "required by overspend method 'tier_shares'")
        overspend = _Overspend(
            method.value,
            method.ref,
            level.value if level else None,
            level.ref if level else "",
            bands,
        )
    return FundTerms(deadlines, paid_from, tiers, overspend)


def fund_terms(pack: Pack, on: date, overrides: tuple[tuple[str, str], ...] = ()) -> FundTerms:
    return compile_funds(pack.snapshot(on, overrides))


def settlement_paid_from(pack: Pack, on: date) -> PaidFrom:
    found = fund_terms(pack, on).paid_from
    if found is None:
        raise RuleNotInPack(f"{pack.code}: 本政策包未规定按月结算的付款账户")
    return found


def overspend_split(
    pack: Pack,
    on: date,
    *,
    budget: Decimal,
    actual: Decimal,
    city_surplus: Decimal = ZERO,
    county_surplus: Decimal = ZERO,
    tier: int | None = None,
    overrides: tuple[tuple[str, str], ...] = (),
) -> OverspendSplit:
    """Close a county's year: actual spending against budget, an overspend shared as the pack
    says. `city_surplus` / `county_surplus` are what the accumulated surplus (历年滚存结余) still
    holds at each level — the caller spends it down across counties by `surplus_level`."""
    rule = fund_terms(pack, on, overrides).overspend
    budget, actual = cents(budget), cents(actual)
    overspend = actual - budget
    if overspend <= 0:
        surplus = -overspend
        return OverspendSplit(
            ZERO,
            ZERO,
            ZERO,
            ZERO,
            ZERO,
            ZERO,
            surplus,
            rule.surplus_level if rule else None,
            (
                f"实际支出 {yuan(actual)} 元未超过预算 {yuan(budget)} 元，"
                f"结余 {yuan(surplus)} 元结转下年度继续使用。",
            ),
            (),
        )
    share = overspend / budget if budget > 0 else Decimal(1)
    ratio = share.quantize(RATIO_PLACES, ROUND_HALF_UP)
    lines = [
        f"实际支出 {yuan(actual)} 元，预算 {yuan(budget)} 元，"
        f"超支 {yuan(overspend)} 元（占预算 {pct(share.quantize(Decimal('0.0001')))}）。"
    ]
    from_surplus = city = county = unallocated = ZERO
    refs: tuple[str, ...] = ()
    level = rule.surplus_level if rule else None
    available = max(cents(city_surplus if level == "city" else county_surplus), ZERO)
    if rule is None:
        unallocated = overspend
        lines.append("本政策未规定超支分担办法，超支金额列为待定，需报同级人民政府研究。")
    elif rule.method == "bands":
        full, shared, half, whole = rule.bands
        if whole.value:
            if share <= full.value:
                wanted = overspend
            elif share <= shared.value:
                wanted = overspend * half.value
            else:
                wanted = ZERO
            how = "按超支比例所在档次整体分担"
        else:
            first = min(overspend, budget * full.value)
            second = min(overspend - first, budget * (shared.value - full.value))
            wanted = first + second * half.value
            how = "分段分担"
        wanted = cents(wanted)
        from_surplus = min(wanted, available)
        county = overspend - from_surplus
        lines.append(
            f"{how}（{whole.ref}）：历年滚存结余应弥补 {yuan(wanted)} 元，"
            f"可用历年滚存结余 {yuan(available)} 元，实际弥补 {yuan(from_surplus)} 元。"
        )
        if from_surplus < wanted:
            lines.append(f"历年滚存结余不足，差额由县（市、区）承担（{rule.surplus_ref}）。")
        lines.append(f"县（市、区）承担 {yuan(county)} 元。")
        refs = (rule.ref, full.ref, shared.ref, half.ref, whole.ref, rule.surplus_ref)
    elif rule.method == "surplus_then_county":
        from_surplus = min(overspend, available)
        county = overspend - from_surplus
        lines.append(
            f"依据{rule.ref}，动用历年滚存结余 {yuan(from_surplus)} 元弥补，"
            f"仍不足的 {yuan(county)} 元由县财政补足。"
        )
        refs = (rule.ref, rule.surplus_ref)
    else:  # tier_shares
        tiers = fund_terms(pack, on, overrides).tiers
        found = tiers.get(tier) if tier is not None else None
        if found is None:
            unallocated = overspend
            lines.append(
                "该区县未设置市、县分担档次，超支金额列为待定。"
                if tier is None
                else f"本政策未规定第{tier}档的市、县分担比例，超支金额列为待定。"
            )
        else:
            city = cents(overspend * found.city)
            county = overspend - city
            lines.append(
                f"依据{rule.ref}，第{tier}档市级承担 {pct(found.city)}、县级承担 "
                f"{pct(found.county)}（{found.ref}）：市级财政划入 {yuan(city)} 元，"
                f"县级财政划入 {yuan(county)} 元。"
            )
            refs = (rule.ref, found.ref)
    return OverspendSplit(
        overspend,
        ratio,
        from_surplus,
        city,
        county,
        unallocated,
        ZERO,
        level,
        tuple(lines),
        refs,
    )
