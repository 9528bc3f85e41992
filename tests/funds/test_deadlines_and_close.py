import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries.models import County, FundingTier, PoolingArea
from funds import rules, selectors, services
from funds.models import AccountKind, Deadline, EntryKind, FundSource, YearEndClose
from funds.services import FundsError
from funds.settlement import settlement_run
from tests.funds.conftest import fund, make_claim


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
    assert not due.exists()


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


@pytest.mark.parametrize(
    ("actual", "surplus", "from_surplus", "county"),
    [
        ("1030000", "1000000", "30000", "0"),  # 3% exactly: city's surplus covers all
        ("1040000", "1000000", "20000", "20000"),  # 4%: half and half
        ("1050000", "1000000", "25000", "25000"),  # 5% exactly: still half and half
        ("1060000", "1000000", "0", "60000"),  # over 5%: county all
        ("1030000", "10000", "10000", "20000"),  # surplus short: county takes the rest
    ],
)
def test_baoshan_overspend_bands(actual, surplus, from_surplus, county):
    share = rules.share_overspend(
        policy_code="baoshan",
        budget=Decimal("1000000"),
        actual=Decimal(actual),
        accumulated_surplus=Decimal(surplus),
    )
    assert (share.from_surplus, share.county) == (Decimal(from_surplus), Decimal(county))
    assert share.from_surplus + share.county + share.city == share.overspend


def test_pingshun_surplus_then_county_and_underspend_carries_forward():
    share = rules.share_overspend(
        policy_code="pingshun",
        budget=Decimal("100"),
        actual=Decimal("130"),
        accumulated_surplus=Decimal("20"),
    )
    assert (share.from_surplus, share.county) == (Decimal("20"), Decimal("10"))
    under = rules.share_overspend(
        policy_code="pingshun",
        budget=Decimal("100"),
        actual=Decimal("70"),
        accumulated_surplus=Decimal("0"),
    )
    assert under.overspend == 0 and under.surplus == Decimal("30")
    assert "结转下年度" in under.lines[0]


def test_unknown_pack_leaves_the_overspend_unallocated():
    share = rules.share_overspend(
        policy_code="zhangye",
        budget=Decimal("100"),
        actual=Decimal("110"),
        accumulated_surplus=Decimal("50"),
    )
    assert share.unallocated == Decimal("10") and share.from_surplus == 0


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
    settlement_run(county=county, year=2024, month=5)
    settlement_run(county=other_county, year=2024, month=5)
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
