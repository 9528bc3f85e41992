"""Golden cases for the readings corrected in issue #16 part 4, each worked by hand from its
article (shared/seeds/*.txt) and run through the preview contract."""

from medaid.policy.contract import preview
from tests.policy.helpers import by_ref, case, claim, identity, premium, run


def _one(out: dict, ref: str = "a") -> dict:
    return by_ref(out)[ref]


# --- Pingshun 第四十七条: the base 四舍五入取整 before the deductible -------------------------


def test_pingshun_published_base_is_rounded_to_whole_yuan():
    """平顺细则 第四十七条 "以省统计局官网公布数据为准，四舍五入取整后计算确定起付标准";
    第十四条（五） 低保边缘 10 % of the base, 60 %; 第二十条 tilt over 50 % of the base at 70 %.
    Published 29177.50 → 29178: deductible 29178 × 10 % = 2917.80 (not 2917.75);
    (40000 − 2917.80) × 60 % = 22249.32; left 40000 − 22249.32 = 17750.68;
    tilt (17750.68 − 14589.00) × 70 % = 2213.176 → 2213.18; total 24462.50."""
    out = run(
        case(
            "pingshun",
            [identity("dibao_edge", "2023-01-07")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2023-03-12",
                    "40000.00",
                    settlement="application",
                    applied="2023-04-01",
                )
            ],
            parameters={"per_capita_disposable_income": "29177.50"},
        )
    )
    a = _one(out)
    assert (a["deductible_applied"], a["assistance"], a["tilted_assistance"], a["total"]) == (
        "2917.80",
        "22249.32",
        "2213.18",
        "24462.50",
    )
    assert any("公布数 29177.5 四舍五入取整" in line for line in a["trace"]), a["trace"]


def test_pingshun_rounding_half_up_at_fifty_fen():
    """第四十七条 四舍五入: 29178.50 → 29179; deductible 29179 × 10 % = 2917.90;
    (40000 − 2917.90) × 60 % = 37082.10 × 0.6 = 22249.26."""
    out = run(
        case(
            "pingshun",
            [identity("dibao_edge", "2023-01-07")],
            [claim("a", "inpatient", "2023-03-12", "40000.00")],
            parameters={"per_capita_disposable_income": "29178.50"},
        )
    )
    a = _one(out)
    assert (a["deductible_applied"], a["assistance"]) == ("2917.90", "22249.26")


# --- Yunnan （十二）: the cap floor is the pooling area's income -------------------------------


def test_yunnan_cap_falls_back_to_the_provincial_base_until_the_area_sets_its_figure():
    """云政办发〔2022〕40号 （十二）"原则上不低于统筹地区城乡居民人均可支配收入": no area figure →
    the provincial base 26937 (2023). 二类 70 % of 40000 = 28000 → capped at 26937.00, and the
    trace says the area has not set its figure."""
    out = run(
        case("yunnan", [identity("dibao")], [claim("a", "inpatient", "2023-03-01", "40000.00")])
    )
    a = _one(out)
    assert a["total"] == "26937.00"
    assert any("统筹地区未设定" in line for line in a["trace"]), a["trace"]


def test_yunnan_pooling_area_income_changes_the_cap_only():
    """（十二） cap = the pooling area's figure 35000; （十） the deductible stays on the provincial
    base: 三类 dibao_edge 10 % × 26937 = 2693.70; (60000 − 2693.70) × 60 % = 34383.78 ≤ 35000
    → 34383.78 (capped at 26937.00 without the area figure)."""
    claims = [claim("a", "inpatient", "2023-03-01", "60000.00")]
    area = run(
        case(
            "yunnan",
            [identity("dibao_edge")],
            claims,
            parameters={"pooling_area_per_capita_disposable_income": "35000"},
        )
    )
    plain = run(case("yunnan", [identity("dibao_edge")], claims))
    assert (_one(area)["deductible_applied"], _one(area)["total"]) == ("2693.70", "34383.78")
    assert (_one(plain)["deductible_applied"], _one(plain)["total"]) == ("2693.70", "26937.00")


def test_yunnan_annual_cap_overrides_the_area_figure():
    """（十二）具体由各统筹地合理确定: an explicit annual_cap 20000 wins over the area's 35000:
    二类 70 % × 40000 = 28000 → 20000.00."""
    out = run(
        case(
            "yunnan",
            [identity("dibao")],
            [claim("a", "inpatient", "2023-03-01", "40000.00")],
            parameters={
                "pooling_area_per_capita_disposable_income": "35000",
                "annual_cap": "20000",
            },
        )
    )
    assert _one(out)["total"] == "20000.00"


