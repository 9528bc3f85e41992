"""Independent audit of the engine against the Zhangye (Gansu) seed (shared/seeds/*.txt),
through the preview contract only (`medaid.policy.contract.preview`).

Each case is worked by hand from the article it cites, without reading the packs; the
arithmetic is in the docstring. Zhangye amounts are fixed in yuan.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.policy.helpers import amounts, by_ref, case, claim, identity, premium, run, totals

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
