"""Independent audit of the engine against the five seeds (shared/seeds/*.txt), through the
preview contract only (`medaid.policy.contract.preview`).

Each case is worked by hand from the article it cites, without reading the packs; the
arithmetic is in the docstring. Bases (全省上年居民人均可支配收入) used below:
- Yunnan / Baoshan: 25 666 (2022-07-01), 26 937 (2023), 28 421 (2024);
- Pingshun (第四十七条, from the 1st of the month after publication): 27 426 until 2023-01-31,
  29 178 from 2023-02-01, 30 924 from 2024-02-01.
Kunming and Zhangye amounts are fixed in yuan.
"""

from __future__ import annotations

from decimal import Decimal as D

from medaid.policy.contract import preview
from tests.policy.helpers import by_ref, case, claim, identity, run, totals


def amounts(c: dict) -> tuple[str, str, str]:
    return c["assistance"], c["tilted_assistance"], c["total"]


def premium(policy: str, identities: list[dict], **request) -> dict:
    request.setdefault("year", 2024)
    request.setdefault("individual_contribution", "380.00")
    request.setdefault("on", "2023-10-15")
    out = preview(case(policy, identities, [], premium=request))
    assert "error" not in out, out
    return out["premium"]


# --- yunnan: 云政办发〔2022〕40号 --------------------


