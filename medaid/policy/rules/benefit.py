"""One claim's assistance along one route: deductible, ratio, top-up, out-of-catalogue, cap.

The order follows the texts: self-pay after insurance, less what is left of the year's
deductible (起付标准累计计算), times the ratio for the class, kind and hospital level; Pingshun's
fanpin then gets the top-up to a 90 % combined ratio (第十四条（三）) and 85 % of the
out-of-catalogue cost within the control limit (第二十一条); the result is limited by what is
left of the pool's annual cap and rounded half-up to the cent.

Deductible counting: a deductible counter is the natural year's cumulative self-pay of covered
claims of the kinds that bear it; what is left is `max(0, deductible − counter)`. For a person
whose class does not change during the year this is the ordinary cumulative deductible; it also
lets Kunming count every major-disease stay's self-pay toward the 20 000 deductible whichever
route paid (policies.md, Decision §四(三)).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from medaid.policy.facts import ClaimFacts
from medaid.policy.rules.terms import CENT, ZERO, Amount, KindRule, Rate, Terms


class RouteResult:
    """What one route would pay; plain slots object because it is built on every claim."""

    __slots__ = (
        "assistance",
        "cap",
        "cap_left",
        "deductible",
        "deductible_applied",
        "deductible_left",
        "exact",
        "in_policy",
        "ooc",
        "ooc_step",
        "pool",
        "ratio",
        "ratio_amount",
        "raw",
        "route",
        "top_up",
        "top_up_base",
        "top_up_insurance",
        "top_up_rate",
        "used",
    )

    def __init__(self) -> None:
        self.ooc_step = None
        self.top_up_rate = None


def compute(
    terms: Terms,
    claim: ClaimFacts,
    self_pay: Decimal,
    rule: KindRule,
    route: str,
    ratio: Rate,
    deductible: Amount | None,
    counted: Decimal,
    pool: str,
    cap: Amount | None,
    used: Decimal,
) -> RouteResult:
    out = RouteResult()
    out.route = route
    out.ratio = ratio
    out.pool = pool
    out.cap = cap
    out.used = used
    out.deductible = deductible

    # 起付标准: what is left of the year's deductible absorbs this claim's self-pay first.
    left = ZERO if deductible is None or deductible.value <= counted else deductible.value - counted
    applied = left if left < self_pay else self_pay
    out.deductible_left = left
    out.deductible_applied = applied

    amount = (self_pay - applied) * ratio.value
    out.ratio_amount = amount

    # Pingshun 第十四条（三）: top up the stay's combined in-policy ratio to the target, never
    # beyond the self-pay still uncovered.
    # Top-up and out-of-catalogue assistance belong to the general route only.
    general = route == "general"
    top_up = rule.top_up if general else None
    ooc_assistance = rule.ooc_assistance if general else None
    ooc_control = rule.ooc_control and general
    extra = ZERO
    if top_up is not None and (claim.in_province or not rule.top_up_in_province_only):
        target = top_up.value * claim.in_policy_cost
        paid = claim.basic_insurance_paid + claim.critical_illness_paid + amount
        if paid < target:
            room = self_pay - applied - amount
            extra = target - paid
            if extra > room:
                extra = room
            out.top_up_rate = top_up
            out.top_up_base = claim.in_policy_cost
            out.top_up_insurance = claim.basic_insurance_paid + claim.critical_illness_paid
    out.top_up = extra
    out.in_policy = amount + extra

    ooc = ZERO
    if (ooc_control or ooc_assistance is not None) and claim.out_of_catalog_cost > 0:
        ooc, out.ooc_step = out_of_catalogue(terms, claim, ooc_assistance)
    out.ooc = ooc

    raw = amount + extra + ooc
    out.raw = raw
    # 年度救助限额: the pool's cap less what earlier claims of the year took from it.
    if cap is None:
        cap_left = None
        exact = raw
    else:
        cap_left = cap.value - used
        if cap_left < 0:
            cap_left = ZERO
        exact = raw if raw < cap_left else cap_left
    out.cap_left = cap_left
    out.exact = exact
    out.assistance = exact.quantize(CENT, ROUND_HALF_UP)
    return out


def out_of_catalogue(
    terms: Terms, claim: ClaimFacts, assistance: Rate | None
) -> tuple[Decimal, tuple | None]:
    """Pingshun 第二十一条: out-of-catalogue cost over the fee class's share of the total is the
    hospital's; fanpin get 85 % of what is within it. Returns (assistance, trace step)."""
    if not claim.in_province and terms.ooc_requires_in_province:
        return ZERO, None
    fee_class = claim.hospital_fee_class or terms.ooc_unknown_fee_class
    limit = terms.ooc_limits.get(fee_class) if fee_class else None
    if limit is None:
        return ZERO, None
    ceiling = (claim.billed_total * limit.value).quantize(CENT, ROUND_HALF_UP)
    within = min(claim.out_of_catalog_cost, ceiling)
    amount = within * assistance.value if assistance is not None else ZERO
    step = (
        fee_class,
        claim.hospital_fee_class is None,
        limit.value,
        limit.ref,
        claim.billed_total,
        claim.out_of_catalog_cost,
        ceiling,
        within,
        assistance.value if assistance else None,
        assistance.ref if assistance else "",
        amount,
    )
    return amount, step
