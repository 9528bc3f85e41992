import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries.models import County, FundingTier, PoolingArea
from claims.models import Hospital
from funds import selectors, services
from funds.models import AccountKind, Deadline, EntryKind, FundSource, YearEndClose
from funds.services import FundsError
from tests.funds.conftest import fund, make_claim
from tests.money_support import settle


def test_funding_notice_starts_the_plan_and_allocation_clocks(area, accounts):
    # 2024: Sunday 29 September and Saturday 12 October were make-up working days, 1–7 October
    # the National Day holiday.
    plan, allocation = services.funding_notice_register(
        pooling_area=area,
        document_ref="云财社〔2024〕88号",
        received_on=dt.date(2024, 9, 27),
        amount="1000000",
    )
    assert plan.kind == Deadline.Kind.ALLOCATION_PLAN
    assert plan.due_on == dt.date(2024, 10, 16)  # 29/9, 30/9, 8–12/10, 14–16/10
    assert "第十九条" in plan.rule_ref
    assert allocation.due_on == dt.date(2024, 10, 27)  # 30 calendar days


def test_allocation_closes_its_deadline_and_opens_the_county_remittance_clock(
    area, county, accounts
):
    city = accounts[(None, AccountKind.FISCAL)]
    cfis = accounts[(county.pk, AccountKind.FISCAL)]
    services.funding_notice_register(
        pooling_area=area, document_ref="N1", received_on=dt.date(2024, 3, 1), amount=500
    )
    services.receipt_post(
        account=city,
        source=FundSource.CENTRAL_PROVINCIAL,
        amount=500,
        date=dt.date(2024, 3, 5),
        document_ref="N1-到账",
    )
    services.transfer_post(
        kind=EntryKind.ALLOCATION,
        from_account=city,
        to_account=cfis,
        amount=300,
        date=dt.date(2024, 3, 20),
        document_ref="保财社〔2024〕5号",
        related_ref="N1",
        source=FundSource.CENTRAL_PROVINCIAL,
    )
    assert Deadline.objects.get(kind="allocation").completed_on == dt.date(2024, 3, 20)
    remit = Deadline.objects.get(kind="remittance")
    assert (remit.county, remit.due_on, remit.amount) == (county, dt.date(2024, 4, 4), 300)
    services.transfer_post(
        kind=EntryKind.REMITTANCE,
        from_account=cfis,
        to_account=city,
        amount=100,
        date=dt.date(2024, 3, 25),
        document_ref="上解1",
        related_ref="保财社〔2024〕5号",
    )
    remit.refresh_from_db()
    assert remit.completed_on is None  # only a third remitted
    services.transfer_post(
        kind=EntryKind.REMITTANCE,
        from_account=cfis,
        to_account=city,
        amount=200,
        date=dt.date(2024, 4, 8),
        document_ref="上解2",
        related_ref="保财社〔2024〕5号",
    )
    remit.refresh_from_db()
    assert remit.completed_on == dt.date(2024, 4, 8)
    states = {d.kind: d.state for d in selectors.deadlines_with_status(today=dt.date(2024, 4, 10))}
    assert states["remittance"] == "done" and states["allocation_plan"] == "overdue"


def test_budget_opens_the_county_matching_deadline_closed_by_matching_remittances(
    area, county, accounts
):
    services.budget_set(county=county, year=2024, amount=1_000_000, county_matching=200)
    matching = Deadline.objects.get(kind="county_matching")
    assert matching.due_on == dt.date(2024, 9, 30) and matching.amount == 200
    cfis = accounts[(county.pk, AccountKind.FISCAL)]
    services.receipt_post(
        account=cfis,
        source=FundSource.COUNTY,
        amount=200,
        date=dt.date(2024, 6, 1),
        document_ref="县配套",
    )
    services.transfer_post(
        kind=EntryKind.REMITTANCE,
        from_account=cfis,
        to_account=accounts[(None, AccountKind.FISCAL)],
        amount=200,
        date=dt.date(2024, 9, 2),
        document_ref="配套上解",
        source=FundSource.COUNTY,
    )
    matching.refresh_from_db()
    assert matching.completed_on == dt.date(2024, 9, 2)
    due = selectors.deadlines_attention(user=None, today=dt.date(2024, 9, 28))
    assert not due.filter(kind="county_matching").exists()


