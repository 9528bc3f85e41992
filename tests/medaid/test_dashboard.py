import datetime as dt
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.utils.html import strip_tags

from medaid.dashboard import panels_for
from tests.medaid.conftest import make_user


def request_for(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.django_db
def test_finance_sees_fund_balances_and_deadlines_of_its_county():
    from beneficiaries.models import County
    from funds.demo import demo_funds_create
    from funds.models import Account

    demo_funds_create(seed=3, year=dt.date.today().year)
    county = County.objects.get(code="530502")
    finance = make_user("finance", "finance", county=county)
    panels = {p.key: p for p in panels_for(request_for(finance))}
    assert {"balances", "deadlines", "settlements", "jobs"} <= set(panels)
    assert "approvals" not in panels
    names = [item.label for item in panels["balances"].items]
    own = Account.objects.filter(county=county, kind__in=["fiscal", "expenditure"])
    assert sorted(names) == sorted(a.name for a in own)
    for item in panels["balances"].items:
        account = own.get(name=item.label)
        # The one amount format: a span the base template right-aligns (red below zero).
        assert 'class="amount' in item.value
        assert Decimal(strip_tags(item.value).replace(",", "")) == account.balance()


@pytest.mark.django_db
def test_counts_are_scoped_to_the_county(county_a, county_b):
    from beneficiaries.models import Person
    from claims.models import Claim, Hospital

    hospital = Hospital.objects.create(code="H1", name="医院", level=2, county=county_a)
    for n, county in enumerate((county_a, county_b, county_b)):
        person = Person.objects.create(
            id_number=f"53050219900101{n:04d}",
            name=f"人{n}",
            sex="M",
            birth_date="1990-01-01",
            county=county,
        )
        Claim.objects.create(
            person=person,
            county=county,
            hospital=hospital,
            source="declaration",
            external_ref=f"E{n}",
            kind="inpatient",
            admitted="2024-01-01",
            discharged="2024-01-05",
            total_cost=100,
            in_policy_cost=100,
            status="review",
        )
    supervisor_a = make_user("sup_a", "supervisor", county=county_a)
    city = make_user("city", "city_administrator")

    def review_count(user):
        panel = next(p for p in panels_for(request_for(user)) if p.key == "approvals")
        return next(i.value for i in panel.items if i.label == "救助明细待人工复核")

    assert review_count(supervisor_a) == 1
    assert review_count(city) == 3
