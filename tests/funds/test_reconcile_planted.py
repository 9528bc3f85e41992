"""Planted differences: a clean, settled and closed year reconciles to 0; each test plants one
fault behind the services' back and `reconcile` reports exactly that kind of difference, with
the row that causes it.

Where one fault necessarily shows in two places of the books, the test names both: a payment
voucher moved out of its month also moves its amount out of that month's ledger total
(`ledger_total`, and the county summary's 合计 against the month's vouchers), and a payment
without a statement is also a payment the month's statements do not add up to."""

import datetime as dt
from decimal import Decimal

import pgtrigger
import pytest
from django.db.models import F
from django.utils import timezone

from beneficiaries.models import PremiumTransferRequest
from claims.models import Application, Claim
from funds import services
from funds.models import (
    Account,
    AccountKind,
    Entry,
    EntryKind,
    FundSource,
    Posting,
    SettlementRun,
    SettlementStatement,
    YearEndClose,
)
from funds.reconciliation import reconcile
from funds.settlement import settlement_run
from tests.funds.conftest import fund, make_claim
from tests.funds.test_reconciliation import month  # noqa: F401  (the engine-decided month)
from tests.money_support import settle

D = Decimal
YEAR = 2024


def _checks(result) -> set[str]:
    return {d.check for d in result.differences}


def _rows(result, check) -> list[tuple[str, int | None]]:
    return [(r.model, r.id) for d in result.differences if d.check == check for r in d.rows]


def _reconcile():
    # The claims here are decided by hand (tests.funds.conftest.make_claim), not by the engine:
    # the engine's recompute is tested with the engine-decided `month` below.
    return reconcile(sample=0)


def _entry(kind, day, postings, *, area, county=None, ref):
    """A voucher written behind the services (which refuse what these tests plant)."""
    entry = Entry.objects.create(
        kind=kind, pooling_area=area, county=county, date=day, document_ref=ref
    )
    Posting.objects.bulk_create(
        Posting(entry=entry, account=account, amount=D(amount)) for account, amount in postings
    )
    return entry


@pytest.fixture
def books(area, county, other_county, hospitals, accounts):
    """2024 for one county, every figure from the services: funded in January, May settled
    (a hospital's claim and an individual's), a premium transfer posted from its request,
    a budget, and the year closed."""
    fund(accounts, county, 1000)
    make_claim(county, hospitals[0], "100.10")
    make_claim(county, hospitals[1], "200.20", settlement="application")
    settle(county=county, year=YEAR, month=5)
    city = accounts[(None, AccountKind.FISCAL)]
    services.receipt_post(
        account=city,
        source=FundSource.MUNICIPAL,
        amount=2000,
        date=dt.date(YEAR, 5, 1),
        document_ref="市级补助",
    )
    request = PremiumTransferRequest.objects.create(
        county=county, year=YEAR, amount=D("400.00"), headcount=2
    )
    services.premium_transfer_post(request=request, from_account=city, date=dt.date(YEAR, 5, 20))
    services.budget_set(county=county, year=YEAR, amount=2000)
    (close,) = services.year_end_close(pooling_area=area, year=YEAR)
    assert close.surplus > 0 and close.actual == D("700.30")
    return close


def test_the_clean_books_report_no_difference(books):
    result = _reconcile()
    assert result.differences == [], [d.as_dict() for d in result.differences]
    assert result.period(books.county_id, YEAR, 5).statements == 2


def test_a_voucher_dated_after_today(books, area):
    city = Account.objects.get(pooling_area=area, county=None, kind=AccountKind.FISCAL)
    city_exp = Account.objects.get(pooling_area=area, county=None, kind=AccountKind.EXPENDITURE)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    entry = _entry(
        EntryKind.TRANSFER,
        tomorrow,
        [(city, "-5.00"), (city_exp, "5.00")],
        area=area,
        ref="明日拨付",
    )
    result = _reconcile()
    assert _checks(result) == {"entry_future"}
    assert _rows(result, "entry_future") == [("funds.Entry", entry.pk)]


