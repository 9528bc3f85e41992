"""Golden cases for the Yunnan provincial framework (云政办发〔2022〕40号), worked by hand.

Base (全省上一年度居民人均可支配收入): 25 666 in force 2022-07-01, 26 937 from 2023-01-01.
"""

from decimal import Decimal as D

from tests.policy.helpers import by_ref, case, claim, identity, run, totals


def test_class_3_deductible_and_ratio():
    """（十）（十一）: class 3, 10 % of base, 60 %.

    self-pay 30000 − 16000 − 2000 = 12000; deductible 26937 × 10% = 2693.70;
    (12000 − 2693.70) × 60% = 5583.78.
    """
    out = run(
        case(
            "yunnan",
            [identity("dibao_edge")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2023-04-12",
                    "30000.00",
                    basic_insurance_paid="16000.00",
                    critical_illness_paid="2000.00",
                )
            ],
        )
    )
    c = by_ref(out)["a"]
    assert (c["policy_self_pay"], c["deductible_applied"], c["ratio"]) == (
        "12000.00",
        "2693.70",
        "0.60",
    )
    assert totals(out)["a"] == D("5583.78")


def test_deductible_cumulates_across_kinds():
    """（十）一个自然年度内起付标准累计计算, across every covered kind.

    Feb outpatient_chronic self-pay 1000: all into the 2693.70 deductible → 0.
    May inpatient self-pay 5000: 1693.70 left; (5000 − 1693.70) × 60% = 1983.78.
    """
    out = run(
        case(
            "yunnan",
            [identity("dibao_edge")],
            [
                claim("b", "inpatient", "2023-05-10", "5000.00"),
                claim("a", "outpatient_chronic", "2023-02-10", "1000.00"),
            ],
        )
    )
    t = totals(out)
    assert t["a"] == D("0.00") and by_ref(out)["a"]["eligible"] is True
    assert by_ref(out)["b"]["deductible_applied"] == "1693.70"
    assert t["b"] == D("1983.78")


def test_class_4_rounds_half_up():
    """（十）（十一）: class 4, 25 % of base, 50 %; ROUND_HALF_UP to the cent.

    deductible 26937 × 25% = 6734.25; (20000 − 6734.25) × 50% = 6632.875 → 6632.88.
    """
    out = run(
        case(
            "yunnan",
            [identity("illness_poverty")],
            [claim("a", "inpatient", "2023-07-01", "20000.00")],
        )
    )
    assert totals(out)["a"] == D("6632.88")


def test_class_1_keeps_full_ratio():
    """（十一）一类人员保持现行救助支付比例 — Decision 100 %:
    day surgery self-pay 3456.78 → 3456.78."""
    out = run(
        case("yunnan", [identity("tekun")], [claim("a", "day_surgery", "2023-03-01", "3456.78")])
    )
    assert totals(out)["a"] == D("3456.78")


def test_annual_cap_is_the_base_then_exhausted():
    """（十二）Decision: one annual cap = base 26937.

    dibao 70% × 40000 = 28000 → capped at 26937.00; the next claim finds nothing left.
    """
    out = run(
        case(
            "yunnan",
            [identity("dibao")],
            [
                claim("a", "inpatient", "2023-03-01", "40000.00"),
                claim("b", "outpatient_special", "2023-06-01", "1000.00"),
            ],
        )
    )
    t = totals(out)
    assert t["a"] == D("26937.00")
    b = by_ref(out)["b"]
    assert (b["eligible"], b["reason"], b["total"]) == (False, "cap_exhausted", "0.00")


def test_referral_exclusion_and_its_exceptions():
    """（九）除复诊和急诊抢救外，未按照规范转诊的…不纳入.

    not referred → not_referred; not referred but follow-up → 70% × 1000 = 700;
    emergency kind not referred → 70% × 2000 = 1400.
    """
    out = run(
        case(
            "yunnan",
            [identity("dibao")],
            [
                claim("x", "inpatient", "2023-03-01", "1000.00", referred=False),
                claim("f", "inpatient", "2023-03-02", "1000.00", referred=False, follow_up=True),
                claim("e", "outpatient_emergency", "2023-03-03", "2000.00", referred=False),
            ],
        )
    )
    c = by_ref(out)
    assert (c["x"]["eligible"], c["x"]["reason"]) == (False, "not_referred")
    assert totals(out)["f"] == D("700.00")
    assert totals(out)["e"] == D("1400.00")


