"""Golden cases for Baoshan (保政办规〔2022〕2号), worked by hand. Base 26 937 in 2023."""

from datetime import date
from decimal import Decimal as D

from medaid.policy import PersonFacts, PremiumRequest, decide_premium
from medaid.policy.facts import IdentityPeriod
from tests.policy.helpers import by_ref, case, claim, identity, run, totals


def test_class_3_inpatient():
    """第十条、第十一条: (30000 − 16000 − 2000 − 26937 × 10%) × 60% = 9306.30 × 60% = 5583.78."""
    out = run(
        case(
            "baoshan",
            [identity("dibao_edge", "2023-01-01")],
            [
                claim(
                    "c1",
                    "inpatient",
                    "2023-04-12",
                    "30000.00",
                    hospital_level=3,
                    basic_insurance_paid="16000.00",
                    critical_illness_paid="2000.00",
                )
            ],
        )
    )
    assert totals(out)["c1"] == D("5583.78")


def test_orphan_is_class_1():
    """第六条 一类人员：特困人员、孤儿; 第十一条 100 %: self-pay 8000 → 8000.00."""
    out = run(
        case("baoshan", [identity("orphan")], [claim("a", "inpatient", "2023-02-01", "8000.00")])
    )
    a = by_ref(out)["a"]
    assert (a["total"], a["ratio"]) == ("8000.00", "1.00")


def test_inpatient_and_outpatient_caps_are_independent():
    """第十二条 门诊和住院…限额相互独立 (Decision: two pools, each = base 26937).

    dibao inpatient 70% × 40000 = 28000 → 26937.00; outpatient_chronic 70% × 1000 = 700.00
    from its own pool; total 27637.00.
    """
    out = run(
        case(
            "baoshan",
            [identity("dibao")],
            [
                claim("in", "inpatient", "2023-03-01", "40000.00"),
                claim("out", "outpatient_chronic", "2023-04-01", "1000.00"),
            ],
        )
    )
    t = totals(out)
    assert (t["in"], t["out"], t["_total"]) == (D("26937.00"), D("700.00"), D("27637.00"))


def test_day_surgery_shares_the_inpatient_pool():
    """第十二条 Decision: day_surgery is in the inpatient pool; after 26937.00 → cap_exhausted."""
    out = run(
        case(
            "baoshan",
            [identity("dibao")],
            [
                claim("in", "inpatient", "2023-03-01", "40000.00"),
                claim("ds", "day_surgery", "2023-04-01", "1000.00"),
            ],
        )
    )
    ds = by_ref(out)["ds"]
    assert (ds["eligible"], ds["reason"]) == (False, "cap_exhausted")


def test_referral_is_strict_except_follow_up_and_emergency():
    """第九条 未按照规范转诊的…不纳入 (no "原则上"): not referred → not_referred;
    follow-up → class 2 70% × 500 = 350.00."""
    out = run(
        case(
            "baoshan",
            [identity("fanpin")],
            [
                claim("x", "inpatient", "2023-03-01", "500.00", referred=False),
                claim("f", "inpatient", "2023-03-05", "500.00", referred=False, follow_up=True),
            ],
        )
    )
    assert by_ref(out)["x"]["reason"] == "not_referred"
    assert totals(out)["f"] == D("350.00")


def test_deductible_is_shared_across_pools():
    """第十条 起付标准累计计算: the outpatient 2000 goes into the 2693.70 deductible; the
    inpatient stay then bears 693.70: (10000 − 693.70) × 60% = 5583.78."""
    out = run(
        case(
            "baoshan",
            [identity("dibao_edge")],
            [
                claim("o", "outpatient_special", "2023-02-01", "2000.00"),
                claim("i", "inpatient", "2023-03-01", "10000.00"),
            ],
        )
    )
    t = totals(out)
    assert (t["o"], t["i"]) == (D("0.00"), D("5583.78"))


def test_class_4_worker():
    """第六条 相对困难职工 class 4; 第十条 25%: 6734.25; (16734.25 − 6734.25) × 50% = 5000.00."""
    out = run(
        case(
            "baoshan",
            [identity("relative_hardship_worker")],
            [claim("a", "inpatient", "2023-05-01", "16734.25")],
        )
    )
    assert totals(out)["a"] == D("5000.00")


def test_2024_uses_the_2023_base():
    """第十二条 动态调整: 2024 base 28421 → deductible 2842.10;
    (12842.10 − 2842.10) × 60% = 6000.00."""
    out = run(
        case(
            "baoshan", [identity("dibao_edge")], [claim("a", "inpatient", "2024-03-01", "12842.10")]
        )
    )
    a = by_ref(out)["a"]
    assert (a["deductible_applied"], a["total"]) == ("2842.10", "6000.00")


def test_highest_class_wins():
    """第十四条 就高不就低，不得重复享受: dibao (70%, no deductible) over dibao_edge:
    10000 × 70% = 7000.00 (class 3 would give 4383.78)."""
    out = run(
        case(
            "baoshan",
            [identity("dibao_edge"), identity("dibao")],
            [claim("a", "inpatient", "2023-05-01", "10000.00")],
        )
    )
    a = by_ref(out)["a"]
    assert (a["identity"], a["total"]) == ("dibao", "7000.00")


def test_premium_full_and_unset_fixed_amount():
    """第八条（一）全额资助: tekun 380 → 380.00; （二）定额 for dibao is the provincial figure,
    not in the text → amount_not_set, until set by parameter (180 → 180.00)."""
    request = PremiumRequest(year=2024, individual_contribution=D("380.00"), on=date(2023, 10, 1))
    tekun = PersonFacts((IdentityPeriod("tekun", date(2020, 1, 1)),))
    dibao = PersonFacts((IdentityPeriod("dibao", date(2020, 1, 1)),))
    assert decide_premium("baoshan", tekun, request).subsidy == D("380.00")
    unset = decide_premium("baoshan", dibao, request)
    assert (unset.subsidy, unset.reason) == (D("0.00"), "amount_not_set")
    set_ = decide_premium("baoshan", dibao, request, parameters={"premium.dibao.amount": "180"})
    assert set_.subsidy == D("180.00")


def test_premium_highest_tier_and_no_refund():
    """第八条（三）按可享受最高资助档次; 已缴纳参保费用的不退不补."""
    person = PersonFacts(
        (
            IdentityPeriod("severe_disability", date(2020, 1, 1)),
            IdentityPeriod("tekun", date(2023, 1, 1)),
        )
    )
    request = PremiumRequest(year=2024, individual_contribution=D("380.00"), on=date(2023, 10, 1))
    best = decide_premium(
        "baoshan", person, request, parameters={"premium.severe_disability.amount": "100"}
    )
    assert (best.identity, best.subsidy) == ("tekun", D("380.00"))
    paid = PremiumRequest(
        year=2024, individual_contribution=D("380.00"), on=date(2023, 10, 1), already_paid=True
    )
    refused = decide_premium("baoshan", person, paid)
    assert (refused.subsidy, refused.reason) == (D("0.00"), "already_paid_no_refund")
