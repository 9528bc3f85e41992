"""Golden cases for Zhangye (张政办发〔2022〕90号), worked by hand."""

from datetime import date
from decimal import Decimal as D

from medaid.policy import PersonFacts, PremiumRequest, decide_premium
from medaid.policy.facts import IdentityPeriod
from tests.policy.helpers import by_ref, case, claim, identity, run, totals


def test_fanpin_three_claims_and_secondary_tilt():
    """四（二）1（3）70%; 四（二）3: left 3000 + 2400 + 1500 = 6900 > 6000 → (900) × 30% = 270
    on the third claim: 3500 + 270 = 3770."""
    out = run(
        case(
            "zhangye",
            [identity("fanpin", "2022-01-01")],
            [
                claim("c1", "inpatient", "2023-01-20", "10000.00"),
                claim("c2", "inpatient", "2023-05-20", "8000.00"),
                claim("c3", "outpatient_chronic", "2023-09-20", "5000.00"),
            ],
        )
    )
    t = totals(out)
    assert (t["c1"], t["c2"], t["c3"], t["_total"]) == (
        D("7000.00"),
        D("5600.00"),
        D("3770.00"),
        D("16370.00"),
    )


def test_dibao_full_grade():
    """四（二）1（2）农村一、二类低保 75%: 10000 → 7500.00."""
    out = run(
        case(
            "zhangye", [identity("dibao_full")], [claim("a", "inpatient", "2023-02-01", "10000.00")]
        )
    )
    assert totals(out)["a"] == D("7500.00")


def test_ungraded_dibao_reads_as_partial():
    """二（一）2 with the Decision "ungraded 低保 → 三、四类": 70% × 10000 = 7000.00."""
    out = run(
        case("zhangye", [identity("dibao")], [claim("a", "inpatient", "2023-02-01", "10000.00")])
    )
    assert totals(out)["a"] == D("7000.00")


def test_dibao_edge_deductible_2000():
    """四（二）2: (10000 − 2000) × 60% = 4800.00; left 5200 < 6000 → no tilt."""
    out = run(
        case(
            "zhangye",
            [identity("dibao_edge", "2023-01-01")],
            [
                claim(
                    "a",
                    "inpatient",
                    "2023-03-01",
                    "10000.00",
                    settlement="application",
                    applied="2023-03-20",
                )
            ],
        )
    )
    a = by_ref(out)["a"]
    assert (a["deductible_applied"], a["assistance"], a["tilted_assistance"]) == (
        "2000.00",
        "4800.00",
        "0.00",
    )


def test_illness_poverty_deductible_and_tilt():
    """四（二）2: (20000 − 5000) × 60% = 9000; left 11000; 四（二）3 (11000 − 6000) × 30% = 1500."""
    out = run(
        case(
            "zhangye",
            [identity("illness_poverty")],
            [claim("a", "inpatient", "2023-03-01", "20000.00")],
        )
    )
    a = by_ref(out)["a"]
    assert (a["assistance"], a["tilted_assistance"], a["total"]) == (
        "9000.00",
        "1500.00",
        "10500.00",
    )


def test_application_reaches_back_12_months_before_certification():
    """四（二）2 自申请之日前12个月内: certified 2023-09-01, applied 2023-09-10; window opens
    2022-09-10. A 2022-10-01 stay is covered in 2022 with its own 5000 deductible:
    (10000 − 5000) × 60% = 3000.00, left 7000 → tilt (7000 − 6000) × 30% = 300.00.
    A 2022-09-09 stay is outside_lookback."""
    out = run(
        case(
            "zhangye",
            [identity("illness_poverty", "2023-09-01")],
            [
                claim(
                    "in",
                    "inpatient",
                    "2022-10-01",
                    "10000.00",
                    settlement="application",
                    applied="2023-09-10",
                ),
                claim(
                    "out",
                    "inpatient",
                    "2022-09-09",
                    "10000.00",
                    settlement="application",
                    applied="2023-09-10",
                ),
                claim(
                    "now",
                    "inpatient",
                    "2023-08-01",
                    "10000.00",
                    settlement="application",
                    applied="2023-09-10",
                ),
            ],
        )
    )
    t = totals(out)
    assert (by_ref(out)["in"]["assistance"], t["in"]) == ("3000.00", D("3300.00"))
    assert by_ref(out)["out"]["reason"] == "outside_lookback"
    # 2023 is its own natural year: its own deductible and tilt again → 3000 + 300
    assert t["now"] == D("3300.00")


