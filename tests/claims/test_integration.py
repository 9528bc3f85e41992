"""On the real PostgreSQL: concurrent approvals, audit triggers, COPY paths, a real worker."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from claims import services
from claims.models import Application, Claim, Declaration
from tests.claims.conftest import line, make_user
from tests.integration_support import wait_for

D = Decimal

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres():
    assert connection.vendor == "postgresql", "integration tests need DATABASE_URL=postgres://…"


def test_concurrent_approvals_exactly_one_wins(dibao, clerk, county, hospital_b):
    app = services.application_create(
        person=dibao,
        applied=dt.date(2024, 4, 2),
        created_by=clerk,
        claims=[
            {
                "hospital": "H002",
                "kind": "inpatient",
                "admitted": dt.date(2024, 3, 1),
                "discharged": dt.date(2024, 3, 10),
                "in_policy_cost": D("10000"),
                "basic_insurance_paid": D("6000"),
                "receipt_numbers": "PJ1",
            }
        ],
    )
    services.application_submit(application=app, by=clerk)
    approvers = [make_user(f"race{i}", county, ["claims.approve_application"]) for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes = []

    def approve(user):
        try:
            barrier.wait()
            services.application_approve(application=app, by=user)
            outcomes.append("won")
        except services.ClaimsError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(u,)) for u in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already_decided", "won"]
    app.refresh_from_db()
    assert app.state == Application.State.APPROVED
    assert app.approvals.count() == 1
    assert app.transitions.filter(target="approved").count() == 1


def test_status_changes_and_superseded_decisions_are_audited(hospital, dibao, clerk):
    from claims import imports

    imports.declaration_from_rows(
        rows=[line(dibao, "A1", declared_assistance="2800.00")],
        year=2024,
        month=3,
        hospital=hospital,
    )
    claim = Claim.objects.get(external_ref="A1")
    assert claim.status == Claim.Status.ACCEPTED
    events = claim.events.values_list("pgh_label", "status")
    assert ("update", "accepted") in list(events)
    services.claim_correct(
        claim=claim, changes={"basic_insurance_paid": D("7000")}, by=clerk, reason="更正"
    )
    from claims.models import Decision

    # Superseding is recorded by the new decision (its run and time), not as an audit event …
    events = Decision.pgh_event_model.objects
    assert Decision.objects.filter(claim=claim).count() == 2
    assert events.count() == 0
    # … but any edit of a stored decision's figures is.
    Decision.objects.filter(claim=claim, is_current=True).update(total=D("1.00"))
    assert events.filter(total=D("1.00")).count() == 1


def test_a_bulk_update_records_every_changed_claim_in_one_statement(hospital, dibao, clerk):
    """The statement-level trigger: one UPDATE of many claims gives one event per changed row,
    with the pghistory context attached; unchanged rows and the delete path as before."""
    import pghistory

    from claims import imports

    imports.declaration_from_rows(
        rows=[
            line(
                dibao,
                f"B{i}",
                admitted=f"2024-03-{1 + 5 * i:02d}",
                discharged=f"2024-03-{3 + 5 * i:02d}",
            )
            for i in range(3)
        ],
        year=2024,
        month=3,
        hospital=hospital,
    )
    claims = Claim.objects.filter(external_ref__startswith="B")
    assert claims.count() == 3
    event_model = Claim.pgh_event_model
    before = event_model.objects.count()
    with pghistory.context(settlement="2024-03"):
        changed = claims.update(status=Claim.Status.SETTLED)
    assert changed == 3
    events = event_model.objects.order_by("pgh_id")[before:]
    assert [e.pgh_label for e in events] == ["update"] * 3
    assert {e.pgh_obj_id for e in events} == set(claims.values_list("id", flat=True))
    assert {e.status for e in events} == {"settled"}
    assert all(e.pgh_context is not None for e in events)
    assert events[0].pgh_context.metadata == {"settlement": "2024-03"}
    # A statement that changes nothing records nothing.
    claims.update(status=Claim.Status.SETTLED)
    assert event_model.objects.count() == before + 3
    # Only the rows a statement changed: B0 once, then the other two.
    b0 = claims.get(external_ref="B0").pk
    claims.filter(pk=b0).update(review_note="已核")
    claims.update(review_note="已核")
    noted = event_model.objects.filter(review_note="已核")
    assert noted.count() == 3
    assert noted.filter(pgh_obj_id=b0).count() == 1
    one = claims.get(external_ref="B2")
    one_id = one.pk
    one.decisions.all().delete()
    one.delete()
    assert event_model.objects.filter(pgh_label="delete", pgh_obj_id=one_id).count() == 1


def test_declaration_partitions_on_a_real_worker(hospital, county, celery_worker_process):
    """A declaration's partitions run as tasks on a real celery worker; progress is in
    PostgreSQL, not the broker."""
    from claims import imports
    from tests.claims.conftest import make_person

    people = [make_person(county, "tekun") for _ in range(30)]
    rows = [line(p, f"W{i}") for i, p in enumerate(people)]
    declaration = imports.declaration_from_rows(rows=rows, year=2024, month=3, hospital=hospital)

    def done() -> bool:
        declaration.refresh_from_db()
        return declaration.status == Declaration.Status.DONE

    wait_for(done, timeout=120, what="the worker to decide the declaration's partitions")
    assert declaration.status == Declaration.Status.DONE
    assert declaration.claims_accepted == 30
