"""Whether a claim is inside the scheme at all: kind, hospital level, age, referral, deadline.

Each check returns a Reason or None; none of them raises. The articles:
- kinds per class: Yunnan （九）, Baoshan 第九条, Kunming 四（二）, Pingshun 第十四至十六条,
  Zhangye 四（一）;
- referral: Yunnan （九） and Baoshan 第九条 (except follow-up and emergency), Pingshun 第十八条
  (only outside the pooling area), Zhangye 七（三）;
- Kunming 四（二）1（1）: outpatient_general only at level-1 facilities, for 低保 aged 60+ or
  with a grade 1–2 disability;
- Pingshun 第三十九条: manual claims within 180 days of discharge, from the last discharge when
  several stays of the year are filed together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from medaid.policy.facts import ClaimFacts, PersonFacts
from medaid.policy.reasons import Reason
from medaid.policy.rules.terms import KindRule, Terms


def age_on(birth: date, day: date) -> int:
    """Full years (周岁) on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def kind_check(rule: KindRule | None, claim: ClaimFacts, person: PersonFacts) -> Reason | None:
    if rule is None:
        return Reason.KIND_NOT_COVERED
    if rule.levels is not None and claim.hospital_level not in rule.levels:
        return Reason.HOSPITAL_LEVEL_NOT_COVERED
    if rule.min_age is not None:
        day = claim.discharged
        old_enough = (
            person.birth_date is not None and age_on(person.birth_date, day) >= rule.min_age
        )
        if not old_enough and not any(person.holds(code, day) for code in rule.age_waivers):
            return Reason.AGE_REQUIREMENT_NOT_MET
    return None


def referral_check(terms: Terms, claim: ClaimFacts) -> Reason | None:
    if not terms.referral_required or claim.referred:
        return None
    if terms.referral_outside_area_only and claim.in_area:
        return None
    exceptions = terms.referral_exceptions
    if "follow_up" in exceptions and claim.follow_up:
        return None
    if "emergency" in exceptions and (claim.emergency or claim.kind == "outpatient_emergency"):
        return None
    return Reason.NOT_REFERRED


def manual_deadlines(
    pack_terms_on, claims: Sequence[ClaimFacts]
) -> dict[int, tuple[date, date, int, str]]:
    """For each manual claim (index) under a deadline: (applied, deadline, days, ref).

    Claims filed together (same application date, same natural year) count from the last
    discharge among them where the pack says so (Pingshun 第三十九条).
    """
    batches: dict[tuple[date, int], date] = {}
    for claim in claims:
        if claim.settlement == "application" and claim.applied is not None:
            key = (claim.applied, claim.discharged.year)
            last = batches.get(key)
            if last is None or claim.discharged > last:
                batches[key] = claim.discharged
    out: dict[int, tuple[date, date, int, str]] = {}
    if not batches:
        return out
    for index, claim in enumerate(claims):
        if claim.settlement != "application" or claim.applied is None:
            continue
        terms = pack_terms_on(claim.discharged)
        if terms.deadline_days is None:
            continue
        start = claim.discharged
        if terms.deadline_batch:
            start = batches[(claim.applied, claim.discharged.year)]
        deadline = start + timedelta(days=terms.deadline_days)
        out[index] = (claim.applied, deadline, terms.deadline_days, terms.deadline_ref)
    return out
