"""The error pages: Chinese, in the admin's look, with a way back; no Django page anywhere."""

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import path

from medaid import urls as root_urls

ENGLISH = ("Django", "Not Found", "Server Error", "Forbidden", "Bad Request", "requested resource")


def _boom(request):
    raise RuntimeError("boom")


def _forbidden(request):
    raise PermissionDenied


def _bad(request):
    raise SuspiciousOperation("bad")


urlpatterns = [
    path("boom/", _boom),
    path("forbidden/", _forbidden),
    path("bad/", _bad),
    path("api/boom/", _boom),
    *root_urls.urlpatterns,
]
handler400 = root_urls.handler400
handler403 = root_urls.handler403
handler404 = root_urls.handler404
handler500 = root_urls.handler500


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    return Client(raise_request_exception=False)


def assert_chinese_page(response, status, heading):
    assert response.status_code == status
    body = response.content.decode()
    assert heading in body
    assert "返回上一页" in body and 'href="/admin/"' in body
    assert "医疗救助经办管理系统" in body
    for english in ENGLISH:
        assert english not in body, english


@pytest.mark.django_db
def test_404_page_is_chinese(production):
    assert_chinese_page(production.get("/nowhere/"), 404, "页面不存在")


@pytest.mark.django_db
def test_403_page_is_chinese(production):
    assert_chinese_page(production.get("/forbidden/"), 403, "无权访问")


@pytest.mark.django_db
def test_400_page_is_chinese(production):
    assert_chinese_page(production.get("/bad/"), 400, "请求有误")


@pytest.mark.django_db
def test_500_page_is_chinese_and_needs_no_context(production):
    assert_chinese_page(production.get("/boom/"), 500, "服务器错误")


@pytest.mark.django_db
def test_csrf_failure_page_is_chinese(settings):
    settings.DEBUG = False
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "x", "password": "y"})
    assert_chinese_page(response, 403, "安全校验失败")


@pytest.mark.django_db
def test_errors_under_api_are_json(production):
    missing = production.get("/api/v1/no-such-endpoint/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    boom = production.get("/api/boom/")
    assert boom.status_code == 500
    assert "服务器内部错误" in boom.json()["error"]["message"]


@pytest.mark.django_db
def test_the_root_redirects_to_the_admin_and_view_site_points_there(client, settings):
    from django.contrib import admin

    settings.DEBUG = False
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert admin.site.site_url == "/admin/"
