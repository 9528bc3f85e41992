"""Golden cases for Pingshun (平顺县…实施细则), worked by hand.

Base (第四十七条): 27 426 until the 2022 figure is in force, 29 178 from 2023-02-01.
50 % of 29178 = 14589.00 (第二十条 tilt threshold).
"""

from datetime import date
from decimal import Decimal as D

from medaid.policy import PersonFacts, PremiumRequest, decide_premium
from medaid.policy.contract import preview
from medaid.policy.facts import IdentityPeriod
from tests.policy.helpers import by_ref, case, claim, identity, run, totals


def test_dibao_edge_with_tilt():
    """第十四条（五）, 第二十条: deductible 2917.80; (40000 − 2917.80) × 60% = 22249.32;
    left 17750.68; tilt (17750.68 − 14589) × 70% = 2213.176 → 2213.18; total 24462.50."""
    out = run(
        case(
            "pingshun",
            [identity("dibao_edge", "2023-01-01")],
            [
                claim(
                    "A",
                    "inpatient",
                    "2023-03-12",
                    "40000.00",
                    admitted="2023-03-01",
                    settlement="application",
                    applied="2023-04-01",
                )
            ],
            parameters={"per_capita_disposable_income": "29178"},
        )
    )
    a = by_ref(out)["A"]
    assert (a["assistance"], a["tilted_assistance"], a["total"]) == (
        "22249.32",
        "2213.18",
        "24462.50",
    )


def test_dibao_cap_60000_and_tilt_outside_it():
    """第十四条（二）70%, cap 60000; 第二十条 tilt outside the cap.

    70% × 100000 = 70000 → 60000; left 40000; tilt (40000 − 14589) × 70% = 17787.70.
    """
    out = run(
        case("pingshun", [identity("dibao")], [claim("a", "inpatient", "2023-05-01", "100000.00")])
    )
    a = by_ref(out)["a"]
    assert (a["assistance"], a["tilted_assistance"], a["total"]) == (
        "60000.00",
        "17787.70",
        "77787.70",
    )


def test_tilt_annual_cap_30000_each_claim_gets_the_increase():
    """第二十条 年度倾斜救助限额 3万; Decision: cumulative, each claim receives the increase.

    claim 1 as above: assistance 60000, tilt 17787.70.
    claim 2 self-pay 50000: cap used up → assistance 0; left cumulates to 90000;
      (90000 − 14589) × 70% = 52787.70 → capped 30000; this claim 30000 − 17787.70 = 12212.30.
    """
    out = run(
        case(
            "pingshun",
            [identity("dibao")],
            [
                claim("a", "inpatient", "2023-05-01", "100000.00"),
                claim("b", "inpatient", "2023-08-01", "50000.00"),
            ],
        )
    )
    b = by_ref(out)["b"]
    assert (b["eligible"], b["assistance"], b["tilted_assistance"]) == (True, "0.00", "12212.30")
    assert totals(out)["_total"] == D("90000.00")


def test_tekun_full_cover_and_outpatient_ratios():
    """第十四条（一）全额保障 no cap: 50000 → 50000; 第十五条 60%: 1000 → 600;
    第十六条 20%: 1000 → 200. Tilt: chronic left 400 + drug left 800 = 1200 < 14589 → 0."""
    out = run(
        case(
            "pingshun",
            [identity("tekun")],
            [
                claim("i", "inpatient", "2023-03-01", "50000.00"),
                claim("c", "outpatient_chronic", "2023-03-02", "1000.00", chronic_category=1),
                claim("d", "negotiated_drug", "2023-03-03", "1000.00"),
            ],
        )
    )
    t = totals(out)
    assert (t["i"], t["c"], t["d"]) == (D("50000.00"), D("600.00"), D("200.00"))


def test_fanpin_top_up_to_90_percent_in_province():
    """第十四条（三）: in_policy 10000, basic 5000 → self-pay 5000; 70% = 3500; combined
    (5000 + 3500) / 10000 = 85% → top up 500 → 4000.00. Out of province: 3500.00."""
    out = run(
        case(
            "pingshun",
            [identity("fanpin")],
            [
                claim("in", "inpatient", "2023-03-01", "10000.00", basic_insurance_paid="5000.00"),
                claim(
                    "out",
                    "inpatient",
                    "2023-04-01",
                    "10000.00",
                    basic_insurance_paid="5000.00",
                    in_province=False,
                    in_area=False,
                ),
            ],
        )
    )
    t = totals(out)
    assert (t["in"], t["out"]) == (D("4000.00"), D("3500.00"))


