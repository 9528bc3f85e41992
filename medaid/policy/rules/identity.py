"""Identity → profile (class or tier), and which identities reach a claim.

An identity reaches a claim when it is held on the claim's date under the pack's stay rule, or
through a look-back the text allows:
- Yunnan 云政办发〔2022〕40号（二）: an 因病致贫 identity covers costs from 90 days before its
  certification (`reach_back_days.<identity>`).
- Zhangye 张政办发〔2022〕90号 四（二）2: an application profile's claim covers costs in the 12
  months before the application date, even before certification
  (`application_window_months.<profile>`), when the identity is held on the application date.
- Pingshun 第三十五条: an identity gained during a stay counts (discharge identity) and one lost
  during a stay counts (admission identity) — `identity_on_stay: admission_or_discharge`.
"""

from __future__ import annotations

from datetime import date, timedelta

from medaid.policy.facts import ClaimFacts, PersonFacts
from medaid.policy.reasons import Reason
from medaid.policy.rules.terms import Terms

# How an identity reached the claim, for the trace.
HELD = "held"
HELD_AT_ADMISSION = "held_at_admission"
REACH_BACK = "reach_back"
APPLICATION_WINDOW = "application_window"


def months_before(day: date, months: int) -> date:
    """The same calendar day `months` earlier (the last day of a shorter month if needed)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for dom in (day.day, 30, 29, 28):
        try:
            return date(year, month, dom)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# (identity code, profile, how it reached the claim, the figures and article of that reach)
Candidate = tuple[str, str, str, tuple]


def candidates(
    terms: Terms, person: PersonFacts, claim: ClaimFacts
) -> tuple[list[Candidate], Reason | None, list[tuple]]:
    """Every (identity, profile) that reaches the claim, at most one per profile.

    Returns (candidates, reason when there are none, trace steps about identities left out).
    """
    found: list[Candidate] = []
    skipped: list[tuple] = []
    missed_lookback = False
    discharged = claim.discharged
    admitted = claim.admitted
    both_ends = terms.stay_rule == "admission_or_discharge" and admitted is not None
    applied = claim.applied
    # 过渡期: after its last day the transition identities have no tier (Pingshun 第十条（二）,
    # Zhangye 二（一）4、5).
    transition_end = terms.transition_end
    ended = (
        terms.transition_identities
        if transition_end is not None and discharged > transition_end
        else None
    )
    for period in person.identities:
        mapped = terms.profile_of.get(period.code)
        if mapped is None:
            skipped.append(("identity_not_covered", period.code, terms.pack_short))
            continue
        if ended and period.code in ended:
            skipped.append(("identity_transition_ended", period.code, transition_end, terms))
            continue
        profile = mapped[0]
        how = ""
        detail: tuple = ()
        missed = False
        if period.holds_on(discharged):
            how = HELD
        elif both_ends and period.holds_on(admitted):
            how = HELD_AT_ADMISSION
            detail = (terms.stay_ref,)
        if how:
            # Zhangye 四（二）2: an application covers the 12 months before it even for an
            # identity held all along; an older cost is outside what the application reaches.
            if applied is not None and terms.application_window:
                window = terms.application_window.get(profile)
                if window is not None:
                    opens = months_before(applied, window[0])
                    if discharged < opens:
                        missed_lookback = True
                        skipped.append(
                            ("identity_window_missed", period.code, applied, opens, window[1])
                        )
                        continue
        else:
            back = terms.reach_back.get(period.code)
            if back is not None and discharged < period.start:
                if period.start - timedelta(days=back[0]) <= discharged:
                    how, detail = REACH_BACK, back
                else:
                    missed = True
            window = terms.application_window.get(profile)
            if not how and window is not None and applied is not None and period.holds_on(applied):
                opens = months_before(applied, window[0])
                if opens <= discharged <= applied:
                    how, detail = APPLICATION_WINDOW, (*window, opens)
                else:
                    missed = True
        if not how:
            if missed:
                missed_lookback = True
                skipped.append(("identity_lookback_missed", period.code, period.start))
            else:
                skipped.append(("identity_not_held", period.code, period.start, period.end))
            continue
        if found and any(c[1] == profile for c in found):
            continue
        found.append((period.code, profile, how, detail))
    if found:
        return found, None, skipped
    if missed_lookback:
        return found, Reason.OUTSIDE_LOOKBACK, skipped
    return found, Reason.NO_IDENTITY, skipped
