"""docs/bad-input.md, line by line: each class of bad input is sent, and its answer (status,
code, the Chinese message with its field or line) and the whole-database invariant asserted.
A line of the catalogue without a case here, or a case without its line, fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from claims.models import Claim, DeclarationLine
from tests.claims.conftest import (  # noqa: F401 — the claims tests' fixtures
    area,
    committed,
    county,
    hospital,
    line,
    make_user,
    tekun,
)
from tests.invariants import assert_sound, snapshot

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "bad-input.md"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def catalogue() -> dict[str, dict]:
    rows = {}
    for text in CATALOGUE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in text.strip().strip("|").split("|")]
        if len(cells) != 7 or cells[0] in ("id", "---") or set(cells[0]) == {"-"}:
            continue
        case_id, _where, _input, status, code, words, at = cells
        rows[case_id] = {"status": int(status), "code": code, "words": words, "at": at}
    return rows


class Env:
    def __init__(self, home, clinic, person):
        self.county, self.hospital, self.person = home, clinic, person
        root = make_user("catalogue_root", None, is_superuser=True, is_staff=True)
        self.api = APIClient(raise_request_exception=False)
        self.api.force_authenticate(root)
        with committed():
            sent = self.api.post(
                "/api/v1/declarations/",
                {"hospital": "H001", "year": 2024, "month": 3, "rows": [line(person, "OK1")]},
                format="json",
            )
        assert sent.status_code == 201, sent.content
        self.claim = Claim.objects.get(external_ref="OK1")

    def declare(self, **fields):
        """One bad line in a JSON declaration; its refusal as (status, error)."""
        row = line(self.person, "BAD1")
        row.update(fields)
        with committed():
            sent = self.api.post(
                "/api/v1/declarations/",
                {"hospital": "H001", "year": 2024, "month": 3, "rows": [row]},
                format="json",
            )
        if sent.status_code != 201:
            return sent.status_code, sent.json()["error"]
        refused = DeclarationLine.objects.get(declaration_id=sent.json()["id"])
        message = f"{refused.get_error_display()}：{refused.error_detail}"
        return 201, {"code": refused.error, "message": message, "line": refused.line_no}

    def post(self, url, body=None, **kwargs):
        sent = self.api.post(url, kwargs.pop("data", body), **kwargs)
        return sent.status_code, sent.json()["error"]

    def declaration_file(self, name, content):
        upload = SimpleUploadedFile(name, content)
        return self.post(
            "/api/v1/declarations/upload/",
            {"hospital": "H001", "year": 2024, "month": 3, "file": upload},
            format="multipart",
        )

    def roster(self, name, content, stated_date="2024-03-01"):
        department = self.county.departments.first()
        upload = SimpleUploadedFile(name, content)
        body = {"kind": "roster", "stated_date": stated_date, "department": department.pk}
        return self.api.post("/api/v1/imports/", {**body, "file": upload}, format="multipart")

    def application(self, **change):
        claim = {
            "hospital": "H001",
            "kind": "inpatient",
            "discharged": "2024-03-20",
            "in_policy_cost": "1000.00",
            "receipt_numbers": "R1",
        }
        body = {"id_number": self.person.id_number, "applied": "2024-03-25", "claims": [claim]}
        claim.update(change.pop("claim", {}))
        body.update(change)
        return self.post("/api/v1/applications/", body, format="json")


def _roster_csv() -> bytes:
    rows = ["公民身份号码,姓名,身份类别,起始日期", "530502199001011236,张三,低保对象,2024-01-01"]
    return ("\n".join(rows) + "\n").encode()


def _duplicate_roster(env):
    env.roster("r.csv", _roster_csv())
    before = snapshot()
    sent = env.roster("r.csv", _roster_csv())
    body = sent.json()
    assert body["duplicate"] is True
    assert_sound(before)
    return sent.status_code, {"code": "duplicate", "message": body["message"]}


XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600

CASES = {
    "decl-amount-huge": lambda env: env.declare(in_policy_cost="1000000000000"),
    "decl-amount-1e30": lambda env: env.declare(in_policy_cost="1e30"),
    "decl-three-decimals": lambda env: env.declare(in_policy_cost="100.123"),
    "decl-amount-text": lambda env: env.declare(in_policy_cost="一千元"),
    "decl-nul": lambda env: env.declare(external_ref="BAD\x001"),
    "decl-too-long": lambda env: env.declare(name="张" * 10_000),
    "decl-long-stay": lambda env: env.declare(admitted="1900-01-01"),
    "decl-chronic": lambda env: env.declare(chronic_category="²"),
    "decl-list-body": lambda env: env.post(
        "/api/v1/declarations/", data="[1, 2]", content_type="application/json"
    ),
    "decl-malformed": lambda env: env.post(
        "/api/v1/declarations/", data="{not json", content_type="application/json"
    ),
    "decl-deep": lambda env: env.post(
        "/api/v1/declarations/",
        data='{"rows": ' + "[" * 100_000 + "]" * 100_000 + "}",
        content_type="application/json",
    ),
    "decl-content-type": lambda env: env.post(
        "/api/v1/declarations/", data="year=2024", content_type="text/plain"
    ),
    "decl-too-large": lambda env: env.post(
        "/api/v1/declarations/",
        data='{"x": "' + "a" * (11 * 1024 * 1024) + '"}',
        content_type="application/json",
    ),
    "file-xls": lambda env: env.declaration_file("march.xls", XLS),
    "file-renamed": lambda env: env.declaration_file(
        "march.xlsx", "公民身份号码,结算单号\n".encode()
    ),
    "file-corrupt": lambda env: env.declaration_file("march.xlsx", b"PK\x03\x04broken"),
    "file-binary": lambda env: env.declaration_file("march.csv", b"\x00\x01\x02\xff" * 50),
    "correct-future": lambda env: env.post(
        f"/api/v1/claims/{env.claim.pk}/correct/",
        {"changes": {"discharged": "2099-01-01"}, "reason": "核对"},
        format="json",
    ),
    "correct-changes-list": lambda env: env.post(
        f"/api/v1/claims/{env.claim.pk}/correct/",
        {"changes": [], "reason": "核对"},
        format="json",
    ),
    "submit-list-body": lambda env: env.post(
        "/api/v1/applications/1/submit/", data="[]", content_type="application/json"
    ),
    "preview-long-policy": lambda env: env.post(
        "/api/v1/preview/",
        data=json.dumps({"policy": "x" * 5000}),
        content_type="application/json",
    ),
    "correct-unknown-field": lambda env: env.post(
        f"/api/v1/claims/{env.claim.pk}/correct/",
        {"changes": {"status": "accepted"}, "reason": "核对"},
        format="json",
    ),
    "review-false-text": lambda env: env.post(
        f"/api/v1/claims/{env.claim.pk}/review/", {"accept": "false", "note": "x"}, format="json"
    ),
    "review-suffix": lambda env: env.post(
        f"/api/v1/claims/{env.claim.pk}/review.json", {}, format="json"
    ),
    "application-future": lambda env: env.application(applied="2099-01-01"),
    "application-decimals": lambda env: env.application(claim={"in_policy_cost": "100.123"}),
    "application-list-body": lambda env: env.post(
        "/api/v1/applications/1/approve/", data="[1]", content_type="application/json"
    ),
    "roster-future": lambda env: _answer(env.roster("r.csv", _roster_csv(), "2099-01-01")),
    "roster-xls": lambda env: _answer(env.roster("r.xls", XLS)),
    "roster-duplicate": _duplicate_roster,
}


def _answer(response):
    return response.status_code, response.json()["error"]


def test_every_catalogue_line_has_its_case_and_every_case_its_line():
    assert set(catalogue()) == set(CASES)


@pytest.mark.django_db
@pytest.mark.parametrize("case_id", sorted(CASES))
def test_bad_input(case_id, county, hospital, tekun):  # noqa: F811
    expected = catalogue()[case_id]
    env = Env(county, hospital, tekun)
    before = snapshot()
    status, error = CASES[case_id](env)
    assert status == expected["status"], error
    assert error["code"] == expected["code"], error
    assert CHINESE.search(error["message"]) and expected["words"] in error["message"], error
    at = expected["at"]
    if at.startswith("line "):
        assert error["line"] == int(at.split()[1]), error
    elif at != "—":
        assert error.get("field") == at, error
    if case_id != "roster-duplicate":
        assert_sound(before)
    else:
        assert_sound()
