"""The claims admin stands on core's `CountyScopedAdmin`: scoped lists, a capped count, the
county filter over the counties the user may see, hospitals visible to every county and ID
numbers masked per role."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import RequestFactory

from beneficiaries.models import County
from claims.models import Claim, ClaimKind, Hospital
from medaid.core.admin import CountyListFilter, LimitedCountPaginator, scope_related
from tests.claims.conftest import make_person, make_user

D = Decimal


@pytest.fixture
def other_county(area):
    return County.objects.create(pooling_area=area, code="140430000", name="其他县")


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def make_claim(person, hospital, ref):
    return Claim.objects.create(
        person=person,
        county=person.county,
        hospital=hospital,
        external_ref=ref,
        kind=ClaimKind.INPATIENT,
        admitted=dt.date(2024, 3, 1),
        discharged=dt.date(2024, 3, 5),
        total_cost=D("1000"),
        in_policy_cost=D("1000"),
    )


def county_choices(model, user):
    model_admin = admin.site._registry[model]
    request = request_for(user)
    return CountyListFilter(request, {}, model, model_admin).lookup_choices


@pytest.mark.django_db
def test_every_claims_admin_is_county_scoped_and_never_counts_in_full():
    from medaid.core.admin import CountyScopedAdmin

    claims_admins = [a for m, a in admin.site._registry.items() if m._meta.app_label == "claims"]
    assert claims_admins
    for model_admin in claims_admins:
        assert isinstance(model_admin, CountyScopedAdmin), model_admin
        assert model_admin.paginator is LimitedCountPaginator
        assert model_admin.show_full_result_count is False


@pytest.mark.django_db
def test_hospitals_are_visible_to_every_county(county, other_county, hospital):
    elsewhere = Hospital.objects.create(code="H9", name="其他县医院", level=1, county=other_county)
    clerk = make_user("clerk", county, is_staff=True)
    hospitals = admin.site._registry[Hospital].get_queryset(request_for(clerk))
    assert set(hospitals) == {hospital, elsewhere}
    # And every clerk may pick any hospital in a form.
    assert set(scope_related(Hospital.objects.all(), clerk)) == {hospital, elsewhere}


@pytest.mark.django_db
def test_the_county_filter_lists_only_the_counties_the_user_may_see(county, other_county):
    clerk = make_user("clerk", county, is_staff=True)
    city = make_user("city", None, is_staff=True)
    everyone = [(county.pk, county.name), (other_county.pk, other_county.name)]
    assert county_choices(Claim, city) == everyone
    assert county_choices(Hospital, city) == everyone
    # A county clerk's claims are its county's already: no filter.
    assert county_choices(Claim, clerk) == []
    # Hospitals of every county: the clerk may narrow them to its own county only.
    assert county_choices(Hospital, clerk) == [(county.pk, county.name)]


@pytest.mark.django_db
def test_claim_lists_are_scoped_and_mask_id_numbers_per_role(county, other_county, hospital):
    mine = make_claim(make_person(county), hospital, "C1")
    make_claim(make_person(other_county), hospital, "C2")
    clerk = make_user("clerk", county, is_staff=True)
    full = make_user("full", county, ["beneficiaries.view_full_id_number"], is_staff=True)
    model_admin = admin.site._registry[Claim]
    assert list(model_admin.get_queryset(request_for(clerk))) == [mine]

    masked = model_admin.get_list_display(request_for(clerk))
    column = next(c for c in masked if callable(c))
    number = mine.person.id_number
    assert column(mine) == number[:4] + "*" * (len(number) - 8) + number[-4:]
    assert "person__id_number" not in masked
    assert "person__id_number" in model_admin.get_list_display(request_for(full))


@pytest.mark.django_db
def test_the_claims_admin_pages_render_for_a_county_clerk(client, county, hospital, tekun):
    make_claim(tekun, hospital, "C1")
    clerk = make_user("clerk", county, ["claims.view_claim", "claims.view_hospital"], is_staff=True)
    client.force_login(clerk)
    listing = client.get("/admin/claims/claim/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "C1" in body and tekun.id_number not in body
    assert client.get("/admin/claims/hospital/").status_code == 200