def test_fanpin_out_of_catalogue_85_percent_within_control():
    """第二十一条: county_2 fee class, limit 15% × total 13000 = 1950.00; out-of-catalogue 3000,
    1050 is the hospital's; fanpin 1950 × 85% = 1657.50. In-policy: 4000 × 70% = 2800, combined
    (6000 + 2800) / 10000 = 88% → top-up 200. Total 2800 + 200 + 1657.50 = 4657.50."""
    out = run(
        case(
            "pingshun",
            [identity("fanpin")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2023-03-01",
                    "10000.00",
                    basic_insurance_paid="6000.00",
                    out_of_catalog_cost="3000.00",
                    hospital_fee_class="county_2",
                )
            ],
        )
    )
    assert totals(out)["a"] == D("4657.50")


def test_dibao_out_of_catalogue_is_controlled_not_assisted():
    """第二十一条: dibao out-of-catalogue excess is the hospital's; nothing assisted on it:
    (10000 − 6000) × 70% = 2800.00."""
    out = run(
        case(
            "pingshun",
            [identity("dibao")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2023-03-01",
                    "10000.00",
                    basic_insurance_paid="6000.00",
                    out_of_catalog_cost="3000.00",
                    hospital_fee_class="provincial_1",
                )
            ],
        )
    )
    assert totals(out)["a"] == D("2800.00")
    assert any("目录外费用控制" in line for line in by_ref(out)["a"]["trace"])


def test_identity_changing_during_a_stay():
    """第三十五条: lost during the stay → admission identity (dibao 70% × 1000 = 700);
    gained during the stay → discharge identity (700); held at neither end → no_identity."""
    lost = run(
        case(
            "pingshun",
            [identity("dibao", "2023-01-01", "2023-03-05")],
            [claim("a", "inpatient", "2023-03-10", "1000.00", admitted="2023-03-01")],
        )
    )
    gained = run(
        case(
            "pingshun",
            [identity("dibao", "2023-03-05")],
            [claim("a", "inpatient", "2023-03-10", "1000.00", admitted="2023-03-01")],
        )
    )
    neither = run(
        case(
            "pingshun",
            [identity("dibao", "2023-03-03", "2023-03-06")],
            [claim("a", "inpatient", "2023-03-10", "1000.00", admitted="2023-03-01")],
        )
    )
    assert totals(lost)["a"] == totals(gained)["a"] == D("700.00")
    assert by_ref(neither)["a"]["reason"] == "no_identity"


def test_manual_claim_180_days_and_batches():
    """第三十九条: discharged 2023-03-12, deadline 2023-09-08: applied 09-09 → late_application.
    Filed together with a stay discharged 2023-05-01: deadline 2023-10-28, both in time."""
    late = run(
        case(
            "pingshun",
            [identity("dibao_edge")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2023-03-12",
                    "10000.00",
                    settlement="application",
                    applied="2023-09-09",
                )
            ],
        )
    )
    assert by_ref(late)["a"]["reason"] == "late_application"
    batch = run(
        case(
            "pingshun",
            [identity("dibao_edge")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2023-03-12",
                    "10000.00",
                    settlement="application",
                    applied="2023-10-20",
                ),
                claim(
                    "b",
                    "inpatient",
                    "2023-05-01",
                    "10000.00",
                    settlement="application",
                    applied="2023-10-20",
                ),
            ],
        )
    )
    # a: (10000 − 2917.80) × 60% = 4249.32; b: 10000 × 60% = 6000.00
    t = totals(batch)
    assert (t["a"], t["b"]) == (D("4249.32"), D("6000.00"))


