import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError

from funds import services
from funds.models import AccountKind, Entry, EntryKind, FundSource, Posting
from funds.services import FundsError

DAY = dt.date(2024, 3, 1)


def test_receipt_posts_two_balanced_postings_and_derives_the_balance(accounts):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    entry = services.receipt_post(
        account=fiscal,
        source=FundSource.LOTTERY,
        amount="1234.565",
        date=DAY,
        document_ref="保财社〔2024〕1号",
    )
    amounts = sorted(entry.postings.values_list("amount", flat=True))
    assert amounts == [Decimal("-1234.57"), Decimal("1234.57")]
    assert fiscal.balance() == Decimal("1234.57")
    source = entry.postings.get(amount__lt=0).account
    assert source.kind == AccountKind.SOURCE and source.source == FundSource.LOTTERY
    assert entry.kind == EntryKind.RECEIPT and entry.source == FundSource.LOTTERY


@pytest.mark.parametrize(
    ("postings", "code"),
    [
        ([Decimal("10"), Decimal("-9")], "unbalanced"),
        ([Decimal("10")], "too_few_postings"),
        ([Decimal("0"), Decimal("0")], "zero_posting"),
    ],
)
def test_entry_post_refuses_what_a_ledger_cannot_hold(accounts, postings, code):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    exp = accounts[(None, AccountKind.EXPENDITURE)]
    with pytest.raises(FundsError) as err:
        services.entry_post(
            kind=EntryKind.TRANSFER,
            pooling_area=fiscal.pooling_area,
            date=DAY,
            document_ref="X1",
            postings=list(zip([exp, fiscal], postings, strict=False)),
        )
    assert err.value.code == code
    assert not Entry.objects.exists()


def test_entry_without_document_reference_is_refused(accounts):
    with pytest.raises(FundsError) as err:
        services.receipt_post(
            account=accounts[(None, AccountKind.FISCAL)],
            source=FundSource.DONATION,
            amount=10,
            date=DAY,
            document_ref="  ",
        )
    assert err.value.code == "missing_document"


def test_paying_more_than_the_account_holds_is_refused_with_the_figures(accounts, county):
    exp = accounts[(county.pk, AccountKind.EXPENDITURE)]
    city = accounts[(None, AccountKind.FISCAL)]
    services.receipt_post(
        account=city, source=FundSource.MUNICIPAL, amount=100, date=DAY, document_ref="R1"
    )
    with pytest.raises(FundsError) as err:
        services.transfer_post(
            kind=EntryKind.TRANSFER,
            from_account=city,
            to_account=accounts[(None, AccountKind.EXPENDITURE)],
            amount="100.01",
            date=DAY,
            document_ref="T1",
        )
    assert err.value.code == "insufficient_balance"
    assert "100.00" in err.value.message and "0.01" in err.value.message
    assert exp.balance() == 0 and city.balance() == Decimal("100.00")


@pytest.mark.parametrize(
    ("kind", "src", "dst"),
    [
        (EntryKind.ALLOCATION, ("county", "fiscal"), (None, "fiscal")),  # 下达 goes down
        (EntryKind.REMITTANCE, (None, "fiscal"), ("county", "fiscal")),  # 上解 goes up
        (EntryKind.TRANSFER, (None, "expenditure"), (None, "fiscal")),  # wrong direction
        (EntryKind.TRANSFER, (None, "fiscal"), ("county", "expenditure")),  # across levels
    ],
)
def test_flows_follow_the_statutory_accounts(accounts, county, kind, src, dst):
    def acct(level, kind_):
        return accounts[(county.pk if level else None, kind_)]

    with pytest.raises(FundsError) as err:
        services.transfer_post(
            kind=kind,
            from_account=acct(*src),
            to_account=acct(*dst),
            amount=1,
            date=DAY,
            document_ref="X",
        )
    assert err.value.code == "flow_not_allowed"


def test_expenditure_account_receives_only_interest_directly(accounts, county):
    exp = accounts[(county.pk, AccountKind.EXPENDITURE)]
    with pytest.raises(FundsError):
        services.receipt_post(
            account=exp, source=FundSource.DONATION, amount=5, date=DAY, document_ref="D"
        )
    services.receipt_post(
        account=exp, source=FundSource.INTEREST, amount=5, date=DAY, document_ref="利息"
    )
    assert exp.balance() == 5


def test_reversal_negates_every_posting_once_and_only_once(accounts):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    entry = services.receipt_post(
        account=fiscal, source=FundSource.DONATION, amount=50, date=DAY, document_ref="捐1"
    )
    reversal = services.entry_reverse(entry=entry, date=DAY, document_ref="冲1")
    assert reversal.reverses == entry and reversal.kind == entry.kind
    assert fiscal.balance() == 0
    with pytest.raises(FundsError) as err:
        services.entry_reverse(entry=entry, date=DAY, document_ref="冲2")
    assert err.value.code == "already_reversed"
    with pytest.raises(FundsError):
        services.entry_reverse(entry=reversal, date=DAY, document_ref="冲3")


def test_reversal_of_spent_receipt_is_refused(accounts):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    entry = services.receipt_post(
        account=fiscal, source=FundSource.DONATION, amount=50, date=DAY, document_ref="捐1"
    )
    services.transfer_post(
        kind=EntryKind.TRANSFER,
        from_account=fiscal,
        to_account=accounts[(None, AccountKind.EXPENDITURE)],
        amount=30,
        date=DAY,
        document_ref="拨1",
    )
    with pytest.raises(FundsError) as err:
        services.entry_reverse(entry=entry, date=DAY, document_ref="冲1")
    assert err.value.code == "insufficient_balance"


def test_idempotency_key_returns_the_first_entry(accounts):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    source = services.account_open(
        kind=AccountKind.SOURCE, pooling_area=fiscal.pooling_area, source=FundSource.OTHER
    )
    kwargs = {
        "kind": EntryKind.RECEIPT,
        "pooling_area": fiscal.pooling_area,
        "date": DAY,
        "document_ref": "K",
        "idempotency_key": "k-1",
        "postings": [(source, Decimal("-5")), (fiscal, Decimal("5"))],
    }
    first = services.entry_post(**kwargs)
    again = services.entry_post(**kwargs)
    assert first.pk == again.pk and fiscal.balance() == 5


def test_database_refuses_a_zero_posting(accounts):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    entry = services.receipt_post(
        account=fiscal, source=FundSource.DONATION, amount=1, date=DAY, document_ref="捐"
    )
    with pytest.raises(IntegrityError):
        Posting.objects.create(entry=entry, account=fiscal.__class__.objects.last(), amount=0)


def test_opening_accounts_twice_opens_them_once(area, county, other_county):
    first = services.accounts_open_for_area(pooling_area=area)
    second = services.accounts_open_for_area(pooling_area=area)
    assert [a.pk for a in first] == [a.pk for a in second]
    assert len(first) == 6  # city + two counties, fiscal and expenditure each
    assert {a.name for a in first} >= {"保山市医疗救助基金财政专户", "隆阳区医疗救助基金支出户"}
