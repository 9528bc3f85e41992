"""medaid's policy engine: pure Python, no Django, no database.

    from medaid.policy import decide, Case, PersonFacts, IdentityPeriod, ClaimFacts
    result = decide(Case(policy="pingshun", person=..., claims=(...)))
    result.claims[0].total, result.claims[0].trace

The apps build frozen facts (`facts.py`) from rows and store the decisions (`results.py`) with
their `policy_version`, `parameters_hash` and `trace`. The preview contract is in `contract.py`.
Policy packs (`packs/<code>/`) are data; `rules/` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from medaid.policy.errors import PackError, RuleNotInPack
from medaid.policy.facts import (
    Case,
    CertificationFacts,
    ClaimFacts,
    IdentityPeriod,
    PersonFacts,
    PremiumRequest,
)
from medaid.policy.loader import amend_pack, available_policies, load_pack
from medaid.policy.parameters import Amendment, Pack
from medaid.policy.reach import may_differ
from medaid.policy.reasons import Reason
from medaid.policy.results import (
    CaseResult,
    CertificationResult,
    ClaimDecision,
    MonitoringThresholds,
    PremiumDecision,
)
from medaid.policy.rules import certification as _certification
from medaid.policy.rules import funds as _funds
from medaid.policy.rules import monitoring as _monitoring
from medaid.policy.rules import premium as _premium
from medaid.policy.rules.claims import YearState, decide_claims
from medaid.policy.rules.funds import DeadlineRule, FundingShares, OverspendSplit, PaidFrom

__all__ = [
    "Amendment",
    "Case",
    "CaseResult",
    "CertificationFacts",
    "CertificationResult",
    "ClaimDecision",
    "ClaimFacts",
    "DeadlineRule",
    "FundingShares",
    "IdentityPeriod",
    "MonitoringThresholds",
    "OverspendSplit",
    "Pack",
    "PackError",
    "PaidFrom",
    "PersonFacts",
    "PremiumDecision",
    "PremiumRequest",
    "Reason",
    "RuleNotInPack",
    "YearState",
    "amend_pack",
    "available_policies",
    "certify_illness_poverty",
    "decide",
    "decide_premium",
    "expenditure_year_end_return",
    "fund_deadlines",
    "funding_shares",
    "load_pack",
    "may_differ",
    "monitoring_thresholds",
    "overspend_split",
    "settlement_paid_from",
]


def decide(case: Case, *, states: dict[int, YearState] | None = None) -> CaseResult:
    """Decide every claim of the case (and its premium request, if any).

    `states` carries a person's year totals from claims decided earlier (keyed by year); it is
    updated in place. Raises KeyError for an unknown policy and LookupError for a date before
    the pack's first version — the preview contract refuses both before calling this.
    """
    pack = amend_pack(case.policy, case.amendments)
    claims = tuple(decide_claims(pack, case.person, case.claims, case.parameters, states))
    premium = None
    if case.premium is not None:
        premium = _premium.decide_premium(pack, case.person, case.premium, case.parameters)
    if claims:
        # the version in force on the latest discharge, as its decision already says
        version = max(claims, key=lambda c: c.policy_version).policy_version
    elif premium is not None:
        version = premium.policy_version
    else:
        version = pack.versions[-1].start.isoformat()
    return CaseResult(policy=pack.code, policy_version=version, claims=claims, premium=premium)


def decide_premium(
    policy: str,
    person: PersonFacts,
    request: PremiumRequest,
    *,
    parameters: Mapping[str, str] | None = None,
    amendments: tuple[Amendment, ...] = (),
) -> PremiumDecision:
    return _premium.decide_premium(
        amend_pack(policy, amendments), person, request, Case.overrides(dict(parameters or {}))
    )


def certify_illness_poverty(
    policy: str, facts: CertificationFacts, *, parameters: Mapping[str, str] | None = None
) -> CertificationResult:
    """Yunnan （二）'s 因病致贫 test; RuleNotInPack where the pack has no such rule."""
    return _certification.certify_illness_poverty(
        load_pack(policy), facts, Case.overrides(dict(parameters or {}))
    )


def monitoring_thresholds(
    policy: str, on: date, *, parameters: Mapping[str, str] | None = None
) -> MonitoringThresholds | None:
    """The early-warning thresholds in force on `on`; None where the pack has none."""
    return _monitoring.monitoring_thresholds(
        load_pack(policy), on, Case.overrides(dict(parameters or {}))
    )


def fund_deadlines(policy: str, on: date) -> dict[str, DeadlineRule]:
    """The statutory fund deadlines in force on `on`, by kind (`glossary.FUND_DEADLINE_CHOICES`);
    empty where the pack sets none. `DeadlineRule.due_on` computes a due date."""
    return dict(_funds.fund_terms(load_pack(policy), on).deadlines)


def expenditure_year_end_return(policy: str, on: date) -> DeadlineRule | None:
    """Kunming 六（二）2: the expenditure account's interest and year-end balance go back to
    the fiscal special account by the rule's date; None where the pack has no such rule."""
    return _funds.fund_terms(load_pack(policy), on).deadlines.get("year_end_return")


def settlement_paid_from(policy: str, on: date) -> PaidFrom:
    """The account the monthly settlement pays from (`expenditure`, or `fiscal` where finance
    pays straight from the special account, Pingshun 第二十六条). RuleNotInPack if unset."""
    return _funds.settlement_paid_from(load_pack(policy), on)


def funding_shares(policy: str, on: date, tier: int) -> FundingShares | None:
    """The city's and county's shares for a county funding tier (Kunming 六（三））; None where
    the pack has no such tier."""
    return _funds.fund_terms(load_pack(policy), on).tiers.get(tier)


def overspend_split(
    policy: str,
    on: date,
    *,
    budget: Decimal,
    actual: Decimal,
    city_surplus: Decimal = Decimal("0.00"),
    county_surplus: Decimal = Decimal("0.00"),
    tier: int | None = None,
    parameters: Mapping[str, str] | None = None,
) -> OverspendSplit:
    """A county's year closed against its budget: an underspend carried forward, an overspend
    shared as the pack says (Baoshan 第二十一条 bands, Pingshun 第二十七条 surplus then county
    finance, Kunming 六（三）（四） tier shares), or left unallocated where the pack is silent.
    `city_surplus` / `county_surplus`: what each level's accumulated surplus still holds;
    `tier`: the county's funding tier (Kunming)."""
    return _funds.overspend_split(
        load_pack(policy),
        on,
        budget=budget,
        actual=actual,
        city_surplus=city_surplus,
        county_surplus=county_surplus,
        tier=tier,
        overrides=Case.overrides(dict(parameters or {})),
    )
