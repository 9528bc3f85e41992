import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries import services as registry
from beneficiaries.models import PremiumTransferRequest
from funds import services
from funds.models import AccountKind, Entry, FundSource

pytestmark = pytest.mark.django_db


def test_posting_a_premium_transfer_request_closes_it_through_the_registry(
    area, county, monkeypatch
):
    """The funds app posts the entry; the request row is closed by the beneficiaries service,
    once: a second posting returns the same entry."""
    city = services.account_open(kind=AccountKind.FISCAL, pooling_area=area)
    services.receipt_post(
        account=city,
        source=FundSource.MUNICIPAL,
        amount=1000,
        date=dt.date(2024, 7, 1),
        document_ref="市级补助",
    )
    request = PremiumTransferRequest.objects.create(
        county=county, year=2024, amount=Decimal("580.00"), headcount=2
    )
    calls = []
    mark_posted = registry.premium_transfer_request_mark_posted

    def spy(**kwargs):
        calls.append(kwargs["entry_id"])
        return mark_posted(**kwargs)

    monkeypatch.setattr(services, "premium_transfer_request_mark_posted", spy)
    entry = services.premium_transfer_post(
        request=request, from_account=city, date=dt.date(2024, 8, 20)
    )
    request.refresh_from_db()
    assert request.status == PremiumTransferRequest.Status.POSTED
    assert request.posted_entry_id == entry.pk and calls == [entry.pk]
    again = services.premium_transfer_post(
        request=request, from_account=city, date=dt.date(2024, 8, 21)
    )
    assert again.pk == entry.pk and calls == [entry.pk]
    assert Entry.objects.filter(kind="premium_subsidy").count() == 1
