import csv
import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from rest_framework.test import APIClient

from claims import imports, services
from claims.models import Application, Claim
from tests.claims.conftest import committed, line, make_user

D = Decimal


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_hospital_token_declares_and_sees_only_its_own_claims(
    county, hospital, hospital_b, tekun, dibao
):
    h1 = client_for(make_user("h1", county, hospital=hospital))
    h2 = client_for(make_user("h2", county, hospital=hospital_b))
    body = {
        "year": 2024,
        "month": 3,
        "rows": [
            line(tekun, "A1"),
            line(
                dibao,
                "A2",
                admitted="2024-03-12",
                discharged="2024-03-14",
                declared_assistance="2800.00",
            ),
        ],
    }
    with committed():
        response = h1.post("/api/v1/declarations/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["lines_total"] == 2
    again = h1.post("/api/v1/declarations/", body, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_file"
    # Another hospital cannot declare in this hospital's name.
    assert (
        h2.post("/api/v1/declarations/", {**body, "hospital": "H001"}, format="json").status_code
        == 403
    )
    # The same lines as a file, over the multipart endpoint; the same file again is a 409.
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(imports.TEMPLATE_HEADERS)
    writer.writerow([line(tekun, "F1").get(field, "") for field in imports.FIELDS])
    content = text.getvalue().encode("utf-8")
    for expected in (201, 409):
        upload = SimpleUploadedFile("march.csv", content, content_type="text/csv")
        with committed():
            sent = h1.post(
                "/api/v1/declarations/upload/",
                {"year": 2024, "month": 4, "file": upload},
                format="multipart",
            )
        assert sent.status_code == expected, sent.content
    assert sent.json()["error"]["code"] == "duplicate_file"
    mine = h1.get("/api/v1/claims/").json()["results"]
    assert {c["external_ref"] for c in mine} == {"A1", "A2", "F1"}
    assert mine[0]["decision"]["trace"]
    assert "*" in mine[0]["id_number"]
    assert h2.get("/api/v1/claims/").json()["results"] == []
    claim_id = mine[0]["id"]
    assert h2.get(f"/api/v1/claims/{claim_id}/").status_code == 404
    assert h2.get(f"/api/v1/decisions/?claim={claim_id}").json()["results"] == []


@pytest.mark.django_db
def test_other_county_staff_see_nothing(county, area, hospital, tekun):
    from beneficiaries.models import County

    other = County.objects.create(pooling_area=area, code="140430000", name="邻县")
    with committed():
        services_rows = [line(tekun, "A1")]
        from claims import imports

        imports.declaration_from_rows(rows=services_rows, year=2024, month=3, hospital=hospital)
    stranger = client_for(make_user("x", other))
    assert stranger.get("/api/v1/claims/").json()["results"] == []
    local = client_for(make_user("y", county))
    assert len(local.get("/api/v1/claims/").json()["results"]) == 1


@pytest.mark.django_db
def test_application_over_the_api(county, hospital_b, dibao, clerk, supervisor):
    c = client_for(clerk)
    body = {
        "id_number": dibao.id_number,
        "applied": "2024-04-02",
        "claims": [
            {
                "hospital": "H002",
                "kind": "inpatient",
                "admitted": "2024-03-01",
                "discharged": "2024-03-10",
                "in_policy_cost": "10000.00",
                "basic_insurance_paid": "6000.00",
                "receipt_numbers": "PJ1",
            }
        ],
    }
    created = c.post("/api/v1/applications/", body, format="json")
    assert created.status_code == 201, created.content
    app_id = created.json()["id"]
    assert created.json()["total"] == "2800.00"
    assert c.post(f"/api/v1/applications/{app_id}/submit/").status_code == 200
    assert c.post(f"/api/v1/applications/{app_id}/approve/").status_code == 403
    s = client_for(supervisor)
    approved = s.post(f"/api/v1/applications/{app_id}/approve/", {"reason": "同意"}, format="json")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    again = s.post(f"/api/v1/applications/{app_id}/approve/")
    assert again.status_code == 400 and again.json()["error"]["code"] == "already_decided"
    bad = c.post("/api/v1/applications/", {**body, "id_number": "000"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_person"


@pytest.mark.django_db
def test_admin_pages(client, county, hospital, hospital_b, dibao, clerk, supervisor):
    from django.contrib.auth import get_user_model

    with committed():
        from claims import imports

        imports.declaration_from_rows(
            rows=[line(dibao, "A1", declared_assistance="1.00")],
            year=2024,
            month=3,
            hospital=hospital,
        )
    app = services.application_create(
        person=dibao,
        applied=dt.date(2024, 4, 2),
        created_by=clerk,
        claims=[
            {
                "hospital": "H002",
                "kind": "inpatient",
                "admitted": dt.date(2024, 4, 1),
                "discharged": dt.date(2024, 4, 1),
                "in_policy_cost": D("1000"),
                "receipt_numbers": "PJ9",
            }
        ],
    )
    services.application_submit(application=app, by=clerk)
    admin = get_user_model().objects.create_superuser("root", password="x" * 12)
    client.force_login(admin)
    for url in [
        "/admin/claims/claim/",
        f"/admin/claims/claim/?county={county.pk}&month=2024-03",
        "/admin/claims/claim/?q=" + dibao.id_number,
        "/admin/claims/reviewclaim/",
        f"/admin/claims/claim/{Claim.objects.get(external_ref='A1').pk}/change/",
        "/admin/claims/declaration/",
        "/admin/claims/declaration/upload/",
        "/admin/claims/application/",
        f"/admin/claims/application/{app.pk}/change/",
        "/admin/claims/warningdispatch/",
        "/admin/medaid/holidaycalendarday/",
        "/admin/claims/decisionrun/",
        "/admin/claims/decision/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    review = client.get("/admin/claims/reviewclaim/").content.decode()
    assert "A1" in review
    notice = client.get(f"/admin/claims/application/{app.pk}/notice/").content.decode()
    assert "医疗救助决定通知书" in notice and app.number in notice
    supervisor.is_staff = True
    supervisor.save()
    client.force_login(supervisor)
    decided = client.post(
        f"/admin/claims/application/{app.pk}/decide/", {"action": "approve", "reason": "同意"}
    )
    assert decided.status_code == 302
    assert decided["Location"].endswith(f"/admin/claims/application/{app.pk}/change/")
    app.refresh_from_db()
    assert app.state == Application.State.APPROVED
    notice = client.get(f"/admin/claims/application/{app.pk}/notice/")
    assert notice.status_code == 403 or "决定给予医疗救助" in notice.content.decode()


@pytest.mark.django_db
def test_claims_register_export(county, hospital, tekun, dibao, tmp_path):
    from python_calamine import CalamineWorkbook

    from claims import imports
    from claims.exports import claims_register_file

    with committed():
        imports.declaration_from_rows(
            rows=[
                line(tekun, "A1"),
                line(
                    dibao,
                    "A2",
                    admitted="2024-03-11",
                    discharged="2024-03-12",
                    declared_assistance="2800",
                ),
            ],
            year=2024,
            month=3,
            hospital=hospital,
        )
    user = make_user("exporter", county)
    path = tmp_path / "register.xlsx"
    assert claims_register_file(user=user, target=str(path), year=2024, month=3) == 2
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    header = rows[1]
    assert header[0] == "结算单号" and "救助合计" in header
    total_col = header.index("救助合计")
    totals = next(r for r in rows if str(r[0]).startswith("合计"))
    assert Decimal(str(totals[total_col])) == D("6800.00")
    assert rows[-1][0] == "制表人："
    response = client_for(user).get("/api/v1/claims/export/?year=2024&month=3")
    assert response.status_code == 200


@pytest.mark.django_db
def test_counter_screen_registers_an_application(client, county, hospital_b, dibao, clerk):
    from django.contrib.auth.models import Permission

    clerk.is_staff = True
    clerk.save()
    clerk.user_permissions.add(Permission.objects.get(codename="view_application"))
    client.force_login(clerk)
    assert client.get("/admin/claims/application/add/").status_code == 200
    data = {
        "id_number": dibao.id_number,
        "applied": "2024-04-02",
        "note": "",
        "r-TOTAL_FORMS": "1",
        "r-INITIAL_FORMS": "0",
        "r-MIN_NUM_FORMS": "1",
        "r-MAX_NUM_FORMS": "1000",
        "r-0-hospital": str(hospital_b.pk),
        "r-0-kind": "inpatient",
        "r-0-admitted": "2024-03-01",
        "r-0-discharged": "2024-03-10",
        "r-0-referred": "on",
        "r-0-in_policy_cost": "10000",
        "r-0-out_of_catalog_cost": "0",
        "r-0-basic_insurance_paid": "6000",
        "r-0-critical_illness_paid": "0",
        "r-0-other_paid": "0",
        "r-0-receipt_numbers": "PJ77",
    }
    response = client.post("/admin/claims/application/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    app = Application.objects.get()
    assert app.total == D("2800.00") and app.created_by == clerk
    page = client.get(response["Location"]).content.decode()
    assert "2800.00" in page and "计算过程" in page


@pytest.mark.django_db
def test_correction_over_the_api(county, hospital, dibao, clerk):
    from claims import imports

    with committed():
        imports.declaration_from_rows(
            rows=[line(dibao, "A1", declared_assistance="2800.00")],
            year=2024,
            month=3,
            hospital=hospital,
        )
    claim = Claim.objects.get()
    c = client_for(clerk)
    response = c.post(
        f"/api/v1/claims/{claim.pk}/correct/",
        {"changes": {"basic_insurance_paid": "7000.00"}, "reason": "医保结算更正"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["decision"]["total"] == "2100.00"
    bad = c.post(
        f"/api/v1/claims/{claim.pk}/correct/",
        {"changes": {"basic_insurance_paid": "70000.00"}, "reason": "x"},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "paid_exceeds_cost"
    history = c.get(f"/api/v1/claims/{claim.pk}/history/").json()
    assert len(history["decisions"]) == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two writers at once need PostgreSQL's row locks"
)
@pytest.mark.django_db(transaction=True)
def test_the_same_declaration_sent_twice_at_once_is_stored_once_and_the_other_gets_409(
    county, hospital, tekun
):
    user = make_user("h-twice", county, hospital=hospital)
    body = {"year": 2024, "month": 5, "rows": [line(tekun, "T1")]}
    start = threading.Barrier(2)
    answers = []

    def send():
        try:
            start.wait()
            answers.append(client_for(user).post("/api/v1/declarations/", body, format="json"))
        finally:
            connections.close_all()

    senders = [threading.Thread(target=send) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert sorted(a.status_code for a in answers) == [201, 409]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert refused["error"]["code"] == "duplicate_file"
    assert Claim.objects.filter(external_ref="T1").count() == 1
