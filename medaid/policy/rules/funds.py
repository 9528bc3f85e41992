"""Who bears a county's overspend of the assistance fund (Baoshan 第二十一条).

The band is chosen by the overspend as a share of the county's budget. Decision
(`funds.overspend.band_applies_to_whole`): the band's split applies to the whole overspend;
with the flag off the split is progressive (the first 3 % of budget by the city, the next 2 %
half each, the rest by the county). Either way the city pays only what its accumulated surplus
can cover (第二十一条（四）).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from medaid.policy.parameters import Pack
from medaid.policy.rules.certification import RuleNotInPack
from medaid.policy.trace import pct, yuan

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class OverspendSplit:
    city: Decimal
    county: Decimal
    share_of_budget: Decimal
    lines: tuple[str, ...]
    refs: tuple[str, ...]


def overspend_split(
    pack: Pack,
    on: date,
    *,
    overspend: Decimal,
    budget: Decimal,
    city_surplus: Decimal,
    overrides: tuple[tuple[str, str], ...] = (),
) -> OverspendSplit:
    snap = pack.snapshot(on, overrides)
    full = snap.get("funds.overspend.city_covers_all_up_to")
    if full is None:
        raise RuleNotInPack(f"{pack.code}: 本政策未规定基金超支分担")
    shared = snap.get("funds.overspend.shared_up_to")
    city_share = snap.get("funds.overspend.city_share_when_shared")
    whole = snap.get("funds.overspend.band_applies_to_whole")
    if overspend <= 0:
        return OverspendSplit(ZERO, ZERO, ZERO, ("未超支",), ())
    share = overspend / budget if budget > 0 else Decimal(1)
    if whole.value:
        if share <= full.value:
            city = overspend
        elif share <= shared.value:
            city = overspend * city_share.value
        else:
            city = ZERO
        rule = "按超支比例所在档次整体分担"
    else:
        first = min(overspend, budget * full.value)
        second = min(overspend - first, budget * (shared.value - full.value))
        city = first + second * city_share.value
        rule = "分段分担"
    city = city.quantize(CENT, ROUND_HALF_UP)
    of_budget = pct(share.quantize(Decimal("0.0001")))
    lines = [
        f"超支 {yuan(overspend)}，占县级预算 {yuan(budget)} 的 {of_budget}；"
        f"{rule}（{whole.ref}）：市级应弥补 {yuan(city)}",
    ]
    if city > city_surplus:
        lines.append(f"市级历年滚存结余 {yuan(city_surplus)} 不足，差额由县（市、区）承担")
        city = city_surplus.quantize(CENT, ROUND_HALF_UP)
    county = overspend - city
    lines.append(f"市级 {yuan(city)}，县（市、区） {yuan(county)}")
    return OverspendSplit(
        city, county, share, tuple(lines), (full.ref, shared.ref, city_share.ref, whole.ref)
    )
