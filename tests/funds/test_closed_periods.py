"""A year closed at the year-end close accepts no postings; a correction is posted in the open
month and references the original. Premium transfers are 已记账 only with their voucher."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from beneficiaries.models import PremiumTransferRequest
from funds import moves, services
from funds.models import AccountKind, Budget, Entry, EntryKind, FundSource, MoneyMove
from funds.services import FundsError
from funds.settlement import posting_date
from tests.funds.conftest import fund
from tests.money_support import approved, person

Kind = MoneyMove.Kind


@pytest.fixture
def closed_2024(county, accounts):
    fund(accounts, county, 1000, day=dt.date(2024, 3, 1))
    Budget.objects.create(county=county, year=2024, amount=Decimal("5000"))
    return approved(Kind.YEAR_END, pooling_area=county.pooling_area, year=2024)


def test_the_year_end_close_is_a_reviewed_move(county, closed_2024):
    assert closed_2024.state == MoneyMove.State.POSTED
    close = county.fund_closes.get(year=2024)
    assert close.closed_by == person("test_checker")
    with pytest.raises(FundsError) as err:
        approved(Kind.YEAR_END, pooling_area=county.pooling_area, year=2024)
    assert err.value.code == "already_closed"


def test_a_closed_year_refuses_postings_and_a_correction_goes_into_the_open_month(
    county, accounts, closed_2024
):
    fiscal = accounts[(county.pk, AccountKind.FISCAL)]
    with pytest.raises(FundsError) as err:
        services.receipt_post(
            account=fiscal,
            source=FundSource.DONATION,
            amount=1,
            date=dt.date(2024, 12, 31),
            document_ref="晚到",
        )
    assert (err.value.code, err.value.field) == ("period_closed", "date")
    assert "已关账" in err.value.message and "调整凭证" in err.value.message
    with pytest.raises(FundsError) as err:
        moves.move_propose(
            kind=Kind.MANUAL_ENTRY,
            maker=person("test_maker"),
            reason="补记",
            entry_kind=EntryKind.RECEIPT,
            source=FundSource.DONATION,
            to_account=fiscal,
            amount="1.00",
            date=dt.date(2024, 6, 1),
            document_ref="补1",
        )
    assert err.value.code == "period_closed"
    # The reversal of a 2024 voucher is dated today, in the open month, and names the original.
    original = Entry.objects.filter(kind=EntryKind.DISBURSEMENT, county=county).get()
    approved(Kind.REVERSAL, entry=original)
    reversal = Entry.objects.get(reverses=original)
    assert reversal.date.year > 2024 and reversal.related_ref == original.document_ref


def test_a_late_settlement_of_a_closed_month_is_dated_in_the_open_month(county, closed_2024):
    from funds.models import SettlementRun

    run = SettlementRun.objects.create(county=county, year=2024, month=12)
    assert posting_date(run).year > 2024


def test_premium_transfer_is_posted_only_through_an_approved_move(county, accounts):
    city = accounts[(None, AccountKind.FISCAL)]
    services.receipt_post(
        account=city,
        source=FundSource.MUNICIPAL,
        amount=500,
        date=dt.date(2024, 1, 2),
        document_ref="市1",
    )
    request = PremiumTransferRequest.objects.create(
        county=county, year=2024, amount=Decimal("300.00"), headcount=3
    )
    maker = person("test_maker")
    move = moves.move_propose(
        kind=Kind.PREMIUM_TRANSFER,
        maker=maker,
        reason="名册已确认",
        request=request,
        from_account=city,
        date=dt.date(2024, 2, 1),
    )
    request.refresh_from_db()
    assert request.status == PremiumTransferRequest.Status.REQUESTED and city.balance() == 500
    moves.move_approve(move=move, checker=person("test_checker"), reason="同意划转")
    request.refresh_from_db()
    entry = Entry.objects.get(move=move)
    assert (request.status, request.posted_entry_id) == ("posted", entry.pk)
    assert city.balance() == 200


def test_a_transfer_cannot_be_marked_posted_without_its_voucher(county):
    with pytest.raises(IntegrityError), transaction.atomic():
        PremiumTransferRequest.objects.create(
            county=county, year=2024, amount=Decimal("1.00"), headcount=1, status="posted"
        )


def test_the_transfer_admin_creates_nothing_and_a_posted_one_is_read_only(client, county, accounts):
    from django.contrib import admin

    user = person("test_maker")
    request = PremiumTransferRequest.objects.create(
        county=county, year=2024, amount=Decimal("1.00"), headcount=1
    )
    model_admin = admin.site._registry[PremiumTransferRequest]
    client.force_login(user)
    assert client.get("/admin/beneficiaries/premiumtransferrequest/add/").status_code == 403
    http = type("R", (), {"user": user})()
    assert {"amount", "county", "status"} <= set(model_admin.get_readonly_fields(http, request))
    PremiumTransferRequest.objects.filter(pk=request.pk).update(status="posted", posted_entry_id=1)
    request.refresh_from_db()
    assert "note" in model_admin.get_readonly_fields(http, request)
