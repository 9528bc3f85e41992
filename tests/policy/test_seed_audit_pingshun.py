"""Independent audit of the engine against the Pingshun (Shanxi) seed (shared/seeds/*.txt),
through the preview contract only (`medaid.policy.contract.preview`).

Each case is worked by hand from the article it cites, without reading the packs; the
arithmetic is in the docstring. Bases (全省上年居民人均可支配收入, 第四十七条, from the 1st of
the month after publication): 27 426 until 2023-01-31, 29 178 from 2023-02-01, 30 924 from
2024-02-01.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.policy.helpers import amounts, by_ref, case, claim, identity, premium, run, totals

# --- pingshun: 平顺县…实施细则 --------------------


def test_pingshun_one_shared_cap_and_the_tilt_on_top():
    """第十八条 门诊、特药、住院共用一个年度救助限额 (低保 60000, 第十四条（二）); 第二十条 tilt
    above 50 % × 29178 = 14589 at 70 %, outside the cap (Decision).
    a 住院 80000 → 70 % = 56000.00; left 24000 → (24000 − 14589) × 70 % = 6587.70;
    b 门诊慢特病 20000 × 30 % = 6000 → 60000 − 56000 = 4000.00; left 16000, year 40000 →
      (40000 − 14589) × 70 % = 17787.70 → this claim 11200.00;
    c 特药 1000 → cap spent, 0.00; left 1000, year 41000 → 18487.70 → tilt 700.00, eligible."""
    out = run(
        case(
            "pingshun",
            [identity("dibao")],
            [
                claim("a", "inpatient", "2023-03-01", "80000.00"),
                claim("b", "outpatient_chronic", "2023-04-01", "20000.00"),
                claim("c", "negotiated_drug", "2023-05-01", "1000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert amounts(c["a"]) == ("56000.00", "6587.70", "62587.70")
    assert amounts(c["b"]) == ("4000.00", "11200.00", "15200.00")
    assert amounts(c["c"]) == ("0.00", "700.00", "700.00")
    assert (c["c"]["eligible"], c["c"]["reason"]) == (True, None)


def test_pingshun_fanpin_top_up_to_90_percent_only_in_province():
    """第十四条（三）: in_policy 10000, basic 5000, critical 1000 → self-pay 4000; 70 % = 2800;
    combined (5000 + 1000 + 2800) / 10000 = 88 % < 90 % → top-up 200 → 3000.00.
    省内 only: the same stay out of the province (referred) → 2800.00."""
    stay = {"basic_insurance_paid": "5000.00", "critical_illness_paid": "1000.00"}
    home = run(
        case(
            "pingshun",
            [identity("fanpin")],
            [claim("a", "inpatient", "2023-03-01", "10000.00", **stay)],
        )
    )
    away = run(
        case(
            "pingshun",
            [identity("fanpin")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2023-03-01",
                    "10000.00",
                    in_province=False,
                    in_area=False,
                    **stay,
                )
            ],
        )
    )
    assert totals(home)["a"] == D("3000.00")
    assert totals(away)["a"] == D("2800.00")


def test_pingshun_out_of_catalogue_control_by_fee_class_and_85_percent():
    """第二十一条: total 20000, out-of-catalogue 6000, in_policy 10000, basic 6000.
    In policy (fanpin): self-pay 4000 × 70 % = 2800, combined 88 % → +200 = 3000.
    Within the control limit, 返贫致贫 get 85 %:
      省内一类 30 % × 20000 = 6000 → 6000 × 85 % = 5100 → 8100.00;
      省市级二类 20 % → 4000 × 85 % = 3400 → 6400.00;
      县级二类 / 三类 15 % → 3000 × 85 % = 2550 → 5550.00;
      no fee class → the strictest 15 % (Decision) → 5550.00.
    低保 is controlled but not assisted: 2800.00."""

    def one(code: str, fee_class: str | None) -> D:
        out = run(
            case(
                "pingshun",
                [identity(code)],
                [
                    claim(
                        "a",
                        "inpatient",
                        "2023-03-01",
                        "10000.00",
                        basic_insurance_paid="6000.00",
                        out_of_catalog_cost="6000.00",
                        total_cost="20000.00",
                        hospital_fee_class=fee_class,
                    )
                ],
            )
        )
        return totals(out)["a"]

    assert one("fanpin", "provincial_1") == D("8100.00")
    assert one("fanpin", "provincial_municipal_2") == D("6400.00")
    assert one("fanpin", "county_2") == one("fanpin", "class_3") == D("5550.00")
    assert one("fanpin", None) == D("5550.00")
    assert one("dibao", "provincial_1") == D("2800.00")


def test_pingshun_tilt_capped_at_30000_a_year():
    """第十四条（四）monitored: deductible 2917.80, 70 %, cap 60000; 第二十条 tilt cap 30000.
    a 200000: (200000 − 2917.80) × 70 % = 137957.54 → 60000.00; left 140000 →
      (140000 − 14589) × 70 % = 87787.70 → 30000.00;
    b 10000: cap spent, tilt spent → cap_exhausted."""
    out = run(
        case(
            "pingshun",
            [identity("rural_monitored")],
            [
                claim("a", "inpatient", "2023-03-01", "200000.00"),
                claim("b", "inpatient", "2023-04-01", "10000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert amounts(c["a"]) == ("60000.00", "30000.00", "90000.00")
    assert (c["b"]["reason"], c["b"]["total"]) == ("cap_exhausted", "0.00")


def test_pingshun_tilt_threshold_follows_the_base_in_force():
    """第四十七条: before 2023-02-01 the 2021 base 27426 applies → threshold 13713.00.
    低保 2023-01-20 50000 → 35000.00; left 15000 → (15000 − 13713) × 70 % = 900.90."""
    out = run(
        case("pingshun", [identity("dibao")], [claim("a", "inpatient", "2023-01-20", "50000.00")])
    )
    assert amounts(by_ref(out)["a"]) == ("35000.00", "900.90", "35900.90")


def test_pingshun_tilt_uses_the_half_up_rounded_assistance():
    """Rounding: 低保 50000.15 × 70 % = 35000.105 → 35000.11 (half-up); the self-pay left is
    50000.15 − 35000.11 = 15000.04 → (15000.04 − 14589) × 70 % = 287.728 → 287.73.
    (Banker's rounding of the in-policy part gave 35000.10, left 15000.05 → 287.74.)"""
    out = run(
        case("pingshun", [identity("dibao")], [claim("a", "inpatient", "2023-03-01", "50000.15")])
    )
    assert amounts(by_ref(out)["a"]) == ("35000.11", "287.73", "35287.84")


def test_pingshun_deductible_from_the_base_in_force_and_cumulated():
    """第十四条（五）+ 第四十七条: 低保边缘 2023-01-20: 10 % × 27426 = 2742.60;
    (10000 − 2742.60) × 60 % = 4354.44. 2023-03-01: 10 % × 29178 = 2917.80, already met by
    the year's 10000 → 10000 × 60 % = 6000.00."""
    out = run(
        case(
            "pingshun",
            [identity("dibao_edge")],
            [
                claim("jan", "inpatient", "2023-01-20", "10000.00"),
                claim("mar", "inpatient", "2023-03-01", "10000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["jan"]["deductible_applied"], c["jan"]["total"]) == ("2742.60", "4354.44")
    assert (c["mar"]["deductible_applied"], c["mar"]["total"]) == ("0.00", "6000.00")


def test_pingshun_identity_changing_during_a_stay():
    """第三十五条, stay 2023-03-01 … 03-10, 10000:
    gained 低保 on 03-05 (低保边缘 all along) → discharge identity 低保: 7000.00;
    lost 特困 on 03-05 (低保边缘 from 03-06) → admission identity 特困: 10000.00;
    gained only after discharge → no_identity."""
    stay = [claim("a", "inpatient", "2023-03-10", "10000.00", admitted="2023-03-01")]
    gained = run(case("pingshun", [identity("dibao_edge"), identity("dibao", "2023-03-05")], stay))
    lost = run(
        case(
            "pingshun",
            [identity("tekun", "2020-01-01", "2023-03-05"), identity("dibao_edge", "2023-03-06")],
            stay,
        )
    )
    later = run(case("pingshun", [identity("dibao", "2023-03-11")], stay))
    assert (by_ref(gained)["a"]["identity"], totals(gained)["a"]) == ("dibao", D("7000.00"))
    assert (by_ref(lost)["a"]["identity"], totals(lost)["a"]) == ("tekun", D("10000.00"))
    assert by_ref(later)["a"]["reason"] == "no_identity"


def test_pingshun_180_days_is_inclusive():
    """第三十九条 180日内: discharged 2023-03-12 + 180 days = 2023-09-08. Applied on 09-08 →
    (10000 − 2917.80) × 60 % = 4249.32; on 09-09 → late_application."""

    def applied(day: str) -> dict:
        return by_ref(
            run(
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
                            applied=day,
                        )
                    ],
                )
            )
        )["a"]

    assert applied("2023-09-08")["total"] == "4249.32"
    assert applied("2023-09-09")["reason"] == "late_application"


def test_pingshun_batch_counts_only_stays_of_the_same_year():
    """第三十九条 年度内多次住院一并申报的，按最后一次出院日期: stays of 2023-03-01 and
    2024-01-10 filed together on 2024-01-20 are not one year's batch: the 2023 stay's deadline
    is 2023-08-28 → late_application; the 2024 stay (base still 29178 until 2024-02-01):
    (10000 − 2917.80) × 60 % = 4249.32."""
    out = run(
        case(
            "pingshun",
            [identity("dibao_edge")],
            [
                claim(
                    "y23",
                    "inpatient",
                    "2023-03-01",
                    "10000.00",
                    settlement="application",
                    applied="2024-01-20",
                ),
                claim(
                    "y24",
                    "inpatient",
                    "2024-01-10",
                    "10000.00",
                    settlement="application",
                    applied="2024-01-20",
                ),
            ],
        )
    )
    c = by_ref(out)
    assert (c["y23"]["reason"], c["y24"]["total"]) == ("late_application", "4249.32")


def test_pingshun_cross_year_application_uses_the_year_the_cost_arose():
    """第三十九条 跨年度申报的，执行医疗费用发生年度待遇标准: a 2023-12-20 stay applied for on
    2024-03-01 (72 days) uses 2023's deductible 2917.80 → 4249.32 and 2023's year; a 2024-03-01
    stay uses 10 % × 30924 = 3092.40 → (10000 − 3092.40) × 60 % = 4144.56."""
    out = run(
        case(
            "pingshun",
            [identity("dibao_edge")],
            [
                claim(
                    "late",
                    "inpatient",
                    "2023-12-20",
                    "10000.00",
                    settlement="application",
                    applied="2024-03-01",
                ),
                claim("now", "inpatient", "2024-03-01", "10000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["late"]["deductible_applied"], c["late"]["total"]) == ("2917.80", "4249.32")
    assert (c["now"]["deductible_applied"], c["now"]["total"]) == ("3092.40", "4144.56")


def test_pingshun_referral_only_matters_outside_the_area():
    """第十八条 未按规定转诊的…在统筹区外就医…不纳入: out of area, not referred → not_referred;
    in the area, not referred → 低保 70 % × 1000 = 700.00."""
    out = run(
        case(
            "pingshun",
            [identity("dibao")],
            [
                claim("away", "inpatient", "2023-03-01", "1000.00", referred=False, in_area=False),
                claim("home", "inpatient", "2023-03-02", "1000.00", referred=False),
            ],
        )
    )
    c = by_ref(out)
    assert (c["away"]["reason"], c["home"]["total"]) == ("not_referred", "700.00")


def test_pingshun_premium_tiers_and_floor():
    """第十三条: 低保 80 % at least 280: 320 → 256 → 280.00; 380 → 304.00; 250 → 280 but never
    more than the contribution → 250.00; 返贫致贫 90 % × 380 = 342.00; 脱贫不稳定/边缘易致贫
    280.00; 突发严重困难 and 低保边缘 are not in 第十三条 → not_subsidised; 特困 with 低保 →
    full."""
    assert premium("pingshun", [identity("dibao")], individual_contribution="320.00")[
        "subsidy"
    ] == ("280.00")
    assert premium("pingshun", [identity("dibao")])["subsidy"] == "304.00"
    assert premium("pingshun", [identity("dibao")], individual_contribution="250.00")[
        "subsidy"
    ] == ("250.00")
    assert premium("pingshun", [identity("fanpin")])["subsidy"] == "342.00"
    assert premium("pingshun", [identity("rural_monitored")])["subsidy"] == "280.00"
    assert premium("pingshun", [identity("sudden_hardship")])["reason"] == "not_subsidised"
    assert premium("pingshun", [identity("dibao_edge")])["reason"] == "not_subsidised"
    best = premium("pingshun", [identity("dibao"), identity("tekun")])
    assert (best["identity"], best["subsidy"]) == ("tekun", "380.00")


def test_pingshun_premium_refund_only_during_the_collection_period():
    """第三十三条（二）during the collection period (contribution year 2024, Sep–Dec 2023) an
    already-paid 低保 is refunded at the year's standard: 304.00; （三）after it 已缴费的，不再退还
    → 0.00; someone newly listed after it who has not paid is still subsidised: 304.00."""
    during = premium("pingshun", [identity("dibao")], already_paid=True, on="2023-10-15")
    after = premium("pingshun", [identity("dibao")], already_paid=True, on="2024-02-01")
    unpaid = premium("pingshun", [identity("dibao")], on="2024-02-01")
    assert during["subsidy"] == "304.00"
    assert (after["subsidy"], after["reason"]) == ("0.00", "already_paid_no_refund")
    assert unpaid["subsidy"] == "304.00"