def test_an_account_spending_before_its_money_arrives(books, area, county):
    """Out on 1 February 2025 more than the county's account holds, back the next day: the
    account ends where it was, but was overdrawn for a day."""
    exp = Account.objects.get(county=county, kind=AccountKind.EXPENDITURE)
    city_exp = Account.objects.get(pooling_area=area, county=None, kind=AccountKind.EXPENDITURE)
    held = exp.balance(until=dt.date(2025, 2, 1))
    out = f"-{held + 1}"
    _entry(
        EntryKind.TRANSFER,
        dt.date(2025, 2, 1),
        [(exp, out), (city_exp, f"{held + 1}")],
        area=area,
        county=county,
        ref="超额划出",
    )
    _entry(
        EntryKind.TRANSFER,
        dt.date(2025, 2, 2),
        [(city_exp, out), (exp, f"{held + 1}")],
        area=area,
        county=county,
        ref="划回",
    )
    result = _reconcile()
    assert _checks(result) == {"account_overdrawn"}
    assert _rows(result, "account_overdrawn") == [("funds.Account", exp.pk)]
    (d,) = result.differences
    assert (d.year, d.month) == (2025, 2) and d.rows[0].actual == D("-1.00")


def test_a_statement_staged_but_never_posted(books, county, hospitals):
    """June 2025 staged; its posting was never proposed and approved."""
    make_claim(county, hospitals[0], "50.00", discharged=dt.date(2025, 6, 10))
    run = settlement_run(county=county, year=2025, month=6)
    assert run.status == SettlementRun.Status.STAGED
    (st,) = run.statements.all()
    result = _reconcile()
    assert _checks(result) == {"not_posted"}
    assert _rows(result, "not_posted") == [("funds.SettlementStatement", st.pk)]


def test_a_payment_voucher_dated_outside_its_month(books):
    st = SettlementStatement.objects.get(payee="hospital")
    # Behind the ledger's back: on PostgreSQL a posted entry is immutable (a trigger), so the
    # plant switches that trigger off for this one update, as a direct SQL edit would.
    with pgtrigger.ignore("funds.Entry:fund_entry_immutable"):
        Entry.objects.filter(pk=st.entry_id).update(date=dt.date(YEAR, 4, 30))
    result = _reconcile()
    assert _rows(result, "entry_date") == [("funds.Entry", st.entry_id)]
    # The same voucher's amount is now April's in the ledger, not May's.
    assert _checks(result) == {"entry_date", "ledger_total", "report_totals"}
    assert {(d.month, d.check) for d in result.differences if d.check != "entry_date"} == {
        (4, "ledger_total"),
        (5, "ledger_total"),
        (5, "report_totals"),
    }


def test_a_late_payment_for_a_month_the_year_end_close_closed_is_no_difference(
    books, county, hospitals, accounts
):
    # Accepted in June, settled only after the year was closed: `posting_date` dates the
    # voucher today, in the open period, and it counts in today's month, not in June's.
    today = timezone.localdate()
    fund(accounts, county, 100, day=today)
    make_claim(county, hospitals[2], "50.00", discharged=dt.date(YEAR, 6, 10))
    run = settle(county=county, year=YEAR, month=6)
    assert run.status == SettlementRun.Status.SUCCEEDED
    (st,) = run.statements.all()
    assert st.entry.date == today
    result = _reconcile()
    assert result.differences == [], [d.as_dict() for d in result.differences]
    assert result.period(county.pk, YEAR, 6).ledger_total == 0
    assert result.period(county.pk, today.year, today.month).ledger_total == D("50.00")
    # Not a licence for any date: the same voucher dated in a month before the close is not
    # a late payment, and is reported.
    with pgtrigger.ignore("funds.Entry:fund_entry_immutable"):
        Entry.objects.filter(pk=st.entry_id).update(
            created_at=YearEndClose.objects.get().closed_at - dt.timedelta(seconds=1)
        )
    assert _rows(_reconcile(), "entry_date") == [("funds.Entry", st.entry_id)]


def test_a_voucher_that_pays_another_hospital(books, area, county, hospitals):
    st = SettlementStatement.objects.get(payee="hospital")
    other = Account.objects.create(
        code=f"hospital:{hospitals[2].code}",
        name=hospitals[2].name,
        kind=AccountKind.HOSPITAL,
        pooling_area=area,
        county=county,
        hospital=hospitals[2],
    )
    with pgtrigger.ignore("funds.Posting:fund_posting_immutable"):
        Posting.objects.filter(entry_id=st.entry_id, amount__gt=0).update(account=other)
    result = _reconcile()
    assert _checks(result) == {"entry_amount"}
    assert _rows(result, "entry_amount") == [("funds.Entry", st.entry_id)]


