"""Audit: every change to people, identities, claims, decisions, applications and ledger entries
is recorded by django-pghistory's database triggers — bulk `.update()` and COPY paths included —
with the acting user, and shown on the record's history page."""

import pytest
from django.apps import apps
from django.urls import reverse

from beneficiaries.models import Person
from medaid.core.admin import audit_events, is_tracked
from tests.integration_support import require_postgresql

AUDITED = [
    "beneficiaries.Person",
    "beneficiaries.Identity",
    "claims.Claim",
    "claims.Decision",
    "claims.Application",
    "funds.Entry",
]


@pytest.mark.parametrize("label", AUDITED)
def test_auditable_models_are_tracked_by_pghistory(label):
    assert is_tracked(apps.get_model(label)), f"{label} has no django-pghistory event model"


@pytest.fixture
def person(county_a):
    return Person.objects.create(
        id_number="530502199001011234",
        name="李四",
        sex="M",
        birth_date="1990-01-01",
        county=county_a,
    )


@pytest.mark.integration
@pytest.mark.django_db
def test_a_bulk_update_is_audited(person):
    require_postgresql()
    Person.objects.filter(pk=person.pk).update(name="李四四")
    events = audit_events(person)
    labels = [e["label"] for e in events]
    assert "修改" in labels and "新增" in labels
    change = next(e for e in events if e["label"] == "修改")
    assert {"field": "姓名", "old": "李四", "new": "李四四"} in change["changes"]


@pytest.mark.integration
@pytest.mark.django_db
def test_an_admin_change_records_who_and_the_history_page_shows_it(client, person, city_admin):
    require_postgresql()
    import pghistory

    with pghistory.context(user=city_admin.pk, url="/test"):
        Person.objects.filter(pk=person.pk).update(name="王五")
    events = audit_events(person)
    change = next(e for e in events if e["label"] == "修改")
    assert change["user"] == city_admin
    client.force_login(city_admin)
    url = reverse("admin:beneficiaries_person_history", args=[person.pk])
    page = client.get(url).content.decode()
    assert "数据变更记录" in page and "王五" in page and "city_admin" in page
