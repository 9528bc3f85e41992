"""Statutory fund rules, per policy pack, as data — each value with its article.

PROVISIONAL HOME. These are policy-as-data and belong in the packs
(`medaid/policy/packs/<code>/`) behind an engine accessor; the engine has none yet, so they
live here, clearly marked, until the lead moves them. Pure Python: no Django, so the engine can
take the module over as it is. The parameters the engine should own are:

- `fund_deadlines`  — DEADLINES below (kind → working days / calendar days / fixed day)
- `overspend_sharing` — OVERSPEND below (method, bands, whose surplus)
- `expenditure_year_end_return` — whether the expenditure account's interest and year-end
  balance go back to the fiscal special account (Kunming §六(二)2)
- `settlement_paid_from` — SETTLEMENT_PAID_FROM below: the account the monthly settlement pays
  from (the county expenditure account; Pingshun Art.26 the fiscal special account).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")


def cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DeadlineRule:
    """How a deadline's due date follows from its start: `working_days` (Chinese working-day
    calendar), `days` (calendar days), or a fixed `month_day` in the year."""

    ref: str
    working_days: int | None = None
    days: int | None = None
    month_day: tuple[int, int] | None = None


BAOSHAN = "保政办规〔2022〕2号"
KUNMING = "昆明市城乡医疗救助管理实施办法"
PINGSHUN = "平顺县实施细则"

DEADLINES: dict[str, dict[str, DeadlineRule]] = {
    "baoshan": {
        # 收到上级补助资金指标文件后 10 个工作日内提供资金分配方案和绩效目标
        "allocation_plan": DeadlineRule(ref=f"{BAOSHAN} 第十九条", working_days=10),
        # 市级财政部门在 30 日内将资金下达到各县（市、区）
        "allocation": DeadlineRule(ref=f"{BAOSHAN} 第十九条", days=30),
        # 各县在收到下达资金后 15 日内上解至市级财政专户
        "remittance": DeadlineRule(ref=f"{BAOSHAN} 第二十条", days=15),
        # 县级配套资金于当年 9 月 30 日前上解
        "county_matching": DeadlineRule(ref=f"{BAOSHAN} 第二十条", month_day=(9, 30)),
    },
    "kunming": {
        # 每年 6 月 30 日确定资助参保人数，同年 8 月 30 日前核拨到居民医保基金财政专户
        "subsidy_headcount": DeadlineRule(ref=f"{KUNMING} 六（五）1", month_day=(6, 30)),
        "subsidy_transfer": DeadlineRule(ref=f"{KUNMING} 六（五）1", month_day=(8, 30)),
        # 支出户利息按年缴入、年末余额缴回财政专户
        "year_end_return": DeadlineRule(ref=f"{KUNMING} 六（二）2", month_day=(12, 31)),
    },
}


@dataclass(frozen=True)
class OverspendRule:
    """How a county's overspend (实际支出 − 预算) is met at the year-end close.

    method:
    - ``bands``: Baoshan Art.21 — the band the overspend ratio falls in decides the share the
      city's accumulated surplus covers (the band applies to the whole overspend, policies.md
      Decision); what the surplus cannot cover falls to the county.
    - ``surplus_then_county``: Pingshun Art.27 — the fund's accumulated surplus first, then
      county finance.
    - ``tier_shares``: Kunming §六(三)(四) — the 汇算 shortfall is paid in by city and county
      finance in the county tier's shares (beneficiaries.FundingTier).
    """

    method: str
    ref: str
    # (upper bound of the overspend ratio inclusive, share the surplus covers), ascending.
    bands: tuple[tuple[Decimal | None, Decimal], ...] = ()
    # Whose accumulated surplus: the city's fund (市级统筹) or the county's own.
    surplus_level: str = "city"


OVERSPEND: dict[str, OverspendRule] = {
    "baoshan": OverspendRule(
        method="bands",
        ref=f"{BAOSHAN} 第二十一条",
        bands=(
            (Decimal("0.03"), Decimal("1")),  # 3%（含）以内：市级滚存结余全额弥补
            (Decimal("0.05"), Decimal("0.5")),  # 3%—5%（含）：结余弥补 50%，县承担 50%
            (None, Decimal("0")),  # 5% 以上：全部由县承担
        ),
        surplus_level="city",
    ),
    "pingshun": OverspendRule(
        method="surplus_then_county", ref=f"{PINGSHUN} 第二十七条", surplus_level="county"
    ),
    "kunming": OverspendRule(method="tier_shares", ref=f"{KUNMING} 六（三）（四）"),
}

# Which internal account pays the monthly settlement: the county's expenditure account, except
# where the county's finance pays hospitals and people straight from the fiscal special account
# (Pingshun Art.26 由医疗救助基金专户直接支付到定点医药机构或救助对象).
SETTLEMENT_PAID_FROM: dict[str, str] = {"pingshun": "fiscal"}
SETTLEMENT_PAID_FROM_DEFAULT = "expenditure"

# Kunming §六(二)2: the expenditure account's interest and year-end balance return yearly.
EXPENDITURE_YEAR_END_RETURN = {"kunming": f"{KUNMING} 六（二）2"}


@dataclass(frozen=True)
class OverspendShare:
    overspend: Decimal
    ratio: Decimal
    from_surplus: Decimal
    city: Decimal
    county: Decimal
    unallocated: Decimal
    surplus: Decimal
    lines: tuple[str, ...]


def share_overspend(
    *,
    policy_code: str,
    budget: Decimal,
    actual: Decimal,
    accumulated_surplus: Decimal,
    city_share: Decimal | None = None,
    county_share: Decimal | None = None,
) -> OverspendShare:
    """Share a county's overspend for the year as its pack says. `accumulated_surplus` is what
    the fund's 历年滚存结余 still holds for this county's level (the caller spends it down across
    counties). The city's part paid from the surplus is `from_surplus`; `city` is any further
    city-finance contribution (Kunming)."""
    budget, actual = cents(budget), cents(actual)
    available = max(cents(accumulated_surplus), ZERO)
    overspend = actual - budget
    if overspend <= 0:
        surplus = -overspend
        return OverspendShare(
            ZERO,
            ZERO,
            ZERO,
            ZERO,
            ZERO,
            ZERO,
            surplus,
            (f"实际支出 {actual} 元未超过预算 {budget} 元，结余 {surplus} 元结转下年度继续使用。",),
        )
    ratio = (overspend / budget).quantize(Decimal("0.000001")) if budget else Decimal("1")
    lines = [f"实际支出 {actual} 元，预算 {budget} 元，超支 {overspend} 元（{ratio:.2%}）。"]
    rule = OVERSPEND.get(policy_code)
    from_surplus = city = county = unallocated = ZERO
    if rule is None:
        unallocated = overspend
        lines.append("本政策包未规定超支分担办法，超支金额列为待定，需报同级人民政府研究。")
    elif rule.method == "bands":
        share = next(s for upper, s in rule.bands if upper is None or ratio <= upper)
        wanted = cents(overspend * share)
        from_surplus = min(wanted, available)
        county = overspend - from_surplus
        lines.append(
            f"依据{rule.ref}，超支比例 {ratio:.2%} 对应历年滚存结余弥补 {share:.0%}，"
            f"应弥补 {wanted} 元，可用滚存结余 {available} 元，实际弥补 {from_surplus} 元，"
            f"其余 {county} 元由县（市、区）承担。"
        )
    elif rule.method == "surplus_then_county":
        from_surplus = min(overspend, available)
        county = overspend - from_surplus
        lines.append(
            f"依据{rule.ref}，动用历年滚存结余 {from_surplus} 元弥补，"
            f"仍不足的 {county} 元由县财政补足。"
        )
    elif rule.method == "tier_shares":
        if city_share is None or county_share is None:
            unallocated = overspend
            lines.append("该区县未设置市、县分担档次，超支金额列为待定。")
        else:
            city = cents(overspend * city_share)
            county = overspend - city
            lines.append(
                f"依据{rule.ref}，按分担档次市级 {city_share:.0%}、县级 {county_share:.0%}，"
                f"市级财政划入 {city} 元，县级财政划入 {county} 元。"
            )
    else:  # pragma: no cover - a pack with an unknown method is a programming error
        raise ValueError(f"unknown overspend method {rule.method!r}")
    return OverspendShare(
        overspend, ratio, from_surplus, city, county, unallocated, ZERO, tuple(lines)
    )
