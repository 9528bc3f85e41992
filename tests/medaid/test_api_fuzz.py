"""Every write route of the API, also through its format-suffix URL (`…/review.json`, as the
router exposes it), given bodies that are not what it takes: JSON lists, scalars, null, bodies
nested past the limit, and objects whose fields (from the route's own OpenAPI schema) hold
values of a seeded random wrong shape. No answer is a server error or an HTML page; every
refusal is `{"error": {"code", "message", "field"}}` with a Chinese message and a code of its
own (never DRF's generic "invalid"); a body that is not an object changes nothing.

The schemathesis run (tests/integration/test_api_schema.py) covers the schema's own cases on
PostgreSQL; this one, seeded and on the default database, covers the shapes it does not
generate, in a few seconds."""

from __future__ import annotations

import json
import random
import re

import pytest
from django.urls import Resolver404, resolve
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from claims.models import Application, Claim
from tests.claims.conftest import (  # noqa: F401 — the claims tests' fixtures
    application_body,
    area,
    committed,
    county,
    hospital,
    line,
    make_user,
    tekun,
)
from tests.invariants import assert_sound, snapshot

CHINESE = re.compile(r"[\u4e00-\u9fff]")
SEED = 19


def _operations() -> list[tuple[str, str, dict]]:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    spec = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
    schemas = spec.get("components", {}).get("schemas", {})
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            schema = next(iter(content.values()), {}).get("schema", {})
            if "$ref" in schema:
                schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
            found.append((method, path, sorted(schema.get("properties", {}))))
    return found


OPERATIONS = _operations()

NOT_OBJECTS = [
    "[]",
    "[{}]",
    "[1, 2]",
    '"text"',
    "42",
    "-1e400",
    "null",
    "true",
    '{"a": ' * 40 + "1" + "}" * 40,
    "[" * 50_000 + "]" * 50_000,
]

WRONG_VALUES = [
    [],
    [[]],
    {},
    {"a": {"b": {"c": []}}},
    None,
    "",
    "\x00",
    "x" * 5_000,
    True,
    -1,
    2**70,
    1e308,
    "9" * 40,
    "2099-13-45",
    "１２３",
]


def _suffix(url: str) -> str:
    return url.rstrip("/") + ".json"


def _urls(path: str, ids: dict) -> tuple[str, ...]:
    """The route's URL and, for the router's routes, its format-suffix URL (the preview is
    a plain view of its own contract, with no suffix)."""
    url = _url(path, ids)
    return (url,) if path == "/api/v1/preview/" else (url, _suffix(url))


@pytest.fixture(autouse=True)
def _unthrottled(monkeypatch):
    """The fuzz sends far more than a clerk would. Not throttled, and nothing recorded: the
    throttle's history lives in the cache, which outlives the test, and the next test's user
    has the same id."""
    monkeypatch.setattr(UserRateThrottle, "allow_request", lambda self, request, view: True)


@pytest.fixture
def env(county, hospital, tekun):  # noqa: F811
    root = make_user("fuzz_root", None, is_superuser=True, is_staff=True)
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(root)
    with committed():
        sent = api.post(
            "/api/v1/declarations/",
            {"hospital": "H001", "year": 2024, "month": 3, "rows": [line(tekun, "OK1")]},
            format="json",
        )
        assert sent.status_code == 201, sent.content
        made = api.post("/api/v1/applications/", application_body(tekun.id_number), format="json")
        assert made.status_code == 201, made.content
    ids = {
        "claims": Claim.objects.get(external_ref="OK1").pk,
        "applications": Application.objects.get().pk,
        "hospitals": hospital.pk,
    }
    return api, ids


def _url(path: str, ids: dict) -> str:
    resource = path.split("/")[3]
    return path.replace("{id}", str(ids.get(resource, 1)))


def _check(response, *, seen: set) -> dict | None:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    kind = response.get("Content-Type", "")
    assert not kind.startswith("text/html"), response.content[:300]
    if response.status_code < 400:
        return None
    assert kind.startswith("application/json"), (kind, response.content[:300])
    error = response.json()["error"]
    assert {"code", "message"} <= set(error), error
    assert CHINESE.search(error["message"]), error
    assert error["code"] != "invalid", error
    seen.add(error["code"])
    return error


def test_every_write_route_has_its_format_suffix_route():
    assert len(OPERATIONS) >= 15
    for _method, path, _fields in OPERATIONS:
        for url in _urls(path, {})[1:]:
            try:
                match = resolve(url)
            except Resolver404:
                pytest.fail(f"{url}: no format-suffix route")
            assert match.kwargs.get("format") == "json", url


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "fields"), OPERATIONS, ids=lambda v: str(v))
def test_a_write_route_refuses_every_shape_it_does_not_take(env, method, path, fields):
    api, ids = env
    urls = _urls(path, ids)
    send = getattr(api, method)
    seen: set[str] = set()
    before = snapshot()
    for target in urls:
        for body in NOT_OBJECTS:
            response = send(target, data=body, content_type="application/json")
            error = _check(response, seen=seen)
            assert error is not None, (target, body[:40], response.status_code)
            assert response.status_code in (400, 403, 404, 405, 409, 413, 415), response.content
    assert_sound(before)
    # Objects of the right fields holding wrong values: refused or taken, never a 500.
    rng = random.Random(f"{SEED}:{method}:{path}")
    for target in urls:
        for _ in range(12):
            body = {name: rng.choice(WRONG_VALUES) for name in fields if rng.random() < 0.7}
            with committed():
                response = send(target, data=body, format="json")
            _check(response, seen=seen)
    assert_sound()
    assert seen, "no refusal seen"
