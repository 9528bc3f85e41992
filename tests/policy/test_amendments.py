"""Dated parameter changes laid over a pack (issue #16 part 1): the engine side.

Pingshun 第四十七条: a newly published base holds from its own date on; a claim before that date
is decided on the YAML value, one after it on the change, and the trace cites the document.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from medaid import policy
from medaid.policy.contract import parse_case
from medaid.policy.errors import OverrideError
from tests.policy.helpers import case, claim, identity

BASE_2024 = "平顺细则 第四十七条；山西省2024年全省居民人均可支配收入"


def _case(discharged: str, **amend):
    data = case(
        "pingshun",
        [identity("dibao_edge", "2023-01-07")],
        [claim("a", "inpatient", discharged, "40000.00")],
    )
    return parse_case(data)


def _change(
    value="32000", start="2025-02-01", parameter="per_capita_disposable_income", key="变更1"
):
    return policy.Amendment(
        parameter=parameter, start=date.fromisoformat(start), value=value, ref=BASE_2024, key=key
    )


def test_a_change_holds_from_its_date_only():
    """低保边缘 10 % of the base (第十四条（五）): the YAML base 30924 from 2024-02-01 gives
    3092.40 before the change; the change to 32000 from 2025-02-01 gives 3200.00 after it."""
    change = (_change(),)
    before = policy.decide(replace(_case("2025-01-31"), amendments=change)).claims[0]
    after = policy.decide(replace(_case("2025-02-01"), amendments=change)).claims[0]
    assert before.deductible_applied == Decimal("3092.40")
    assert after.deductible_applied == Decimal("3200.00")
    assert any(BASE_2024 in line and "变更1" in line for line in after.trace), after.trace
    assert before.parameters_hash != after.parameters_hash


def test_the_base_pack_is_untouched_and_amended_packs_are_cached():
    base = policy.load_pack("pingshun")
    change = (_change(),)
    amended = policy.amend_pack("pingshun", change)
    assert amended is not base and amended is policy.amend_pack("pingshun", change)
    assert base.amendments == () and amended.amendments == change
    day = date(2025, 3, 1)
    assert base.snapshot(day).value("per_capita_disposable_income") == Decimal("30924")
    assert amended.snapshot(day).value("per_capita_disposable_income") == Decimal("32000")
    assert date(2025, 2, 1) in amended.ranges and date(2025, 2, 1) not in base.ranges


def test_a_change_on_a_yaml_date_replaces_that_value():
    amended = policy.amend_pack("pingshun", (_change("31000", "2024-02-01"),))
    values = amended.parameters["per_capita_disposable_income"].values
    assert [v.start for v in values].count(date(2024, 2, 1)) == 1
    assert amended.snapshot(date(2024, 6, 1)).value("per_capita_disposable_income") == Decimal(
        "31000"
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_change(parameter="no_such_parameter"), "unknown_parameter"),
        (_change(value="-1"), "invalid_field"),
        (_change(value="abc"), "invalid_field"),
        (_change(start="2020-01-01"), "date_before_policy"),
    ],
)
def test_a_change_the_pack_cannot_take_is_refused_by_key(change, code):
    with pytest.raises(OverrideError) as caught:
        policy.amend_pack("pingshun", (change,))
    assert caught.value.code == code and caught.value.name in ("变更1", change.parameter)


def test_a_share_above_one_is_refused():
    pack = policy.load_pack("pingshun")
    share = next(n for n, p in pack.parameters.items() if p.kind == "share")
    with pytest.raises(OverrideError):
        policy.amend_pack("pingshun", (_change(value="1.5", parameter=share),))
