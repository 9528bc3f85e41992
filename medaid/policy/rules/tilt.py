"""Tilted assistance (倾斜救助): a second pass on the year's self-pay left after all schemes.

Pingshun 第二十条: referred and in-province; the natural year's in-policy self-pay left after
basic insurance, critical-illness insurance and assistance, above 50 % of the base, gets 70 %,
at most 30 000 a year, outside the 第十八条 cap.
Zhangye 四（二）3: treated at the insured place or referred in-province; the year's self-pay left
above 6 000 gets 30 %, no cap, outside the annual cap.

Decision (policies.md): cumulative per natural year, each claim receives the increase. A claim's
tilt is the year's entitlement after it, rounded to the cent, less what earlier claims were
paid, so the claims' tilts always add up to the rounded entitlement.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from medaid.policy.facts import ClaimFacts
from medaid.policy.rules.terms import CENT, ZERO, TiltTerms


def qualifies(tilt: TiltTerms, claim: ClaimFacts) -> bool:
    if tilt.requires_in_province and not claim.in_province:
        return False
    return claim.referred or (tilt.local_without_referral and claim.in_area)


def increase(
    tilt: TiltTerms,
    left: Decimal,
    cumulative_before: Decimal,
    paid_before: Decimal,
    room: Decimal | None,
) -> tuple[Decimal, Decimal, Decimal]:
    """(this claim's tilt, the year's cumulative left after it, the year's entitlement exact).

    `room` is what the annual cap still allows when the tilt is inside the cap, else None.
    """
    cumulative = cumulative_before + left
    over = cumulative - tilt.threshold.value
    entitled = over * tilt.ratio.value if over > 0 else ZERO
    if tilt.cap is not None and entitled > tilt.cap.value:
        entitled = tilt.cap.value
    amount = entitled.quantize(CENT, ROUND_HALF_UP) - paid_before
    if amount < 0:
        amount = ZERO  # a lower threshold later in the year never claws back what was paid
    if room is not None and amount > room:
        amount = room
    return amount, cumulative, entitled
