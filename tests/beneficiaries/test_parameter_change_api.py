"""The parameter changes' API: the same flow as the admin's, through the same services — the
named permissions, four eyes (the proposer cannot decide their own change), a return needs its
note — every refusal in the error envelope in Chinese with its field, and its OpenAPI docs."""

import pytest
from rest_framework.test import APIClient

from beneficiaries.models import County, ParameterChange, PoolingArea
from tests.medaid.conftest import make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/parameter-changes/"
BODY = {
    "pooling_area": "140429",
    "parameter": "per_capita_disposable_income",
    "value": "32000",
    "issuer": "山西省统计局",
    "document_number": "晋统公告〔2025〕1号",
    "article": "2024年山西省国民经济和社会发展统计公报",
    "published_on": "2025-01-20",
    "reason": "公布2024年全省居民人均可支配收入",
}


@pytest.fixture
def area(db):
    area = PoolingArea.objects.create(code="140429", name="平顺县", policy_code="pingshun")
    County.objects.create(pooling_area=area, code="140429000", name="平顺县")
    return area


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content.decode()
    error = response.json()["error"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]), error
    return error


def test_enter_submit_and_a_second_person_approves(area):
    officer = _client(make_user("officer", "city_administrator"))
    checker = _client(make_user("checker", "city_administrator"))
    created = officer.post(URL, BODY, format="json")
    assert created.status_code == 201, created.content.decode()
    change = created.json()
    # Pingshun 第四十七条: the 1st of the month after publication.
    assert (change["state"], change["effective_date"]) == ("draft", "2025-02-01")
    assert change["key"] == f"变更#{change['id']}" and change["pooling_area"] == "140429"
    submitted = officer.post(f"{URL}{change['id']}/submit/")
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted"

    own = _error(officer.post(f"{URL}{change['id']}/approve/", {}, format="json"), 400)
    assert own["code"] == "own_change" and "本人录入" in own["message"]
    no_note = _error(checker.post(f"{URL}{change['id']}/return/", {}, format="json"), 400)
    assert (no_note["code"], no_note["field"]) == ("note_missing", "note")
    approved = checker.post(f"{URL}{change['id']}/approve/", {"note": "同意"}, format="json")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert approved.json()["approved_by"] == "checker"
    late = _error(officer.post(f"{URL}{change['id']}/withdraw/"), 400)
    assert late["code"] == "state"
    listed = officer.get(URL, {"state": "approved"})
    assert [c["id"] for c in listed.json()["results"]] == [change["id"]]


def test_returned_then_withdrawn_by_its_proposer_only(area):
    officer = _client(make_user("officer", "city_administrator"))
    checker = _client(make_user("checker", "city_administrator"))
    change = officer.post(URL, BODY, format="json").json()
    officer.post(f"{URL}{change['id']}/submit/")
    back = checker.post(f"{URL}{change['id']}/return/", {"note": "文号有误"}, format="json")
    assert back.json()["state"] == "returned" and back.json()["decision_note"] == "文号有误"
    other = _error(checker.post(f"{URL}{change['id']}/withdraw/"), 400)
    assert other["code"] == "not_proposer"
    assert officer.post(f"{URL}{change['id']}/withdraw/").json()["state"] == "withdrawn"


def test_bad_input_is_refused_with_its_field_and_nothing_written(area):
    officer = _client(make_user("officer", "city_administrator"))
    error = _error(officer.post(URL, {**BODY, "parameter": ""}, format="json"), 400)
    assert error["field"] == "parameter"
    error = _error(officer.post(URL, {**BODY, "published_on": "2025-13-01"}, format="json"), 400)
    assert error["field"] == "published_on"
    error = _error(officer.post(URL, {**BODY, "pooling_area": "999999"}, format="json"), 400)
    assert error["field"] == "pooling_area"
    assert not ParameterChange.objects.exists()


def test_without_the_named_permission_nothing_is_entered_or_seen(area):
    county = County.objects.get()
    clerk = _client(make_user("clerk", "counter_clerk", county=county))
    supervisor = _client(make_user("supervisor", "supervisor", county=county))
    for client in (clerk, supervisor):
        error = _error(client.post(URL, BODY, format="json"), 403)
        assert error["code"] == "permission_denied"
    officer = _client(make_user("officer", "city_administrator"))
    change = officer.post(URL, BODY, format="json").json()
    officer.post(f"{URL}{change['id']}/submit/")
    refused = supervisor.post(f"{URL}{change['id']}/approve/", {}, format="json")
    assert _error(refused, 403)["code"] == "permission_denied"
    assert ParameterChange.objects.get().state == ParameterChange.State.SUBMITTED
    # A county's staff do not see the city's changes at all.
    listed = clerk.get(URL)
    assert listed.status_code == 200 and listed.json()["results"] == []


def test_the_openapi_schema_documents_every_step():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for suffix in ("", "{id}/", "{id}/submit/", "{id}/withdraw/", "{id}/approve/", "{id}/return/"):
        assert f"{URL}{suffix}" in paths, sorted(p for p in paths if "parameter" in p)
    approve = paths[f"{URL}{{id}}/approve/"]["post"]
    assert approve["summary"] == "批准参数变更" and "400" in approve["responses"]