def test_general_outpatient_is_not_covered():
    """（九）lists no general outpatient: kind_not_covered."""
    out = run(
        case(
            "yunnan",
            [identity("dibao")],
            [claim("a", "outpatient_general", "2023-03-01", "100.00")],
        )
    )
    assert by_ref(out)["a"]["reason"] == "kind_not_covered"


def test_illness_poverty_reaches_back_90_days():
    """（二）认定之前 90 天（含）内的费用纳入.

    certified 2023-06-01; 2023-06-01 − 90 days = 2023-03-03 is covered:
    (10000 − 6734.25) × 50% = 1632.875 → 1632.88. 2023-03-02 is outside_lookback.
    """
    out = run(
        case(
            "yunnan",
            [identity("illness_poverty", "2023-06-01")],
            [
                claim("in", "inpatient", "2023-03-03", "10000.00"),
                claim("out", "inpatient", "2023-03-02", "10000.00"),
            ],
        )
    )
    assert totals(out)["in"] == D("1632.88")
    assert by_ref(out)["out"]["reason"] == "outside_lookback"


def test_highest_benefit_identity():
    """（三）就高不就低: dibao_edge (class 3) and illness_poverty (class 4) → class 3.

    class 3: (10000 − 2693.70) × 60% = 4383.78; class 4: (10000 − 6734.25) × 50% = 1632.875.
    """
    out = run(
        case(
            "yunnan",
            [identity("illness_poverty"), identity("dibao_edge")],
            [claim("a", "inpatient", "2023-05-01", "10000.00")],
        )
    )
    a = by_ref(out)["a"]
    assert (a["identity"], a["total"]) == ("dibao_edge", "4383.78")


def test_base_in_force_on_discharge_date():
    """（十）base: 2022 claims use 25666, 2023 claims 26937, each year its own deductible.

    2022-10-01: deductible 2566.60; (10000 − 2566.60) × 60% = 4460.04.
    2023-02-01: deductible 2693.70; (10000 − 2693.70) × 60% = 4383.78.
    """
    out = run(
        case(
            "yunnan",
            [identity("dibao_edge")],
            [
                claim("a", "inpatient", "2022-10-01", "10000.00"),
                claim("b", "inpatient", "2023-02-01", "10000.00"),
            ],
        )
    )
    t = totals(out)
    assert (t["a"], t["b"]) == (D("4460.04"), D("4383.78"))


def test_case_overrides_base_and_cap():
    """Contract `parameters`: base 30000 and annual_cap 5000 yuan.

    deductible 3000; (20000 − 3000) × 60% = 10200 → capped at 5000.00.
    """
    out = run(
        case(
            "yunnan",
            [identity("dibao_edge")],
            [claim("a", "inpatient", "2023-05-01", "20000.00")],
            parameters={"per_capita_disposable_income": "30000", "annual_cap": "5000"},
        )
    )
    a = by_ref(out)["a"]
    assert (a["deductible_applied"], a["total"]) == ("3000.00", "5000.00")


def test_identity_outside_the_framework():
    """（一）: a severe-disability identity alone is none of the four classes → no_identity."""
    out = run(
        case(
            "yunnan",
            [identity("severe_disability")],
            [claim("a", "inpatient", "2023-05-01", "100.00")],
        )
    )
    a = by_ref(out)["a"]
    assert (a["eligible"], a["reason"], a["identity"]) == (False, "no_identity", None)


def test_claim_before_identity_without_reach_back():
    """（一）: dibao certified 2023-06-01 does not cover a stay on 2023-05-31 → no_identity."""
    out = run(
        case(
            "yunnan",
            [identity("dibao", "2023-06-01")],
            [claim("a", "inpatient", "2023-05-31", "100.00")],
        )
    )
    assert by_ref(out)["a"]["reason"] == "no_identity"
