"""Deciding a person's claims: the loop the preview, the apps and the bench all run.

Claims are decided in order of discharge (ties in the given order), each against the pack
values in force on its own discharge date; the natural year of discharge owns the claim, and a
`YearState` per year carries the deductible counters, the cap pools used and the tilt so far.

Several identities (就高不就低): each identity that reaches the claim is evaluated on its own,
against the same year state, and the one paying most is applied — never two at once. A tie goes
to the higher class (lower rank in pack.yaml).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from medaid.policy.facts import ClaimFacts, PersonFacts
from medaid.policy.parameters import Pack
from medaid.policy.reasons import REASON_STAGE, Reason
from medaid.policy.results import ClaimDecision
from medaid.policy.rules import benefit, tilt
from medaid.policy.rules.coverage import kind_check, manual_deadlines, referral_check
from medaid.policy.rules.identity import Candidate, candidates
from medaid.policy.rules.terms import CENT, ZERO, Terms

ZERO_CENTS = Decimal("0.00")


class YearState:
    """One person's running totals for one natural year."""

    __slots__ = ("counted", "major_counted", "major_raised", "pool_used", "tilt_left", "tilt_paid")

    def __init__(self) -> None:
        self.counted = ZERO  # self-pay counted toward the deductible
        self.major_counted = ZERO  # Kunming: major-disease self-pay toward its own deductible
        self.major_raised = False  # Zhangye: a major-disease claim raised the cap this year
        self.pool_used: dict[str, Decimal] = {}
        self.tilt_left = ZERO  # self-pay left after the three schemes, for the tilt
        self.tilt_paid = ZERO


class Outcome:
    """One identity's evaluation of one claim.

    Class-level defaults instead of __slots__: most outcomes only ever set two attributes, and
    this is built for every identity of every claim.
    """

    result: benefit.RouteResult | None = None
    alternative: benefit.RouteResult | None = None
    rule = None
    tilt = ZERO
    total = ZERO
    left = ZERO
    tilt_cumulative = ZERO
    tilt_entitled = ZERO
    tilt_qualifies = False

    def __init__(self, candidate: Candidate, reason: Reason | None) -> None:
        self.candidate = candidate
        self.reason = reason


def _evaluate(
    terms: Terms,
    claim: ClaimFacts,
    person: PersonFacts,
    candidate: Candidate,
    state: YearState,
    self_pay: Decimal,
    gate: Reason | None,
) -> Outcome:
    rule = terms.rules.get((candidate[1], claim.kind))
    if rule is None or rule.levels is not None or rule.min_age is not None:
        reason = kind_check(rule, claim, person) or gate
    else:
        reason = gate
    out = Outcome(candidate, reason)
    if reason is not None:
        return out
    out.rule = rule
    level = claim.hospital_level
    used = state.pool_used
    cap = rule.cap
    if rule.major_cap is not None and (state.major_raised or claim.major_disease):
        cap = rule.major_cap  # Zhangye: the major-disease cap replaces, not adds to, the cap
    result = benefit.compute(
        terms,
        claim,
        self_pay,
        rule,
        "general",
        rule.ratios[level],
        rule.deductible,
        state.counted,
        rule.pool,
        cap,
        used.get(rule.pool, ZERO),
    )
    route = rule.major_route
    if route is not None and claim.major_disease:
        # Kunming 四（三）就高: the major-disease route is computed too and the higher applies.
        major = benefit.compute(
            terms,
            claim,
            self_pay,
            rule,
            "major_disease",
            route.ratios[level],
            route.deductible,
            state.major_counted,
            route.pool,
            route.cap,
            used.get(route.pool, ZERO),
        )
        if major.assistance > result.assistance or (
            major.assistance == result.assistance and terms.tie_prefers_major
        ):
            result, major = major, result
        out.alternative = major
    out.result = result

    tilt_terms = terms.tilt
    if rule.tilt and tilt.qualifies(tilt_terms, claim):
        # The in-policy part actually paid, rounded like the claim's assistance (half-up: the
        # Decimal context's default half-even would leave a cent more self-pay on .xx5).
        in_policy = result.in_policy.quantize(CENT, ROUND_HALF_UP)
        if result.assistance < in_policy:
            in_policy = result.assistance
        out.left = self_pay - in_policy
        room = None
        if not tilt_terms.outside_annual_cap and result.cap_left is not None:
            room = result.cap_left - result.assistance
        out.tilt, out.tilt_cumulative, out.tilt_entitled = tilt.increase(
            tilt_terms, out.left, state.tilt_left, state.tilt_paid, room
        )
        out.tilt_qualifies = True
    out.total = result.assistance + out.tilt
    return out


def _pick(terms: Terms, outcomes: list[Outcome]) -> Outcome:
    """就高: the highest total among identities that were computed; if none was, the one that
    got furthest (its reason is the most specific). Ties go to the higher class."""

    def key(o: Outcome) -> tuple:
        rank = -terms.rank(o.candidate[1])
        if o.result is not None:
            return (1, o.total, rank)
        return (0, REASON_STAGE[o.reason], rank)

    return max(outcomes, key=key)