def test_yunnan_deductible_cumulates_across_kinds_and_resets_each_natural_year():
    """（十）三类 10 % of base, 一个自然年度内起付标准累计计算, across every （九） kind.
    2022 (base 25666): deductible 2566.60.
      a 门诊慢性病 2022-11-01 self-pay 1500 → all absorbed by the deductible → 0.00;
      b 住院 2022-12-01 5000 → left 2566.60 − 1500 = 1066.60; (5000 − 1066.60) × 60 % = 2360.04.
    2023 (base 26937): a new deductible 2693.70.
      c 谈判药品 2023-01-05 3000 → (3000 − 2693.70) × 60 % = 306.30 × 0.6 = 183.78.
    Claims given out of order: decided by discharge date."""
    out = run(
        case(
            "yunnan",
            [identity("dibao_edge")],
            [
                claim("c", "negotiated_drug", "2023-01-05", "3000.00"),
                claim("a", "outpatient_chronic", "2022-11-01", "1500.00"),
                claim("b", "inpatient", "2022-12-01", "5000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["a"]["deductible_applied"], c["a"]["assistance"]) == ("1500.00", "0.00")
    assert (c["b"]["deductible_applied"], c["b"]["assistance"]) == ("1066.60", "2360.04")
    assert (c["c"]["deductible_applied"], c["c"]["assistance"]) == ("2693.70", "183.78")
    assert [x["ref"] for x in out["claims"]] == ["c", "a", "b"]  # result in the given order


def test_yunnan_reach_back_is_90_days_inclusive():
    """（二）认定之前 90 天（含）内: certified 2023-04-10; 2023-01-10 is exactly 90 days before
    (21 + 28 + 31 + 10) → covered; 2023-01-09 (91 days) → outside_lookback.
    四类 deductible 25 % × 26937 = 6734.25; (10000 − 6734.25) × 50 % = 1632.875 → 1632.88
    (ROUND_HALF_UP). The refused claim does not count toward the deductible."""
    out = run(
        case(
            "yunnan",
            [identity("illness_poverty", "2023-04-10")],
            [
                claim("d91", "inpatient", "2023-01-09", "10000.00"),
                claim("d90", "inpatient", "2023-01-10", "10000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["d91"]["eligible"], c["d91"]["reason"]) == (False, "outside_lookback")
    assert (c["d90"]["deductible_applied"], c["d90"]["assistance"]) == ("6734.25", "1632.88")


def test_yunnan_reach_back_into_the_previous_natural_year():
    """（二）+（十）: certified 2023-02-15; a stay discharged 2022-12-20 (57 days before) is
    covered and belongs to 2022: base 25666 × 25 % = 6416.50; (10000 − 6416.50) × 50 % =
    1791.75. A 2023-03-01 stay starts 2023's own deductible 6734.25 → 1632.88."""
    out = run(
        case(
            "yunnan",
            [identity("illness_poverty", "2023-02-15")],
            [
                claim("old", "inpatient", "2022-12-20", "10000.00"),
                claim("new", "inpatient", "2023-03-01", "10000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["old"]["deductible_applied"], c["old"]["total"]) == ("6416.50", "1791.75")
    assert (c["new"]["deductible_applied"], c["new"]["total"]) == ("6734.25", "1632.88")


def test_yunnan_referral_exclusion_and_its_two_exceptions():
    """（九）除复诊和急诊抢救外，未按照规范转诊的…不纳入: 二类 70 % of 1000 = 700.00 for a
    follow-up, an emergency stay and a 门诊急诊抢救 visit, none referred; a non-referred 日间手术
    is not_referred. Refused claims use none of the cap."""
    out = run(
        case(
            "yunnan",
            [identity("dibao")],
            [
                claim("fu", "inpatient", "2023-03-01", "1000.00", referred=False, follow_up=True),
                claim("em", "inpatient", "2023-03-02", "1000.00", referred=False, emergency=True),
                claim("oe", "outpatient_emergency", "2023-03-03", "1000.00", referred=False),
                claim("ds", "day_surgery", "2023-03-04", "1000.00", referred=False),
            ],
        )
    )
    t = totals(out)
    assert (t["fu"], t["em"], t["oe"]) == (D("700.00"),) * 3
    assert by_ref(out)["ds"]["reason"] == "not_referred"
    assert t["_total"] == D("2100.00")


def test_yunnan_highest_benefit_between_held_class_3_and_reached_back_class_4():
    """（三）就高不就低: dibao_edge (三类, held) and illness_poverty (四类, certified 2023-04-10,
    reaching back to a 2023-03-01 stay). 三类: (10000 − 2693.70) × 60 % = 4383.78; 四类:
    (10000 − 6734.25) × 50 % = 1632.88 → 三类 applies, once."""
    out = run(
        case(
            "yunnan",
            [identity("illness_poverty", "2023-04-10"), identity("dibao_edge")],
            [claim("a", "inpatient", "2023-03-01", "10000.00")],
        )
    )
    a = by_ref(out)["a"]
    assert (a["identity"], a["ratio"], a["total"]) == ("dibao_edge", "0.60", "4383.78")


def test_yunnan_each_claim_rounds_half_up_once():
    """Rounding: 二类 70 % of 100.15 = 70.105 → 70.11 (half-up, not banker's 70.10); two such
    claims total 140.22, the sum of the rounded claims."""
    out = run(
        case(
            "yunnan",
            [identity("dibao")],
            [
                claim("a", "outpatient_chronic", "2023-03-01", "100.15"),
                claim("b", "outpatient_chronic", "2023-03-02", "100.15"),
            ],
        )
    )
    t = totals(out)
    assert (t["a"], t["b"], t["_total"]) == (D("70.11"), D("70.11"), D("140.22"))


def test_yunnan_one_cap_equal_to_the_base_for_every_kind():
    """（十二）Decision: one annual cap = base 26937 shared by all kinds. 一类 100 %:
    住院 20000 → 20000.00; 门诊慢性病 10000 → 26937 − 20000 = 6937.00; 谈判药品 → cap_exhausted."""
    out = run(
        case(
            "yunnan",
            [identity("tekun")],
            [
                claim("a", "inpatient", "2023-03-01", "20000.00"),
                claim("b", "outpatient_chronic", "2023-04-01", "10000.00"),
                claim("c", "negotiated_drug", "2023-05-01", "100.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["a"]["total"], c["b"]["total"]) == ("20000.00", "6937.00")
    assert (c["c"]["eligible"], c["c"]["reason"], c["c"]["total"]) == (
        False,
        "cap_exhausted",
        "0.00",
    )


def test_yunnan_identity_lost_during_a_stay_uses_the_discharge_day():
    """Yunnan has no 第三十五条: Decision identity_on_stay = discharge. dibao ended 2023-03-05,
    stay 2023-03-01 … 03-10 → no_identity (Pingshun would use the admission identity)."""
    out = run(
        case(
            "yunnan",
            [identity("dibao", "2020-01-01", "2023-03-05")],
            [claim("a", "inpatient", "2023-03-10", "1000.00", admitted="2023-03-01")],
        )
    )
    assert by_ref(out)["a"]["reason"] == "no_identity"


# --- baoshan: 保政办规〔2022〕2号 --------------------


def test_baoshan_inpatient_and_outpatient_pools_are_independent():
    """第十二条 门诊和住院各救助项目年度最高救助限额相互独立 (Decision: two pools, each = base
    26937). 一类 100 %: 住院 30000 → 26937.00; 门诊慢性病 30000 → 26937.00 from its own pool;
    日间手术 draws on the spent inpatient pool → cap_exhausted; 谈判药品 on the spent outpatient
    pool → cap_exhausted."""
    out = run(
        case(
            "baoshan",
            [identity("tekun")],
            [
                claim("ip", "inpatient", "2023-02-01", "30000.00"),
                claim("op", "outpatient_chronic", "2023-03-01", "30000.00"),
                claim("ds", "day_surgery", "2023-04-01", "100.00"),
                claim("dr", "negotiated_drug", "2023-05-01", "100.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["ip"]["total"], c["op"]["total"]) == ("26937.00", "26937.00")
    assert (c["ds"]["reason"], c["dr"]["reason"]) == ("cap_exhausted", "cap_exhausted")
    assert totals(out)["_total"] == D("53874.00")


def test_baoshan_one_deductible_across_both_pools_and_a_new_one_next_year():
    """第十条 三类 10 % × 26937 = 2693.70, 一个自然年度内累计计算 across pools:
    门诊特殊病 2000 → all deductible; 住院 5000 → left 693.70, (5000 − 693.70) × 60 % = 2583.78.
    2024 (base 28421): 2842.10 again; (5000 − 2842.10) × 60 % = 2157.90 × 0.6 = 1294.74."""
    out = run(
        case(
            "baoshan",
            [identity("dibao_edge")],
            [
                claim("os", "outpatient_special", "2023-03-01", "2000.00"),
                claim("ip", "inpatient", "2023-04-01", "5000.00"),
                claim("ny", "inpatient", "2024-04-01", "5000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["os"]["deductible_applied"], c["os"]["total"]) == ("2000.00", "0.00")
    assert (c["ip"]["deductible_applied"], c["ip"]["total"]) == ("693.70", "2583.78")
    assert (c["ny"]["deductible_applied"], c["ny"]["total"]) == ("2842.10", "1294.74")


def test_baoshan_referral_is_strict_even_in_the_area():
    """第九条 (no 原则上): a non-referred stay in the area is not_referred; a follow-up is
    covered: 二类 70 % × 1000 = 700.00."""
    out = run(
        case(
            "baoshan",
            [identity("dibao")],
            [
                claim("x", "inpatient", "2023-03-01", "1000.00", referred=False),
                claim("f", "inpatient", "2023-03-02", "1000.00", referred=False, follow_up=True),
            ],
        )
    )
    c = by_ref(out)
    assert (c["x"]["reason"], c["f"]["total"]) == ("not_referred", "700.00")


def test_baoshan_sudden_hardship_is_class_3():
    """第六条 三类 纳入监测范围的农村易返贫致贫人口; 第十三条 names 突发严重困难户 in that scope:
    (10000 − 2693.70) × 60 % = 4383.78."""
    out = run(
        case(
            "baoshan",
            [identity("sudden_hardship")],
            [claim("a", "inpatient", "2023-03-01", "10000.00")],
        )
    )
    assert totals(out)["a"] == D("4383.78")


def test_baoshan_premium_highest_tier_unset_amount_and_no_refund():
    """第八条: 一类 full (380.00), highest tier with dibao; 二类 定额 set by the province (not in
    the text) → amount_not_set until given; with `premium.dibao.amount` = 180 → 180.00;
    （三）已缴纳参保费用的不退不补 → already paid: 0.00."""
    both = premium("baoshan", [identity("dibao"), identity("tekun")])
    assert (both["identity"], both["subsidy"]) == ("tekun", "380.00")
    assert premium("baoshan", [identity("dibao")])["reason"] == "amount_not_set"
    out = preview(
        case(
            "baoshan",
            [identity("dibao")],
            [],
            parameters={"premium.dibao.amount": "180"},
            premium={"year": 2024, "individual_contribution": "380.00", "on": "2023-10-15"},
        )
    )
    assert out["premium"]["subsidy"] == "180.00"
    paid = premium("baoshan", [identity("tekun")], already_paid=True)
    assert (paid["subsidy"], paid["reason"]) == ("0.00", "already_paid_no_refund")


# --- kunming: 昆明市城乡医疗救助管理实施办法 (2021) --------------------


def test_kunming_general_outpatient_age_60_level_1_and_200_cap():
    """四（二）1（1）: 低保 60周岁以上 at 乡镇卫生院/村卫生室/社区 (level 1), 70 %, 200 a year.
    Born 1963-03-02: 2023-03-01 (59) → age_requirement_not_met; 2023-03-02 (60) 100 → 70.00;
    a level-2 visit → hospital_level_not_covered; 300 → 210 but 200 − 70 = 130.00 left;
    then cap_exhausted; 2024 a new 200: 100 → 70.00."""
    out = run(
        case(
            "kunming",
            [identity("dibao")],
            [
                claim("young", "outpatient_general", "2023-03-01", "100.00", hospital_level=1),
                claim("b60", "outpatient_general", "2023-03-02", "100.00", hospital_level=1),
                claim("l2", "outpatient_general", "2023-03-03", "100.00", hospital_level=2),
                claim("big", "outpatient_general", "2023-04-01", "300.00", hospital_level=1),
                claim("none", "outpatient_general", "2023-05-01", "100.00", hospital_level=1),
                claim("ny", "outpatient_general", "2024-01-02", "100.00", hospital_level=1),
            ],
            birth_date="1963-03-02",
        )
    )
    c = by_ref(out)
    assert c["young"]["reason"] == "age_requirement_not_met"
    assert c["l2"]["reason"] == "hospital_level_not_covered"
    assert c["none"]["reason"] == "cap_exhausted"
    assert (c["b60"]["total"], c["big"]["total"], c["ny"]["total"]) == ("70.00", "130.00", "70.00")


def test_kunming_grade_1_2_disability_opens_general_outpatient_under_60():
    """四（二）1（1）城乡低保对象中…一二级重度残疾人员: a 低保 aged 33 with severe_disability:
    400 × 70 % = 280 → cap 200.00. severe_disability alone is no assistance tier → no_identity."""
    both = run(
        case(
            "kunming",
            [identity("dibao"), identity("severe_disability")],
            [claim("a", "outpatient_general", "2023-03-01", "400.00", hospital_level=1)],
            birth_date="1990-01-01",
        )
    )
    alone = run(
        case(
            "kunming",
            [identity("severe_disability")],
            [claim("a", "outpatient_general", "2023-03-01", "400.00", hospital_level=1)],
            birth_date="1990-01-01",
        )
    )
    assert (by_ref(both)["a"]["identity"], totals(both)["a"]) == ("dibao", D("200.00"))
    assert by_ref(alone)["a"]["reason"] == "no_identity"


def test_kunming_low_income_major_disease_route_takes_the_higher():
    """四（二）2 and 四（三）就高, 低收入 at a level-3 hospital (70 %):
    a major 30000: general 30000 × 70 % = 21000 → cap 20000; major (30000 − 20000) × 70 % =
      7000 → general 20000.00 (the general pool is spent);
    b major 30000: general pool 0; major: the 20000 deductible is already met by a's self-pay
      (it counts whichever route paid) → 30000 × 70 % = 21000.00 from the 100000 pool;
    c non-major 5000 at level 1: general pool spent → cap_exhausted."""
    out = run(
        case(
            "kunming",
            [identity("low_income_other")],
            [
                claim(
                    "a", "inpatient", "2023-02-01", "30000.00", major_disease=True, hospital_level=3
                ),
                claim(
                    "b", "inpatient", "2023-04-01", "30000.00", major_disease=True, hospital_level=3
                ),
                claim("c", "inpatient", "2023-05-01", "5000.00", hospital_level=1),
            ],
        )
    )
    c = by_ref(out)
    assert (c["a"]["total"], c["b"]["total"]) == ("20000.00", "21000.00")
    assert (c["b"]["deductible_applied"], c["c"]["reason"]) == ("0.00", "cap_exhausted")


def test_kunming_major_disease_deductible_is_per_natural_year():
    """四（二）2（2）低收入 个人自付超过2万元的超出部分, level 2 (75 %):
    2022-12-10 major 15000: general 11250 vs major 0 → 11250.00;
    2023-01-10 major 25000: new year, new 20000 deductible and new pools: general 18750 vs
      major (25000 − 20000) × 75 % = 3750 → 18750.00;
    2023-02-10 major 25000: general 20000 − 18750 = 1250 vs major (counted 25000 ≥ 20000)
      25000 × 75 % = 18750 → 18750.00 from the major-disease pool."""
    out = run(
        case(
            "kunming",
            [identity("low_income_elderly")],
            [
                claim("d22", "inpatient", "2022-12-10", "15000.00", major_disease=True),
                claim("j23", "inpatient", "2023-01-10", "25000.00", major_disease=True),
                claim("f23", "inpatient", "2023-02-10", "25000.00", major_disease=True),
            ],
        )
    )
    t = totals(out)
    assert (t["d22"], t["j23"], t["f23"]) == (D("11250.00"), D("18750.00"), D("18750.00"))


def test_kunming_tekun_major_route_leaves_the_general_pool_free():
    """四（二）2（2）特困 100 %, cap 100000; general route capped at 20000 → the major route
    pays 50000.00; a later ordinary stay of 5000 still has the whole general pool: 5000.00."""
    out = run(
        case(
            "kunming",
            [identity("tekun")],
            [
                claim("m", "inpatient", "2023-02-01", "50000.00", major_disease=True),
                claim("g", "inpatient", "2023-03-01", "5000.00"),
            ],
        )
    )
    t = totals(out)
    assert (t["m"], t["g"]) == (D("50000.00"), D("5000.00"))


def test_kunming_item_caps_are_independent_pools():
    """四（二）各救助项目年度最高救助限额相互独立: 低保 特殊慢性病 3000 at level 1 × 80 % = 2400
    → 2000.00; 特殊疾病 8000 at level 3 × 70 % = 5600 → 5000.00; 住院 10000 at level 2 × 75 %
    = 7500.00, none limited by the others."""
    out = run(
        case(
            "kunming",
            [identity("dibao")],
            [
                claim("ch", "outpatient_chronic", "2023-02-01", "3000.00", hospital_level=1),
                claim("sp", "outpatient_special", "2023-03-01", "8000.00", hospital_level=3),
                claim("ip", "inpatient", "2023-04-01", "10000.00", hospital_level=2),
            ],
        )
    )
    t = totals(out)
    assert (t["ch"], t["sp"], t["ip"]) == (D("2000.00"), D("5000.00"), D("7500.00"))


def test_kunming_low_income_has_no_outpatient_and_nobody_has_emergency():
    """四（二）1 outpatient assistance is for 特困 and 低保 only; emergency is not a Kunming
    item."""
    out = run(
        case(
            "kunming",
            [identity("low_income_other")],
            [
                claim("ch", "outpatient_chronic", "2023-02-01", "1000.00"),
                claim("em", "outpatient_emergency", "2023-02-02", "1000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["ch"]["reason"], c["em"]["reason"]) == ("kind_not_covered", "kind_not_covered")


def test_kunming_premium_table_1():
    """四（一）表1: 低保 and 低收入老年人 120.00; 低收入 重病患者 not in the table;
    职工医保 不予资助."""
    assert premium("kunming", [identity("dibao")], on="2023-10-15")["subsidy"] == "120.00"
    assert premium("kunming", [identity("low_income_elderly")])["subsidy"] == "120.00"
    assert premium("kunming", [identity("low_income_other")])["reason"] == "not_subsidised"
    employee = premium("kunming", [identity("tekun")], scheme="employee")
    assert (employee["subsidy"], employee["reason"]) == ("0.00", "employee_insurance")


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


# --- zhangye: 张政办发〔2022〕90号 --------------------


def test_zhangye_major_disease_raises_the_cap_to_80000_not_additive():
    """四（二）1 5万 / 30种重特大疾病 8万, Decision: raised, not added; 四（二）3 tilt outside it.
    特困 100 %: a major 90000 → 80000.00; left 10000 → (10000 − 6000) × 30 % = 1200.00;
    b ordinary 10000 → 80000 spent → 0.00; left 10000, year 20000 → 4200 → tilt 3000.00;
    2024: back to 50000: c ordinary 60000 → 50000.00, left 10000 → 1200.00."""
    out = run(
        case(
            "zhangye",
            [identity("tekun")],
            [
                claim("a", "inpatient", "2023-03-01", "90000.00", major_disease=True),
                claim("b", "inpatient", "2023-05-01", "10000.00"),
                claim("c", "inpatient", "2024-02-01", "60000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert amounts(c["a"]) == ("80000.00", "1200.00", "81200.00")
    assert amounts(c["b"]) == ("0.00", "3000.00", "3000.00")
    assert amounts(c["c"]) == ("50000.00", "1200.00", "51200.00")


def test_zhangye_tilt_above_6000_cumulates_over_the_year():
    """四（二）3: 三、四类低保 70 %, three stays of 10000 leave 3000 each: year 3000, 6000, 9000
    → tilts 0.00, 0.00, (9000 − 6000) × 30 % = 900.00."""
    out = run(
        case(
            "zhangye",
            [identity("dibao_partial")],
            [
                claim(r, "inpatient", d, "10000.00")
                for r, d in (("a", "2023-02-01"), ("b", "2023-03-01"), ("c", "2023-04-01"))
            ],
        )
    )
    c = by_ref(out)
    assert [c[r]["tilted_assistance"] for r in "abc"] == ["0.00", "0.00", "900.00"]
    assert totals(out)["_total"] == D("21900.00")


def test_zhangye_application_covers_only_12_months_even_for_a_held_identity():
    """四（二）2 自申请之日前12个月内: 低保边缘 held since 2020, applying on 2023-10-01 — the
    window opens 2022-10-01. A 2022-08-01 stay → outside_lookback; a 2022-10-01 stay →
    (10000 − 2000) × 60 % = 4800.00 in 2022 (left 5200 < 6000: no tilt)."""
    out = run(
        case(
            "zhangye",
            [identity("dibao_edge")],
            [
                claim(
                    "old",
                    "inpatient",
                    "2022-08-01",
                    "10000.00",
                    settlement="application",
                    applied="2023-10-01",
                ),
                claim(
                    "in",
                    "inpatient",
                    "2022-10-01",
                    "10000.00",
                    settlement="application",
                    applied="2023-10-01",
                ),
            ],
        )
    )
    c = by_ref(out)
    assert (c["old"]["eligible"], c["old"]["reason"]) == (False, "outside_lookback")
    assert amounts(c["in"]) == ("4800.00", "0.00", "4800.00")
    assert any("申请日" in line for line in c["old"]["trace"])


def test_zhangye_application_window_boundary_before_certification():
    """四（二）2: certified 2023-09-01, applied 2023-09-10 → window opens 2022-09-10 (含):
    a 2022-09-10 stay: (10000 − 5000) × 60 % = 3000.00, left 7000 → 300.00 tilt."""
    out = run(
        case(
            "zhangye",
            [identity("illness_poverty", "2023-09-01")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2022-09-10",
                    "10000.00",
                    settlement="application",
                    applied="2023-09-10",
                )
            ],
        )
    )
    assert amounts(by_ref(out)["a"]) == ("3000.00", "300.00", "3300.00")


def test_zhangye_local_care_needs_no_referral():
    """七（三）concerns 市域外 transfers; 四（二）3 names 在参保地定点医疗机构就医 beside
    规范转诊且在省域内就医. Monitored 60 %: local, not referred, 20000 → 12000.00, left 8000 →
    600.00 tilt; out of area, not referred → not_referred; out of the province, referred →
    12000.00 but no tilt (省域内 only)."""

    def one(**where) -> dict:
        out = run(
            case(
                "zhangye",
                [identity("rural_monitored")],
                [claim("a", "inpatient", "2023-03-01", "20000.00", **where)],
            )
        )
        return by_ref(out)["a"]

    assert amounts(one(referred=False)) == ("12000.00", "600.00", "12600.00")
    assert one(referred=False, in_area=False)["reason"] == "not_referred"
    assert amounts(one(in_area=False, in_province=False)) == ("12000.00", "0.00", "12000.00")


def test_zhangye_application_deductible_cumulates_across_kinds():
    """四（二）2 低保边缘 年度起付标准 2000 for 住院 and 门诊慢特病 together: 门诊慢特病 1500 →
    0.00; 住院 5000 → (5000 − 500) × 60 % = 2700.00."""
    out = run(
        case(
            "zhangye",
            [identity("dibao_edge")],
            [
                claim("op", "outpatient_chronic", "2023-02-01", "1500.00"),
                claim("ip", "inpatient", "2023-03-01", "5000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["op"]["total"], c["ip"]["deductible_applied"], c["ip"]["total"]) == (
        "0.00",
        "500.00",
        "2700.00",
    )


def test_zhangye_premium_2022_standards():
    """三（一）3: 易返贫致贫人口 (含突发严重困难户, 二（一）4 "下同") 100.00; 已脱贫人口 100.00;
    ungraded 低保 read as 三、四类 160.00; 低保边缘 not subsidised; 三（一）4 already paid →
    subsidised the month after, the contribution refunded: 220.00."""
    on = {"year": 2023, "on": "2022-10-01", "individual_contribution": "350.00"}
    assert premium("zhangye", [identity("sudden_hardship")], **on)["subsidy"] == "100.00"
    assert premium("zhangye", [identity("poverty_lifted")], **on)["subsidy"] == "100.00"
    assert premium("zhangye", [identity("dibao")], **on)["subsidy"] == "160.00"
    assert premium("zhangye", [identity("dibao_edge")], **on)["reason"] == "not_subsidised"
    paid = premium("zhangye", [identity("dibao_full")], already_paid=True, **on)
    assert (paid["subsidy"], paid["reason"]) == ("220.00", None)