def test_cap_50000_and_tilt_outside_it():
    """四（二）1 cap 50000; 四（二）3 不计入年度救助限额: tekun 60000 → 50000.00;
    left 10000 → (10000 − 6000) × 30% = 1200.00."""
    out = run(
        case("zhangye", [identity("tekun")], [claim("a", "inpatient", "2023-03-01", "60000.00")])
    )
    a = by_ref(out)["a"]
    assert (a["assistance"], a["tilted_assistance"]) == ("50000.00", "1200.00")


def test_major_disease_raises_the_cap_not_adds_to_it():
    """四（二）1 30种重特大疾病 80000 — Decision: raised to 80000, not 50000 + 80000.

    non-major 60000 → 50000 (tilt 1200); major 40000 → 80000 − 50000 = 30000;
    left 10000 + 10000 = 20000 → (20000 − 6000) × 30% = 4200, this claim 3000.
    """
    out = run(
        case(
            "zhangye",
            [identity("tekun")],
            [
                claim("a", "inpatient", "2023-03-01", "60000.00"),
                claim("b", "inpatient", "2023-06-01", "40000.00", major_disease=True),
            ],
        )
    )
    b = by_ref(out)["b"]
    assert (b["assistance"], b["tilted_assistance"]) == ("30000.00", "3000.00")
    assert totals(out)["_total"] == D("84200.00")


def test_tilt_needs_local_care_or_referral_in_province():
    """四（二）3: out of area but referred in-province → tilt (tekun 100% leaves nothing, so use
    monitored 60%): 20000 × 60% = 12000, left 8000 → 600. Out of province → no tilt."""
    out = run(
        case(
            "zhangye",
            [identity("rural_monitored")],
            [claim("a", "inpatient", "2023-03-01", "20000.00", in_area=False)],
        )
    )
    assert by_ref(out)["a"]["tilted_assistance"] == "600.00"
    away = run(
        case(
            "zhangye",
            [identity("rural_monitored")],
            [claim("a", "inpatient", "2023-03-01", "20000.00", in_area=False, in_province=False)],
        )
    )
    assert by_ref(away)["a"]["tilted_assistance"] == "0.00"


def test_not_referred_and_kind_not_covered():
    """七（三）未按规定转诊…不纳入 (outside the area, 市域外异地转诊); 四（一）only inpatient and
    门诊慢特病."""
    out = run(
        case(
            "zhangye",
            [identity("dibao_full")],
            [
                claim("x", "inpatient", "2023-03-01", "1000.00", referred=False, in_area=False),
                claim("d", "negotiated_drug", "2023-03-02", "1000.00"),
            ],
        )
    )
    c = by_ref(out)
    assert (c["x"]["reason"], c["d"]["reason"]) == ("not_referred", "kind_not_covered")


def test_poverty_lifted_ratio_and_highest_benefit():
    """四（二）1（4）已脱贫人口 60%: 5000 → 3000.00; 二（一）就高不重复: with dibao_full → 75%."""
    alone = run(
        case(
            "zhangye",
            [identity("poverty_lifted")],
            [claim("a", "inpatient", "2023-03-01", "5000.00")],
        )
    )
    both = run(
        case(
            "zhangye",
            [identity("poverty_lifted"), identity("dibao_full")],
            [claim("a", "inpatient", "2023-03-01", "5000.00")],
        )
    )
    assert totals(alone)["a"] == D("3000.00")
    assert (by_ref(both)["a"]["identity"], totals(both)["a"]) == ("dibao_full", D("3750.00"))


def test_premium_2022_standards():
    """三（一）1、3: tekun full; dibao_full 220; fanpin 160; rural_monitored 100; already paid →
    subsidised the month after entering the system (refund)."""
    req = PremiumRequest(year=2023, individual_contribution=D("350.00"), on=date(2022, 10, 1))

    def person(code: str) -> PersonFacts:
        return PersonFacts((IdentityPeriod(code, date(2022, 1, 1)),))

    assert decide_premium("zhangye", person("tekun"), req).subsidy == D("350.00")
    assert decide_premium("zhangye", person("dibao_full"), req).subsidy == D("220.00")
    assert decide_premium("zhangye", person("fanpin"), req).subsidy == D("160.00")
    assert decide_premium("zhangye", person("rural_monitored"), req).subsidy == D("100.00")
    paid = PremiumRequest(
        year=2023, individual_contribution=D("350.00"), on=date(2022, 12, 1), already_paid=True
    )
    refunded = decide_premium("zhangye", person("dibao_full"), paid)
    assert (refunded.subsidy, refunded.refund) == (D("220.00"), D("220.00"))
