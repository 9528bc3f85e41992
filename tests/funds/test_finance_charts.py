"""财务图表: each chart's figures equal the ledger's and the decisions' sums to the cent, the page
shows them to finance of the county only, and the charts are accessible SVG."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from claims.models import Decision
from claims.selectors import assistance_by
from funds import selectors, services
from funds.models import EntryKind, Posting, SettlementStatement
from medaid.core import charts
from tests.funds.conftest import fund, make_claim
from tests.medaid.conftest import make_user
from tests.money_support import settle


@pytest.fixture
def year_of_money(county, other_county, hospitals, accounts):
    fund(accounts, county, 5000)
    fund(accounts, other_county, 800)
    services.budget_set(county=county, year=2024, amount=Decimal("1200.00"))
    services.budget_set(county=other_county, year=2024, amount=Decimal("600.00"))
    make_claim(county, hospitals[0], "100.10", discharged=dt.date(2024, 5, 10))
    make_claim(county, hospitals[1], "200.25", discharged=dt.date(2024, 5, 12))
    make_claim(county, hospitals[1], "30.30", settlement="application")
    make_claim(county, hospitals[0], "0.01", discharged=dt.date(2024, 6, 3))
    # Waiting for review: not spending yet, in no chart.
    make_claim(county, hospitals[2], "999.99", discharged=dt.date(2024, 6, 4), status="review")
    make_claim(other_county, hospitals[2], "44.44", discharged=dt.date(2024, 5, 20))
    for c in (county, other_county):
        settle(county=c, year=2024, month=5)
        settle(county=c, year=2024, month=6)


@pytest.fixture
def city(db):
    return make_user("city_fin", "city_administrator")


def test_monthly_spending_is_the_ledgers_spending_per_county_and_month(
    year_of_money, county, other_county, city
):
    spending = selectors.monthly_spending(year=2024, user=city)
    for c in (county, other_county):
        assert sum(spending[c.pk], Decimal("0.00")) == services.county_spending(county=c, year=2024)
    for month in range(1, 13):
        paid = Posting.objects.filter(
            entry__county=county,
            entry__kind__in=[EntryKind.HOSPITAL_PAYMENT, EntryKind.INDIVIDUAL_PAYMENT],
            entry__date__year=2024,
            entry__date__month=month,
            account__kind__in=["fiscal", "expenditure"],
        )
        assert spending[county.pk][month - 1] == -sum((p.amount for p in paid), Decimal("0.00"))
    assert sum(spending[county.pk], Decimal("0.00")) == Decimal("330.66")
    assert selectors.budgets_of_year(year=2024, user=city) == {
        county.pk: Decimal("1200.00"),
        other_county.pk: Decimal("600.00"),
    }


def test_assistance_by_identity_and_kind_are_the_current_decisions_sums(
    year_of_money, county, city
):
    decisions = Decision.objects.filter(
        is_current=True,
        claim__status__in=["accepted", "settled"],
        claim__discharged__year=2024,
    ).select_related("claim")
    for by, key in (("identity", lambda d: d.identity), ("kind", lambda d: d.claim.kind)):
        hand: dict[str, Decimal] = {}
        for d in decisions:
            hand[key(d)] = hand.get(key(d), Decimal("0.00")) + d.total
        assert dict(assistance_by(year=2024, by=by, user=city)) == hand
    assert sum(dict(assistance_by(year=2024, by="kind", user=city)).values()) == Decimal("375.10")
    clerk = make_user("clerk_x", "counter_clerk", county=county)
    assert sum(dict(assistance_by(year=2024, by="kind", user=clerk)).values()) == Decimal("330.66")


def test_hospital_settlements_are_the_posted_statements_and_their_entries(year_of_money, city):
    rows = dict(selectors.hospital_settlements(year=2024, user=city))
    statements = SettlementStatement.objects.filter(payee="hospital", entry__isnull=False)
    by_hospital: dict[str, Decimal] = {}
    for s in statements.select_related("hospital__county"):
        label = f"{s.hospital.name}（{s.hospital.county.name}）"
        by_hospital[label] = by_hospital.get(label, Decimal("0.00")) + s.total
        # The statement's amount is its voucher's: what left the fund for the hospital.
        assert s.total == sum(p.amount for p in s.entry.postings.all() if p.amount > 0)
    assert rows == by_hospital
    assert sum(rows.values()) == Decimal("100.10") + Decimal("200.25") + Decimal("0.01") + Decimal(
        "44.44"
    )


def test_finance_page_shows_the_charts_and_figures_of_the_users_county(
    client, year_of_money, county, other_county
):
    finance = make_user("fin_a", "finance", county=county)
    client.force_login(finance)
    html = client.get("/admin/finance/?year=2024").content.decode()
    assert html.count('role="img"') == 4
    assert 'aria-label="隆阳区 2024年各月救助支出与月均预算"' in html
    assert "施甸县" not in html
    spent = re.search(r'class="county-spent"><span class="amount">([^<]+)<', html).group(1)
    assert spent == "330.66"
    assert "100.00" in html  # the monthly budget, 1,200.00 / 12
    clerk = make_user("clerk_y", "counter_clerk", county=county)
    client.force_login(clerk)
    assert client.get("/admin/finance/").status_code == 403


def test_charts_are_labelled_svg_with_formatted_amounts():
    svg = charts.bars([("低保", Decimal("1234.5")), ("特困", Decimal("-2"))], title="按身份")
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-label="按身份"' in svg
    assert "1,234.50 元" in svg and "-2.00 元" in svg and "<script" not in svg
    months = [Decimal(m * 10) for m in range(1, 13)]
    svg = charts.month_columns(months, reference=Decimal("65"), title="各月")
    assert svg.count("<rect") == 12 + 2 and "12月" in svg and "月均预算 65.00 元" in svg
    # Above the line in the warning colour: July to December.
    assert svg.count(f'fill="{charts.COLOURS[1]}"') == 6 + 1
    assert "&lt;b&gt;" in charts.bars([("<b>", Decimal(1))])
