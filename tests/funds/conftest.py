import datetime as dt
import itertools
import zoneinfo
from decimal import Decimal

import pytest

from beneficiaries.models import County, Person, PoolingArea
from claims.models import Claim, Decision, Hospital
from funds import services
from funds.models import AccountKind, FundSource

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


@pytest.fixture
def area(db):
    return PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")


@pytest.fixture
def county(area):
    return County.objects.create(pooling_area=area, code="530502", name="隆阳区")


@pytest.fixture
def other_county(area):
    return County.objects.create(pooling_area=area, code="530521", name="施甸县")


@pytest.fixture
def hospitals(county):
    return [
        Hospital.objects.create(code=f"H{i:03d}", name=f"医院{i}", level=2, county=county)
        for i in range(1, 4)
    ]


@pytest.fixture
def accounts(area, county, other_county):
    return {
        (a.county_id, a.kind): a
        for a in services.accounts_open_for_area(pooling_area=area, opened_on=dt.date(2024, 1, 1))
    }


def person_in(county) -> Person:
    n = next(_seq)
    return Person.objects.create(
        id_number=f"530502199001{n:06d}",
        name=f"张{n}",
        sex="M",
        birth_date=dt.date(1990, 1, 1),
        county=county,
    )


def make_claim(
    county,
    hospital,
    total,
    *,
    discharged=dt.date(2024, 5, 10),
    decided=None,
    settlement="direct",
    status="accepted",
    declared=None,
    person=None,
) -> Claim:
    n = next(_seq)
    claim = Claim.objects.create(
        person=person or person_in(county),
        county=county,
        hospital=hospital,
        source="declaration" if settlement == "direct" else "application",
        external_ref=f"R{n}",
        kind="inpatient",
        admitted=discharged - dt.timedelta(days=3),
        discharged=discharged,
        settlement=settlement,
        total_cost=Decimal("10000"),
        in_policy_cost=Decimal("8000"),
        declared_assistance=declared,
        status=status,
    )
    decision = Decision.objects.create(
        claim=claim,
        eligible=True,
        policy_code="baoshan",
        policy_version="2023",
        parameters_hash="x",
        policy_self_pay=Decimal("3000"),
        assistance=Decimal(total),
        total=Decimal(total),
    )
    Decision.objects.filter(pk=decision.pk).update(decided_at=at(decided or discharged))
    return claim


def fund(accounts, county, amount, *, day=dt.date(2024, 1, 15)):
    """Money into the county's expenditure account along the statutory path: city receipt,
    allocation, remittance back (Baoshan 统收统支), city transfer and disbursement."""
    city_fiscal = accounts[(None, AccountKind.FISCAL)]
    city_exp = accounts[(None, AccountKind.EXPENDITURE)]
    exp = accounts[(county.pk, AccountKind.EXPENDITURE)]
    ref = f"F{next(_seq)}"
    services.receipt_post(
        account=city_fiscal,
        source=FundSource.CENTRAL_PROVINCIAL,
        amount=amount,
        date=day,
        document_ref=f"{ref}-收",
    )
    services.transfer_post(
        kind="transfer",
        from_account=city_fiscal,
        to_account=city_exp,
        amount=amount,
        date=day,
        document_ref=f"{ref}-拨",
    )
    services.transfer_post(
        kind="disbursement",
        from_account=city_exp,
        to_account=exp,
        amount=amount,
        date=day,
        document_ref=f"{ref}-下拨",
    )
    return exp
