"""Demo data for the fund: 保山市 and its five counties (pack baoshan) with their fiscal special
and expenditure accounts, a year's realistic receipts, allocations, remittances and transfers
along the statutory path (Baoshan Art.16–20) and budgets (the premium-subsidy transfer
follows from the subsidy roster, see `medaid.management.commands.demo`) — so
that the monthly settlement the demo runs next can pay, and the dashboard shows deadlines done,
due and overdue."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction

from beneficiaries.models import County, PoolingArea
from funds import services
from funds.models import Account, AccountKind, EntryKind, FundSource
from medaid.core.money import CENT

AREA = ("530500", "保山市")
# (code, name, budget in 万元): the scale of a prefecture's assistance fund.
COUNTIES = [
    ("530502", "隆阳区", 4200),
    ("530521", "施甸县", 1800),
    ("530523", "龙陵县", 1650),
    ("530524", "昌宁县", 2050),
    ("530581", "腾冲市", 3600),
]
BANKS = ["中国农业银行保山分行", "中国建设银行保山分行", "保山市农村信用合作联社"]
WAN = Decimal("10000")


def _yuan(rng: random.Random, wan: float, spread: float = 0.04) -> Decimal:
    return (Decimal(str(wan)) * WAN * Decimal(str(1 + rng.uniform(-spread, spread)))).quantize(
        Decimal("0.01")
    )


@transaction.atomic
def demo_funds_create(*, seed: int, year: int) -> dict:
    """Open the accounts and post the year's money. Safe to call twice: a second call finds the
    accounts open and the first receipt's document posted, and changes nothing."""
    rng = random.Random(seed)
    area, _ = PoolingArea.objects.get_or_create(
        code=AREA[0], defaults={"name": AREA[1], "policy_code": "baoshan"}
    )
    counties = []
    for code, name, _ in COUNTIES:
        county, _ = County.objects.get_or_create(
            code=code, defaults={"pooling_area": area, "name": name}
        )
        counties.append(county)
    budgets = {
        c.code: Decimal(wan) * WAN for c, (_, _, wan) in zip(counties, COUNTIES, strict=True)
    }
    first_ref = f"云财社〔{year}〕12号"
    if Account.objects.filter(pooling_area=area, postings__entry__document_ref=first_ref).exists():
        return {"pooling_area": area.pk, "created": False}

    opened = dt.date(year, 1, 2)
    for level in [None, *counties]:
        for kind in (AccountKind.FISCAL, AccountKind.EXPENDITURE):
            services.account_open(
                kind=kind,
                pooling_area=area,
                county=level,
                bank_name=rng.choice(BANKS),
                bank_account=f"2460{rng.randrange(10**11, 10**12)}",
                opened_on=opened,
            )

    def acct(kind, county=None):
        return services.account_open(kind=kind, pooling_area=area, county=county)

    city, city_exp = acct(AccountKind.FISCAL), acct(AccountKind.EXPENDITURE)
    total_budget = sum(budgets.values())

    for county in counties:
        services.budget_set(
            county=county,
            year=year,
            amount=budgets[county.code],
            county_matching=(budgets[county.code] * Decimal("0.15")).quantize(CENT),
            document_ref=f"保财预〔{year}〕{3 + counties.index(county)}号",
        )

    # Central and provincial subsidy: the notice starts Art.19's clocks; the money arrives.
    central = (total_budget * Decimal("0.62")).quantize(CENT)
    notice_day = dt.date(year, 2, 20)
    services.funding_notice_register(
        pooling_area=area, document_ref=first_ref, received_on=notice_day, amount=central
    )
    services.receipt_post(
        account=city,
        source=FundSource.CENTRAL_PROVINCIAL,
        amount=central,
        date=dt.date(year, 2, 26),
        document_ref=first_ref,
        memo="中央和省级财政医疗救助补助资金",
    )
    # Finance allocates the counties' blocks (Art.19), the counties remit them to the city's
    # special account (Art.20, 15 days) — 龙陵县 late, to show an overdue remittance.
    for i, county in enumerate(counties):
        share = (central * budgets[county.code] / total_budget * Decimal("0.8")).quantize(
            Decimal("0.01")
        )
        alloc_ref = f"保财社〔{year}〕{20 + i}号"
        alloc_day = dt.date(year, 3, 18)
        services.transfer_post(
            kind=EntryKind.ALLOCATION,
            from_account=city,
            to_account=acct(AccountKind.FISCAL, county),
            amount=share,
            date=alloc_day,
            document_ref=alloc_ref,
            related_ref=first_ref,
            source=FundSource.CENTRAL_PROVINCIAL,
        )
        late = county.code == "530523"
        services.transfer_post(
            kind=EntryKind.REMITTANCE,
            from_account=acct(AccountKind.FISCAL, county),
            to_account=city,
            amount=share,
            date=alloc_day + dt.timedelta(days=24 if late else rng.randrange(5, 14)),
            document_ref=f"{county.name}上解〔{year}〕1号",
            related_ref=alloc_ref,
            source=FundSource.CENTRAL_PROVINCIAL,
        )
    # Municipal matching, lottery, donations and interest at the city (Art.16).
    for source, wan, day, ref in (
        (FundSource.MUNICIPAL, float(total_budget / WAN) * 0.12, (3, 10), f"保财社〔{year}〕8号"),
        (FundSource.LOTTERY, 260, (4, 15), f"保民福〔{year}〕5号"),
        (FundSource.DONATION, 38, (5, 8), f"保慈捐〔{year}〕2号"),
        (FundSource.INTEREST, 21, (3, 21), f"{year}年一季度利息"),
    ):
        services.receipt_post(
            account=city,
            source=source,
            amount=_yuan(rng, wan),
            date=dt.date(year, *day),
            document_ref=ref,
        )
    # County matching funds: received from county finance and remitted by 30 September
    # (Art.20); 昌宁县 has not remitted yet.
    for county in counties:
        matching = (budgets[county.code] * Decimal("0.15")).quantize(CENT)
        fiscal = acct(AccountKind.FISCAL, county)
        services.receipt_post(
            account=fiscal,
            source=FundSource.COUNTY,
            amount=matching,
            date=dt.date(year, 4, 10),
            document_ref=f"{county.name}财社〔{year}〕9号",
        )
        if county.code != "530524":
            services.transfer_post(
                kind=EntryKind.REMITTANCE,
                from_account=fiscal,
                to_account=city,
                amount=matching,
                date=dt.date(year, 4, 10 + rng.randrange(1, 20)),
                document_ref=f"{county.name}配套上解〔{year}〕1号",
                source=FundSource.COUNTY,
            )
    # No premium-subsidy transfer here: the demo posts it from the confirmed subsidy roster
    # (`premium_transfer_post`, Baoshan Art.8(四)). A placeholder transfer of 18 % of the budget
    # once stood here as well and was counted twice in each county's 实际支出.
    # The city's special account funds its expenditure account, which funds the counties'.
    available = city.balance()
    to_spend = (available * Decimal("0.9")).quantize(CENT)
    services.transfer_post(
        kind=EntryKind.TRANSFER,
        from_account=city,
        to_account=city_exp,
        amount=to_spend,
        date=dt.date(year, 4, 28),
        document_ref=f"保财社拨〔{year}〕1号",
    )
    for county in counties:
        services.transfer_post(
            kind=EntryKind.DISBURSEMENT,
            from_account=city_exp,
            to_account=acct(AccountKind.EXPENDITURE, county),
            amount=(to_spend * budgets[county.code] / total_budget).quantize(
                Decimal("0.01"), rounding="ROUND_DOWN"
            ),
            date=dt.date(year, 4, 30),
            document_ref=f"保医保拨〔{year}〕{counties.index(county) + 1}号",
        )
    return {"pooling_area": area.pk, "created": True, "counties": [c.pk for c in counties]}
