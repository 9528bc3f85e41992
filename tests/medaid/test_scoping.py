import pytest
from django.contrib.admin import AdminSite
from django.test import RequestFactory

from beneficiaries.models import Household, Person
from medaid.core.admin import CountyScopedAdmin, LimitedCountPaginator
from medaid.core.models import Job
from medaid.core.scoping import mask_id_number, scope_to_user
from tests.medaid.conftest import make_user


def person(county, n):
    return Person.objects.create(
        id_number=f"5305021990010{n:05d}",
        name=f"张{n}",
        sex="M",
        birth_date="1990-01-01",
        county=county,
    )


@pytest.fixture
def people(county_a, county_b):
    return [person(county_a, 1), person(county_a, 2), person(county_b, 3)]


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


@pytest.mark.django_db
def test_a_county_user_sees_its_county_and_a_city_user_sees_all(people, clerk_a, auditor):
    assert {p.name for p in scope_to_user(Person.objects.all(), clerk_a)} == {"张1", "张2"}
    assert scope_to_user(Person.objects.all(), auditor).count() == 3
    assert scope_to_user(Person.objects.all(), None).count() == 0


@pytest.mark.django_db
def test_a_department_account_is_held_to_its_departments_county(people, department_account):
    assert department_account.county_id is None
    names = {p.name for p in scope_to_user(Person.objects.all(), department_account)}
    assert names == {"张1", "张2"}


@pytest.mark.django_db
def test_a_hospital_account_sees_nothing_without_a_hospital_path(people, county_a):
    from claims.models import Hospital

    hospital = Hospital.objects.create(code="H1", name="人民医院", level=2, county=county_a)
    account = make_user("h1", hospital=hospital, is_staff=False)
    assert scope_to_user(Person.objects.all(), account).count() == 0


@pytest.mark.django_db
def test_inactive_users_see_nothing(people, clerk_a):
    clerk_a.is_active = False
    assert scope_to_user(Person.objects.all(), clerk_a).count() == 0


class PersonAdmin(CountyScopedAdmin):
    list_display = ("name", "id_number", "county")
    id_number_fields = ("id_number",)
    id_number_field = "id_number"
    fields = ("id_number", "name", "sex", "birth_date", "county", "household")


@pytest.mark.django_db
def test_scoped_admin_lists_choices_and_objects(people, county_a, county_b, clerk_a):
    model_admin = PersonAdmin(Person, AdminSite())
    request = request_for(clerk_a)
    assert model_admin.get_queryset(request).count() == 2
    Household.objects.create(county=county_a, code="A1")
    Household.objects.create(county=county_b, code="B1")
    form = model_admin.get_form(request)()
    assert [h.code for h in form.fields["household"].queryset] == ["A1"]
    # Another county's person opened by URL is not found.
    assert model_admin.get_object(request, str(people[2].pk)) is None
    assert model_admin.get_object(request, str(people[0].pk)) is not None


@pytest.mark.django_db
def test_county_is_forced_on_save_for_county_users(people, county_a, county_b, clerk_a):
    model_admin = PersonAdmin(Person, AdminSite())
    request = request_for(clerk_a)
    assert "county" in model_admin.get_readonly_fields(request)
    obj = Person(
        id_number="530502199001019999",
        name="新",
        sex="F",
        birth_date="1990-01-01",
        county=county_b,
    )
    model_admin.save_model(request, obj, form=None, change=False)
    obj.refresh_from_db()
    assert obj.county_id == county_a.pk


@pytest.mark.django_db
def test_id_numbers_are_masked_for_roles_that_do_not_need_them(people, clerk_a, auditor):
    model_admin = PersonAdmin(Person, AdminSite())
    # The clerk needs the number; the auditor does not.
    assert "id_number" in model_admin.get_list_display(request_for(clerk_a))
    columns = model_admin.get_list_display(request_for(auditor))
    masked = next(c for c in columns if callable(c))
    assert masked(people[0]) == "5305**********0001"
    assert mask_id_number(people[0].id_number, clerk_a) == people[0].id_number
    fields = model_admin.get_fields(request_for(auditor), people[0])
    assert "id_number" not in fields and "masked_id_number" in fields
    assert model_admin.masked_id_number(people[0]) == "5305**********0001"


@pytest.mark.django_db
def test_the_paginator_counts_to_a_cap(county_a, monkeypatch):
    monkeypatch.setattr(LimitedCountPaginator, "cap", 3)
    for _ in range(5):
        Job.objects.create(kind="x", county=county_a)
    from django.db import connection

    paginator = LimitedCountPaginator(Job.objects.all(), 2)
    if connection.vendor == "sqlite":
        # SQLite (the small embedded default) has no planner estimate: it counts in full.
        assert paginator.count == 5 and paginator.count_is_exact
    else:
        # Past the cap PostgreSQL's estimate stands in, never below what was counted.
        assert paginator.count >= 4
    assert LimitedCountPaginator(Job.objects.filter(kind="y"), 2).count == 0


@pytest.mark.integration
@pytest.mark.django_db
def test_past_the_cap_postgresqls_planner_estimate_stands_in(county_a, monkeypatch):
    from django.db import connection

    from tests.integration_support import require_postgresql

    require_postgresql()
    monkeypatch.setattr(LimitedCountPaginator, "cap", 10)
    Job.objects.bulk_create([Job(kind="x", county=county_a) for _ in range(500)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE medaid_job")
    count = LimitedCountPaginator(Job.objects.filter(kind="x"), 20).count
    # An estimate, never below what was counted, in the right order of magnitude.
    assert 250 <= count <= 1000
