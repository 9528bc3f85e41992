"""Which pack decides a pooling area's claims is dated data (beneficiaries.PoolingAreaPolicy):
Kunming's area is decided by the kunming pack until 2022-06-30 and by the yunnan pack with
Kunming's own figures from 2022-07-01 (云政办发〔2022〕40号 （十八））."""

import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries.models import County, PoolingArea, PoolingAreaPolicy
from beneficiaries.selectors import area_schedules, policy_on
from claims.models import Claim, Hospital
from claims.services.checks import counties_by_coverage
from tests.claims.conftest import make_person
from tests.claims.test_recompute import current, decide_year, manual_claim

D = Decimal


@pytest.fixture
def kunming(db):
    area = PoolingArea.objects.create(code="530100", name="昆明市", policy_code="kunming")
    PoolingAreaPolicy.objects.create(
        pooling_area=area,
        start=dt.date(2022, 7, 1),
        policy_code="yunnan",
        # A figure for the test, not Kunming's published one.
        parameters={"pooling_area_per_capita_disposable_income": "40000"},
        ref="云政办发〔2022〕40号 （十八）",
    )
    county = County.objects.create(pooling_area=area, code="530102", name="五华区")
    hospital = Hospital.objects.create(code="K001", name="五华区医院", level=2, county=county)
    return area, county, hospital


def test_the_schedule_picks_the_pack_by_date(kunming):
    area, _, _ = kunming
    assert policy_on(pooling_area=area, day=dt.date(2022, 6, 30)).code == "kunming"
    after = policy_on(pooling_area=area.pk, day=dt.date(2022, 7, 1))
    assert (after.code, after.parameters) == (
        "yunnan",
        (("pooling_area_per_capita_disposable_income", "40000"),),
    )
    assert area_schedules()[area.pk].on(dt.date(2030, 1, 1)).code == "yunnan"


def test_a_year_across_the_change_is_decided_by_each_pack(kunming):
    """低保 at a level-2 hospital. 2022-06-30 kunming 四（二）2（1） 75 % × 1000 = 750.00;
    2022-07-01 yunnan （十一） 二类 70 % × 1000 = 700.00; 2022-08-01 60000 × 70 % = 42000,
    capped at Kunming's own figure 40000 (（十二）) less the 700 used: 39300.00 (the
    provincial base 25666 would leave 24966.00)."""
    _, county, hospital = kunming
    person = make_person(county, code="dibao", start=dt.date(2021, 1, 1))
    before = manual_claim(person, hospital, "K1", dt.date(2022, 6, 30), "1000")
    after = manual_claim(person, hospital, "K2", dt.date(2022, 7, 1), "1000")
    big = manual_claim(person, hospital, "K3", dt.date(2022, 8, 1), "60000")
    decide_year(person, 2022)
    got = {c.external_ref: current(c) for c in (before, after, big)}
    assert (got["K1"].policy_code, got["K1"].total) == ("kunming", D("750.00"))
    assert (got["K2"].policy_code, got["K2"].total) == ("yunnan", D("700.00"))
    assert got["K3"].total == D("39300.00")


def test_without_the_assignment_the_stale_pack_refuses(kunming):
    """Never decided by a stale pack: with no dated assignment, a claim after 2022-06-30 under
    the kunming pack is date_after_policy, 0.00."""
    area, county, hospital = kunming
    PoolingAreaPolicy.objects.filter(pooling_area=area).delete()
    person = make_person(county, code="dibao", start=dt.date(2021, 1, 1))
    claim = manual_claim(person, hospital, "K9", dt.date(2022, 7, 1), "1000")
    decide_year(person, 2022)
    decision = current(claim)
    assert (decision.eligible, decision.reason, decision.total) == (
        False,
        "date_after_policy",
        D("0.00"),
    )
    assert Claim.objects.get(pk=claim.pk).status == Claim.Status.ACCEPTED


def test_coverage_follows_the_schedule(kunming):
    _, county, _ = kunming
    coverage = counties_by_coverage(County)
    (ranges,) = [r for r, ids in coverage.items() if county.pk in ids]
    assert ranges == (
        (dt.date(2021, 1, 1), dt.date(2022, 6, 30)),
        (dt.date(2022, 7, 1), None),
    )
