"""Properties that must hold for any person and any claims, in every pack."""

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medaid.policy import Case, ClaimFacts, IdentityPeriod, PersonFacts, decide, load_pack
from medaid.policy.facts import CLAIM_KINDS, FEE_CLASSES

CENT = Decimal("0.01")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Years each pack's rules are in force for (Pingshun's five years end in January 2028).
YEARS = {
    "yunnan": (2022, 2024),
    "baoshan": (2023, 2024),
    "kunming": (2021, 2022),
    "pingshun": (2023, 2024),
    "zhangye": (2022, 2024),
}
KINDS = tuple(sorted(CLAIM_KINDS))
EXTRA_IDENTITIES = ("severe_disability", "border_resident", "deep_hardship_worker")


def identities_of(policy: str) -> list[str]:
    pack = load_pack(policy)
    return sorted(n.split(".", 1)[1] for n in pack.parameters if n.startswith("identity."))


money = st.integers(min_value=0, max_value=15_000_000).map(lambda c: Decimal(c) / 100)
share = st.integers(min_value=0, max_value=100).map(lambda p: Decimal(p) / 100)


@st.composite
def claim_facts(draw, policy: str, ref: str, *, kinds=KINDS, major=True):
    first = load_pack(policy).first_day
    low, high = YEARS[policy]
    start = max(first, date(low, 1, 1))
    discharged = start + timedelta(days=draw(st.integers(0, (date(high, 12, 31) - start).days)))
    in_policy = draw(money)
    insurance = (in_policy * draw(share)).quantize(CENT)
    critical = ((in_policy - insurance) * draw(share)).quantize(CENT)
    settlement = draw(st.sampled_from(("direct", "application")))
    return ClaimFacts(
        ref=ref,
        kind=draw(st.sampled_from(kinds)),
        discharged=discharged,
        admitted=discharged - timedelta(days=draw(st.integers(0, 30))),
        hospital_level=draw(st.integers(1, 3)),
        hospital_fee_class=draw(st.sampled_from((None, *sorted(FEE_CLASSES)))),
        in_area=draw(st.booleans()),
        in_province=draw(st.booleans()),
        referred=draw(st.sampled_from((True, True, True, False))),
        follow_up=draw(st.booleans()),
        emergency=draw(st.booleans()),
        major_disease=major and draw(st.booleans()),
        settlement=settlement,
        applied=discharged + timedelta(days=draw(st.integers(0, 400)))
        if settlement == "application"
        else None,
        in_policy_cost=in_policy,
        out_of_catalog_cost=draw(money) / 4,
        basic_insurance_paid=insurance,
        critical_illness_paid=critical,
    )


@st.composite
def person_facts(draw, policy: str, codes=None):
    codes = codes or identities_of(policy) + list(EXTRA_IDENTITIES)
    low, high = YEARS[policy]
    periods = []
    for _ in range(draw(st.integers(1, 3))):
        start = date(low - 1, 1, 1) + timedelta(days=draw(st.integers(0, 365 * (high - low + 2))))
        end = None if draw(st.booleans()) else start + timedelta(days=draw(st.integers(0, 500)))
        periods.append(IdentityPeriod(draw(st.sampled_from(codes)), start, end))
    birth = date(1930, 1, 1) + timedelta(days=draw(st.integers(0, 365 * 80)))
    return PersonFacts(tuple(periods), birth)


@st.composite
def cases(draw, policies=tuple(YEARS)):
    policy = draw(st.sampled_from(policies))
    n = draw(st.integers(1, 6))
    claims = tuple(draw(claim_facts(policy, str(i))) for i in range(n))
    return Case(policy=policy, person=draw(person_facts(policy)), claims=claims)


def ooc_share(policy: str) -> Decimal:
    """The most any pack assists of out-of-catalogue cost (Pingshun 第二十一条 85 %)."""
    return Decimal("0.85") if policy == "pingshun" else Decimal("0")


@SETTINGS
@given(cases())
def test_assistance_is_never_negative_nor_above_what_the_rules_allow(case):
    for claim, decision in zip(case.claims, decide(case).claims, strict=True):
        assert decision.assistance >= 0 and decision.tilted_assistance >= 0
        # In-policy assistance plus tilt never exceed the in-policy self-pay; only Pingshun's
        # 85 % of the controlled out-of-catalogue cost may come on top.
        bound = claim.policy_self_pay + claim.out_of_catalog_cost * ooc_share(case.policy)
        assert decision.total <= bound + CENT, (claim, decision)
        if not decision.eligible:
            assert decision.total == 0 and decision.reason is not None


