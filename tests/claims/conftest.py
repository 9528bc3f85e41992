import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from beneficiaries.models import County, Department, DepartmentKind, Identity, Person, PoolingArea
from claims.models import Hospital
from medaid.core.models import User

D = Decimal


@pytest.fixture
def area(db):
    return PoolingArea.objects.create(code="140429", name="平顺县", policy_code="pingshun")


@pytest.fixture
def county(area):
    county = County.objects.create(pooling_area=area, code="140429000", name="平顺县")
    for kind in (
        DepartmentKind.CIVIL_AFFAIRS,
        DepartmentKind.RURAL_REVITALIZATION,
        DepartmentKind.HEALTH,
    ):
        Department.objects.create(county=county, kind=kind, name=f"平顺县{kind.label}")
    return county


@pytest.fixture
def hospital(county):
    return Hospital.objects.create(
        code="H001", name="平顺县人民医院", level=2, fee_class="county_2", county=county
    )


@pytest.fixture
def hospital_b(county):
    return Hospital.objects.create(
        code="H002",
        name="长治市人民医院",
        level=3,
        fee_class="provincial_municipal_2",
        county=county,
    )


_seq = iter(range(1, 10**6))


def make_person(county, code="tekun", start=dt.date(2023, 1, 1), end=None, name=None):
    n = next(_seq)
    person = Person.objects.create(
        id_number=f"1404291960{n:08d}"[:18],
        name=name or f"对象{n}",
        sex="M",
        birth_date=dt.date(1960, 1, 1),
        county=county,
    )
    if code:
        Identity.objects.create(person=person, code=code, start=start, end=end)
    return person


@pytest.fixture
def tekun(county):
    return make_person(county, "tekun", name="张三")


@pytest.fixture
def dibao(county):
    return make_person(county, "dibao", name="李四")


DECIDE = ["claims.approve_application", "claims.reject_application", "claims.return_application"]


def make_user(username, county=None, perms=(), **extra):
    user = User.objects.create_user(username=username, password="x" * 12, county=county, **extra)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clerk(county):
    return make_user(
        "clerk",
        county,
        [
            "claims.add_application",
            "claims.submit_application",
            "claims.change_claim",
            "claims.correct_claim",
            "claims.review_claim",
            "claims.add_declaration",
        ],
    )


@pytest.fixture
def supervisor(county):
    perms = [*DECIDE, "claims.add_application", "claims.submit_application"]
    return make_user("sup1", county, perms)


@pytest.fixture
def supervisor2(county):
    return make_user("sup2", county, DECIDE)


def line(person, ref, **kw):
    """One declaration row as a hospital's system sends it over the API."""
    row = {
        "hospital_code": "H001",
        "id_number": person.id_number,
        "name": person.name,
        "external_ref": ref,
        "kind": "inpatient",
        "admitted": "2024-03-01",
        "discharged": "2024-03-10",
        "total_cost": "10000.00",
        "in_policy_cost": "10000.00",
        "out_of_catalog_cost": "0.00",
        "basic_insurance_paid": "6000.00",
        "critical_illness_paid": "0.00",
        "other_paid": "0.00",
        "declared_assistance": "4000.00",
    }
    row.update({k: str(v) for k, v in kw.items()})
    return row


def application_body(id_number: str, **claim) -> dict:
    """A counter application as the API takes it: one receipt of H001, `claim` changed."""
    receipt = {
        "hospital": "H001",
        "kind": "inpatient",
        "discharged": "2024-03-20",
        "in_policy_cost": "1000.00",
        "receipt_numbers": "R1",
        **claim,
    }
    return {"id_number": id_number, "applied": "2024-03-25", "claims": [receipt]}


def committed():
    """Run the on-commit task sends at once, as eager mode does outside a test transaction."""
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)
