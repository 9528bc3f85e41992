"""账户明细: an account's balance, its months and a month's vouchers with the running balance,
checked against the postings summed by hand."""

import datetime as dt
import io
import itertools
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from python_calamine import CalamineWorkbook

from funds import selectors, services
from funds.admin import AccountAdmin
from funds.models import AccountKind, Posting
from tests.funds.conftest import fund
from tests.medaid.conftest import make_user


@pytest.fixture
def busy(accounts, county, other_county):
    """The county's expenditure account: funded in January (three legs reach it), paying the
    county's fiscal account back and forth across March and April, with a second county's
    money moving on the city's accounts beside it."""
    exp = fund(accounts, county, 1000)
    fund(accounts, other_county, 500, day=dt.date(2024, 3, 2))
    fiscal = accounts[(county.pk, AccountKind.FISCAL)]
    city_exp = accounts[(None, AccountKind.EXPENDITURE)]
    moves = [
        (dt.date(2024, 3, 5), "interest_remit", exp, fiscal, "12.34"),
        (dt.date(2024, 3, 5), "transfer", fiscal, exp, "2.01"),
        (dt.date(2024, 3, 20), "year_end_return", exp, fiscal, "100.00"),
        (dt.date(2024, 3, 31), "disbursement", exp, city_exp, "0.05"),
        (dt.date(2024, 4, 1), "interest_remit", exp, fiscal, "7.77"),
    ]
    for i, (day, kind, source, target, amount) in enumerate(moves):
        services.transfer_post(
            kind=kind,
            from_account=source,
            to_account=target,
            amount=Decimal(amount),
            date=day,
            document_ref=f"T{i}",
            county=county,
        )
    return exp


def _by_hand(account):
    """(date, entry id, amount, balance after) of every posting of `account`, in order."""
    rows, balance = [], Decimal("0.00")
    for p in Posting.objects.filter(account=account).select_related("entry"):
        rows.append((p.entry.date, p.entry_id, p.amount))
    out = []
    for day, entry_id, amount in sorted(rows):
        balance += amount
        out.append((day, entry_id, amount, balance))
    return out


def test_every_posting_carries_its_entrys_date(busy):
    postings = Posting.objects.select_related("entry")
    assert postings.count() > 10
    assert all(p.date == p.entry.date for p in postings)


def test_months_chain_opening_to_closing_and_match_the_postings(busy):
    months = selectors.account_months(account=busy, year=2024)
    assert len(months) == 12
    hand = _by_hand(busy)
    for m in months:
        inside = [r for r in hand if (r[0].year, r[0].month) == (2024, m.month.month)]
        assert m.debit == sum((r[2] for r in inside if r[2] > 0), Decimal("0.00"))
        assert m.credit == -sum((r[2] for r in inside if r[2] < 0), Decimal("0.00"))
        assert m.entries == len(inside)
        assert m.closing == m.opening + m.debit - m.credit
    for before, after in itertools.pairwise(months):
        assert after.opening == before.closing
    assert months[0].opening == Decimal("0.00")
    assert months[-1].closing == busy.balance() == Decimal("881.85")
    assert (months[2].debit, months[2].credit) == (Decimal("2.01"), Decimal("112.39"))


def test_running_balance_is_the_accounts_balance_after_each_voucher_filtered_or_not(
    busy, accounts, county
):
    hand = {(r[1]): r[3] for r in _by_hand(busy)}
    march = dt.date(2024, 3, 1)
    rows = list(selectors.account_month_postings(account=busy, month=march))
    assert [p.entry.document_ref for p in rows] == ["T0", "T1", "T2", "T3"]
    assert selectors.running_balances(account=busy, postings=rows) == [
        hand[p.entry_id] for p in rows
    ]
    city_exp = accounts[(None, AccountKind.EXPENDITURE)]
    only = list(
        selectors.account_month_postings(account=busy, month=march, counterparty_id=city_exp.pk)
    )
    assert [p.entry.document_ref for p in only] == ["T3"]
    # The filter hides vouchers, never their money: T3's balance is after T0–T2 too.
    assert selectors.running_balances(account=busy, postings=only) == [Decimal("889.62")]
    counterparties = selectors.month_counterparties(account=busy, month=march)
    assert {a.kind for a in counterparties} == {"fiscal", "expenditure"}
    others = selectors.entry_counterparties(account=busy, entry_ids=[only[0].entry_id])
    assert others == {only[0].entry_id: [city_exp]}


