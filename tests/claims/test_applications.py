import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from claims import services
from claims.models import Application, Claim

D = Decimal


def receipt(**kw):
    data = {
        "hospital": "H002",
        "kind": "inpatient",
        "admitted": dt.date(2024, 3, 1),
        "discharged": dt.date(2024, 3, 10),
        "in_policy_cost": D("10000.00"),
        "basic_insurance_paid": D("6000.00"),
        "receipt_numbers": "PJ0001,PJ0002",
    }
    data.update(kw)
    return data


@pytest.fixture
def application(dibao, clerk, hospital_b):
    return services.application_create(
        person=dibao, applied=dt.date(2024, 4, 2), created_by=clerk, claims=[receipt()]
    )


@pytest.mark.django_db
def test_registering_decides_with_trace(application):
    assert application.state == Application.State.DRAFT
    claim = application.claims.get()
    assert claim.source == Claim.Source.APPLICATION
    assert claim.settlement == Claim.Settlement.APPLICATION
    assert claim.status == Claim.Status.PENDING
    decision = claim.decisions.get(is_current=True)
    assert decision.total == D("2800.00")  # 低保 70 % of 4 000
    assert decision.trace
    assert application.total == D("2800.00")
    assert application.transitions.count() == 1


@pytest.mark.django_db
def test_submitter_cannot_approve_and_other_supervisor_can(application, clerk, supervisor):
    services.application_submit(application=application, by=supervisor)
    with pytest.raises(PermissionDenied):
        services.application_approve(application=application, by=supervisor)
    with pytest.raises(PermissionDenied):  # no permission
        services.application_approve(application=application, by=clerk)
    other = _other_supervisor(application)
    app = services.application_approve(application=application, by=other, note="同意")
    assert app.state == Application.State.APPROVED
    assert app.claims.get().status == Claim.Status.ACCEPTED
    log = list(app.transitions.values_list("source", "target"))
    assert log == [("", "draft"), ("draft", "submitted"), ("submitted", "approved")]
    with pytest.raises(services.ClaimsError) as err:
        services.application_approve(application=application, by=other)
    assert err.value.code == "already_decided"


def _other_supervisor(application):
    from tests.claims.conftest import DECIDE, make_user

    return make_user("sup9", application.county, DECIDE)


@pytest.mark.django_db
def test_large_amount_needs_a_second_approver(
    application, clerk, supervisor, supervisor2, settings
):
    settings.SECOND_APPROVAL_THRESHOLD = "1000.00"
    services.application_submit(application=application, by=clerk)
    app = services.application_approve(application=application, by=supervisor)
    assert app.state == Application.State.SECOND_REVIEW
    assert app.get_state_display() == "待复审"
    with pytest.raises(services.ClaimsError):
        services.application_approve(application=application, by=supervisor)
    app = services.application_approve(application=application, by=supervisor2)
    assert app.state == Application.State.APPROVED
    assert app.approvals.count() == 2


@pytest.mark.django_db
def test_return_then_resubmit_and_reject(application, clerk, supervisor):
    services.application_submit(application=application, by=clerk)
    with pytest.raises(services.ClaimsError):
        services.application_return(application=application, by=supervisor, reason="")
    app = services.application_return(application=application, by=supervisor, reason="缺发票原件")
    assert app.state == Application.State.RETURNED
    services.application_claim_add(
        application=app,
        data=receipt(
            admitted=dt.date(2024, 3, 20), discharged=dt.date(2024, 3, 22), receipt_numbers="PJ0003"
        ),
    )
    app.refresh_from_db()
    assert app.total == D("5600.00")
    services.application_submit(application=app, by=clerk)
    app = services.application_reject(application=app, by=supervisor, reason="重复申请")
    assert app.state == Application.State.REJECTED
    assert set(app.claims.values_list("status", flat=True)) == {Claim.Status.REJECTED}


@pytest.mark.django_db
def test_late_application_is_decided_as_late(dibao, clerk, hospital_b):
    app = services.application_create(
        person=dibao, applied=dt.date(2024, 12, 20), created_by=clerk, claims=[receipt()]
    )
    decision = app.claims.get().decisions.get(is_current=True)
    assert not decision.eligible
    assert decision.reason == "late_application"
    assert decision.total == D("0.00")


@pytest.mark.parametrize(
    "change, code",
    [
        ({"basic_insurance_paid": D("-5")}, "negative_amount"),
        ({"basic_insurance_paid": D("12000")}, "paid_exceeds_cost"),
        ({"admitted": dt.date(2024, 3, 12)}, "discharge_before_admission"),
        ({"hospital": "NOPE"}, "unknown_hospital"),
        ({"receipt_numbers": ""}, "receipts_required"),
        ({"admitted": dt.date(2022, 5, 1), "discharged": dt.date(2022, 5, 2)}, "no_policy"),
        ({"discharged": dt.date(2024, 5, 1)}, "future_date"),
    ],
)
@pytest.mark.django_db
def test_bad_application_claims_are_refused(dibao, clerk, hospital_b, change, code):
    with pytest.raises(services.ClaimsError) as err:
        services.application_create(
            person=dibao, applied=dt.date(2024, 4, 2), created_by=clerk, claims=[receipt(**change)]
        )
    assert err.value.code == code
    assert not Application.objects.exists() and not Claim.objects.exists()


@pytest.mark.django_db
def test_paid_when_funds_settled_every_claim(application, clerk, supervisor):
    services.application_submit(application=application, by=clerk)
    services.application_approve(application=application, by=supervisor)
    assert services.applications_mark_paid() == 0
    application.claims.update(status=Claim.Status.SETTLED)
    assert services.applications_mark_paid() == 1
    application.refresh_from_db()
    assert application.state == Application.State.PAID
