"""Frozen facts the engine decides on.

The apps build these from rows (selectors); the preview contract builds them from JSON
(`contract.parse_case`). The engine never sees a row, a request or a settings module.
Money is always `Decimal` in yuan; dates are `datetime.date`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from medaid.policy.glossary import CLAIM_KINDS, FEE_CLASSES, IDENTITY_CODES, SETTLEMENTS
from medaid.policy.parameters import Amendment

ZERO = Decimal("0")

# The canonical codes live in glossary.py (one source); re-exported here for the facts' users.
__all__ = [
    "CLAIM_KINDS",
    "FEE_CLASSES",
    "IDENTITY_CODES",
    "SETTLEMENTS",
    "ZERO",
    "Case",
    "CertificationFacts",
    "ClaimFacts",
    "IdentityPeriod",
    "PersonFacts",
    "PremiumRequest",
]


@dataclass(frozen=True, slots=True)
class IdentityPeriod:
    """One identity held over `[start, end]`; `end` is the last day held, None while open."""

    code: str
    start: date
    end: date | None = None

    def holds_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class PersonFacts:
    identities: tuple[IdentityPeriod, ...] = ()
    birth_date: date | None = None

    def holds(self, code: str, day: date) -> bool:
        return any(p.code == code and p.holds_on(day) for p in self.identities)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimFacts:
    """One stay or outpatient visit, as settled by basic and critical-illness insurance.

    `admitted` None means the same day as `discharged` (outpatient visits give the visit date as
    `discharged`). `total_cost` None means `in_policy_cost + out_of_catalog_cost`.
    """

    ref: str
    kind: str
    discharged: date
    hospital_level: int
    in_policy_cost: Decimal
    admitted: date | None = None
    hospital_fee_class: str | None = None
    in_area: bool = True
    in_province: bool = True
    referred: bool = True
    follow_up: bool = False
    emergency: bool = False
    major_disease: bool = False
    chronic_category: int | None = None
    settlement: str = "direct"
    applied: date | None = None
    out_of_catalog_cost: Decimal = ZERO
    total_cost: Decimal | None = None
    basic_insurance_paid: Decimal = ZERO
    critical_illness_paid: Decimal = ZERO
    other_paid: Decimal = ZERO

    @property
    def admission_date(self) -> date:
        return self.admitted or self.discharged

    @property
    def billed_total(self) -> Decimal:
        if self.total_cost is not None:
            return self.total_cost
        return self.in_policy_cost + self.out_of_catalog_cost

    @property
    def policy_self_pay(self) -> Decimal:
        """政策范围内个人自付: the in-policy amount left after every insurance."""
        return (
            self.in_policy_cost
            - self.basic_insurance_paid
            - self.critical_illness_paid
            - self.other_paid
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PremiumRequest:
    """The premium subsidy (资助参保) for one contribution year, decided on date `on`.

    `already_paid` says the person paid their own contribution before being subsidised; whether
    that is refunded is the pack's `premium.refund` rule. `scheme` is "resident" or "employee"
    (employees' insurance is not subsidised where a pack says so).
    """

    year: int
    individual_contribution: Decimal
    on: date
    already_paid: bool = False
    scheme: str = "resident"


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """Everything one decision needs: a person, their claims and optionally a premium request.

    `parameters` are per-case overrides of pack parameters by name (decimal strings), e.g.
    `{"per_capita_disposable_income": "29178"}`; `annual_cap` is always in yuan. They hold
    from the pack's first day; `amendments` are dated (see `parameters.Amendment`).
    """

    policy: str
    person: PersonFacts
    claims: tuple[ClaimFacts, ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    premium: PremiumRequest | None = None
    #: Dated parameter changes laid over the pack (approved ones, or a draft being replayed).
    amendments: tuple[Amendment, ...] = ()

    @staticmethod
    def overrides(mapping: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
        """Normalise an overrides mapping into the hashable form `Case.parameters` holds."""
        return tuple(sorted((mapping or {}).items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificationFacts:
    """The facts Yunnan measure (二) tests before 民政 certifies an 因病致贫重病患者.

    Income and the urban 低保 standard must be in the same unit (both monthly or both yearly);
    financial assets are per household member.
    """

    application_date: date
    insured_in_province: bool
    personal_in_catalog_cost_90d: Decimal
    household_income_per_capita: Decimal
    local_urban_dibao_standard: Decimal
    financial_assets_per_capita: Decimal
