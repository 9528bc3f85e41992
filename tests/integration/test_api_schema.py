"""Every API operation, fuzzed from its own OpenAPI schema (schemathesis, through the WSGI app
in-process, on PostgreSQL): no server error, and every response as the schema documents it.

A city-wide superuser's token calls each operation with a handful of generated requests (valid
and invalid); the database holds a small municipality so that detail routes find rows. Kept to
a few examples per operation so that it runs in CI in well under two minutes."""

import datetime as dt
import json
import os
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import UserRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from beneficiaries.models import County, Department, DepartmentKind, Identity, Person, PoolingArea
from claims.models import Claim, Hospital
from medaid.core.models import User
from tests.integration_support import require_postgresql

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

EXAMPLES = 6
# schemathesis's phases. CI runs the explicit examples and EXAMPLES generated cases (valid and
# invalid) per operation; the coverage phase (every boundary case the schema defines, dozens
# of requests per operation, minutes here) is for a deliberate run with
# MEDAID_FUZZ_PHASES=examples,coverage,fuzzing (it passed on every operation, 2026-12).
PHASES = os.environ.get("MEDAID_FUZZ_PHASES", "examples,fuzzing").split(",")


def _municipality() -> None:
    area = PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")
    county = County.objects.create(pooling_area=area, code="530502", name="隆阳区")
    Department.objects.create(county=county, kind=DepartmentKind.CIVIL_AFFAIRS, name="民政局")
    hospital = Hospital.objects.create(
        code="H530502001", name="隆阳区人民医院", level=2, county=county
    )
    for n in range(3):
        person = Person.objects.create(
            id_number=f"53050219700101{n:04d}",
            name=f"对象{n}",
            sex="F",
            birth_date=dt.date(1970, 1, 1),
            county=county,
        )
        Identity.objects.create(person=person, code="dibao_edge", start=dt.date(2023, 1, 1))
        Claim.objects.create(
            person=person,
            county=county,
            hospital=hospital,
            source=Claim.Source.DECLARATION,
            external_ref=f"ZY{n:04d}",
            kind="inpatient",
            admitted=dt.date(2024, 3, 1),
            discharged=dt.date(2024, 3, 10),
            total_cost=Decimal("20000.00"),
            in_policy_cost=Decimal("20000.00"),
            basic_insurance_paid=Decimal("11000.00"),
        )


@pytest.fixture
def token(db, monkeypatch):
    require_postgresql()
    # The fuzzer sends far more than a clerk would: no throttling here.
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1000000/min"})
    _municipality()
    user = User.objects.create_superuser("fuzzer", password="Fuzz-medaid-2024", email="")
    return Token.objects.create(user=user).key


def _schema():
    """The schema as /api/schema/ serves it, built at collection (no database needed), and
    the WSGI app the generated requests go to."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    from medaid.wsgi import application

    spec = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
    loaded = schemathesis.openapi.from_dict(spec)
    loaded.app = application
    loaded.config.phases.update(phases=PHASES)
    return loaded


schema = _schema()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """As Django's test client does: a request must not close the test's database connection
    (and with it the transaction that holds the test's rows)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