def test_referral_only_excludes_outside_the_area():
    """第十八条 未按规定转诊…在统筹区外就医…不纳入: outside & not referred → not_referred;
    inside the area not referred → 70% × 1000 = 700.00."""
    out = run(
        case(
            "pingshun",
            [identity("dibao")],
            [
                claim("x", "inpatient", "2023-03-01", "1000.00", referred=False, in_area=False),
                claim("y", "inpatient", "2023-03-02", "1000.00", referred=False, in_area=True),
            ],
        )
    )
    assert by_ref(out)["x"]["reason"] == "not_referred"
    assert totals(out)["y"] == D("700.00")


def test_dibao_edge_has_no_outpatient_assistance():
    """第十五条 门诊慢特病 only for 特困, 低保, 返贫致贫 → kind_not_covered."""
    out = run(
        case(
            "pingshun",
            [identity("dibao_edge")],
            [claim("a", "outpatient_chronic", "2023-03-01", "100.00")],
        )
    )
    assert by_ref(out)["a"]["reason"] == "kind_not_covered"


def test_previous_base_until_the_month_after_publication():
    """第四十七条 公布次月1日起执行，之前按上年标准: a January 2023 stay uses 27426.
    deductible 2742.60; (10000 − 2742.60) × 60% = 4354.44."""
    out = run(
        case(
            "pingshun",
            [identity("dibao_edge")],
            [claim("a", "inpatient", "2023-01-20", "10000.00")],
        )
    )
    a = by_ref(out)["a"]
    assert (a["deductible_applied"], a["total"]) == ("2742.60", "4354.44")


def test_tilt_cumulates_across_kinds():
    """第二十条 住院和慢特病、特药: dibao drug self-pay 20000 → 10% = 2000; left 18000;
    tilt (18000 − 14589) × 70% = 2387.70; total 4387.70."""
    out = run(
        case(
            "pingshun",
            [identity("dibao")],
            [claim("a", "negotiated_drug", "2023-06-01", "20000.00")],
        )
    )
    assert by_ref(out)["a"]["tilted_assistance"] == "2387.70"
    assert totals(out)["a"] == D("4387.70")


def test_fanpin_over_dibao_and_dates_outside_the_rules():
    """第十九条 就高: fanpin (top-up) beats dibao on the same stay: 4000.00 vs 3500.00.
    第四十八条: before 2023-01-07 or after the five years → refused by the contract."""
    out = run(
        case(
            "pingshun",
            [identity("dibao"), identity("fanpin")],
            [claim("a", "inpatient", "2023-03-01", "10000.00", basic_insurance_paid="5000.00")],
        )
    )
    a = by_ref(out)["a"]
    assert (a["identity"], a["total"]) == ("fanpin", "4000.00")
    early = preview(
        case("pingshun", [identity("dibao")], [claim("a", "inpatient", "2023-01-06", "1.00")])
    )
    late = preview(
        case("pingshun", [identity("dibao")], [claim("a", "inpatient", "2028-01-07", "1.00")])
    )
    assert early["error"]["code"] == "date_before_policy"
    late_claim = by_ref(late)["a"]
    assert (late_claim["eligible"], late_claim["reason"], late_claim["total"]) == (
        False,
        "date_after_policy",
        "0.00",
    )


def test_premium_refund_during_collection_period_only():
    """第十三条（二）80% × 400 = 320 ≥ 280; 第三十三条: already paid → refunded during the
    collection period (2023-10-01), not after it (2024-02-01)."""
    dibao = PersonFacts((IdentityPeriod("dibao", date(2022, 1, 1)),))
    during = PremiumRequest(
        year=2024, individual_contribution=D("400.00"), on=date(2023, 10, 1), already_paid=True
    )
    after = PremiumRequest(
        year=2024, individual_contribution=D("400.00"), on=date(2024, 2, 1), already_paid=True
    )
    d = decide_premium("pingshun", dibao, during)
    assert (d.subsidy, d.refund) == (D("320.00"), D("320.00"))
    a = decide_premium("pingshun", dibao, after)
    assert (a.subsidy, a.reason) == (D("0.00"), "already_paid_no_refund")
    fanpin = PersonFacts((IdentityPeriod("fanpin", date(2022, 1, 1)),))
    f = decide_premium(
        "pingshun",
        fanpin,
        PremiumRequest(year=2024, individual_contribution=D("380.00"), on=date(2023, 10, 1)),
    )
    assert f.subsidy == D("342.00")  # 第十三条（三）90% × 380
