"""The rules a claim's dates and amounts must keep, shared by declarations, counter applications and
corrections; and which policy pack covers a day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from medaid.core.money import ZERO
from medaid.policy import load_pack

# --- claim validation shared by declarations, applications and manual entry -------------------

MONEY_FIELDS = (
    "total_cost",
    "in_policy_cost",
    "out_of_catalog_cost",
    "basic_insurance_paid",
    "critical_illness_paid",
    "other_paid",
)


def claim_figures_errors(data: dict) -> list[tuple[str, str]]:
    """The named problems in a claim's dates and amounts (empty when they add up)."""
    from claims.models import LineError

    errors = []
    for name in (*MONEY_FIELDS, "declared_assistance"):
        value = data.get(name)
        if value is not None and value < 0:
            errors.append((LineError.NEGATIVE_AMOUNT, f"{LineError.NEGATIVE_AMOUNT.label}：{name}"))
            return errors
    admitted, discharged = data.get("admitted"), data.get("discharged")
    if admitted and discharged and discharged < admitted:
        errors.append(
            (LineError.DISCHARGE_BEFORE_ADMISSION, LineError.DISCHARGE_BEFORE_ADMISSION.label)
        )
    in_policy = data.get("in_policy_cost") or ZERO
    paid = sum((data.get(n) or ZERO for n in MONEY_FIELDS[3:]), ZERO)
    if paid > in_policy:
        errors.append((LineError.PAID_EXCEEDS_COST, LineError.PAID_EXCEEDS_COST.label))
    total = data.get("total_cost")
    if total is not None and in_policy + (data.get("out_of_catalog_cost") or ZERO) > total:
        errors.append((LineError.COST_MISMATCH, LineError.COST_MISMATCH.label))
    return errors


def policy_window(policy_code: str) -> tuple[dt.date, dt.date | None] | None:
    """The days the pack's versions cover (first day, expiry or None); None when no such pack."""
    try:
        pack = load_pack(policy_code)
    except (LookupError, ValueError, OSError):
        return None
    return pack.first_day, pack.expires


def policy_covers(policy_code: str, day: dt.date) -> bool:
    window = policy_window(policy_code)
    return window is not None and window[0] <= day and (window[1] is None or day <= window[1])


def counties_by_policy(county_model) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for county_id, code in county_model.objects.values_list("id", "pooling_area__policy_code"):
        out[code].append(county_id)
    return out