def _commit(terms: Terms, claim: ClaimFacts, state: YearState, out: Outcome, self_pay) -> None:
    result = out.result
    if claim.kind in terms.deductible_kinds:
        state.counted += self_pay
    route = out.rule.major_route
    if route is not None and claim.major_disease and claim.kind in route.kinds:
        # Decision §四(三): the stay's self-pay counts toward the major-disease deductible
        # whichever route paid.
        state.major_counted += self_pay
    if result.assistance:
        state.pool_used[result.pool] = state.pool_used.get(result.pool, ZERO) + result.assistance
    if out.tilt_qualifies:
        state.tilt_left = out.tilt_cumulative
        state.tilt_paid += out.tilt
    if claim.major_disease and out.rule.major_cap is not None:
        state.major_raised = True


def _alternatives_step(terms: Terms, out: Outcome, outcomes: list[Outcome], pack: Pack):
    options = tuple(
        (
            o.candidate[0],
            terms.label(o.candidate[1]),
            o.total if o.result is not None else None,
            o.reason,
        )
        for o in outcomes
    )
    return ("alternatives", options, out.candidate[0], pack.refs.get("highest_benefit", ""))


def _decide_one(
    pack: Pack,
    terms: Terms,
    person: PersonFacts,
    claim: ClaimFacts,
    state: YearState,
    deadline: tuple[date, date, int, str] | None,
) -> ClaimDecision:
    self_pay = claim.policy_self_pay
    steps: list[tuple] = [terms.policy_step, ("self_pay", claim, self_pay)]
    found, reason, skipped = candidates(terms, person, claim)
    if skipped:
        steps.extend(skipped)
    if not found:
        steps.append(("refused", reason))
        return _refused(terms, claim, reason, None, None, steps, self_pay)
    if terms.health_poverty is not None:
        found = _health_poverty(terms, person, claim, found, steps)
        if not found:
            reason = Reason.HEALTH_POVERTY_SCHEME
            steps.append(("refused", reason))
            return _refused(terms, claim, reason, None, None, steps, self_pay)

    gate = referral_check(terms, claim)
    if gate is not None:
        steps.append(("not_referred", terms.referral_ref, sorted(terms.referral_exceptions)))
    elif deadline is None and claim.settlement == "application" and terms.deadline_days:
        if claim.applied is None:
            steps.append(
                ("text", "依申请（手工报销）：未填写申请日期，未核对申报时限", terms.deadline_ref)
            )
    elif deadline is not None:
        applied, last_day, days, ref = deadline
        steps.append(("deadline", applied, last_day, days, ref))
        if applied > last_day:
            gate = Reason.LATE_APPLICATION

    outcomes = [_evaluate(terms, claim, person, c, state, self_pay, gate) for c in found]
    out = outcomes[0] if len(outcomes) == 1 else _pick(terms, outcomes)
    steps.append(("identity", out.candidate, terms, claim))
    if len(outcomes) > 1:
        steps.append(_alternatives_step(terms, out, outcomes, pack))
    code, profile = out.candidate[0], out.candidate[1]
    result = out.result
    if result is None:
        if out.reason in (Reason.KIND_NOT_COVERED, Reason.HOSPITAL_LEVEL_NOT_COVERED):
            steps.append(
                ("kind_refused", claim.kind, claim.hospital_level, terms.covered_kinds[profile])
            )
        tilt_terms = terms.tilt
        if (
            out.reason is Reason.KIND_NOT_COVERED
            and gate is None
            and tilt_terms is not None
            and tilt_terms.counts_uncovered_kinds
            and claim.kind in tilt_terms.kinds
            and profile in tilt_terms.profiles
            and tilt.qualifies(tilt_terms, claim)
        ):
            return _tilt_only(terms, claim, state, code, profile, steps, self_pay)
        steps.append(("refused", out.reason))
        return _refused(terms, claim, out.reason, code, profile, steps, self_pay)

    _commit(terms, claim, state, out, self_pay)
    steps.append(("kind", claim.kind, out.rule.kinds_ref, claim.hospital_level))
    if out.alternative is not None:
        steps.append(
            (
                "route_choice",
                result.route,
                result.assistance,
                out.alternative.assistance,
                pack.refs.get("major_route", ""),
            )
        )
    # One step for the route; trace.py expands it into the deductible, ratio, top-up,
    # out-of-catalogue, cap and rounding lines only when someone reads the trace.
    steps.append(("route", result, self_pay, terms))
    if out.tilt_qualifies:
        steps.append(
            (
                "tilt",
                terms.tilt,
                out.left,
                out.tilt_cumulative,
                out.tilt_entitled,
                state.tilt_paid - out.tilt,
                out.tilt,
            )
        )
    elif out.rule.tilt:
        steps.append(("tilt_not_qualified", terms.tilt))
    steps.append(("total", result.assistance, out.tilt))

    eligible = True
    reason = None
    if out.total == 0 and result.raw > 0 and result.cap_left is not None and result.cap_left == 0:
        eligible, reason = False, Reason.CAP_EXHAUSTED
        steps.append(("refused", reason))
    # Positional, in ClaimDecision's field order: keyword construction costs 0.5 µs a claim.
    return ClaimDecision(
        claim.ref,
        eligible,
        reason,
        code,
        profile,
        claim.discharged.year,
        self_pay,
        result.deductible_applied,
        result.ratio.value,
        result.assistance,
        out.tilt,
        terms.pack_code,
        terms.version_iso,
        terms.digest,
        result.pool,
        result.route,
        tuple(steps),
    )


