"""Golden cases for Kunming (昆明市城乡医疗救助管理实施办法, 2021), worked by hand."""

from datetime import date
from decimal import Decimal as D

from medaid.policy import PersonFacts, PremiumRequest, decide_premium
from medaid.policy.facts import IdentityPeriod
from tests.policy.helpers import by_ref, case, claim, identity, run, totals


def test_general_inpatient_cap():
    """四（二）2（1）表4: dibao level 1 80% × 10000 = 8000; level 3 70% × 20000 = 14000,
    capped at 20000 − 8000 = 12000."""
    out = run(
        case(
            "kunming",
            [identity("dibao")],
            [
                claim("c1", "inpatient", "2021-03-01", "10000.00", hospital_level=1),
                claim("c2", "inpatient", "2021-10-01", "20000.00", hospital_level=3),
            ],
        )
    )
    t = totals(out)
    assert (t["c1"], t["c2"], t["_total"]) == (D("8000.00"), D("12000.00"), D("20000.00"))


def test_general_outpatient_tekun_cap_200():
    """四（二）1（1）表2: tekun 100%, 200 a year: 150 → 150.00, then 100 → 50.00."""
    out = run(
        case(
            "kunming",
            [identity("tekun")],
            [
                claim("a", "outpatient_general", "2021-02-01", "150.00", hospital_level=1),
                claim("b", "outpatient_general", "2021-03-01", "100.00", hospital_level=1),
            ],
        )
    )
    t = totals(out)
    assert (t["a"], t["b"]) == (D("150.00"), D("50.00"))


def test_general_outpatient_dibao_age_rule():
    """四（二）1（1）: 低保 only aged 60+ or grade 1–2 disabled, 70%.

    born 1958-04-02, visit 2021-05-01 (63): 70% × 100 = 70.00.
    born 1970-01-01 (51): age_requirement_not_met; with severe_disability: 70.00.
    """
    old = run(
        case(
            "kunming",
            [identity("dibao")],
            [claim("a", "outpatient_general", "2021-05-01", "100.00", hospital_level=1)],
            birth_date="1958-04-02",
        )
    )
    assert totals(old)["a"] == D("70.00")
    young = run(
        case(
            "kunming",
            [identity("dibao")],
            [claim("a", "outpatient_general", "2021-05-01", "100.00", hospital_level=1)],
            birth_date="1970-01-01",
        )
    )
    assert by_ref(young)["a"]["reason"] == "age_requirement_not_met"
    disabled = run(
        case(
            "kunming",
            [identity("dibao"), identity("severe_disability")],
            [claim("a", "outpatient_general", "2021-05-01", "100.00", hospital_level=1)],
            birth_date="1970-01-01",
        )
    )
    assert totals(disabled)["a"] == D("70.00")


def test_general_outpatient_age_needs_birth_date():
    """四（二）1（1）: without a birth date the 60+ rule cannot be met."""
    out = run(
        case(
            "kunming",
            [identity("dibao")],
            [claim("a", "outpatient_general", "2021-05-01", "100.00", hospital_level=1)],
        )
    )
    assert by_ref(out)["a"]["reason"] == "age_requirement_not_met"


def test_general_outpatient_only_at_level_1():
    """四（二）1（1）乡镇卫生院、村（居）卫生室、社区卫生服务中心: level 2 → not covered."""
    out = run(
        case(
            "kunming",
            [identity("tekun")],
            [claim("a", "outpatient_general", "2021-05-01", "100.00", hospital_level=2)],
        )
    )
    assert by_ref(out)["a"]["reason"] == "hospital_level_not_covered"


def test_chronic_and_special_outpatient_caps():
    """四（二）1（2）表3: dibao level 2 75% × 3000 = 2250 → capped 2000 (特殊慢性病);
    tekun 100% × 6000 → capped 5000 (特殊疾病)."""
    chronic = run(
        case(
            "kunming",
            [identity("dibao")],
            [claim("a", "outpatient_chronic", "2021-05-01", "3000.00")],
        )
    )
    special = run(
        case(
            "kunming",
            [identity("tekun")],
            [claim("a", "outpatient_special", "2021-05-01", "6000.00")],
        )
    )
    assert totals(chronic)["a"] == D("2000.00")
    assert totals(special)["a"] == D("5000.00")