# --- Kunming 四（四）: 建档立卡 get the 健康扶贫 treatment only --------------------------------


def test_kunming_dibao_who_is_also_poverty_lifted_gets_health_poverty_scheme():
    """昆明办法 四（四）"救助对象同时属于建档立卡贫困人员的…其余人员仅享受健康扶贫医疗保障待遇，
    不再重复享受上述各项医疗救助": a 低保 who is also 脱贫人口 gets 0.00 (health_poverty_scheme)
    for a stay and no premium subsidy (四（一） is one of 上述各项); 低保 alone: 75 % × 10000 at
    level 2 = 7500.00."""
    both = [identity("dibao", "2021-01-01"), identity("poverty_lifted", "2021-01-01")]
    stay = [claim("a", "inpatient", "2021-05-01", "10000.00", hospital_level=2)]
    a = _one(run(case("kunming", both, stay)))
    assert (a["eligible"], a["reason"], a["total"]) == (False, "health_poverty_scheme", "0.00")
    alone = _one(run(case("kunming", [identity("dibao", "2021-01-01")], stay)))
    assert alone["total"] == "7500.00"
    paid = premium("kunming", both, on="2021-10-15")
    assert (paid["subsidy"], paid["reason"]) == ("0.00", "health_poverty_scheme")


def test_kunming_tekun_is_exempt_from_the_health_poverty_rule():
    """四（四）"除特困供养人员在享受健康扶贫医疗保障基础上，可再按上述各项救助标准给予救助外":
    特困 + 脱贫人口: 100 % × 10000 = 10000.00 (≤ 20000 cap); premium in full: 380.00."""
    both = [identity("tekun", "2021-01-01"), identity("poverty_lifted", "2021-01-01")]
    a = _one(run(case("kunming", both, [claim("a", "inpatient", "2021-05-01", "10000.00")])))
    assert (a["identity"], a["total"]) == ("tekun", "10000.00")
    assert premium("kunming", both, on="2021-10-15")["subsidy"] == "380.00"


# --- Kunming's validity ends 2022-06-30 ------------------------------------------------------


def test_kunming_claim_after_its_validity_is_date_after_policy():
    """云政办发〔2022〕40号 （十八）: from 2022-07-01 the provincial measures prevail. Kunming 低保
    at level 2 on 2022-06-30: 75 % × 1000 = 750.00; on 2022-07-01 the kunming pack refuses it
    (date_after_policy, 0.00) and the yunnan pack decides it: 二类 70 % = 700.00."""
    claims = [
        claim("last", "inpatient", "2022-06-30", "1000.00"),
        claim("after", "inpatient", "2022-07-01", "1000.00"),
    ]
    out = by_ref(run(case("kunming", [identity("dibao")], claims)))
    assert out["last"]["total"] == "750.00"
    assert (out["after"]["eligible"], out["after"]["reason"], out["after"]["total"]) == (
        False,
        "date_after_policy",
        "0.00",
    )
    yunnan = by_ref(run(case("yunnan", [identity("dibao")], claims[1:])))
    assert yunnan["after"]["total"] == "700.00"
    late = premium("kunming", [identity("dibao")], on="2022-07-01")
    assert (late["subsidy"], late["reason"]) == ("0.00", "date_after_policy")


# --- Kunming severe_disability is not an assistance tier -------------------------------------


def test_kunming_severe_disability_alone_is_premium_only():
    """昆明办法 三 救助对象 (低收入家庭中的…重度残疾人 = low_income_other) and 四（一）2
    表1: a grade 1–2 disability alone gets the 120-yuan premium subsidy and no assistance: a stay is
    no_identity, 0.00."""
    alone = [identity("severe_disability", "2021-01-01")]
    a = _one(run(case("kunming", alone, [claim("a", "inpatient", "2021-05-01", "10000.00")])))
    assert (a["eligible"], a["reason"], a["total"]) == (False, "no_identity", "0.00")
    assert premium("kunming", alone, on="2021-10-15")["subsidy"] == "120.00"