def _health_poverty(terms: Terms, person: PersonFacts, claim: ClaimFacts, found, steps):
    """Kunming 四（四）: someone who also holds a 建档立卡 identity keeps only the identities
    exempt from it (特困供养人员); the others get the 健康扶贫 treatment instead."""
    rule = terms.health_poverty
    day = claim.discharged
    if not any(person.holds(code, day) for code in rule.identities):
        return found
    kept = [c for c in found if c[0] in rule.exempt]
    dropped = [c[0] for c in found if c[0] not in rule.exempt]
    if dropped:
        steps.append(("health_poverty", tuple(dropped), tuple(sorted(rule.exempt)), rule.ref))
    return kept


def _tilt_only(terms, claim, state, code, profile, steps, self_pay) -> ClaimDecision:
    """Pingshun 第二十条 (`tilt.counts_uncovered_kinds`): a kind the profile is not assisted for
    still counts its whole self-pay toward the year's tilt, and receives the increase it makes."""
    tilt_terms = terms.tilt
    amount, cumulative, entitled = tilt.increase(
        tilt_terms, self_pay, state.tilt_left, state.tilt_paid, None
    )
    paid_before = state.tilt_paid
    state.tilt_left = cumulative
    state.tilt_paid += amount
    steps.append(("tilt_uncovered", tilt_terms.uncovered_ref))
    steps.append(("tilt", tilt_terms, self_pay, cumulative, entitled, paid_before, amount))
    if not amount:
        steps.append(("refused", Reason.KIND_NOT_COVERED))
        return _refused(terms, claim, Reason.KIND_NOT_COVERED, code, profile, steps, self_pay)
    steps.append(("total", ZERO_CENTS, amount))
    return ClaimDecision(
        ref=claim.ref,
        eligible=True,
        reason=None,
        identity=code,
        profile=profile,
        year=claim.discharged.year,
        policy_self_pay=self_pay,
        deductible_applied=ZERO_CENTS,
        ratio=None,
        assistance=ZERO_CENTS,
        tilted_assistance=amount,
        policy=terms.pack_code,
        policy_version=terms.version_iso,
        parameters_hash=terms.digest,
        steps=tuple(steps),
    )


def _refused(terms, claim, reason, code, profile, steps, self_pay) -> ClaimDecision:
    return ClaimDecision(
        ref=claim.ref,
        eligible=False,
        reason=reason,
        identity=code,
        profile=profile,
        year=claim.discharged.year,
        policy_self_pay=self_pay,
        deductible_applied=ZERO_CENTS,
        ratio=None,
        assistance=ZERO_CENTS,
        tilted_assistance=ZERO_CENTS,
        policy=terms.pack_code,
        policy_version=terms.version_iso,
        parameters_hash=terms.digest,
        steps=tuple(steps),
    )


def decide_claims(
    pack: Pack,
    person: PersonFacts,
    claims: Sequence[ClaimFacts],
    overrides: tuple[tuple[str, str], ...] = (),
    states: dict[int, YearState] | None = None,
) -> list[ClaimDecision]:
    """Decide `claims` for one person; the result is in the order the claims were given.

    `states` lets a caller carry year totals across calls (e.g. claims already decided and
    stored); it is updated in place.
    """
    days = [claim.discharged for claim in claims]
    order = sorted(range(len(claims)), key=days.__getitem__)  # stable: ties keep given order
    deadlines = manual_deadlines(lambda day: pack.terms(day, overrides), claims)
    years = {} if states is None else states
    decisions: list[ClaimDecision | None] = [None] * len(claims)
    terms = None
    expires = pack.expires
    for index in order:
        claim = claims[index]
        day = days[index]
        # A person's claims mostly fall in one date-range: look the terms up only on a change.
        if terms is None or day < terms.start or (terms.end is not None and day >= terms.end):
            terms = pack.terms(day, overrides)
        if expires is not None and day > expires:
            # Never decided by a stale pack: the caller must send it to the pack in force.
            steps = [terms.policy_step, ("expired", day, expires, pack.expires_ref)]
            steps.append(("refused", Reason.DATE_AFTER_POLICY))
            decisions[index] = _refused(
                terms, claim, Reason.DATE_AFTER_POLICY, None, None, steps, claim.policy_self_pay
            )
            continue
        state = years.get(day.year)
        if state is None:
            state = years[day.year] = YearState()
        decisions[index] = _decide_one(pack, terms, person, claim, state, deadlines.get(index))
    return decisions  # type: ignore[return-value]
