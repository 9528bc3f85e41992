"""The error pages: Chinese pages in the admin's look for the admin and the site, JSON in the
API's error shape (`{"error": {"code", "message", "field"}}`) for anything under /api/.

`medaid.urls` names these as `handler400/403/404/500`; `CSRF_FAILURE_VIEW` is `csrf_failure`.
The 500 page is rendered without a request context (templates/500.html needs none) so that
it cannot fail in turn."""

from __future__ import annotations

from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

API_PREFIX = "/api/"

MESSAGES = {
    400: ("bad_request", "请求无法处理，请检查提交的内容。"),
    413: ("too_large", "请求体过大。"),
    403: ("permission_denied", "您没有执行该操作的权限。"),
    404: ("not_found", "请求的页面或资源不存在。"),
    500: ("server_error", "服务器内部错误，请稍后重试或联系系统管理员。"),
}


def _is_api(request) -> bool:
    return bool(request is not None and request.path.startswith(API_PREFIX))


def api_error(status: int, *, code: str | None = None, message: str | None = None):
    default_code, default_message = MESSAGES[status]
    body = {"error": {"code": code or default_code, "message": message or default_message}}
    body["error"]["field"] = None
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _page(request, status: int, template: str):
    if _is_api(request):
        return api_error(status)
    return render(request, template, status=status)


def too_large_message() -> str:
    """The body limit in the words of the refusal (settings.DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1048576
    return f"请求体过大：上限 {limit:.0f} MB；大批量数据请以文件上传或分批提交。"


@requires_csrf_token
def bad_request(request, exception=None):
    from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent

    # Django reports a body over its limit as a 400; the API says what it is.
    if _is_api(request) and isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        return api_error(413, code="too_large", message=too_large_message())
    return _page(request, 400, "400.html")


@requires_csrf_token
def permission_denied(request, exception=None):
    return _page(request, 403, "403.html")


@requires_csrf_token
def page_not_found(request, exception=None):
    return _page(request, 404, "404.html")


@requires_csrf_token
def server_error(request):
    if _is_api(request):
        return api_error(500)
    # No context processors, no database: the page renders whatever broke.
    return HttpResponseServerError(loader.get_template("500.html").render())


def csrf_failure(request, reason=""):
    """The CSRF refusal (a form kept open past the session, cookies blocked …), in Chinese."""
    if _is_api(request):
        return api_error(403, code="csrf_failed", message="CSRF 校验失败，请刷新页面后重试。")
    return render(request, "403_csrf.html", status=403)
