"""Whether a draft can decide a case differently from the rules in force.

A replay decides every person's year twice, under the rules in force and under a draft. Most
drafts change a few figures of one or two profiles (低保's cap, 低保's inpatient ratio), and a
person none of whose identities maps to such a profile is decided exactly as before: deciding
them again costs a second pass of the engine and finds nothing. `may_differ` tells the two
apart by comparing the compiled terms of both packs on each claim's date, so the answer is
the engine's own (what `decide` would read), not a guess from parameter names.

It errs one way only: anything it cannot show equal (another pack, other figures, a global
term such as the deductible kinds or the tilt changed) counts as "may differ".
"""

from __future__ import annotations

from dataclasses import fields

from medaid.policy.facts import Case
from medaid.policy.loader import amend_pack
from medaid.policy.rules.terms import Terms

# What a date-range's terms carry besides the rules that decide: the range's own bounds, the
# digest and the trace's heading (the draft's differ by construction and decide nothing), and
# the snapshot they were compiled from (compared through what it compiled to).
_NOT_DECIDING = frozenset({"start", "end", "digest", "policy_step", "snapshot", "rules"})
_GLOBAL = tuple(f.name for f in fields(Terms) if f.name not in _NOT_DECIDING)

# (id(current terms), id(draft terms)) → (both terms, kept alive so no id is reused; the
# profiles whose rules differ, or None when a global term differs). Terms are cached by their
# packs for the life of the process, so this stays as small as the packs' date-ranges.
_DIFFS: dict[tuple[int, int], tuple[Terms, Terms, frozenset[str] | None]] = {}


def terms_difference(current: Terms, draft: Terms) -> frozenset[str] | None:
    """The profiles whose rules differ between two date-ranges' terms; None when anything
    else that decides differs (then every case may differ)."""
    key = (id(current), id(draft))
    found = _DIFFS.get(key)
    if found is not None:
        return found[2]
    if current is draft:
        result: frozenset[str] | None = frozenset()
    elif any(getattr(current, name) != getattr(draft, name) for name in _GLOBAL):
        result = None
    else:
        a, b = current.rules, draft.rules
        result = frozenset(k[0] for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    _DIFFS[key] = (current, draft, result)
    return result


def may_differ(current: Case, draft: Case) -> bool:
    """False only when `draft` is `current` under amendments that cannot change any of its
    decisions: same pack, figures, person and claims, and on every claim's date the two packs'
    terms differ at most in the rules of profiles none of the person's identities maps to."""
    if (
        current.policy != draft.policy
        or current.parameters != draft.parameters
        or current.person != draft.person
        or current.claims != draft.claims
        or current.premium is not None
        or draft.premium is not None
    ):
        return True
    if current.amendments == draft.amendments:
        return False
    try:
        base = amend_pack(current.policy, current.amendments)
        other = amend_pack(draft.policy, draft.amendments)
    except (LookupError, ValueError):  # an unknown pack or a refused change: `decide` says so
        return True
    overrides = current.parameters
    codes = {period.code for period in current.person.identities}
    last: tuple[Terms, Terms] | None = None
    for claim in current.claims:
        day = claim.discharged
        if last is not None and _within(last[0], day) and _within(last[1], day):
            continue
        try:
            last = (base.terms(day, overrides), other.terms(day, overrides))
        except (LookupError, ValueError):  # before the pack's first day: `decide` refuses it
            return True
        changed = terms_difference(*last)
        if changed is None:
            return True
        if changed:
            # profile_of is one of the global terms, equal in both packs on this date.
            profile_of = last[0].profile_of
            if any(profile_of[c][0] in changed for c in codes if c in profile_of):
                return True
    return False


def _within(terms: Terms, day) -> bool:
    return terms.start <= day and (terms.end is None or day < terms.end)
