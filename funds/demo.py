"""Demo data for the fund: each demo jurisdiction (beneficiaries.demo.JURISDICTIONS; 保山市 and
its five counties by default) with its city's and its counties' fiscal special and expenditure
accounts, a year's realistic receipts, allocations, remittances and transfers
along the statutory path (Baoshan Art.16–20) and budgets (the premium-subsidy transfer
follows from the subsidy roster, see `medaid.management.commands.demo`) — so
that the monthly settlement the demo runs next can pay, and the dashboard shows deadlines done,
due and overdue."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from beneficiaries.demo import JURISDICTIONS
from beneficiaries.models import County, PoolingArea
from funds import services
from funds.models import Account, AccountKind, EntryKind, FundSource
from medaid.core.money import CENT

WAN = Decimal("10000")


@dataclass(frozen=True)
class FundPlan:
    """A jurisdiction's money: each county's budget in 万元 (the scale of its assistance fund),
    its banks, the abbreviations its documents are numbered with (province, city), and the
    counties that remit late (`late`) or not yet (`unremitted`), so the dashboard shows
    deadlines done, due and overdue."""

    budgets: dict[str, int]
    banks: tuple[str, ...]
    province: str
    city: str
    late: str = ""
    unremitted: str = ""


PLANS = {
    "baoshan": FundPlan(
        budgets={"530502": 4200, "530521": 1800, "530523": 1650, "530524": 2050, "530581": 3600},
        banks=("中国农业银行保山分行", "中国建设银行保山分行", "保山市农村信用合作联社"),
        province="云",
        city="保",
        late="530523",
        unremitted="530524",
    ),
    "yunnan": FundPlan(
        budgets={"530302": 3900, "530303": 2300, "530381": 4100, "530326": 3300},
        banks=("中国农业银行曲靖分行", "曲靖市商业银行", "中国工商银行曲靖分行"),
        province="云",
        city="曲",
        late="530326",
    ),
    "kunming": FundPlan(
        budgets={"530102": 3100, "530103": 3300, "530111": 4600, "530112": 3800},
        banks=("中国建设银行昆明分行", "富滇银行", "中国农业银行昆明分行"),
        province="云",
        city="昆",
    ),
    "pingshun": FundPlan(
        budgets={"140425": 1600},
        banks=("中国农业银行平顺县支行", "山西平顺农村商业银行"),
        province="晋",
        city="平",
    ),
    "zhangye": FundPlan(
        budgets={"620702": 2600, "620722": 1200, "620723": 900, "620724": 1000, "620725": 1100},
        banks=("中国农业银行张掖分行", "张掖市农村信用合作联社", "甘肃银行张掖分行"),
        province="甘",
        city="张",
        unremitted="620725",
    ),
}


def _yuan(rng: random.Random, wan: float, spread: float = 0.04) -> Decimal:
    return (Decimal(str(wan)) * WAN * Decimal(str(1 + rng.uniform(-spread, spread)))).quantize(
        Decimal("0.01")
    )


@transaction.atomic
def demo_funds_create(*, seed: int, year: int, jurisdiction: str = "baoshan") -> dict:
    """Open the accounts and post the year's money. Safe to call twice: a second call finds the
    accounts open and the first receipt's document posted, and changes nothing."""
    spec, plan = JURISDICTIONS[jurisdiction], PLANS[jurisdiction]
    rng = random.Random(seed)
    area, _ = PoolingArea.objects.get_or_create(
        code=spec.code, defaults={"name": spec.name, "policy_code": spec.policy_code}
    )
    counties = []
    for code, name, _ in sorted(spec.counties):
        county, _ = County.objects.get_or_create(
            code=code, defaults={"pooling_area": area, "name": name}
        )
        counties.append(county)
    budgets = {c.code: Decimal(plan.budgets[c.code]) * WAN for c in counties}
    p, c = plan.province, plan.city
    first_ref = f"{p}财社〔{year}〕12号"
    if Account.objects.filter(pooling_area=area, postings__entry__document_ref=first_ref).exists():
        return {"pooling_area": area.pk, "created": False}

    opened = dt.date(year, 1, 2)
    for level in [None, *counties]:
        for kind in (AccountKind.FISCAL, AccountKind.EXPENDITURE):
            services.account_open(
                kind=kind,
                pooling_area=area,
                county=level,
                bank_name=rng.choice(plan.banks),
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
            document_ref=f"{c}财预〔{year}〕{3 + counties.index(county)}号",
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
    # special account (Art.20, 15 days) — one late (保山: 龙陵县), to show an overdue remittance.
    for i, county in enumerate(counties):
        share = (central * budgets[county.code] / total_budget * Decimal("0.8")).quantize(
            Decimal("0.01")
        )
        alloc_ref = f"{c}财社〔{year}〕{20 + i}号"
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
        late = county.code == plan.late
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
        (FundSource.MUNICIPAL, float(total_budget / WAN) * 0.12, (3, 10), f"{c}财社〔{year}〕8号"),
        (FundSource.LOTTERY, 260, (4, 15), f"{c}民福〔{year}〕5号"),
        (FundSource.DONATION, 38, (5, 8), f"{c}慈捐〔{year}〕2号"),
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
    # (Art.20); one has not remitted yet (保山: 昌宁县).
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
        if county.code != plan.unremitted:
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
        document_ref=f"{c}财社拨〔{year}〕1号",
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
            document_ref=f"{c}医保拨〔{year}〕{counties.index(county) + 1}号",
        )
    return {"pooling_area": area.pk, "created": True, "counties": [c.pk for c in counties]}
