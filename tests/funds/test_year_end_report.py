"""The year-end sharing sheet against the ledger, its 合计 row, and the settlement's voucher
dates (issue "Close the loop", part 3)."""

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from funds import exports, services
from funds.models import (
    INTERNAL_KINDS,
    SPENDING_KINDS,
    AccountKind,
    Entry,
    EntryKind,
    FundSource,
    Posting,
)
from funds.services import FundsError
from medaid.core.xlsx import totals_row, write_workbook
from tests.funds.conftest import fund, make_claim
from tests.money_support import settle

C = Decimal("0.01")


@pytest.fixture
def year_2024(area, county, other_county, hospitals, accounts):
    """Two counties with budgets, a settled May, and premium transfers the city pays from its
    own fiscal special account on each county's behalf (Baoshan Art.8(四))."""
    fund(accounts, county, 1000)
    fund(accounts, other_county, 500)
    make_claim(county, hospitals[0], "100.10")
    make_claim(county, hospitals[1], "200.20", settlement="application")
    settle(county=county, year=2024, month=5)
    city = accounts[(None, AccountKind.FISCAL)]
    services.receipt_post(
        account=city,
        source=FundSource.MUNICIPAL,
        amount=2000,
        date=dt.date(2024, 5, 1),
        document_ref="市级补助",
    )
    insurance = services.account_open(kind=AccountKind.RESIDENT_INSURANCE, pooling_area=area)
    for c, amount in ((county, "400.00"), (other_county, "150.50")):
        services.transfer_post(
            kind=EntryKind.PREMIUM_SUBSIDY,
            from_account=city,
            to_account=insurance,
            amount=amount,
            date=dt.date(2024, 5, 20),
            document_ref=f"资助参保 {c.code}",
            county=c,
        )
    services.budget_set(county=county, year=2024, amount=600)
    services.budget_set(county=other_county, year=2024, amount=100)
    return services.year_end_close(pooling_area=area, year=2024)


def _ledger_outflows(county, year):
    return -Posting.objects.filter(
        entry__county=county,
        entry__kind__in=SPENDING_KINDS,
        entry__date__year=year,
        account__kind__in=INTERNAL_KINDS,
    ).aggregate(s=Sum("amount"))["s"]


def test_actual_spending_equals_the_ledger_outflows_premium_transfers_included(
    county, other_county, accounts, year_2024
):
    closes = {c.county_id: c for c in year_2024}
    longyang = closes[county.pk]
    assert longyang.actual == _ledger_outflows(county, 2024) == Decimal("700.30")
    assert longyang.premium_subsidies == Decimal("400.00")
    # What the county's own expenditure account paid out is the rest: the medical payments.
    exp = accounts[(county.pk, AccountKind.EXPENDITURE)]
    paid_out = -Posting.objects.filter(account=exp, amount__lt=0).aggregate(s=Sum("amount"))["s"]
    assert longyang.actual - longyang.premium_subsidies == paid_out == Decimal("300.30")
    shidian = closes[other_county.pk]
    assert shidian.actual == _ledger_outflows(other_county, 2024) == Decimal("150.50")
    assert shidian.overspend == Decimal("50.50")

    report = exports.year_end_report(year_2024, year=2024)
    rows = {r[0]: r for r in report.rows}
    headers = [c.header for c in report.columns]
    row = rows[county.name]
    assert row[headers.index("实际支出")] == _ledger_outflows(county, 2024)
    assert row[headers.index("其中：医疗救助支付")] == paid_out
    assert row[headers.index("其中：资助参保")] == Decimal("400.00")


def test_totals_row_equals_the_column_sums(year_2024):
    report = exports.year_end_report(year_2024, year=2024)
    rows = list(report.rows)
    totals = totals_row(report)
    for i, column in enumerate(report.columns):
        if column.kind == "money":
            assert totals[column.header] == sum((r[i] for r in rows), Decimal("0.00")), column
    budget = sum(c.budget for c in year_2024)
    overspend = sum(c.overspend for c in year_2024)
    assert totals["超支比例"] == (overspend / budget).quantize(Decimal("0.000001"))


def _totals_cells(book: bytes) -> list[tuple[str, str]]:
    """The 合计 row as a reader that ignores cell references sees it: (ref, value) of every
    cell that holds a value, in the order written."""
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    for row in re.findall(r"<row [^>]*>(.*?)</row>", xml, re.S):
        if "合计" in row:
            return re.findall(r'<c r="([A-Z]+)\d+"[^>]*>(?:<v>([^<]*)</v>|<is><t>([^<]*))', row)
    raise AssertionError("no 合计 row")


@pytest.mark.parametrize("engine", ["stream", "openpyxl"])
def test_totals_row_is_not_shifted_when_read_by_position(year_2024, engine):
    """The demo's sheet read by position showed 当年结余's sum under 待定: the 合计 row left
    超支比例 empty, no cell was written there, and every later column moved one left."""
    report = exports.year_end_report(year_2024, year=2024)
    expected = totals_row(exports.year_end_report(year_2024, year=2024))
    buffer = io.BytesIO()
    write_workbook(buffer, [report], engine=engine)
    cells = _totals_cells(buffer.getvalue())
    headers = [c.header for c in report.columns]
    figures = headers[1:-1]  # every figure column, 计算说明 excluded
    by_position = [v or t for _, v, t in cells][1 : 1 + len(figures)]
    for header, value in zip(figures, by_position, strict=True):
        assert Decimal(value).quantize(Decimal("0.000001")) == Decimal(expected[header]).quantize(
            Decimal("0.000001")
        ), header


def test_no_settlement_entry_is_dated_after_today(county, hospitals, accounts):
    today = timezone.localdate()
    fund(accounts, county, 1000, day=today.replace(day=1))
    make_claim(county, hospitals[0], "88.00", discharged=today, decided=today)
    run = settle(county=county, year=today.year, month=today.month)
    entries = Entry.objects.filter(settlement_statement__run=run)
    assert entries.count() == 1
    assert entries.filter(date__gt=today).count() == 0
    assert entries.get().date == today
    assert Entry.objects.filter(date__gt=today).count() == 0


def test_a_past_month_is_booked_on_its_last_day(county, hospitals, accounts):
    fund(accounts, county, 1000)
    make_claim(county, hospitals[0], "88.00")
    run = settle(county=county, year=2024, month=5)
    assert {e.date for e in Entry.objects.filter(settlement_statement__run=run)} == {
        dt.date(2024, 5, 31)
    }


def test_a_month_not_begun_is_not_settled(county, accounts):
    nxt = timezone.localdate().replace(day=28) + dt.timedelta(days=7)
    with pytest.raises(FundsError) as refused:
        settle(county=county, year=nxt.year, month=nxt.month)
    assert refused.value.code == "future_period"
