"""The OpenAPI schema and its docs page: served to signed-in users, in Chinese, with the one
error component on every operation."""

import re

import pytest
import yaml
from django.core.management import call_command

from tests.medaid.conftest import make_user

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def staff_client(client, db):
    client.force_login(make_user("schema_reader", is_superuser=True))
    return client


def test_the_schema_and_the_docs_need_a_signed_in_user(client, db):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)


def test_the_schema_documents_every_operation_and_error_in_chinese(staff_client):
    response = staff_client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert CHINESE.search(schema["info"]["title"]) and "medaid" in schema["info"]["title"]
    assert "Error" in schema["components"]["schemas"]
    operations = [
        (path, method, op)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
        if method in {"get", "post", "patch", "put", "delete"}
    ]
    assert len(operations) > 30
    for path, method, op in operations:
        assert CHINESE.search(op.get("description", "")), (method, path)
        for code in ("401", "403", "500"):
            content = op["responses"][code]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Error"}, (method, path, code)
            assert CHINESE.search(op["responses"][code]["description"])
    json_schema = staff_client.get("/api/schema/?format=json")
    assert json_schema["Content-Type"].startswith("application/vnd.oai.openapi+json")


def test_the_docs_page_is_served_offline(staff_client):
    response = staff_client.get("/api/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "drf_spectacular_sidecar" in body or "swagger-ui" in body
    assert "cdn." not in body and "unpkg" not in body


def test_schema_validates_without_warnings(tmp_path, db):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
