"""Bench: the independent bad-input check of issue #19, against the demo.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_check \\
        .venv/bin/python manage.py demo --areas baoshan
    DATABASE_URL=… .venv/bin/python bench/bad_input_check.py [--seed 19] [--fuzz 4]

Independent of the catalogue tests (tests/medaid/test_bad_input_catalogue.py): it builds its
own bad inputs — rosters as files, declarations as JSON and as files, benefit previews,
counter applications, claim corrections, reviews, identities, ledger entries, budgets and
因病致贫 applications — and sends them through the REST API and the admin's forms as the
demo's logins (保山市 隆阳区: clerk_longyang, supervisor_longyang, finance_longyang,
civil_affairs_longyang, city_admin), valid inputs interleaved that must be taken, then a seeded
fuzz of every REST route of the OpenAPI schema, each also through its format-suffix URL.
Everything runs in-process through Django's test client on the demo's database (no server).

Before and after it takes a snapshot of the database (row counts of every model, a hash of
each row of claims, identities, people, applications, ledger entries, budgets and 因病致贫
applications; every claim with its one current decision, tests/invariants.py's rule). It
counts `server_errors` (5xx), `html_error_pages` (an API answer in HTML), `bad_accepted` (a
bad input answered 2xx, or a bad line stored), `lost` (a row there before that is gone or
changed, or a claim without its decision), `valid_refused` (a valid input or line not taken)
and `bad_envelopes` (an API refusal not `{"error": {code, message}}` in Chinese). All must be
0. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")
# As production answers (DJANGO_DEBUG=0): Django's debug pages are not what a client sees.
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bad-input-check-" + os.urandom(16).hex())
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")  # TLS ends at the proxy, not here

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db.models import Count, Q  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from beneficiaries import id_numbers  # noqa: E402
from beneficiaries.models import County, Department, Identity, Person  # noqa: E402
from claims.models import Claim, DeclarationLine, Hospital  # noqa: E402
from funds.models import Account  # noqa: E402
from medaid.core.models import User  # noqa: E402

CHINESE = re.compile(r"[\u4e00-\u9fff]")
HASHED = {
    "claims.Claim": ("id", "person_id", "status", "discharged", "in_policy_cost", "total_cost"),
    "beneficiaries.Identity": ("id", "person_id", "code", "start", "end"),
    "beneficiaries.Person": ("id", "id_number", "name", "birth_date", "county_id"),
    "claims.Application": ("id", "state", "applied"),
    "funds.Entry": ("id", "kind", "date", "document_ref"),
    "funds.Budget": ("id", "county_id", "year", "amount", "county_matching"),
    "beneficiaries.IllnessPovertyApplication": ("id", "person_id", "applied_on", "status"),
}
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600


# --- the snapshot -------------------------------------------------------------------------


def snapshot() -> dict:
    counts = {
        f"{m._meta.app_label}.{m.__name__}": m.objects.count()
        for app in ("beneficiaries", "claims", "funds")
        for m in apps.get_app_config(app).get_models()
    }
    rows = {}
    for label, fields in HASHED.items():
        model = apps.get_model(label)
        names = {f.name for f in model._meta.fields} | {f.attname for f in model._meta.fields}
        present = [f for f in fields if f in names]
        rows[label] = {
            row[0]: hashlib.sha1(repr(row).encode()).hexdigest()
            for row in model.objects.values_list(*present)
        }
    undecided = (
        Claim.objects.annotate(current=Count("decisions", filter=Q(decisions__is_current=True)))
        .exclude(current=1)
        .count()
    )
    return {"counts": counts, "rows": rows, "undecided": undecided}


def lost_between(before: dict, after: dict) -> tuple[int, list]:
    """Rows there before that are gone or changed (the check's own rows, which its valid
    inputs made and the fuzz may move on, were not there before), fewer rows of a model, or
    more claims without their one current decision."""
    lost, where = 0, []
    for label, rows in before["rows"].items():
        now = after["rows"][label]
        for pk, digest in rows.items():
            if now.get(pk) != digest:
                lost += 1
                where.append((label, pk))
    for label, count in before["counts"].items():
        if after["counts"][label] < count and label not in ("claims.Decision",):
            lost += 1
            where.append((label, "count"))
    lost += max(0, after["undecided"] - before["undecided"])
    return lost, where[:10]


# --- sending and counting -----------------------------------------------------------------


class Check:
    def __init__(self):
        self.n = Counter()
        self.samples: dict[str, list] = {}

    def fault(self, kind: str, what) -> None:
        self.n[kind] += 1
        self.samples.setdefault(kind, [])
        if len(self.samples[kind]) < 8:
            self.samples[kind].append(what)

    def answer(self, response, label: str, *, expect: str, api: bool = True):
        """expect: "refused" (a bad input), "taken" (a valid one), "any" (fuzz)."""
        self.n["inputs"] += 1
        status = response.status_code
        kind = response.get("Content-Type", "")
        if status >= 500:
            self.fault("server_errors", (label, status, response.content[:200]))
            return response
        if api and kind.startswith("text/html"):
            self.fault("html_error_pages", (label, status))
        if api and status >= 400 and not kind.startswith("text/html"):
            try:
                error = response.json()["error"]
                if not (error.get("code") and CHINESE.search(error.get("message", ""))):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                self.fault("bad_envelopes", (label, status, response.content[:200]))
        taken = status < 400 if api else status == 302
        if expect == "refused" and taken:
            self.fault("bad_accepted", (label, status, response.content[:200]))
        if expect == "taken" and not taken:
            self.fault("valid_refused", (label, status, response.content[:300]))
        return response

    def line(self, label: str, *, bad: bool, stored_bad: bool) -> None:
        """One line of a file or declaration: a bad one must be refused, a valid one taken."""
        self.n["inputs"] += 1
        if bad and stored_bad:
            self.fault("bad_accepted", label)
        if not bad and stored_bad:
            self.fault("valid_refused", label)


def api_as(user: User) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


def admin_as(user: User) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


# --- the inputs ---------------------------------------------------------------------------


class Demo:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.county = County.objects.filter(name="隆阳区").first()
        if self.county is None:
            sys.exit("没有隆阳区：请先在该数据库上运行 manage.py demo --areas baoshan")
        self.department = Department.objects.filter(
            county=self.county, kind="civil_affairs"
        ).first()
        self.hospital = Hospital.objects.filter(county=self.county).order_by("code").first()
        self.users = {u.username: u for u in User.objects.filter(username__endswith="longyang")}
        self.users["city_admin"] = User.objects.get(username="city_admin")
        self.today = dt.date.today()
        self.run = f"{int(time.time()) % 100000:05d}"
        self.serial = rng.randrange(5000, 9000)
        self.people: list[Person] = []

    def new_id(self, birth=dt.date(1975, 5, 5)) -> str:
        while True:
            self.serial += 1
            number = id_numbers.make(self.county.code, birth, self.serial % 1000)
            if not Person.objects.filter(id_number=number).exists():
                return number

    def name(self) -> str:
        return self.rng.choice("赵钱孙李周吴郑王冯陈") + self.rng.choice("子丑寅卯辰巳午未申酉")


def rosters(check: Check, demo: Demo) -> int | None:
    token = api_as(demo.users["civil_affairs_longyang"])
    head = "公民身份号码,姓名,身份类别,起始日期"

    def send(name, content, expect, stated="2026-11-01", **extra):
        body = {"kind": "roster", "stated_date": stated, "apply": "true", **extra}
        body["file"] = SimpleUploadedFile(name, content)
        return check.answer(
            token.post("/api/v1/imports/", body, format="multipart"),
            f"roster {name}",
            expect=expect,
        )

    bad_files = [
        ("r.xls", XLS),
        ("r.xlsx", "公民身份号码,姓名\n".encode()),
        ("r.xlsx", b"PK\x03\x04broken"),
        ("r.csv", b"\x00\x01\x02\xff" * 80),
        ("r.csv", b""),
        ("r.csv", (head + "\n").encode("utf-16")),
        ("r.pdf", b"%PDF-1.4 nothing"),
        ("r.csv", ("列一,列二\n1,2\n").encode()),
    ]
    for name, content in bad_files:
        send(name, content, "refused")
    for stated in ("2099-01-01", "1899-12-31", "2026-02-30", "昨天", ""):
        send(
            f"s{stated}.csv",
            f"{head}\n{demo.new_id()},张三,低保对象,2026-01-01\n".encode(),
            "refused",
            stated=stated,
        )
    for kind in ("everything", "", "roster\x00"):
        body = {
            "kind": kind,
            "stated_date": "2026-11-01",
            "file": SimpleUploadedFile("k.csv", b"x"),
        }
        check.answer(
            token.post("/api/v1/imports/", body, format="multipart"),
            "roster kind",
            expect="refused",
        )

    # One list, bad lines among valid ones: the valid ones are taken, the bad ones refused.
    lines, expected = [], []
    for n in range(60):
        number, name = demo.new_id(), demo.name()
        bad = n % 3 == 1
        if bad:
            variant = n % 8
            row = {
                0: f"{number[:-1]}{'0' if number[-1] != '0' else '1'},{name},低保对象,2026-01-01",
                1: f"{number},{name},低保对象,2099-01-01",
                2: f"{number},{name},低保对象,1899-01-01",
                3: f"{number},{name}{n},低保对象,2026-01-01",
                4: f"{number},{name},低保户户,2026-01-01",
                5: f"{number},,低保对象,2026-01-01",
                6: f"{number},{name},低保对象,2026-02-30",
                7: f"{number},{name},特困人员x,2026-01-01",
            }[variant]
        else:
            row = f"{number},{name},低保对象,2026-0{1 + n % 9}-01"
        lines.append(row)
        expected.append((number, bad))
    content = ("\n".join([head, *lines]) + "\n").encode()
    response = send(f"mixed-{demo.run}.csv", content, "taken")
    if response.status_code < 400:
        for number, bad in expected:
            stored = Identity.objects.filter(person__id_number=number).exists()
            check.line(f"roster line {number}", bad=bad, stored_bad=stored if bad else not stored)
    demo.people = list(
        Person.objects.filter(id_number__in=[n for n, bad in expected if not bad]).order_by("id")
    )
    return response.json().get("id") if response.status_code < 400 else None


def declarations(check: Check, demo: Demo) -> list[int]:
    api = api_as(demo.users["city_admin"])
    people = demo.people[:20]
    rows, bad_refs = [], set()
    bad_values = [
        {"in_policy_cost": "1000000000000"},
        {"in_policy_cost": "1e30"},
        {"in_policy_cost": "100.123"},
        {"total_cost": "一千"},
        {"in_policy_cost": "-5.00"},
        {"name": "张" * 3000},
        {"admitted": "1900-01-01"},
        {"discharged": "2099-01-01"},
        {"discharged": "2026-02-30"},
        {"chronic_category": "²"},
        {"kind": "spa"},
        {"id_number": "123"},
        {"external_ref": "A\x00B"},
        {"admitted": "2026-11-20", "discharged": "2026-11-01"},
    ]
    for n, person in enumerate(people * 2):
        ref = f"BIC{demo.run}{n:03d}"
        row = {
            "hospital_code": demo.hospital.code,
            "id_number": person.id_number,
            "name": person.name,
            "external_ref": ref,
            "kind": "inpatient",
            "admitted": "2026-11-02",
            "discharged": "2026-11-09",
            "total_cost": "8000.00",
            "in_policy_cost": "7000.00",
            "out_of_catalog_cost": "1000.00",
            "basic_insurance_paid": "4000.00",
            "critical_illness_paid": "0.00",
            "other_paid": "0.00",
            "declared_assistance": "1500.00",
        }
        if n % 2:
            row.update(bad_values[n // 2 % len(bad_values)])
            bad_refs.add(row["external_ref"])
        rows.append(row)
    body = {"hospital": demo.hospital.code, "year": 2026, "month": 11, "rows": rows}
    response = check.answer(
        api.post("/api/v1/declarations/", body, format="json"), "declaration", expect="taken"
    )
    if response.status_code < 400:
        declaration = response.json()["id"]
        for n, row in enumerate(rows):
            ref = row["external_ref"]
            bad = ref in bad_refs
            stored = DeclarationLine.objects.filter(
                declaration_id=declaration, line_no=n + 1, error=""
            ).exists()
            # PostgreSQL cannot hold a NUL: such a reference was never stored.
            claimed = "\x00" not in ref and (
                Claim.objects.filter(external_ref=ref, hospital=demo.hospital).exists()
            )
            check.line(
                f"declaration line {n + 1} {ref}",
                bad=bad,
                stored_bad=(stored or claimed) if bad else not claimed,
            )
    shapes = [
        "[]",
        "[1]",
        '"x"',
        "null",
        "{bad",
        '{"rows": ' + "[" * 5000 + "]" * 5000 + "}",
        json.dumps({"hospital": demo.hospital.code, "year": 1999, "month": 11, "rows": [{}]}),
        json.dumps({"hospital": demo.hospital.code, "year": 2026, "month": 13, "rows": [{}]}),
        json.dumps({"hospital": demo.hospital.code, "year": 2026, "month": 11, "rows": []}),
        json.dumps({"hospital": demo.hospital.code, "year": 2026, "month": 11, "rows": "x"}),
        json.dumps({"hospital": "NOPE", "year": 2026, "month": 11, "rows": [{}]}),
        json.dumps({"hospital": [1], "year": "二零二六", "month": 11, "rows": [{}]}),
    ]
    for text in shapes:
        check.answer(
            api.post("/api/v1/declarations/", data=text, content_type="application/json"),
            "declaration shape",
            expect="refused",
        )
    check.answer(
        api.post("/api/v1/declarations/", data="year=2026", content_type="text/plain"),
        "declaration text/plain",
        expect="refused",
    )
    for name, content in [
        ("d.xls", XLS),
        ("d.xlsx", "公民身份号码\n".encode()),
        ("d.xlsx", b"PK\x03\x04broken"),
        ("d.csv", b"\x00\xff" * 200),
        ("d.csv", b""),
        ("d.txt", "结算单号,金额\n1,2\n".encode("gb18030")),
    ]:
        body = {
            "hospital": demo.hospital.code,
            "year": 2026,
            "month": 11,
            "file": SimpleUploadedFile(name, content),
        }
        check.answer(
            api.post("/api/v1/declarations/upload/", body, format="multipart"),
            f"declaration file {name}",
            expect="refused",
        )
    return list(
        Claim.objects.filter(external_ref__startswith=f"BIC{demo.run}").values_list("id", flat=True)
    )


def previews(check: Check, demo: Demo) -> None:
    api = api_as(demo.users["clerk_longyang"])
    example = json.loads(
        (
            ROOT.parent / "shared" / "domain" / "examples" / "baoshan-class3-inpatient.json"
        ).read_text()
    )
    case = example.get("case", example)
    bad = ["[]", "null", "1", "{bad", '"x"', "{}", json.dumps({"policy": "nowhere"})]
    for key in list(case)[:8]:
        for value in ([], None, "x" * 3000, -1, {"a": []}):
            bad.append(json.dumps({**case, key: value}))
    for text in bad:
        response = api.post("/api/v1/preview/", data=text, content_type="application/json")
        check.answer(response, "preview", expect="any")
    check.answer(
        api.post("/api/v1/preview/", data=json.dumps(case), content_type="application/json"),
        "preview valid",
        expect="any",
    )


def applications(check: Check, demo: Demo) -> list[int]:
    api = api_as(demo.users["clerk_longyang"])
    made = []

    def body(person, **change):
        claim = {
            "hospital": demo.hospital.code,
            "kind": "inpatient",
            "admitted": "2026-10-03",
            "discharged": "2026-10-12",
            "in_policy_cost": "3000.00",
            "total_cost": "3500.00",
            "basic_insurance_paid": "1500.00",
            "receipt_numbers": f"R{demo.run}{person.pk}",
        }
        claim.update(change.pop("claim", {}))
        data = {"id_number": person.id_number, "applied": "2026-11-20", "claims": [claim]}
        data.update(change)
        return data

    bad_changes = [
        {"applied": "2099-01-01"},
        {"applied": "1899-01-01"},
        {"applied": "2026-02-30"},
        {"applied": ["2026-11-20"]},
        {"id_number": "110101190001011234"},
        {"id_number": 530502},
        {"note": "a\x00b"},
        {"note": "长" * 600},
        {"claims": []},
        {"claims": "x"},
        {"claims": [None]},
        {"claim": {"in_policy_cost": "3000.001"}},
        {"claim": {"in_policy_cost": 1e30}},
        {"claim": {"in_policy_cost": "-1"}},
        {"claim": {"kind": "massage"}},
        {"claim": {"discharged": "2099-01-01"}},
        {"claim": {"admitted": "1900-01-01"}},
        {"claim": {"chronic_category": 99}},
        {"claim": {"chronic_category": 2**70}},
        {"claim": {"referred": "yes"}},
        {"claim": {"hospital": "NOPE"}},
        {"claim": {"receipt_numbers": ""}},
        {"unknown": 1},
    ]
    people = demo.people[20:]
    for n, change in enumerate(bad_changes):
        person = people[n % len(people)]
        check.answer(
            api.post("/api/v1/applications/", body(person, **change), format="json"),
            f"application {change}",
            expect="refused",
        )
        if n % 5 == 0:
            valid = people[(n // 5) % len(people)]
            sent = check.answer(
                api.post("/api/v1/applications/", body(valid), format="json"),
                "application valid",
                expect="taken",
            )
            if sent.status_code == 201:
                made.append(sent.json()["id"])
    for text in ("[]", "null", "[{}]", "1", "{bad"):
        check.answer(
            api.post("/api/v1/applications/", data=text, content_type="application/json"),
            "application shape",
            expect="refused",
        )
    return made


def corrections_and_reviews(check: Check, demo: Demo, claims: list[int]) -> None:
    api = api_as(demo.users["city_admin"])
    if not claims:
        return
    target = claims[0]
    bad_changes = [
        {"changes": {"discharged": "2099-01-01"}, "reason": "核对"},
        {"changes": {"in_policy_cost": "1.001"}, "reason": "核对"},
        {"changes": {"in_policy_cost": "-3"}, "reason": "核对"},
        {"changes": {"status": "paid"}, "reason": "核对"},
        {"changes": {"person": 1}, "reason": "核对"},
        {"changes": [], "reason": "核对"},
        {"changes": "x", "reason": "核对"},
        {"changes": {"discharged": "2026-11-09"}, "reason": "x" * 5000},
        {"changes": {"admitted": "2026-12-01", "discharged": "2026-11-01"}, "reason": "核对"},
        {"changes": {"chronic_category": 7}, "reason": "核对"},
        {"changes": {"kind": ["inpatient"]}, "reason": "核对"},
    ]
    for change in bad_changes:
        check.answer(
            api.post(f"/api/v1/claims/{target}/correct/", change, format="json"),
            f"correction {change}",
            expect="refused",
        )
    for body in (
        {"accept": "false"},
        {"accept": 1},
        {"accept": None},
        {},
        {"accept": [True]},
        {"accept": True, "note": "\x00"},
    ):
        check.answer(
            api.post(f"/api/v1/claims/{target}/review/", body, format="json"),
            f"review {body}",
            expect="refused",
        )
        check.answer(
            api.post(f"/api/v1/claims/{target}/review.json", body, format="json"),
            f"review.json {body}",
            expect="refused",
        )


def admin_forms(check: Check, demo: Demo) -> None:
    clerk = admin_as(demo.users["clerk_longyang"])
    person = demo.people[-1] if demo.people else Person.objects.filter(county=demo.county).first()
    base = {
        "person": person.pk,
        "code": "tekun",
        "start": "2026-10-01",
        "end": "",
        "certified_on": "",
    }
    if demo.department:
        base["department"] = ""
    for change in [
        {"start": "1899-01-01"},
        {"start": "2099-01-01"},
        {"start": "2026-10-01", "end": "2026-09-01"},
        {"start": "2026-02-30"},
        {"start": "1960-01-01"},
        {"certified_on": "2099-01-01"},
        {"code": "nobody"},
        {"person": "999999999"},
        {"source_line": "x\x00y"},
    ]:
        response = clerk.post("/admin/beneficiaries/identity/add/", {**base, **change})
        check.answer(response, f"identity {change}", expect="refused", api=False)

    illness = {
        "person": person.pk,
        "applied_on": "2026-11-10",
        "household_size": "3",
        "household_income": "12000.00",
        "financial_assets": "5000.00",
        "cost_90_days": "30000.00",
        "urban_dibao_standard": "700.00",
        "decision_note": "",
    }
    for change in [
        {"applied_on": "2099-01-01"},
        {"applied_on": "1899-01-01"},
        {"household_size": "0"},
        {"household_size": "-2"},
        {"household_size": "9" * 30},
        {"household_income": "12000.001"},
        {"household_income": "-1"},
        {"cost_90_days": "1e30"},
        {"urban_dibao_standard": "abc"},
        {"decision_note": "a\x00b"},
    ]:
        response = clerk.post(
            "/admin/beneficiaries/illnesspovertyapplication/add/", {**illness, **change}
        )
        check.answer(response, f"因病致贫 {change}", expect="refused", api=False)

    city = admin_as(demo.users["city_admin"])
    budget = {
        "county": demo.county.pk,
        "year": "2026",
        "amount": "1000000.00",
        "county_matching": "100000.00",
        "document_ref": "保财〔2026〕1号",
    }
    for change in [
        {"amount": "100.001"},
        {"amount": "-5"},
        {"amount": "1e30"},
        {"amount": "九百"},
        {"county_matching": "1.005"},
        {"year": "1899"},
        {"year": "99999"},
        {"document_ref": "x\x00"},
    ]:
        response = city.post("/admin/funds/budget/add/", {**budget, **change})
        check.answer(response, f"budget {change}", expect="refused", api=False)

    finance = admin_as(demo.users["finance_longyang"])
    accounts = list(
        Account.objects.filter(county=demo.county)
        .exclude(kind="hospital")
        .values_list("pk", flat=True)[:2]
    )
    if len(accounts) == 2:
        entry = {
            "kind": "allocation",
            "from_account": accounts[0],
            "to_account": accounts[1],
            "amount": "100.00",
            "date": "2026-11-05",
            "document_ref": f"BIC-{demo.run}",
            "memo": "",
        }
        for change in [
            {"amount": "100.001"},
            {"amount": "-100"},
            {"amount": "1e30"},
            {"amount": "0"},
            {"date": "2099-01-01"},
            {"date": "1899-01-01"},
            {"document_ref": ""},
            {"memo": "a\x00b"},
            {"to_account": "999999"},
        ]:
            response = finance.post("/admin/funds/entry/add/", {**entry, **change})
            check.answer(response, f"entry {change}", expect="refused", api=False)


# --- the fuzz of every route --------------------------------------------------------------

NOT_OBJECTS = ["[]", "[{}]", "[1,2]", '"x"', "7", "null", "true", '{"a":' * 40 + "1" + "}" * 40]
WRONG = [[], {}, None, "", "\x00", "x" * 3000, True, -1, 2**70, 1e308, "2099-13-45", [[[]]]]


def fuzz(check: Check, demo: Demo, rounds: int, ids: dict) -> None:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    spec = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
    schemas = spec.get("components", {}).get("schemas", {})
    api = api_as(demo.users["city_admin"])
    rng = demo.rng
    for path, operations in spec["paths"].items():
        resource = path.split("/")[3]
        for method, operation in operations.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            for url in (path, path.rstrip("/") + ".json"):
                target = url.replace("{id}", str(ids.get(resource, rng.choice([1, 999999]))))
                if method == "get":
                    names = [
                        p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
                    ]
                    for _ in range(rounds):
                        query = {
                            n: str(rng.choice(WRONG))[:200] for n in names if rng.random() < 0.5
                        }
                        check.answer(api.get(target, query), f"GET {target}", expect="any")
                    continue
                send = getattr(api, method)
                # State-changing routes are fuzzed only on the check's own rows.
                if "{id}" in path and resource not in ids:
                    continue
                for text in rng.sample(NOT_OBJECTS, k=min(len(NOT_OBJECTS), rounds + 2)):
                    check.answer(
                        send(target, data=text, content_type="application/json"),
                        f"{method} {target} {text[:20]}",
                        expect="refused",
                    )
                content = operation.get("requestBody", {}).get("content", {})
                schema = next(iter(content.values()), {}).get("schema", {})
                if "$ref" in schema:
                    schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
                fields = sorted(schema.get("properties", {}))
                for _ in range(rounds):
                    body = {n: rng.choice(WRONG) for n in fields if rng.random() < 0.7}
                    check.answer(
                        send(target, data=body, format="json"),
                        f"{method} {target} fuzz",
                        expect="any",
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--fuzz", type=int, default=4, help="generated requests per route and URL")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    demo = Demo(rng)
    check = Check()
    started = time.perf_counter()
    before = snapshot()
    batch = rosters(check, demo)
    claims = declarations(check, demo)
    previews(check, demo)
    made = applications(check, demo)
    corrections_and_reviews(check, demo, claims)
    admin_forms(check, demo)
    ids = {
        "claims": claims[0] if claims else 999999,
        "applications": made[0] if made else 999999,
        "imports": batch or 999999,
    }
    fuzz(check, demo, args.fuzz, ids)
    after = snapshot()
    lost, where = lost_between(before, after)
    if lost:
        check.samples["lost"] = where
    for kind, samples in check.samples.items():
        for sample in samples:
            print(f"{kind}: {sample}")
    result = {
        "inputs": check.n["inputs"],
        "server_errors": check.n["server_errors"],
        "html_error_pages": check.n["html_error_pages"],
        "bad_accepted": check.n["bad_accepted"],
        "lost": lost,
        "valid_refused": check.n["valid_refused"],
        "bad_envelopes": check.n["bad_envelopes"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