def test_kunming_severe_disability_opens_general_outpatient_for_dibao_only():
    """四（二）1（1） 普通门诊: 城乡低保对象中60周岁以上的老年人和一二级重度残疾人员, at
    level 1, 70 %, 200 a year. A 低保 aged 41 with a grade 1–2 disability: 100 × 70 % =
    70.00; the same 低保 without it: age_requirement_not_met; at a level-2 hospital:
    hospital_level_not_covered."""
    visit = [claim("a", "outpatient_general", "2021-05-01", "100.00", hospital_level=1)]
    both = [identity("dibao", "2021-01-01"), identity("severe_disability", "2021-01-01")]
    got = _one(run(case("kunming", both, visit, birth_date="1980-01-01")))
    assert got["total"] == "70.00"
    young = _one(run(case("kunming", both[:1], visit, birth_date="1980-01-01")))
    assert young["reason"] == "age_requirement_not_met"
    level_2 = [claim("a", "outpatient_general", "2021-05-01", "100.00", hospital_level=2)]
    refused = _one(run(case("kunming", both, level_2, birth_date="1980-01-01")))
    assert refused["reason"] == "hospital_level_not_covered"


# --- Zhangye 七（三） and 四（二）3 -------------------------------------------------------------


def test_zhangye_outside_the_area_without_referral_is_not_covered():
    """张政办发〔2022〕90号 七（三）"未按规定转诊的救助对象，所发生的的医疗费用原则上
    不纳入医疗救助范围" (care outside the pooling area without a referral or a registered
    异地安置): 0.00, not_referred. Inside the area no referral is needed: 一二类低保
    75 % × 40000 = 30000.00; 四（二）3 tilt: left 10000, (10000 − 6000) × 30 % = 1200.00;
    total 31200.00."""
    out = by_ref(
        run(
            case(
                "zhangye",
                [identity("dibao_full", "2022-07-01")],
                [
                    claim("local", "inpatient", "2023-03-01", "40000.00", referred=False),
                    claim(
                        "away", "inpatient", "2023-04-01", "1000.00", in_area=False, referred=False
                    ),
                ],
            )
        )
    )
    assert (out["local"]["assistance"], out["local"]["tilted_assistance"]) == (
        "30000.00",
        "1200.00",
    )
    assert (out["away"]["reason"], out["away"]["total"]) == ("not_referred", "0.00")


def test_zhangye_referred_outside_gansu_is_assisted_but_not_tilted():
    """七（三）按规定转诊的…按相应标准实行救助; 四（二）3 only care
    "在参保地定点医疗机构就医或规范转诊且在省域内就医" counts toward and receives the
    二次倾斜. Referred outside Gansu: 75 % × 40000 = 30000.00, tilt 0.00; a later local
    stay of 10000: 7500.00, left 2500 — the earlier 10000 does not count, 2500 < 6000, tilt
    0.00."""
    out = by_ref(
        run(
            case(
                "zhangye",
                [identity("dibao_full", "2022-07-01")],
                [
                    claim(
                        "far",
                        "inpatient",
                        "2023-03-01",
                        "40000.00",
                        in_area=False,
                        in_province=False,
                        referred=True,
                    ),
                    claim("home", "inpatient", "2023-04-01", "10000.00"),
                ],
            )
        )
    )
    assert (out["far"]["assistance"], out["far"]["tilted_assistance"]) == ("30000.00", "0.00")
    assert (out["home"]["assistance"], out["home"]["tilted_assistance"]) == ("7500.00", "0.00")


# --- 过渡期 -----------------------------------------------------------------------------------


def test_pingshun_transition_identities_end_with_the_transition_period():
    """平顺细则 第十条（二）过渡期内…返贫致贫人口: on 2025-12-31 a 返贫致贫 stay of 10000 with basic
    5000: 70 % × 5000 = 3500, 第十四条（三） top-up to 90 %: 9000 − 8500 = 500 → 4000.00; on
    2026-01-01 (after transition_period_end 2025-12-31) no tier: no_identity, 0.00; the office
    extending the period to 2026-12-31 gives 4000.00 again."""
    stay = {"basic_insurance_paid": "5000.00"}
    claims = [
        claim("in", "inpatient", "2025-12-31", "10000.00", **stay),
        claim("after", "inpatient", "2026-01-01", "10000.00", **stay),
    ]
    out = by_ref(run(case("pingshun", [identity("fanpin", "2023-01-07")], claims)))
    assert out["in"]["total"] == "4000.00"
    assert (out["after"]["reason"], out["after"]["total"]) == ("no_identity", "0.00")
    extended = by_ref(
        run(
            case(
                "pingshun",
                [identity("fanpin", "2023-01-07")],
                claims,
                parameters={"transition_period_end": "2026-12-31"},
            )
        )
    )
    assert extended["after"]["total"] == "4000.00"


