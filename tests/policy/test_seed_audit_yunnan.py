"""Independent audit of the engine against the Yunnan seeds (the province, Baoshan, Kunming;
shared/seeds/*.txt), through the preview contract only (`medaid.policy.contract.preview`).

Each case is worked by hand from the article it cites, without reading the packs; the
arithmetic is in the docstring. Bases (全省上年居民人均可支配收入) used below:
- Yunnan / Baoshan: 25 666 (2022-07-01), 26 937 (2023), 28 421 (2024).
Kunming amounts are fixed in yuan. Pingshun and Zhangye: the sibling test_seed_audit_* files.
"""

from __future__ import annotations

from decimal import Decimal as D

from medaid.policy.contract import preview
from tests.policy.helpers import by_ref, case, claim, identity, premium, run, totals

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
    Born 1961-03-02: 2021-03-01 (59) → age_requirement_not_met; 2021-03-02 (60) 100 → 70.00;
    a level-2 visit → hospital_level_not_covered; 300 → 210 but 200 − 70 = 130.00 left;
    then cap_exhausted; 2022 a new 200: 100 → 70.00."""
    out = run(
        case(
            "kunming",
            [identity("dibao")],
            [
                claim("young", "outpatient_general", "2021-03-01", "100.00", hospital_level=1),
                claim("b60", "outpatient_general", "2021-03-02", "100.00", hospital_level=1),
                claim("l2", "outpatient_general", "2021-03-03", "100.00", hospital_level=2),
                claim("big", "outpatient_general", "2021-04-01", "300.00", hospital_level=1),
                claim("none", "outpatient_general", "2021-05-01", "100.00", hospital_level=1),
                claim("ny", "outpatient_general", "2022-01-02", "100.00", hospital_level=1),
            ],
            birth_date="1961-03-02",
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
            [claim("a", "outpatient_general", "2021-03-01", "400.00", hospital_level=1)],
            birth_date="1988-01-01",
        )
    )
    alone = run(
        case(
            "kunming",
            [identity("severe_disability")],
            [claim("a", "outpatient_general", "2021-03-01", "400.00", hospital_level=1)],
            birth_date="1988-01-01",
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
                    "a", "inpatient", "2021-02-01", "30000.00", major_disease=True, hospital_level=3
                ),
                claim(
                    "b", "inpatient", "2021-04-01", "30000.00", major_disease=True, hospital_level=3
                ),
                claim("c", "inpatient", "2021-05-01", "5000.00", hospital_level=1),
            ],
        )
    )
    c = by_ref(out)
    assert (c["a"]["total"], c["b"]["total"]) == ("20000.00", "21000.00")
    assert (c["b"]["deductible_applied"], c["c"]["reason"]) == ("0.00", "cap_exhausted")


def test_kunming_major_disease_deductible_is_per_natural_year():
    """四（二）2（2）低收入 个人自付超过2万元的超出部分, level 2 (75 %):
    2021-12-10 major 15000: general 11250 vs major 0 → 11250.00;
    2022-01-10 major 25000: new year, new 20000 deductible and new pools: general 18750 vs
      major (25000 − 20000) × 75 % = 3750 → 18750.00;
    2022-02-10 major 25000: general 20000 − 18750 = 1250 vs major (counted 25000 ≥ 20000)
      25000 × 75 % = 18750 → 18750.00 from the major-disease pool."""
    out = run(
        case(
            "kunming",
            [identity("low_income_elderly")],
            [
                claim("d22", "inpatient", "2021-12-10", "15000.00", major_disease=True),
                claim("j23", "inpatient", "2022-01-10", "25000.00", major_disease=True),
                claim("f23", "inpatient", "2022-02-10", "25000.00", major_disease=True),
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
                claim("m", "inpatient", "2021-02-01", "50000.00", major_disease=True),
                claim("g", "inpatient", "2021-03-01", "5000.00"),
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
                claim("ch", "outpatient_chronic", "2021-02-01", "3000.00", hospital_level=1),
                claim("sp", "outpatient_special", "2021-03-01", "8000.00", hospital_level=3),
                claim("ip", "inpatient", "2021-04-01", "10000.00", hospital_level=2),
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
                claim("ch", "outpatient_chronic", "2021-02-01", "1000.00"),
                claim("em", "outpatient_emergency", "2021-02-02", "1000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["ch"]["reason"], c["em"]["reason"]) == ("kind_not_covered", "kind_not_covered")


def test_kunming_premium_table_1():
    """四（一）表1: 低保 and 低收入老年人 120.00; 低收入 重病患者 not in the table;
    职工医保 不予资助."""
    assert premium("kunming", [identity("dibao")], on="2021-10-15")["subsidy"] == "120.00"
    assert (
        premium("kunming", on="2021-10-15", identities=[identity("low_income_elderly")])["subsidy"]
        == "120.00"
    )
    assert (
        premium("kunming", on="2021-10-15", identities=[identity("low_income_other")])["reason"]
        == "not_subsidised"
    )
    employee = premium(
        "kunming", on="2021-10-15", identities=[identity("tekun")], scheme="employee"
    )
    assert (employee["subsidy"], employee["reason"]) == ("0.00", "employee_insurance")
