"""What the report centre offers: the seven reports of the issue and the platform comparison's
two (issue 17), registered by their apps."""

import pytest

from medaid.core.reports import REPORTS, ReportRequestError, period_of, year_of
from medaid.core.workdays import month_range


def test_the_reports_are_registered_with_what_they_need():
    assert {k: (s.label, s.needs) for k, s in REPORTS.items()} == {
        "person_roster": ("救助对象名册", ("county",)),
        "subsidy_roster": ("资助参保名册", ("county", "year")),
        "settlement_statement": ("医疗救助结算单", ("county", "period")),
        "fund_ledger": ("基金收支明细表", ("county", "year")),
        "year_end_sharing": ("年度超支分担表", ("year",)),
        "claims_register": ("救助明细台账", ("county", "period")),
        "warning_list": ("预警名单", ("county", "period")),
        "platform_mismatches": ("平台医疗救助金额比对差异", ("county", "period")),
        "platform_clearing": ("医疗救助清算汇总（平台格式）", ("county", "period")),
    }
    assert all(s.permission and s.description for s in REPORTS.values())


def test_periods_and_years_are_checked():
    assert period_of({"period": "2026-10"}) == (2026, 10)
    assert month_range(2024, 2)[1].day == 29 and month_range(2024, 12)[1].month == 12
    assert year_of({"year": "2026"}) == 2026
    for bad in ({}, {"period": "2026-13"}, {"period": "十月"}):
        with pytest.raises(ReportRequestError):
            period_of(bad)
    for bad in ({}, {"year": "1999"}, {"year": "x"}):
        with pytest.raises(ReportRequestError):
            year_of(bad)