def test_a_payment_to_a_hospital_without_a_statement(books, area, county, hospitals):
    exp = Account.objects.get(county=county, kind=AccountKind.EXPENDITURE)
    hospital = Account.objects.get(kind=AccountKind.HOSPITAL, hospital=hospitals[0])
    entry = _entry(
        EntryKind.HOSPITAL_PAYMENT,
        dt.date(2025, 3, 10),
        [(exp, "-30.00"), (hospital, "30.00")],
        area=area,
        county=county,
        ref="无结算单付款",
    )
    result = _reconcile()
    assert _rows(result, "payment_without_statement") == [("funds.Entry", entry.pk)]
    # March 2025's payments are 30.00 with no statement posted to add up to them.
    assert _checks(result) == {"payment_without_statement", "ledger_total"}
    (total,) = [d for d in result.differences if d.check == "ledger_total"]
    assert (total.year, total.month, total.rows[0].actual) == (2025, 3, D("30.00"))


def test_a_claim_marked_settled_that_no_statement_holds(books, county, hospitals):
    claim = make_claim(county, hospitals[2], "80.00", status="settled")
    result = _reconcile()
    assert _checks(result) == {"settled_without_line"}
    assert _rows(result, "settled_without_line") == [("claims.Claim", claim.pk)]


def test_year_end_actual_spending_off_the_ledger(books):
    # Consistent within the close (actual up, surplus down by as much): only the ledger says no.
    YearEndClose.objects.filter(pk=books.pk).update(
        actual=F("actual") + D("10.00"), surplus=F("surplus") - D("10.00")
    )
    result = _reconcile()
    assert _checks(result) == {"year_end_actual"}
    assert _rows(result, "year_end_actual") == [("funds.YearEndClose", books.pk)]
    (row,) = result.differences[0].rows
    assert row.actual - row.expected == D("10.00")


def test_year_end_premium_part_off_the_ledger(books):
    YearEndClose.objects.filter(pk=books.pk).update(
        premium_subsidies=F("premium_subsidies") + D("1.00")
    )
    result = _reconcile()
    assert _checks(result) == {"year_end_premium"}
    assert _rows(result, "year_end_premium") == [("funds.YearEndClose", books.pk)]


def test_year_end_figures_that_do_not_add_up(books):
    YearEndClose.objects.filter(pk=books.pk).update(city_share=F("city_share") + D("5.00"))
    result = _reconcile()
    assert _checks(result) == {"year_end_figures"}
    assert _rows(result, "year_end_figures") == [("funds.YearEndClose", books.pk)]


def test_year_end_closing_balance_off_the_ledger(books):
    YearEndClose.objects.filter(pk=books.pk).update(closing_balance=F("closing_balance") + 1)
    result = _reconcile()
    assert _checks(result) == {"year_end_balance"}
    assert _rows(result, "year_end_balance") == [("funds.YearEndClose", books.pk)]


def test_a_premium_transfer_without_its_request(books, area, county):
    """A second transfer in 2025 for the county's people, posted without a request (a
    duplicate?): the year 2025 is not closed, so only the transfer itself is wrong."""
    city = Account.objects.get(pooling_area=area, county=None, kind=AccountKind.FISCAL)
    entry = services.transfer_post(
        kind=EntryKind.PREMIUM_SUBSIDY,
        from_account=city,
        to_account=services.account_open(
            kind=AccountKind.RESIDENT_INSURANCE, pooling_area=area, county=county
        ),
        amount=D("100.00"),
        date=dt.date(2025, 3, 1),
        document_ref="重复划转",
        county=county,
    )
    result = _reconcile()
    assert _checks(result) == {"premium_unlinked"}
    assert _rows(result, "premium_unlinked") == [("funds.Entry", entry.pk)]


def test_a_paid_application_with_a_claim_no_statement_settled(county, month):  # noqa: F811
    """The engine-decided month of tests/funds/test_reconciliation.py, whose counter
    application was paid: a claim of it that no posted statement settled."""
    app = Application.objects.get(state=Application.State.PAID)
    assert reconcile(county=county).count == 0
    paid = app.claims.get()
    claim = Claim.objects.create(
        person=paid.person,
        county=county,
        hospital=paid.hospital,
        application=app,
        source=paid.source,
        external_ref=f"{paid.external_ref}-2",
        kind=paid.kind,
        admitted=paid.admitted,
        discharged=paid.discharged,
        settlement=paid.settlement,
        total_cost=D("100.00"),
        in_policy_cost=D("100.00"),
        status="accepted",
    )
    result = reconcile(county=county)
    assert _checks(result) == {"application_paid_twice"}
    assert _rows(result, "application_paid_twice") == [("claims.Application", app.pk)]
    (row,) = result.differences[0].rows
    assert (row.expected, row.actual) == (2, 1)
    assert claim.pk  # the claim is the application's second, never settled