def test_kunming_subsidy_deadlines_and_tier_split(db):
    area = PoolingArea.objects.create(code="530100", name="昆明市", policy_code="kunming")
    tier = FundingTier.objects.create(
        pooling_area=area, tier=3, city_share=Decimal("0.9"), county_share=Decimal("0.1")
    )
    county = County.objects.create(
        pooling_area=area, code="530113", name="东川区", funding_tier=tier
    )
    budget = services.budget_set(county=county, year=2024, amount="12345.67")
    kinds = dict(Deadline.objects.values_list("kind", "due_on"))
    assert "六（五）1" in Deadline.objects.get(kind="subsidy_transfer").rule_ref
    assert kinds == {
        "subsidy_headcount": dt.date(2024, 6, 30),
        "subsidy_transfer": dt.date(2024, 8, 30),
        "year_end_return": dt.date(2024, 12, 31),
    }
    assert selectors.budget_funding_split(budget) == (Decimal("11111.10"), Decimal("1234.57"))
    services.accounts_open_for_area(pooling_area=area)
    city = services.account_open(kind="fiscal", pooling_area=area)
    services.receipt_post(
        account=city,
        source=FundSource.MUNICIPAL,
        amount=1000,
        date=dt.date(2024, 7, 1),
        document_ref="市级补助",
    )
    insurance = services.account_open(kind=AccountKind.RESIDENT_INSURANCE, pooling_area=area)
    services.transfer_post(
        kind=EntryKind.PREMIUM_SUBSIDY,
        from_account=city,
        to_account=insurance,
        amount=600,
        date=dt.date(2024, 8, 20),
        document_ref="资助参保划转",
        county=county,
    )
    assert Deadline.objects.get(kind="subsidy_transfer").completed_on == dt.date(2024, 8, 20)


def test_year_end_close_spends_the_city_surplus_down_across_counties(
    area, county, other_county, hospitals, accounts
):
    # County 1 spends 1040 of a 1000 budget (4%); county 2 spends 103 of 100 (3%).
    fund(accounts, county, 2000)
    fund(accounts, other_county, 200)
    services.receipt_post(
        account=accounts[(None, AccountKind.FISCAL)],
        source=FundSource.INTEREST,
        amount="21.00",
        date=dt.date(2024, 12, 1),
        document_ref="利息",
    )
    services.budget_set(county=county, year=2024, amount=1000)
    services.budget_set(county=other_county, year=2024, amount=100)
    make_claim(county, hospitals[0], "1040.00")
    make_claim(other_county, hospitals[0], "103.00")
    settle(county=county, year=2024, month=5)
    settle(county=other_county, year=2024, month=5)
    closes = services.year_end_close(pooling_area=area, year=2024)
    first, second = closes
    assert (first.actual, first.overspend, first.from_surplus, first.county_share) == (
        Decimal("1040.00"),
        Decimal("40.00"),
        Decimal("20.00"),
        Decimal("20.00"),
    )
    assert first.accumulated_surplus_before == Decimal("21.00")
    # Only 1.00 of the city's surplus is left for the second county's 3.00.
    assert (second.from_surplus, second.county_share) == (Decimal("1.00"), Decimal("2.00"))
    assert first.closing_balance == Decimal("960.00")
    with pytest.raises(FundsError):
        services.year_end_close(pooling_area=area, year=2024)
    assert YearEndClose.objects.count() == 2


def test_deadline_kinds_are_the_engines():
    from medaid.policy.glossary import FUND_DEADLINE_CHOICES

    assert list(Deadline.Kind.choices) == list(FUND_DEADLINE_CHOICES)


