"""API errors: always JSON, always {"error": {"code", "message" (Chinese), "field"}}."""

import re

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.test import override_settings
from django.urls import include, path
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from medaid import urls as root_urls
from medaid.core.errors import Refusal
from tests.medaid.conftest import make_user

CHINESE = re.compile(r"[\u4e00-\u9fff]")


class Conflict(Refusal):
    code = "already_done"
    http_status = 409


class AmountSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    note = serializers.CharField(required=False)


class Probe(APIView):
    def post(self, request, what):
        if what == "validate":
            AmountSerializer(data=request.data).is_valid(raise_exception=True)
        raise {
            "refusal": Refusal("该月已结算，不能再修改", code="settled", field="month"),
            "conflict": Conflict("申请已审批"),
            "http404": Http404("x"),
            "denied": DjangoPermissionDenied(),
            "throttled": Throttled(wait=12),
            "boom": ZeroDivisionError("boom"),
        }[what]

    def get(self, request, what):
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/probe/<str:what>/", Probe.as_view()),
    path("api/v1/", include(root_urls.api_v1)),
]


@pytest.fixture
def api(db):
    user = make_user("api_staff", is_superuser=True)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def error_of(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "field"}
    assert CHINESE.search(error["message"]), error
    return error


@override_settings(ROOT_URLCONF=__name__)
def test_validation_errors_name_the_first_field(api):
    response = api.post("/api/v1/probe/validate/", {"amount": "abc"}, format="json")
    error = error_of(response, 400)
    # A plain DRF serializer keeps DRF's code; the API's own serializers name theirs (below).
    assert error["code"] == "invalid" and error["field"] == "amount"
    assert "amount" in response.json()["fields"]


@override_settings(ROOT_URLCONF=__name__)
def test_refusals_are_400_or_their_own_status(api):
    error = error_of(api.post("/api/v1/probe/refusal/"), 400)
    assert error == {"code": "settled", "message": "该月已结算，不能再修改", "field": "month"}
    assert error_of(api.post("/api/v1/probe/conflict/"), 409)["code"] == "already_done"
    assert Refusal.http_status == 400


@override_settings(ROOT_URLCONF=__name__)
def test_django_and_drf_errors_are_chinese(api):
    assert error_of(api.post("/api/v1/probe/http404/"), 404)["code"] == "not_found"
    assert error_of(api.post("/api/v1/probe/denied/"), 403)["code"] == "permission_denied"
    throttled = api.post("/api/v1/probe/throttled/")
    assert error_of(throttled, 429)["code"] == "throttled"
    assert throttled["Retry-After"] == "12"
    assert error_of(api.delete("/api/v1/probe/x/"), 405)["code"] == "method_not_allowed"


@override_settings(ROOT_URLCONF=__name__)
def test_unauthenticated_callers_get_chinese_json(db):
    error = error_of(APIClient().get("/api/v1/probe/x/"), 401)
    assert error["code"] == "not_authenticated"
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Token nope")
    assert error_of(bad_token.get("/api/v1/probe/x/"), 401)["code"] == "authentication_failed"


@override_settings(ROOT_URLCONF=__name__)
def test_an_unexpected_exception_is_a_logged_json_500(api, caplog):
    error = error_of(api.post("/api/v1/probe/boom/"), 500)
    assert error["code"] == "server_error"
    record = next(r for r in caplog.records if r.name == "medaid.api")
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError


@override_settings(ROOT_URLCONF=__name__)
def test_malformed_json_is_a_chinese_400(api):
    response = api.post(
        "/api/v1/probe/validate/", data="{not json", content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "parse_error"
    preview = api.post("/api/v1/preview/", data="{not json", content_type="application/json")
    error_of(preview, 400)


@override_settings(ROOT_URLCONF=__name__)
def test_a_body_that_is_not_json_is_refused_in_chinese(api):
    response = api.post("/api/v1/probe/validate/", data="amount=1", content_type="text/plain")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


LIST_ENDPOINTS = [
    "hospitals",
    "claims",
    "decisions",
    "declarations",
    "applications",
    "warnings",
    "warning-dispatches",
    "people",
    "identities",
    "imports",
    "subsidy-rosters",
]


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize(
    "cursor", ["cD1hYmM%3D", "bz0tNQ%3D%3D", "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk%3D"]
)
def test_a_forged_cursor_is_a_400_on_every_list(api, endpoint, cursor):
    response = api.get(f"/api/v1/{endpoint}/?cursor={cursor}")
    error = error_of(response, 400)
    assert error["code"] in {"invalid", "invalid_cursor"} and error["field"] == "cursor"


def test_list_endpoints_keep_their_ordering_and_paginate(api):
    from django.conf import settings

    from medaid.core.api import SafeCursorPagination

    assert settings.REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"] == (
        "medaid.core.pagination.SafeCursorPagination"
    )
    from beneficiaries.api import views as bviews
    from claims.api import views as cviews

    for cls in (cviews.ByIdCursor, bviews.ById):
        assert issubclass(cls, SafeCursorPagination) and cls.ordering == "-id"
    assert cviews.ByIdCursor.max_page_size == 1000
    assert api.get("/api/v1/hospitals/").status_code == 200


