"""A platform file from the province covers several hospitals of several counties: its
declaration has no hospital of its own. A county user sees it when it holds claims of their
county, and of it only their county's claims and lines; a city-wide role sees all of it."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from beneficiaries.models import County, Person
from claims.models import Claim, Declaration, Hospital
from claims.selectors import DECLARATION_COUNTY_PATHS
from medaid.core.models import User
from medaid.core.roles import ROLES_BY_KEY
from medaid.core.scoping import scope_to_user
from tests.claims.conftest import make_person
from tests.claims.platform.conftest import declare, jurisdiction, records


def role_user(username, role_key, county=None):
    user = User.objects.create_user(
        username=username, password="x" * 12, county=county, is_staff=True
    )
    user.groups.add(Group.objects.get(name=ROLES_BY_KEY[role_key].name))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def province_file(db):
    """平顺县 and a second county of the same area, each with its hospitals and people, and a
    third county with neither; one platform file (no hospital) of both counties' records, one
    of them refused (an unknown person of the second county's hospital)."""
    first = jurisdiction("pingshun", people=9)
    second = County.objects.create(pooling_area=first.pooling_area, code="140428", name="长子县")
    Hospital.objects.create(
        code="140428H2", name="长子县医院", level=2, fee_class="county_2", county=second
    )
    for i in range(9):
        make_person(second, ("tekun", "dibao", "dibao_edge")[i % 3], start=dt.date(2020, 1, 1))
    third = County.objects.create(pooling_area=first.pooling_area, code="140427", name="壶关县")
    # The province's file names the insured's area as the platform knows it (the dictionary
    # has 平顺县's code; a county's own code is not what is tested here).
    others = [{**r, "insu_admdvs": first.code} for r in records(second, n=6, seed=2)]
    rows = records(first, n=8) + others
    assert len(rows) == 14
    rows[-1] = {**rows[-1], "certno": "140428199001010000", "setl_id": "BAD1"}
    declaration = declare(rows)
    assert declaration.hospital_id is None
    assert set(Claim.objects.values_list("county", flat=True)) == {first.pk, second.pk}, list(
        declaration.lines.exclude(error="").values_list("error", "error_detail")
    )
    return declaration, first, second, third


@pytest.mark.django_db
def test_a_county_clerk_sees_a_province_file_holding_claims_of_their_county(province_file):
    declaration, first, second, third = province_file
    for county in (first, second):
        clerk = role_user(f"clerk_{county.code}", "counter_clerk", county)
        seen = scope_to_user(
            Declaration.objects.all(), clerk, county_field=DECLARATION_COUNTY_PATHS
        )
        assert list(seen) == [declaration]  # once, though it holds many of their claims
    outsider = role_user("clerk_huguan", "counter_clerk", third)
    assert not scope_to_user(
        Declaration.objects.all(), outsider, county_field=DECLARATION_COUNTY_PATHS
    ).exists()


@pytest.mark.django_db
def test_the_declaration_pages_show_a_county_clerk_only_their_countys_part(province_file, client):
    declaration, first, _second, third = province_file
    clerk = role_user("clerk_pingshun", "counter_clerk", first)
    client.force_login(clerk)
    listing = client.get("/admin/claims/declaration/")
    assert listing.status_code == 200
    assert f"/admin/claims/declaration/{declaration.pk}/change/" in listing.content.decode()
    page = client.get(f"/admin/claims/declaration/{declaration.pk}/change/").content.decode()
    mine = Claim.objects.filter(declaration=declaration, county=first).count()
    assert "本区县明细" in page and f"本区县 {mine} 条" in page
    claims = client.get(f"/admin/claims/claim/?declaration__id__exact={declaration.pk}")
    assert claims.status_code == 200
    listed = claims.context["cl"].result_list
    assert {c.county_id for c in listed} == {first.pk} and len(listed) == mine
    outsider = role_user("clerk_huguan", "counter_clerk", third)
    client.force_login(outsider)
    assert client.get(f"/admin/claims/declaration/{declaration.pk}/change/").status_code in (
        302,
        404,
    )


@pytest.mark.django_db
def test_the_api_shows_a_county_clerk_the_declaration_and_only_their_lines(province_file):
    declaration, _first, second, third = province_file
    api = APIClient()
    api.force_authenticate(role_user("clerk_zhangzi", "counter_clerk", second))
    listed = api.get("/api/v1/declarations/").json()
    assert [d["id"] for d in listed["results"]] == [declaration.pk]
    errors = api.get(f"/api/v1/declarations/{declaration.pk}/errors/").json()["lines"]
    assert errors == []  # the refused line names nobody of their county
    lines = declaration.lines.model.objects.filter(declaration=declaration)
    theirs = set(Person.objects.filter(county=second).values_list("id_number", flat=True))
    assert lines.filter(id_number__in=theirs).exists()
    api.force_authenticate(role_user("clerk_huguan", "counter_clerk", third))
    assert api.get("/api/v1/declarations/").json()["results"] == []
    assert api.get(f"/api/v1/declarations/{declaration.pk}/").status_code == 404


@pytest.mark.django_db
def test_a_city_role_sees_the_whole_province_file(province_file, client):
    declaration, first, second, _third = province_file
    auditor = role_user("auditor", "auditor")
    api = APIClient()
    api.force_authenticate(auditor)
    assert [d["id"] for d in api.get("/api/v1/declarations/").json()["results"]] == [declaration.pk]
    errors = api.get(f"/api/v1/declarations/{declaration.pk}/errors/").json()["lines"]
    assert [e["external_ref"] for e in errors] == ["BAD1"]
    client.force_login(auditor)
    page = client.get(f"/admin/claims/declaration/{declaration.pk}/change/").content.decode()
    assert "本区县明细" not in page  # the whole file's figures are theirs
    claims = client.get(f"/admin/claims/claim/?declaration__id__exact={declaration.pk}")
    assert {c.county_id for c in claims.context["cl"].result_list} == {first.pk, second.pk}
