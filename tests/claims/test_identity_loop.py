"""An identity that a department's list or a clerk backdates reaches the money: the person's
claims are decided again from that day, and settled ones get adjustments."""

import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries import id_numbers
from beneficiaries import services as registry
from beneficiaries.models import Department, DepartmentKind, Identity, Person
from claims.models import Adjustment, Claim, DecisionRun
from medaid.core.models import OutboxEvent
from medaid.core.outbox import outbox_dispatch
from tests.beneficiaries.conftest import csv_upload
from tests.claims.test_recompute import current, decide_year, manual_claim

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def person(county):
    return Person.objects.create(
        id_number=id_numbers.make("140429", dt.date(1960, 1, 1), 7),
        name="王五",
        sex="M",
        birth_date=dt.date(1960, 1, 1),
        county=county,
    )


@pytest.fixture
def settled_claim(person, hospital):
    claim = manual_claim(person, hospital, "M1", dt.date(2024, 3, 1), "10000", "6000")
    decide_year(person)
    assert current(claim).reason == "no_identity"
    Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.SETTLED)
    return claim


def _deliver(django_capture_on_commit_callbacks):
    # The handler's partition tasks are sent on commit (eager here): run them.
    with django_capture_on_commit_callbacks(execute=True):
        return outbox_dispatch()


def test_a_change_feed_that_backdates_an_identity_recomputes_the_person(
    county, person, settled_claim, django_capture_on_commit_callbacks
):
    civil = Department.objects.get(county=county, kind=DepartmentKind.CIVIL_AFFAIRS)
    batch, _ = registry.roster_import_receive(
        department=civil,
        kind="feed",
        upload=csv_upload([["新增", person.id_number, "王五", "特困人员", "", "2024-01-01", ""]]),
        file_name="feed.csv",
        stated_date=dt.date(2024, 4, 5),
        channel="admin",
    )
    registry.roster_import_validate(batch=batch)
    registry.roster_import_apply(batch=batch)
    event = OutboxEvent.objects.get(topic="identity.changed")
    assert event.payload["people"] == [[person.pk, "2024-01-01"]]

    assert _deliver(django_capture_on_commit_callbacks)["delivered"] == 1
    run = DecisionRun.objects.get(kind=DecisionRun.Kind.IDENTITY, year=2024)
    assert run.people == 1
    assert current(settled_claim).total == D("4000.00")
    assert Adjustment.objects.get(claim=settled_claim).amount == D("4000.00")

    # Delivered once: dispatching again changes nothing.
    assert _deliver(django_capture_on_commit_callbacks)["delivered"] == 0
    assert Adjustment.objects.filter(claim=settled_claim).count() == 1


def test_a_clerks_edit_that_ends_an_identity_early_recomputes_from_the_old_start(
    county, person, hospital, django_capture_on_commit_callbacks
):
    identity = Identity.objects.create(person=person, code="tekun", start=dt.date(2024, 1, 1))
    claim = manual_claim(person, hospital, "M2", dt.date(2024, 6, 1), "10000", "6000")
    decide_year(person)
    assert current(claim).eligible
    identity.end = dt.date(2024, 4, 30)
    registry.identities_change(person=person, save=[identity])
    event = OutboxEvent.objects.get(topic="identity.changed")
    assert event.payload["people"] == [[person.pk, "2024-01-01"]]
    _deliver(django_capture_on_commit_callbacks)
    assert not current(claim).eligible


def test_people_without_claims_are_not_staged(county, django_capture_on_commit_callbacks):
    nobody = Person.objects.create(
        id_number=id_numbers.make("140429", dt.date(1960, 1, 1), 8),
        name="赵六",
        sex="M",
        birth_date=dt.date(1960, 1, 1),
        county=county,
    )
    registry.identity_open(person=nobody, code="dibao", start=dt.date(2024, 2, 1))
    _deliver(django_capture_on_commit_callbacks)
    runs = DecisionRun.objects.filter(kind=DecisionRun.Kind.IDENTITY)
    assert runs.exists()
    assert {run.people for run in runs} == {0}


def test_each_years_run_stages_the_people_with_a_claim_that_year(
    county, person, hospital, django_capture_on_commit_callbacks
):
    later = manual_claim(person, hospital, "M3", dt.date(2025, 5, 1), "10000", "6000")
    decide_year(person, 2025)
    assert current(later).reason == "no_identity"
    registry.identity_open(person=person, code="tekun", start=dt.date(2024, 2, 1))
    _deliver(django_capture_on_commit_callbacks)
    runs = {run.year: run.people for run in DecisionRun.objects.filter(kind="identity")}
    # No claim in 2024, one in 2025; no run for the years after with nobody in them.
    assert runs == {2024: 0, 2025: 1}
    assert current(later).eligible