def test_major_disease_route_for_low_income():
    """四（二）2（2）表5 and 四（三）就高 (Decision).

    low income, major, level 2, self-pay 50000:
      general 75% × 50000 = 37500 → capped 20000; major (50000 − 20000) × 75% = 22500 → 22500.
    second major stay, level 3, self-pay 10000: deductible already met;
      general 70% × 10000 = 7000; major 7000 → tie → major route (parameter) → 7000.
    """
    out = run(
        case(
            "kunming",
            [identity("low_income_other")],
            [
                claim("a", "inpatient", "2021-03-01", "50000.00", major_disease=True),
                claim(
                    "b", "inpatient", "2021-06-01", "10000.00", major_disease=True, hospital_level=3
                ),
            ],
        )
    )
    t = totals(out)
    assert (t["a"], t["b"]) == (D("22500.00"), D("7000.00"))
    assert out["claims"][0]["deductible_applied"] == "20000.00"


def test_major_disease_self_pay_always_counts_toward_its_deductible():
    """Decision §四(三): a stay paid by the general route still counts toward the 20000.

    stay 1 level 1 self-pay 15000: general 80% = 12000; major 0 (all in deductible) → general.
    stay 2 level 1 self-pay 30000: general left 8000; major deductible left 20000 − 15000 = 5000,
      (30000 − 5000) × 80% = 20000 → major 20000. Total 32000.
    """
    out = run(
        case(
            "kunming",
            [identity("other_special")],
            [
                claim(
                    "a", "inpatient", "2021-03-01", "15000.00", major_disease=True, hospital_level=1
                ),
                claim(
                    "b", "inpatient", "2021-04-01", "30000.00", major_disease=True, hospital_level=1
                ),
            ],
        )
    )
    t = totals(out)
    assert (t["a"], t["b"], t["_total"]) == (D("12000.00"), D("20000.00"), D("32000.00"))
    assert by_ref(out)["b"]["deductible_applied"] == "5000.00"


def test_emergency_day_surgery_and_drugs_not_covered():
    """四（二）covers only outpatient and inpatient items: emergency, day surgery → not covered."""
    out = run(
        case(
            "kunming",
            [identity("tekun")],
            [
                claim("e", "outpatient_emergency", "2021-03-01", "100.00"),
                claim("d", "day_surgery", "2021-03-02", "100.00"),
                claim("n", "negotiated_drug", "2021-03-03", "100.00"),
            ],
        )
    )
    assert {c["reason"] for c in out["claims"]} == {"kind_not_covered"}


def test_severe_disability_alone_is_not_an_assistance_tier():
    """三、救助对象 (seed): 一二级重度残疾人 on their own are a premium category only."""
    out = run(
        case(
            "kunming",
            [identity("severe_disability")],
            [claim("a", "inpatient", "2021-03-01", "100.00")],
        )
    )
    assert by_ref(out)["a"]["reason"] == "no_identity"


def test_tekun_over_dibao_and_no_referral_rule():
    """四（三）就高: tekun 100% over dibao 75% (level 2): 1000 → 1000.00; the text has no
    referral exclusion, so a stay not referred is still assisted."""
    out = run(
        case(
            "kunming",
            [identity("dibao"), identity("tekun")],
            [claim("a", "inpatient", "2021-03-01", "1000.00", referred=False)],
        )
    )
    a = by_ref(out)["a"]
    assert (a["identity"], a["total"]) == ("tekun", "1000.00")


def test_premium_table_1():
    """四（一）表1: tekun full; dibao 120; employees' insurance not subsidised."""
    on = date(2021, 6, 1)
    tekun = PersonFacts((IdentityPeriod("tekun", date(2020, 1, 1)),))
    dibao = PersonFacts((IdentityPeriod("dibao", date(2020, 1, 1)),))
    req = PremiumRequest(year=2022, individual_contribution=D("320.00"), on=on)
    assert decide_premium("kunming", tekun, req).subsidy == D("320.00")
    assert decide_premium("kunming", dibao, req).subsidy == D("120.00")
    emp = PremiumRequest(year=2022, individual_contribution=D("320.00"), on=on, scheme="employee")
    assert decide_premium("kunming", dibao, emp).reason == "employee_insurance"
