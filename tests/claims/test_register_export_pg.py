"""The register's PostgreSQL path: rows fetched by a thread on its own connection, outside the
caller's transaction (committed data, as in a worker)."""

import pytest
from django.db.models import Sum

from claims import imports
from claims.exports import _stream, register_queryset, register_rows
from claims.models import Claim, Decision
from medaid.core.models import User
from tests.claims.conftest import committed, line
from tests.integration_support import require_postgresql

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_threaded_fetch_gives_every_row_once(county, hospital, tekun, dibao):
    require_postgresql()
    with committed():
        imports.declaration_from_rows(
            rows=[line(tekun, f"T{i}") for i in range(1)]
            + [line(dibao, "D1", admitted="2024-03-11", discharged="2024-03-12")],
            year=2024,
            month=3,
            hospital=hospital,
        )
    admin = User.objects.create_superuser("boss", password="x" * 12)
    queryset = register_queryset(user=admin, year=2024, month=3)
    rows = list(register_rows(queryset, admin))
    assert sorted(r[0] for r in rows) == sorted(
        Claim.objects.values_list("external_ref", flat=True)
    )
    assert (
        sum(r[22] for r in rows)
        == Decision.objects.filter(is_current=True).aggregate(s=Sum("total"))["s"]
    )
    # Tiny chunks: the hand-over between the thread and the caller, and an early stop.
    values = Claim.objects.order_by("pk").values_list("external_ref")
    assert [r[0] for r in _stream(values, itersize=1)] == ["T0", "D1"]
    stream = _stream(values, itersize=1)
    assert next(stream) == ("T0",)
    stream.close()