@SETTINGS
@given(cases())
def test_no_cap_pool_is_exceeded_within_a_year(case):
    pack = load_pack(case.policy)
    used: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    caps: dict[tuple[int, str], Decimal | None] = {}
    tilt: dict[int, Decimal] = defaultdict(Decimal)
    for claim, decision in zip(case.claims, decide(case).claims, strict=True):
        if decision.pool is None:
            continue
        terms = pack.terms(claim.discharged, case.parameters)
        rule = terms.rules[(decision.profile, claim.kind)]
        if decision.route == "major_disease":
            possible = [rule.major_route.cap]
        else:
            possible = [rule.cap, rule.major_cap]
        amounts = [c.value for c in possible if c is not None]
        key = (decision.year, decision.pool)
        if rule.cap is None and decision.route == "general":
            caps[key] = None  # an uncapped profile used this pool
        elif caps.get(key, Decimal(0)) is not None:
            caps[key] = max([caps.get(key, Decimal(0)), *amounts])
        used[key] += decision.assistance
        tilt[decision.year] += decision.tilted_assistance
        if terms.tilt is not None and terms.tilt.cap is not None:
            assert tilt[decision.year] <= terms.tilt.cap.value
    for key, total in used.items():
        if caps[key] is not None:
            assert total <= caps[key], (key, total, caps[key])


def uniform_split_cases():
    """One stay, and the same stay as two same-day bills at the same hospital. Ratios are
    uniform: no route choice (Kunming major disease), no per-stay top-up (Pingshun fanpin) and no
    out-of-catalogue control, whose limits are per stay."""

    @st.composite
    def build(draw):
        policy = draw(st.sampled_from(tuple(YEARS)))
        codes = [c for c in identities_of(policy) if not (policy == "pingshun" and c == "fanpin")]
        person = draw(person_facts(policy, codes))
        earlier = tuple(
            replace(
                draw(claim_facts(policy, f"e{i}", major=policy != "kunming")),
                out_of_catalog_cost=Decimal(0),
            )
            for i in range(draw(st.integers(0, 3)))
        )
        stay = replace(
            draw(claim_facts(policy, "s", major=policy != "kunming")),
            out_of_catalog_cost=Decimal(0),
            settlement="direct",
            applied=None,
        )
        part = draw(share)
        first = replace(
            stay,
            ref="s1",
            in_policy_cost=(stay.in_policy_cost * part).quantize(CENT),
            basic_insurance_paid=(stay.basic_insurance_paid * part).quantize(CENT),
            critical_illness_paid=(stay.critical_illness_paid * part).quantize(CENT),
        )
        second = replace(
            stay,
            ref="s2",
            in_policy_cost=stay.in_policy_cost - first.in_policy_cost,
            basic_insurance_paid=stay.basic_insurance_paid - first.basic_insurance_paid,
            critical_illness_paid=stay.critical_illness_paid - first.critical_illness_paid,
        )
        return policy, person, earlier, stay, first, second

    return build()


@SETTINGS
@given(uniform_split_cases())
def test_splitting_a_stay_in_two_does_not_change_the_years_total(drawn):
    policy, person, earlier, stay, first, second = drawn
    whole = decide(Case(policy=policy, person=person, claims=(*earlier, stay)))
    split = decide(Case(policy=policy, person=person, claims=(*earlier, first, second)))
    year = stay.discharged.year

    def year_total(result):
        return sum((c.total for c in result.claims if c.year == year), Decimal(0))

    # Each bill is rounded to the cent on its own, and the tilt follows the rounded amounts:
    # at most a few cents apart, never more.
    assert abs(year_total(whole) - year_total(split)) <= Decimal("0.03")


@SETTINGS
@given(cases(), st.data())
def test_more_self_pay_never_means_less_assistance(case, data):
    index = data.draw(st.integers(0, len(case.claims) - 1))
    more = data.draw(money.filter(lambda m: m > 0))
    claims = list(case.claims)
    claims[index] = replace(claims[index], in_policy_cost=claims[index].in_policy_cost + more)
    before = decide(case)
    after = decide(replace(case, claims=tuple(claims)))
    assert after.claims[index].total >= before.claims[index].total
    assert after.total >= before.total
