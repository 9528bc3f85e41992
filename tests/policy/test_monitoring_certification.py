"""Monitoring thresholds (pack data for the monitoring job), the Yunnan 因病致贫 test, and
the engine's purity."""

import subprocess
import sys
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from medaid.policy import (
    CertificationFacts,
    RuleNotInPack,
    certify_illness_poverty,
    monitoring_thresholds,
)


def test_pingshun_annual_6000_and_20000():
    """第三十条: key people (beneficiaries and 脱贫人口) over 6000 a year, others over 20000."""
    t = monitoring_thresholds("pingshun", date(2023, 6, 1))
    assert (t.basis, t.push_before_day) == ("annual", 10)
    assert t.threshold_for({"dibao_edge"}, rural=True) == D("6000")
    assert t.threshold_for({"poverty_lifted"}, rural=False) == D("6000")
    assert t.threshold_for(set(), rural=True) == D("20000")
    assert t.crosses({"dibao"}, D("6000.01"), rural=True)
    assert not t.crosses({"dibao"}, D("6000.00"), rural=True)  # 超过: strictly above
    assert set(t.departments) == {"civil_affairs", "health", "rural_revitalization"}


def test_zhangye_single_stay_rural_dibao_only():
    """五（一）: single stay; 农村低保 6000, urban 低保 counts as other residents (10000)."""
    t = monitoring_thresholds("zhangye", date(2023, 6, 1))
    assert t.basis == "single_stay"
    assert t.threshold_for({"dibao_partial"}, rural=True) == D("6000")
    assert t.threshold_for({"dibao_partial"}, rural=False) == D("10000")
    assert t.threshold_for({"dibao_edge"}, rural=False) == D("6000")
    assert t.threshold_for({"fanpin"}, rural=True) == D("10000")


def test_baoshan_parameter_rural_insured_only():
    """第二十六条: rural insured people over the local standard (a parameter: 50% of base by
    default, overridable)."""
    t = monitoring_thresholds("baoshan", date(2023, 6, 1))
    assert t.threshold_for(set(), rural=True) == D("13468.50")  # 26937 × 50%
    assert t.threshold_for({"dibao"}, rural=False) is None
    set_ = monitoring_thresholds(
        "baoshan", date(2023, 6, 1), parameters={"monitoring.other_threshold": "8000"}
    )
    assert set_.threshold_for({"dibao"}, rural=True) == D("8000")


def test_kunming_has_no_monitoring_rule():
    assert monitoring_thresholds("kunming", date(2021, 6, 1)) is None


FACTS = {
    "application_date": date(2023, 8, 1),
    "insured_in_province": True,
    "personal_in_catalog_cost_90d": D("21549.60"),
    "household_income_per_capita": D("2800.00"),
    "local_urban_dibao_standard": D("700.00"),
    "financial_assets_per_capita": D("84336.00"),
}


def test_yunnan_certification_boundaries_are_inclusive():
    """（二）2 ≥ 80% × 26937 = 21549.60 (含); 3 ≤ 4 × 700 = 2800 (含), ≤ 2 × 42168 = 84336 (含)."""
    result = certify_illness_poverty("yunnan", CertificationFacts(**FACTS))
    assert result.certified and result.reach_back_days == 90
    assert [t.limit for t in result.tests[1:]] == [D("21549.60"), D("2800.00"), D("84336.00")]
    assert any("21549.60" in line for line in result.trace)


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"insured_in_province": False}, "insured_in_province"),
        ({"personal_in_catalog_cost_90d": D("21549.59")}, "personal_cost"),
        ({"household_income_per_capita": D("2800.01")}, "household_income"),
        ({"financial_assets_per_capita": D("84336.01")}, "financial_assets"),
    ],
)
def test_yunnan_certification_each_condition(change, failing):
    result = certify_illness_poverty("yunnan", CertificationFacts(**{**FACTS, **change}))
    assert not result.certified
    assert [t.name for t in result.tests if not t.passed] == [failing]


def test_certification_not_in_pingshun():
    """第十条: 因病致贫重病患者认定办法按照我省有关规定执行 — not in this pack."""
    with pytest.raises(RuleNotInPack):
        certify_illness_poverty("pingshun", CertificationFacts(**FACTS))


def test_policy_imports_nothing_from_django_or_the_apps():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, medaid.policy, medaid.policy.contract\n"
        "from medaid.policy import load_pack, available_policies\n"
        "[load_pack(c) for c in available_policies()]\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'celery', 'beneficiaries', 'claims', 'funds')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
