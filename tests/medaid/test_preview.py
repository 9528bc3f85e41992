"""The preview contract's command and API: thin wrappers that must agree with the engine."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from medaid.policy.contract import preview
from tests.medaid.conftest import make_user

ROOT = Path(__file__).resolve().parents[2]
CASE = {
    "policy": "pingshun",
    "parameters": {"per_capita_disposable_income": "29178"},
    "person": {"identities": [{"code": "dibao_edge", "start": "2023-01-01", "end": None}]},
    "claims": [
        {
            "ref": "A",
            "kind": "inpatient",
            "admitted": "2023-03-01",
            "discharged": "2023-03-12",
            "hospital_level": 2,
            "settlement": "application",
            "applied": "2023-04-01",
            "in_policy_cost": "40000.00",
        }
    ],
}


def run_command(*args, stdin: str | None = None):
    """The command in a real process: its exit code and stdout are the contract."""
    return subprocess.run(
        [sys.executable, "manage.py", "preview_benefit", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_prints_the_result_and_exits_0(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    done = run_command(str(path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == preview(CASE)
    assert result["claims"][0]["total"] == "24462.50"


def test_command_reads_standard_input():
    done = run_command("-", stdin=json.dumps(CASE))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["total"] == "24462.50"


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ("{not json", "invalid_json", None),
        (json.dumps({**CASE, "policy": "atlantis"}), "unknown_policy", "policy"),
        (
            json.dumps({**CASE, "claims": [{**CASE["claims"][0], "in_policy_cost": "-1.00"}]}),
            "negative_amount",
            "claims[0].in_policy_cost",
        ),
    ],
)
def test_command_refuses_an_unreadable_case_with_exit_2_and_the_error_json(text, code, field):
    done = run_command("-", stdin=text)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    error = json.loads(done.stdout)["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert error["message"]


def test_command_refuses_a_missing_file_without_a_traceback(tmp_path):
    done = run_command(str(tmp_path / "nope.json"))
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["code"] == "unreadable_file"
    assert "Traceback" not in done.stderr


def test_command_in_process_agrees(tmp_path, capsys):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    out = io.StringIO()
    call_command("preview_benefit", str(path), stdout=out)
    assert json.loads(out.getvalue()) == preview(CASE)


@pytest.mark.django_db
def test_api_returns_the_same_result_for_an_authenticated_caller(county_a):
    client = APIClient()
    user = make_user("api_clerk", "counter_clerk", county=county_a)
    client.force_authenticate(user)
    response = client.post(
        "/api/v1/preview/", data=json.dumps(CASE), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == preview(CASE)


@pytest.mark.django_db
def test_api_answers_400_with_the_contract_error(county_a):
    client = APIClient()
    client.force_authenticate(make_user("api_clerk", "counter_clerk", county=county_a))
    bad = {**CASE, "person": {"identities": [{"code": "royalty", "start": "2023-01-01"}]}}
    response = client.post(
        "/api/v1/preview/", data=json.dumps(bad), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == preview(bad)
    response = client.post("/api/v1/preview/", data="{oops", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


@pytest.mark.django_db
def test_api_needs_authentication_and_takes_hospital_tokens(county_a):
    from claims.models import Hospital
    from medaid.core.services import api_token_issue

    client = APIClient()
    response = client.post(
        "/api/v1/preview/", data=json.dumps(CASE), content_type="application/json"
    )
    assert response.status_code == 401
    hospital = Hospital.objects.create(code="H1", name="人民医院", level=2, county=county_a)
    account = make_user("h1", hospital=hospital, is_staff=False)
    token = api_token_issue(user=account)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post(
        "/api/v1/preview/", data=json.dumps(CASE), content_type="application/json"
    )
    assert response.status_code == 200