def test_pingshun_dibao_keeps_its_tier_after_the_transition():
    """第十条（一） 低保 is not a transition identity: 低保 + 易返贫致贫 on 2026-03-01,
    70 % × 1000 = 700.00 as 低保."""
    both = [identity("dibao", "2023-01-07"), identity("rural_monitored", "2023-01-07")]
    a = _one(run(case("pingshun", both, [claim("a", "inpatient", "2026-03-01", "1000.00")])))
    assert (a["identity"], a["total"]) == ("dibao", "700.00")


def test_zhangye_transition_identities_and_premiums_end_with_the_period():
    """张政办发〔2022〕90号 四（二）1（4）过渡期内的…已脱贫人口 60 %: 2025-12-31, 10000 → 6000.00
    (left 4000 < 6000, no tilt); 2026-01-01 → no_identity. 三（一）3 100 yuan premium on
    2025-10-15, none on 2026-01-15."""
    lifted = [identity("poverty_lifted", "2022-07-01")]
    out = by_ref(
        run(
            case(
                "zhangye",
                lifted,
                [
                    claim("in", "inpatient", "2025-12-31", "10000.00"),
                    claim("after", "inpatient", "2026-01-01", "10000.00"),
                ],
            )
        )
    )
    assert out["in"]["total"] == "6000.00"
    assert out["after"]["reason"] == "no_identity"
    assert premium("zhangye", lifted, on="2025-10-15")["subsidy"] == "100.00"
    assert premium("zhangye", lifted, on="2026-01-15")["reason"] == "no_identity"


# --- Pingshun 第二十条: uncovered kinds count toward the tilt ----------------------------------


def _pingshun_edge(parameters=None) -> dict:
    extra = {"parameters": parameters} if parameters else {}
    return by_ref(
        run(
            case(
                "pingshun",
                [identity("dibao_edge", "2023-01-07")],
                [
                    claim("chronic", "outpatient_chronic", "2023-03-01", "20000.00"),
                    claim(
                        "stay",
                        "inpatient",
                        "2023-04-01",
                        "40000.00",
                        settlement="application",
                        applied="2023-05-01",
                    ),
                ],
                **extra,
            )
        )
    )


def test_pingshun_tilt_counts_chronic_self_pay_of_an_inpatient_only_identity():
    """平顺细则 第二十条 "政策范围内个人自付住院和慢特病、特药费用仍超过全省上年居民
    人均可支配收入的50%的部分…70%" (tilt.counts_uncovered_kinds); 低保边缘 is assisted for
    stays only (第十四条（五））.
    Base 29178, threshold 14589.00. Chronic 20000 (no 门诊救助): tilt (20000 − 14589) × 70 % =
    3787.70. Stay 40000: deductible 2917.80, (40000 − 2917.80) × 60 % = 22249.32, left
    17750.68; year 37750.68 − 14589 = 23161.68 × 70 % = 16213.176 → 16213.18 − 3787.70 =
    12425.48; stay total 34674.80."""
    out = _pingshun_edge()
    chronic, stay = out["chronic"], out["stay"]
    assert (chronic["eligible"], chronic["assistance"], chronic["tilted_assistance"]) == (
        True,
        "0.00",
        "3787.70",
    )
    assert (stay["assistance"], stay["tilted_assistance"], stay["total"]) == (
        "22249.32",
        "12425.48",
        "34674.80",
    )


def test_pingshun_tilt_without_uncovered_kinds_when_switched_off():
    """第二十条 with tilt.counts_uncovered_kinds false: the chronic claim is kind_not_covered
    and counts nothing; the stay alone: 22249.32 + (17750.68 − 14589) × 70 % = 2213.18 →
    24462.50."""
    out = _pingshun_edge({"tilt.counts_uncovered_kinds": "false"})
    assert (out["chronic"]["reason"], out["chronic"]["total"]) == ("kind_not_covered", "0.00")
    assert out["stay"]["total"] == "24462.50"


def test_unknown_parameter_is_still_refused():
    """The contract accepts the new parameters by name only where the pack has them: Baoshan's
    cap is the provincial base by its 第十二条, so a pooling-area figure is unknown_parameter."""
    out = preview(
        case(
            "baoshan",
            [identity("dibao")],
            [claim("a", "inpatient", "2023-03-01", "1.00")],
            parameters={"pooling_area_per_capita_disposable_income": "35000"},
        )
    )
    assert out["error"]["code"] == "unknown_parameter"