@pytest.fixture
def finance(county):
    return make_user("finance_a", "finance", county=county)


def _cells(html, css_class):
    return re.findall(rf'class="{css_class}"><span class="amount[^"]*">([^<]+)<', html)


def test_statement_page_shows_balance_months_and_a_months_entries(client, finance, busy):
    client.force_login(finance)
    change = client.get(f"/admin/funds/account/{busy.pk}/change/").content.decode()
    assert f"/admin/funds/account/{busy.pk}/statement/" in change
    page = client.get(f"/admin/funds/account/{busy.pk}/statement/?year=2024&month=3")
    assert page.status_code == 200
    html = page.content.decode()
    assert "881.85" in html and "3月" in html
    assert _cells(html, "running-balance") == ["987.66", "989.67", "889.67", "889.62"]
    city_exp = busy.pooling_area.fund_accounts.get(county=None, kind="expenditure")
    filtered = client.get(
        f"/admin/funds/account/{busy.pk}/statement/?year=2024&month=3&counterparty={city_exp.pk}"
    ).content.decode()
    assert _cells(filtered, "running-balance") == ["889.62"]


def test_statement_pages_continue_the_running_balance(client, finance, busy, monkeypatch):
    monkeypatch.setattr(AccountAdmin, "statement_per_page", 3)
    client.force_login(finance)
    url = f"/admin/funds/account/{busy.pk}/statement/?year=2024&month=3"
    second = client.get(url + "&p=2").content.decode()
    assert _cells(second, "running-balance") == ["889.62"]
    assert "第 2 页，共 2 页" in second


def test_statement_is_scoped_to_the_users_county_and_exports_the_month(
    client, finance, busy, accounts, other_county
):
    client.force_login(finance)
    theirs = accounts[(other_county.pk, AccountKind.EXPENDITURE)]
    assert client.get(f"/admin/funds/account/{theirs.pk}/statement/").status_code == 404
    response = client.get(
        f"/admin/funds/account/{busy.pk}/statement/?year=2024&month=3&export=xlsx"
    )
    assert response.status_code == 200
    book = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(response.streaming_content)))
    rows = book.get_sheet_by_name(book.sheet_names[0]).to_python()
    refs = [r[1] for r in rows if r and r[1] in {"T0", "T1", "T2", "T3", "T4"}]
    assert refs == ["T0", "T1", "T2", "T3"]


def test_the_demos_accounts_and_charts_open(client, db):
    from beneficiaries.models import County
    from funds.demo import demo_funds_create
    from funds.models import Account

    year = timezone.localdate().year
    demo_funds_create(seed=3, year=year)
    county = County.objects.get(code="530502")
    client.force_login(make_user("demo_finance", "finance", county=county))
    accounts = Account.objects.filter(county=county, kind__in=["fiscal", "expenditure"])
    assert accounts
    for account in accounts:
        page = client.get(f"/admin/funds/account/{account.pk}/statement/")
        assert page.status_code == 200
        months = page.context["months"]
        assert months[-1].closing == account.balance(until=dt.date(year, 12, 31))
    charts = client.get("/admin/finance/")
    assert charts.status_code == 200 and county.name in charts.content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the date trigger is PostgreSQL's")
def test_a_posting_written_without_its_date_gets_the_entrys(busy):
    from funds.models import Entry

    entry = Entry.objects.filter(postings__account=busy).order_by("-date").first()
    used = Posting.objects.filter(entry=entry).values("account_id")
    a, b = busy.pooling_area.fund_accounts.exclude(pk__in=used)[:2]
    # Two balanced legs written by hand (as a bulk path's COPY would): the trigger dates them.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO funds_posting (entry_id, account_id, amount) "
            "VALUES (%s, %s, 1), (%s, %s, -1) RETURNING date",
            [entry.pk, a.pk, entry.pk, b.pk],
        )
        assert [row[0] for row in cursor.fetchall()] == [entry.date, entry.date]
