import datetime as dt
import random

import pytest

from beneficiaries.models import County, Person, PoolingArea
from claims.models import Hospital
from claims.platform import fixtures, services
from tests.claims.conftest import committed, make_person

# One county of each jurisdiction, with the platform's area code of that county.
JURISDICTIONS = {
    "baoshan": ("530502", "隆阳区"),
    "kunming": ("530102", "五华区"),
    "pingshun": ("140429", "平顺县"),
    "yunnan": ("530302", "麒麟区"),
    "zhangye": ("620702", "甘州区"),
}
YEAR, MONTH = 2024, 3
# The kunming pack decides up to 2022-06-30 (云政办发〔2022〕40号 （十八））: its records are
# of a month inside that.
YEAR_OF_PACK = {"kunming": 2022}


def jurisdiction(policy_code: str, people: int = 20):
    """A county of `policy_code` with two hospitals and `people` people (特困, 低保, 低保边缘
    in turn), ready for platform records."""
    code, name = JURISDICTIONS[policy_code]
    area = PoolingArea.objects.create(code=f"A{code}", name=name, policy_code=policy_code)
    county = County.objects.create(pooling_area=area, code=code, name=name)
    for level in (2, 3):
        Hospital.objects.create(
            code=f"{code}H{level}",
            name=f"{name}{level}级医院",
            level=level,
            fee_class="county_2" if level == 2 else "provincial_municipal_2",
            county=county,
        )
    for i in range(people):
        make_person(county, ("tekun", "dibao", "dibao_edge")[i % 3], start=dt.date(2020, 1, 1))
    return county


def records(county, *, n=30, seed=1, month=MONTH, **kw) -> list[dict]:
    return list(
        fixtures.settlement_records(
            policy_code=county.pooling_area.policy_code,
            insured=fixtures.insured_from_db(Person.objects.filter(county=county)),
            facilities=fixtures.facilities_from_db(Hospital.objects.filter(county=county)),
            year=YEAR_OF_PACK.get(county.pooling_area.policy_code, YEAR),
            month=month,
            n=n,
            area=county.code,
            rng=random.Random(seed),
            prefix=f"S{county.code}",
            **kw,
        )
    )


def declare(rows, month=MONTH, year=YEAR, **kw):
    with committed():
        declaration = services.platform_from_rows(rows=rows, year=year, month=month, **kw)
    declaration.refresh_from_db()
    return declaration


@pytest.fixture
def pingshun(db):
    return jurisdiction("pingshun")
