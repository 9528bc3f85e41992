"""`policy.may_differ`: which cases a draft cannot change, so a replay decides them once.

The claim it makes is checked against the engine itself: wherever it says "cannot differ",
deciding the case under the draft gives the same totals, claim by claim."""

from dataclasses import replace
from datetime import date

import pytest

from medaid import policy
from medaid.policy.contract import parse_case
from tests.policy.helpers import case, claim, identity

CAP = policy.Amendment(
    parameter="annual_cap.all.dibao",
    start=date(2024, 1, 1),
    value="30000",
    ref="草案：低保年度救助限额",
    key="草案1",
)
RATIO = policy.Amendment(
    parameter="ratio.dibao.inpatient",
    start=date(2024, 7, 1),
    value="0.75",
    ref="草案：低保住院救助比例",
    key="草案2",
)


def _case(code: str, *days: str, cost: str = "60000.00"):
    claims = [claim(f"c{n}", "inpatient", day, cost) for n, day in enumerate(days)]
    return parse_case(case("pingshun", [identity(code, "2023-01-07")], claims))


def _draft(current, *amendments):
    return replace(current, amendments=(*current.amendments, *amendments))


def _totals(c):
    return [d.total for d in policy.decide(c).claims]


@pytest.mark.parametrize("code", ["tekun", "fanpin", "dibao_edge", "rural_monitored"])
def test_a_draft_of_another_profile_cannot_change_the_case(code):
    current = _case(code, "2024-03-02", "2024-08-09", "2024-11-20")
    draft = _draft(current, CAP, RATIO)
    assert not policy.may_differ(current, draft)
    assert _totals(current) == _totals(draft)


@pytest.mark.parametrize("code", ["dibao", "dibao_full", "dibao_partial"])
def test_a_draft_of_the_persons_profile_may(code):
    """低保 and the identities the pack maps to the 低保 profile are reached."""
    current = _case(code, "2024-03-02", "2024-08-09", "2024-11-20")
    assert policy.may_differ(current, _draft(current, CAP))


def test_a_change_dated_after_every_claim_cannot_change_the_case():
    """The ratio holds from 1 July: a 低保 year discharged before it is decided as before."""
    current = _case("dibao", "2024-02-02", "2024-06-30")
    assert not policy.may_differ(current, _draft(current, RATIO))
    later = _case("dibao", "2024-02-02", "2024-07-01", cost="8000.00")
    assert policy.may_differ(later, _draft(later, RATIO))
    assert _totals(later) != _totals(_draft(later, RATIO))


def test_a_global_term_reaches_everyone():
    """The base income sets every profile's deductible: no case is left out (from 1 March:
    the pack's own base of 1 February 2024 would replace a change dated before it)."""
    base = policy.Amendment(
        parameter="per_capita_disposable_income",
        start=date(2024, 3, 1),
        value="40000",
        ref="草案：全省居民人均可支配收入",
        key="草案3",
    )
    current = _case("tekun", "2024-03-02")
    assert policy.may_differ(current, _draft(current, base))


def test_anything_but_the_amendments_may_differ():
    current = _case("tekun", "2024-03-02")
    assert not policy.may_differ(current, current)
    assert policy.may_differ(current, replace(current, policy="yunnan"))
    assert policy.may_differ(current, replace(current, parameters=(("annual_cap", "1000"),)))
    other = _case("tekun", "2024-03-03")
    assert policy.may_differ(current, replace(other, amendments=(CAP,)))


def test_a_claim_before_the_pack_is_left_to_the_engine():
    current = _case("tekun", "2024-03-02")
    early = replace(current.claims[0], discharged=date(2001, 3, 2), admitted=None)
    current = replace(current, claims=(early,))
    assert policy.may_differ(current, _draft(current, CAP))


@pytest.mark.parametrize("code", ["tekun", "dibao", "dibao_edge", "fanpin", "illness_poverty"])
@pytest.mark.parametrize("amendment", [CAP, RATIO])
def test_whenever_it_says_no_the_engine_agrees(code, amendment):
    for days in (("2024-01-05",), ("2024-05-05", "2024-09-09"), ("2024-06-30", "2024-12-31")):
        current = _case(code, *days, cost="30000.00")
        draft = _draft(current, amendment)
        if not policy.may_differ(current, draft):
            assert _totals(current) == _totals(draft)