@override_settings(ROOT_URLCONF=__name__)
def test_a_json_body_that_is_not_an_object_is_a_chinese_400(api):
    response = api.post(
        "/api/v1/probe/validate/", data="[null, null]", content_type="application/json"
    )
    error = error_of(response, 400)
    assert error["code"] == "parse_error" and "JSON 对象" in error["message"]


@pytest.mark.parametrize("query", ["year=0", "year=10000", "discharged_from=0001-01-01&year=0"])
def test_a_filter_value_the_database_cannot_take_is_a_400(api, query):
    """Found by the schemathesis run: `?year=0` on claims was a server error."""
    error = error_of(api.get(f"/api/v1/claims/?{query}"), 400)
    assert error["code"] == "invalid_filter"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"note": "a\x00b"}, "note"),
        ({"claims": [{"in_policy_cost": 1e30}]}, "claims.0.in_policy_cost"),
        ({"claims": [{"chronic_category": 99}]}, "claims.0.chronic_category"),
        ({"claims": [{"chronic_category": 2**70}]}, "claims.0.chronic_category"),
    ],
)
def test_an_application_with_impossible_values_is_a_chinese_400(api, change, field):
    claim = {
        "hospital": "H001",
        "kind": "inpatient",
        "discharged": "2024-03-10",
        "in_policy_cost": "1000.00",
        "receipt_numbers": "R1",
    }
    body = {"id_number": "530102199001011234", "applied": "2024-03-20", "claims": [claim]}
    if "claims" in change:
        claim.update(change["claims"][0])
    else:
        body.update(change)
    error = error_of(api.post("/api/v1/applications/", body, format="json"), 400)
    assert error["field"] == field


def _body_serializers() -> set[type]:
    """Every serializer that reads a request body: a view builds it with `data=`, documents
    it as its `request=`, or it is the serializer of a viewset that creates or updates."""
    import importlib
    import inspect
    import pkgutil

    from rest_framework import mixins

    found: set[type] = set()
    # Every module of an app's API package that holds views (views.py, parameter_changes.py …).
    view_modules = [
        importlib.import_module(f"{app}.api.{info.name}")
        for app in ("claims", "beneficiaries")
        for info in pkgutil.iter_modules(importlib.import_module(f"{app}.api").__path__)
        if info.name not in ("serializers", "urls")
    ]
    for views in view_modules:
        app = views.__name__.split(".")[0]
        module = importlib.import_module(f"{app}.api.serializers")
        source = inspect.getsource(views)
        readers = r"(\w+Serializer)\(data=|request=\{?[^,\n]*?(\w+Serializer)"
        for name in filter(None, sum(re.findall(readers, source), ())):
            found.add(getattr(views, name, None) or getattr(module, name))
        for _, view in inspect.getmembers(views, inspect.isclass):
            writes = (mixins.CreateModelMixin, mixins.UpdateModelMixin)
            if issubclass(view, writes) and getattr(view, "serializer_class", None):
                found.add(view.serializer_class)
    return found


def test_every_serializer_that_reads_a_body_names_its_refusals():
    """DRF's generic code "invalid" is never the answer: every serializer that reads a body
    gives each refusal a code of its own (medaid.core.fields.CodedErrorsMixin)."""
    from medaid.core.fields import CodedErrorsMixin

    readers = _body_serializers()
    assert len(readers) >= 7
    missing = sorted(cls.__name__ for cls in readers if not issubclass(cls, CodedErrorsMixin))
    assert missing == []


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"id_number": ["x"]}, "id_number", "not_text"),
        ({"applied": "2024-13-01"}, "applied", "bad_date"),
        ({"applied": "2099-01-01"}, "applied", "date_too_late"),
        ({"claims": {"a": 1}}, "claims", "not_a_list"),
        ({"claims": [[]]}, "claims.0", "not_object"),
        ({"claims": [{"referred": "yes"}]}, "claims.0.referred", "not_boolean"),
        ({"claims": [{"chronic_category": "二"}]}, "claims.0.chronic_category", "not_integer"),
        ({"claims": [{"in_policy_cost": "1.001"}]}, "claims.0.in_policy_cost", "too_many_decimals"),
    ],
)
def test_each_refusal_of_a_body_has_its_own_code(body, field, code):
    from claims.api.serializers import ApplicationCreateSerializer
    from medaid.core.api_errors import exception_handler
    from tests.claims.conftest import application_body

    given = body.get("claims")
    if isinstance(given, list) and given and isinstance(given[0], dict):
        data = application_body("530502199001011236", **given[0])
    else:
        data = {**application_body("530502199001011236"), **body}
    checked = ApplicationCreateSerializer(data=data)
    assert not checked.is_valid()
    from rest_framework.exceptions import ValidationError

    answer = exception_handler(ValidationError(checked.errors), {}).data["error"]
    assert (answer["field"], answer["code"]) == (field, code)
    assert CHINESE.search(answer["message"])