def test_baoshan_budget_opens_four_quarter_end_surplus_returns(area, county, accounts):
    services.budget_set(county=county, year=2024, amount=1000, document_ref="保财预〔2024〕1号")
    quarters = Deadline.objects.filter(kind="surplus_return").order_by("due_on")
    assert [d.due_on for d in quarters] == [
        dt.date(2024, 3, 31),
        dt.date(2024, 6, 30),
        dt.date(2024, 9, 30),
        dt.date(2024, 12, 31),
    ]
    assert all("第十八条（一）" in d.rule_ref for d in quarters)
    exp = fund(accounts, county, 500)
    # Returned late for the first quarter (in April): that closes Q1, not Q2.
    services.transfer_post(
        kind=EntryKind.SURPLUS_RETURN,
        from_account=exp,
        to_account=accounts[(None, AccountKind.FISCAL)],
        amount=100,
        date=dt.date(2024, 4, 3),
        document_ref="季末结余退回1",
    )
    done = {d.due_on: d.completed_on for d in quarters.all()}
    assert done[dt.date(2024, 3, 31)] == dt.date(2024, 4, 3)
    assert done[dt.date(2024, 6, 30)] is None
    states = {
        d.due_on: d.state
        for d in selectors.deadlines_with_status(user=None, today=dt.date(2024, 7, 2)).filter(
            kind="surplus_return"
        )
    }
    assert states[dt.date(2024, 3, 31)] == "done" and states[dt.date(2024, 6, 30)] == "overdue"


def test_pingshun_close_draws_on_the_countys_own_surplus_and_pays_from_the_special_account(db):
    area = PoolingArea.objects.create(code="140425", name="平顺县", policy_code="pingshun")
    county = County.objects.create(pooling_area=area, code="140425001", name="平顺县本级")
    services.accounts_open_for_area(pooling_area=area, opened_on=dt.date(2024, 1, 1))
    fiscal = services.account_open(kind=AccountKind.FISCAL, pooling_area=area, county=county)
    city = services.account_open(kind=AccountKind.FISCAL, pooling_area=area)
    services.receipt_post(
        account=fiscal,
        source=FundSource.COUNTY,
        amount=150,
        date=dt.date(2024, 1, 5),
        document_ref="县预算",
    )
    services.receipt_post(
        account=city,
        source=FundSource.DONATION,
        amount=999,
        date=dt.date(2024, 1, 5),
        document_ref="不属于平顺县基金",
    )
    hospital = Hospital.objects.create(code="PS1", name="平顺县人民医院", level=2, county=county)
    make_claim(county, hospital, "130.00")
    run = settle(county=county, year=2024, month=5)
    assert run.status == "succeeded"
    # 第二十六条: paid straight from the fiscal special account
    assert services._balance([fiscal]) == Decimal("20.00")
    services.budget_set(county=county, year=2024, amount=100)
    assert not Deadline.objects.filter(county=county).exists()  # Pingshun sets none
    (close,) = services.year_end_close(pooling_area=area, year=2024)
    # 第二十七条: 30 over; the county fund's 20 first, then county finance 10
    assert (close.overspend, close.accumulated_surplus_before) == (
        Decimal("30.00"),
        Decimal("20.00"),
    )
    assert (close.from_surplus, close.county_share) == (Decimal("20.00"), Decimal("10.00"))
    assert "第二十七条" in close.explanation[1]


def test_kunming_close_shares_the_shortfall_by_tier_and_asks_for_the_year_end_return(db):
    area = PoolingArea.objects.create(code="530100", name="昆明市", policy_code="kunming")
    tier = FundingTier.objects.create(
        pooling_area=area, tier=2, city_share=Decimal("0.6"), county_share=Decimal("0.4")
    )
    county = County.objects.create(
        pooling_area=area, code="530124", name="富民县", funding_tier=tier
    )
    accounts = {
        (a.county_id, a.kind): a
        for a in services.accounts_open_for_area(pooling_area=area, opened_on=dt.date(2024, 1, 1))
    }
    fund(accounts, county, 300)
    hospital = Hospital.objects.create(code="KM1", name="富民县人民医院", level=2, county=county)
    make_claim(county, hospital, "250.00")
    settle(county=county, year=2024, month=5)
    services.budget_set(county=county, year=2024, amount=200)
    (close,) = services.year_end_close(pooling_area=area, year=2024)
    # 六（三）第二档: 50 short, city 60 % = 30, county 20; no accumulated surplus is used
    assert (close.city_share, close.county_share, close.from_surplus) == (
        Decimal("30.00"),
        Decimal("20.00"),
        Decimal("0.00"),
    )
    assert close.accumulated_surplus_before == 0
    # 六（二）2: the 50 left on the expenditure account goes back to the special account
    assert any("六（二）2" in line and "50.00" in line for line in close.explanation)
