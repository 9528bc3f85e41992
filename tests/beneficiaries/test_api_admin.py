from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from beneficiaries import services
from beneficiaries.models import (
    ContributionYear,
    Department,
    DepartmentKind,
    FeedCheck,
    Identity,
    IllnessPovertyApplication,
    Person,
    PremiumTransferRequest,
    RosterImport,
    SubsidyLine,
)
from beneficiaries.tasks import check_change_feeds
from medaid.core.models import Job, User
from tests.beneficiaries.conftest import csv_upload, make_id

pytestmark = pytest.mark.django_db


def grant(user, *codenames):
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def department_client(civil):
    user = User.objects.create_user("civil-api", department=civil, county=civil.county)
    grant(
        user,
        "add_rosterimport",
        "apply_rosterimport",
        "view_rosterimport",
        "view_person",
        "view_identity",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_department_token_uploads_and_applies_directly(department_client, civil):
    upload = csv_upload(
        [
            ["新增", make_id(1), "甲", "低保对象", "", "2024-01-01", ""],
            ["新增", "123", "乙", "低保对象", "", "2024-01-01", ""],
        ]
    )
    response = department_client.post(
        "/api/v1/imports/",
        {"file": upload, "kind": "feed", "stated_date": "2024-03-05", "apply": "true"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "applied" and body["counts"] == {"added": 1, "error": 1}
    assert Identity.objects.count() == 1
    errors = department_client.get(body["errors_url"])
    assert errors.status_code == 200
    upload.seek(0)
    again = department_client.post(
        "/api/v1/imports/",
        {"file": upload, "kind": "feed", "stated_date": "2024-03-05", "apply": "true"},
        format="multipart",
    )
    assert again.status_code == 200 and again.json()["duplicate"] is True
    people = department_client.get("/api/v1/people/", {"id_number": make_id(1)}).json()
    assert people["results"][0]["name"] == "甲"
    assert "*" in people["results"][0]["id_number"]  # no view_full_id_number: masked


def test_department_token_cannot_send_for_another_department_or_see_other_county(
    department_client, civil, other_county
):
    other = Department.objects.create(
        county=other_county, kind=DepartmentKind.CIVIL_AFFAIRS, name="施甸县民政局"
    )
    Person.objects.create(
        id_number=make_id(7), name="外县", sex="M", birth_date=date(1980, 1, 1), county=other_county
    )
    response = department_client.post(
        "/api/v1/imports/",
        {
            "file": csv_upload([]),
            "kind": "feed",
            "stated_date": "2024-03-05",
            "department": other.pk,
        },
        format="multipart",
    )
    assert response.status_code == 403
    assert department_client.get("/api/v1/people/").json()["results"] == []


def test_whole_file_refusal_over_the_api(department_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = department_client.post(
        "/api/v1/imports/",
        {
            "file": SimpleUploadedFile("a.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 50),
            "kind": "feed",
            "stated_date": "2024-03-05",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "xls_format"


def test_admin_upload_preview_apply_flow(client, civil, django_capture_on_commit_callbacks):
    """Upload and apply each start a job (eager here: it runs when the request commits); the
    preview page shows the job and what it found."""
    admin = User.objects.create_superuser("boss", password="x" * 12)
    client.force_login(admin)
    page = client.get("/admin/beneficiaries/rosterimport/upload/")
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/beneficiaries/rosterimport/upload/",
            {
                "department": civil.pk,
                "kind": "feed",
                "stated_date": "2024-03-05",
                "file": csv_upload([["新增", make_id(1), "甲", "低保对象", "", "2024-01-01", ""]]),
            },
        )
    batch = RosterImport.objects.get()
    assert response.status_code == 302
    job = Job.objects.get(kind="beneficiaries.roster_import")
    assert (job.status, job.parameters["apply"]) == ("succeeded", False)
    preview = client.get(f"/admin/beneficiaries/rosterimport/{batch.pk}/preview/")
    text = preview.content.decode()
    assert "新增身份" in text and f"#{job.pk}" in text and Identity.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/beneficiaries/rosterimport/{batch.pk}/preview/", {"confirm": "1"})
    batch.refresh_from_db()
    assert batch.status == "applied" and Identity.objects.count() == 1
    assert Job.objects.filter(kind="beneficiaries.roster_import").count() == 2
    assert client.get("/admin/beneficiaries/rosterimport/template/feed/xlsx/").status_code == 200
    listing = client.get("/admin/beneficiaries/person/", {"q": make_id(1)})
    assert "甲" in listing.content.decode()


def test_tenth_of_month_check_lists_late_and_missing_and_applies_pending(civil, rural):
    from django.utils import timezone

    batch, _ = services.roster_import_receive(
        department=civil,
        kind="feed",
        upload=csv_upload([["新增", make_id(1), "甲", "低保对象", "", "2024-01-01", ""]]),
        file_name="f.csv",
        stated_date=date(2024, 3, 12),
        period=date(2024, 2, 1),
        channel="api",
        delivered_at=timezone.make_aware(timezone.datetime(2024, 3, 12, 9)),
    )
    services.roster_import_validate(batch=batch)
    summary = check_change_feeds.apply(kwargs={"period": "2024-02-01"}).get()
    assert summary["late"] == 1 and summary["missing"] == 1 and summary["applied"] == 1
    checks = {c.department.kind: c.status for c in FeedCheck.objects.all()}
    assert checks == {"civil_affairs": "late", "rural_revitalization": "missing"}
    assert Identity.objects.count() == 1
    check_change_feeds.apply(kwargs={"period": "2024-02-01"})  # idempotent
    assert FeedCheck.objects.count() == 2


def _registry_with_identities(civil):
    services.roster_import_apply(batch=_staged(civil))


def _staged(civil):
    batch, _ = services.roster_import_receive(
        department=civil,
        kind="roster",
        upload=csv_upload(
            [
                ["新增", make_id(1), "甲", "特困人员", "", "2023-01-01", ""],
                ["新增", make_id(2), "乙", "低保对象", "", "2023-01-01", ""],
                ["新增", make_id(3), "丙", "低保边缘家庭成员", "", "2023-01-01", ""],
            ]
        ),
        file_name="r.csv",
        stated_date=date(2023, 8, 15),
        channel="api",
    )
    services.roster_import_validate(batch=batch)
    return batch


def test_subsidy_roster_additions_and_transfer(civil, area):
    _registry_with_identities(civil)
    ContributionYear.objects.create(
        pooling_area=area,
        year=2024,
        individual_contribution=Decimal("380.00"),
        collection_start=date(2023, 9, 1),
        collection_end=date(2023, 12, 31),
        parameters={"premium.dibao.amount": "200"},
    )
    roster = services.subsidy_roster_build(
        county=civil.county, year=2024, decision_date=date(2023, 9, 1)
    )
    amounts = dict(roster.lines.values_list("person__id_number", "amount"))
    assert amounts == {make_id(1): Decimal("380.00"), make_id(2): Decimal("200.00")}
    assert roster.headcount == 2 and roster.total == Decimal("580.00")
    transfer = services.premium_transfer_request_create(roster=roster)
    assert (transfer.amount, transfer.headcount, transfer.posted_entry_id) == (
        Decimal("580.00"),
        2,
        None,
    )
    assert services.premium_transfer_request_create(roster=roster) is None
    # A new 特困 person in October is added; one who already paid gets nothing back (不退不补).
    person = Person.objects.get(id_number=make_id(3))
    Identity.objects.create(person=person, code="tekun", start=date(2023, 10, 1))
    added = services.subsidy_additions_run(roster=roster, on=date(2023, 10, 15))
    assert added == 1
    line = SubsidyLine.objects.get(person=person)
    assert line.kind == "addition" and line.amount == Decimal("380.00")
    assert PremiumTransferRequest.objects.count() == 1


def test_illness_poverty_needs_a_supervisor_who_did_not_enter_it(civil):
    clerk = User.objects.create_user("clerk", county=civil.county)
    supervisor = grant(
        User.objects.create_user("sup", county=civil.county), "approve_illnesspovertyapplication"
    )
    person = Person.objects.create(
        id_number=make_id(1), name="甲", sex="M", birth_date=date(1980, 1, 1), county=civil.county
    )
    application = services.illness_application_create(
        person=person,
        applied_on=date(2024, 5, 1),
        household_size=3,
        household_income=Decimal("30000"),
        financial_assets=Decimal("10000"),
        cost_90_days=Decimal("60000"),
        urban_dibao_standard=Decimal("9000"),
        insured_in_province=True,
        created_by=supervisor,
    )
    assert application.eligible is True and application.check_trace
    with pytest.raises(services.ApprovalError, match="录入"):
        services.illness_application_decide(
            application=application, approver=supervisor, approve=True
        )
    with pytest.raises(services.ApprovalError, match="权限"):
        services.illness_application_decide(application=application, approver=clerk, approve=True)
    second = grant(
        User.objects.create_user("sup2", county=civil.county), "approve_illnesspovertyapplication"
    )
    decided = services.illness_application_decide(
        application=application, approver=second, approve=True
    )
    assert decided.status == IllnessPovertyApplication.Status.APPROVED
    assert decided.identity.code == "illness_poverty"


def _change_form_data(page) -> dict:
    """The POST a browser would send back from an admin change page, unchanged."""
    data = {}

    def take(form):
        for name in form.fields:
            value = form[name].value()
            if isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
                continue
            data[form.add_prefix(name)] = "" if value is None else value

    take(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        take(formset.management_form)
        for form in formset.forms:
            take(form)
    return data


def test_identity_edits_in_the_admin_go_through_the_identities_service(client, civil, monkeypatch):
    admin = User.objects.create_superuser("boss", password="x" * 12)
    client.force_login(admin)
    person = Person.objects.create(
        id_number=make_id(1), name="甲", sex="M", birth_date=date(1980, 1, 1), county=civil.county
    )
    kept = Identity.objects.create(person=person, code="dibao", start=date(2024, 1, 1))
    dropped = Identity.objects.create(person=person, code="tekun", start=date(2024, 2, 1))
    calls = []
    change = services.identities_change

    def spy(**kwargs):
        calls.append(
            (
                sorted(i.code for i in kwargs.get("save", ())),
                sorted(i.pk for i in kwargs.get("delete", ())),
                kwargs.get("changed_by"),
            )
        )
        return change(**kwargs)

    monkeypatch.setattr(services, "identities_change", spy)
    url = f"/admin/beneficiaries/person/{person.pk}/change/"
    data = _change_form_data(client.get(url))
    data["identities-0-end"] = "2024-06-30"  # close the 低保 period
    data["identities-1-DELETE"] = "on"  # remove the 特困 period entered by mistake
    data["identities-TOTAL_FORMS"] = "3"
    data.update({"identities-2-code": "orphan", "identities-2-start": "2024-07-01"})
    data["identities-2-person"] = str(person.pk)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    assert calls == [(["dibao", "orphan"], [dropped.pk], admin)]
    kept.refresh_from_db()
    assert kept.end == date(2024, 6, 30)
    assert sorted(person.identities.values_list("code", flat=True)) == ["dibao", "orphan"]

    # The identity pages themselves: a change and a delete, each through the service.
    calls.clear()
    url = f"/admin/beneficiaries/identity/{kept.pk}/change/"
    data = _change_form_data(client.get(url))
    data["end"] = "2024-05-31"
    assert client.post(url, data).status_code == 302
    kept.refresh_from_db()
    assert kept.end == date(2024, 5, 31)
    response = client.post(f"/admin/beneficiaries/identity/{kept.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Identity.objects.filter(pk=kept.pk).exists()
    assert calls == [(["dibao"], [], admin), ([], [kept.pk], admin)]
