"""The trace is what a clerk checks by hand: identity and alternatives, base and deductible,
ratio, cap, tilt, rounding, the pack version and the articles."""

from medaid.policy import decide
from medaid.policy.contract import parse_case
from tests.policy.helpers import by_ref, case, claim, identity, run


def lines_of(data, ref):
    return by_ref(run(data))[ref]["trace"]


PINGSHUN = case(
    "pingshun",
    [identity("illness_poverty", "2023-01-01"), identity("dibao_edge", "2023-01-01")],
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


def test_trace_walks_every_step_with_its_article():
    trace = lines_of(PINGSHUN, "A")
    text = "\n".join(trace)
    assert trace[0].startswith(
        "政策：平顺县健全重特大疾病医疗保险和救助制度的实施细则，2023-01-07 起施行的版本"
    )
    assert "参数指纹" in trace[0]
    assert "政策范围内个人自付 40000.00 = 政策范围内费用 40000.00 − 基本医保 0.00" in text
    assert "身份：低保边缘家庭成员（dibao_edge）" in text
    assert "多重身份按就高不就低、不重复救助（平顺细则 第十九条）" in text
    assert "因病致贫重病患者（illness_poverty）[因病致贫重病患者] 可得" in text
    assert "起付标准 2917.80 = 29178 × 10%（平顺细则 第十四条（五））" in text
    assert "剩余 2917.80，本次扣除 2917.80" in text
    assert (
        "救助比例 60%（平顺细则 第十四条（五））：(40000.00 − 起付 2917.80) × 60% = 22249.32"
        in text
    )
    assert "年度救助限额（门诊、特药、住院共用）40000.00" in text
    assert "舍入：22249.32 → 22249.32（四舍五入到分）" in text
    assert "超过 14589.00（= 29178 × 50%） 的部分 3161.68 × 70% = 2213.176" in text
    assert "本次 2213.18" in text
    assert (
        "手工报销：2023-04-01 申请，时限为出院后 180 日即 2023-09-08"
        "（平顺细则 第三十九条），在时限内" in text
    )
    assert trace[-2] == "本次医疗救助 22249.32 + 倾斜救助 2213.18 = 24462.50"
    assert trace[-1].startswith("依据条款：")
    for article in ("第十四条（五）", "第十九条", "第二十条", "第三十九条", "第四十八条"):
        assert article in trace[-1]


def test_articles_and_stamp_on_the_decision():
    decision = decide(parse_case(PINGSHUN)).claims[0]
    assert decision.policy_version == "2023-01-07"
    assert len(decision.parameters_hash) == 16
    assert any("第二十条" in ref for ref in decision.articles)
    # the structured steps are plain tuples; rendering is lazy and repeatable
    assert decision.trace == decision.trace


def test_rounding_is_shown_when_it_changes_the_amount():
    data = case(
        "yunnan", [identity("illness_poverty")], [claim("a", "inpatient", "2023-07-01", "20000.00")]
    )
    assert "舍入：6632.875 → 6632.88（四舍五入到分）" in lines_of(data, "a")


def test_refusals_say_why():
    data = case(
        "yunnan",
        [identity("severe_disability"), identity("dibao", "2023-06-01")],
        [claim("a", "inpatient", "2023-05-01", "100.00")],
    )
    text = "\n".join(lines_of(data, "a"))
    assert (
        "丧失劳动能力的一二级重度残疾人（severe_disability） 不是云南措施规定的医疗救助对象" in text
    )
    assert "低保对象（dibao） 认定期 2023-06-01 至 今，不覆盖本次费用日期" in text
    assert "不予救助：就诊（出院）时不具有本政策认可的医疗救助对象身份（no_identity）" in text


def test_cap_and_route_choice_lines():
    data = case(
        "kunming",
        [identity("low_income_other")],
        [claim("a", "inpatient", "2021-03-01", "50000.00", major_disease=True)],
    )
    text = "\n".join(lines_of(data, "a"))
    assert (
        "重特大疾病住院救助 22500.00，普通住院救助 20000.00 → 取重特大疾病住院救助，只占用其限额"
        in text
    )
    assert "重特大疾病住院救助起付线 20000.00" in text
    assert "年度救助限额（重特大疾病住院救助）100000.00" in text


def test_reach_back_and_stay_rules_are_explained():
    yunnan = case(
        "yunnan",
        [identity("illness_poverty", "2023-06-01")],
        [claim("a", "inpatient", "2023-04-01", "100.00")],
    )
    assert "认定之前 90 天（含）内发生的费用纳入救助（云政办发〔2022〕40号 （二））" in "\n".join(
        lines_of(yunnan, "a")
    )
    pingshun = case(
        "pingshun",
        [identity("dibao", "2023-01-01", "2023-03-05")],
        [claim("a", "inpatient", "2023-03-10", "1000.00", admitted="2023-03-01")],
    )
    assert "以入院时身份为准（平顺细则 第三十五条）" in "\n".join(lines_of(pingshun, "a"))
