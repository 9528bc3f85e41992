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

from medaid.policy.facts import (
    Case,
    CertificationFacts,
    ClaimFacts,
    IdentityPeriod,
    PersonFacts,
    PremiumRequest,
)
from medaid.policy.parameters import Pack, PackError, available_policies, load_pack
from medaid.policy.results import (
    CaseResult,
    CertificationResult,
    ClaimDecision,
    MonitoringThresholds,
    PremiumDecision,
    Reason,
)
from medaid.policy.rules import certification as _certification
from medaid.policy.rules import funds as _funds
from medaid.policy.rules import monitoring as _monitoring
from medaid.policy.rules import premium as _premium
from medaid.policy.rules.certification import RuleNotInPack
from medaid.policy.rules.claims import YearState, decide_claims
from medaid.policy.rules.funds import OverspendSplit

__all__ = [
    "Case",
    "CaseResult",
    "CertificationFacts",
    "CertificationResult",
    "ClaimDecision",
    "ClaimFacts",
    "IdentityPeriod",
    "MonitoringThresholds",
    "OverspendSplit",
    "Pack",
    "PackError",
    "PersonFacts",
    "PremiumDecision",
    "PremiumRequest",
    "Reason",
    "RuleNotInPack",
    "YearState",
    "available_policies",
    "certify_illness_poverty",
    "decide",
    "decide_premium",
    "load_pack",
    "monitoring_thresholds",
    "overspend_split",
]


def decide(case: Case, *, states: dict[int, YearState] | None = None) -> CaseResult:
    """Decide every claim of the case (and its premium request, if any).

    `states` carries a person's year totals from claims decided earlier (keyed by year); it is
    updated in place. Raises KeyError for an unknown policy and LookupError for a date before
    the pack's first version — the preview contract refuses both before calling this.
    """
    pack = load_pack(case.policy)
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
) -> PremiumDecision:
    return _premium.decide_premium(
        load_pack(policy), person, request, Case.overrides(dict(parameters or {}))
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


def overspend_split(
    policy: str,
    on: date,
    *,
    overspend: Decimal,
    budget: Decimal,
    city_surplus: Decimal,
    parameters: Mapping[str, str] | None = None,
) -> OverspendSplit:
    """Baoshan 第二十一条: the city's and the county's shares of a county's overspend."""
    return _funds.overspend_split(
        load_pack(policy),
        on,
        overspend=overspend,
        budget=budget,
        city_surplus=city_surplus,
        overrides=Case.overrides(dict(parameters or {})),
    )
