"""The API's one error shape: every error the API answers is JSON

    {"error": {"code": "...", "message": "<Chinese>", "field": "<field or null>"}}

with, for validation errors, `"fields": {field: [messages]}` beside it (the first field at
fault is the one named in `error`). `exception_handler` is DRF's EXCEPTION_HANDLER: DRF's own
exceptions, Django's Http404 / PermissionDenied / ValidationError, `Refusal` (400, or its
`http_status`) and, last, anything unexpected — logged with its traceback and answered as a
JSON 500 in Chinese, never as an HTML page."""

from __future__ import annotations

import logging
import re

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from medaid.core.errors import Refusal

logger = logging.getLogger("medaid.api")
CJK = re.compile(r"[\u4e00-\u9fff]")

SERVER_ERROR_MESSAGE = "服务器内部错误，操作未完成。错误已记录，请稍后重试或联系系统管理员。"

# Chinese for DRF's default messages (a message a view wrote itself is kept as it is).
DEFAULT_MESSAGES: dict[type, tuple[str, str]] = {
    exceptions.ParseError: ("parse_error", "请求体不是合法的 JSON，无法解析。"),
    exceptions.AuthenticationFailed: ("authentication_failed", "身份认证失败：令牌无效或已停用。"),
    exceptions.NotAuthenticated: ("not_authenticated", "未登录或未提供身份令牌。"),
    exceptions.PermissionDenied: ("permission_denied", "您没有执行该操作的权限。"),
    exceptions.NotFound: ("not_found", "请求的资源不存在。"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "不支持该请求方法。"),
    exceptions.NotAcceptable: ("not_acceptable", "无法按请求的格式（Accept）返回结果。"),
    exceptions.UnsupportedMediaType: (
        "unsupported_media_type",
        "不支持该请求数据格式（Content-Type），请使用 application/json。",
    ),
    exceptions.Throttled: ("throttled", "请求过于频繁，请稍后再试。"),
}


def error_body(code: str, message: str, field: str | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "field": field}, **extra}


def _first_message(detail) -> str:
    """The first message of a (nested) validation detail."""
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
        return ""
    if isinstance(detail, list | tuple):
        for value in detail:
            message = _first_message(value)
            if message:
                return message
        return ""
    return str(detail)


def _first_code(detail) -> str | None:
    """The code of the first message, in the order `_first_message` reads them."""
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
        return None
    if isinstance(detail, list | tuple):
        for value in detail:
            if _first_message(value):
                return _first_code(value)
        return None
    return getattr(detail, "code", None)


def _first_field(detail, prefix: str = "") -> str | None:
    """The path of the first field at fault: `rows.3.amount` for a nested list."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                return prefix or None
            path = f"{prefix}.{key}" if prefix else str(key)
            deeper = _first_field(value, path)
            return deeper or path
        return prefix or None
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list) and value:
                return _first_field(value, f"{prefix}.{index}" if prefix else str(index))
            if value:
                return prefix or None
    return prefix or None


def _plain(detail):
    """ErrorDetail strings to plain ones (so that the body is plain JSON)."""
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, list | tuple):
        return [_plain(v) for v in detail]
    return str(detail)


def _validation_response(detail) -> Response:
    # A view's own refusal raised as ValidationError({"error": {"code", "message"}}).
    if isinstance(detail, dict) and isinstance(detail.get("error"), dict):
        inner = detail["error"]
        if "message" in inner:
            field = inner.get("field")
            return Response(
                error_body(
                    str(inner.get("code", "invalid")),
                    str(inner["message"]),
                    str(field) if field else None,
                ),
                status=status.HTTP_400_BAD_REQUEST,
            )
    if not isinstance(detail, dict):
        detail = {api_settings.NON_FIELD_ERRORS_KEY: detail}
    field = _first_field(detail)
    message = _first_message(detail) or "提交的数据有误。"
    if field:
        message = f"{field}：{message}"
    # The refusal's own code (a validator's, a field's shape: medaid.core.fields.SHAPE_CODES).
    code = _first_code(detail) or "invalid"
    return Response(
        error_body(code, message, field, fields=_plain(detail)),
        status=status.HTTP_400_BAD_REQUEST,
    )


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER (settings.REST_FRAMEWORK)."""
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        from medaid.core.views import too_large_message

        set_rollback()
        return Response(
            error_body("too_large", too_large_message()),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        # DRF's own conversion keeps each message's code.
        exc = exceptions.ValidationError(as_serializer_error(exc))

    if isinstance(exc, Refusal):
        set_rollback()
        return Response(exc.as_dict(), status=getattr(exc, "http_status", 400))

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return _validation_response(exc.detail)

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        code, default_message = next(
            (v for k, v in DEFAULT_MESSAGES.items() if isinstance(exc, k)),
            (exc.default_code, ""),
        )
        message = str(exc.detail) if isinstance(exc.detail, str) else _first_message(exc.detail)
        # DRF's own messages come in English where it has no translation ("JSON parse error -
        # …"): those give way to the Chinese default; a view's own Chinese message is kept.
        if not message or not CJK.search(message) or message == str(exc.default_detail):
            message = default_message or message or "请求无法处理。"
        if isinstance(exc, exceptions.Throttled) and exc.wait:
            message = f"请求过于频繁，请 {int(exc.wait) + 1} 秒后再试。"
        set_rollback()
        return Response(error_body(code, message), status=exc.status_code, headers=headers)

    view = context.get("view")
    request = context.get("request")
    logger.error(
        "API 未处理的异常 %s %s (%s)",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
        type(view).__name__ if view is not None else "?",
        exc_info=exc,
    )
    set_rollback()
    return Response(
        error_body("server_error", SERVER_ERROR_MESSAGE),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


# No body of this API nests deeper than a declaration's rows (object → list → object → value);
# a deeper one is refused before any view walks it.
MAX_JSON_DEPTH = 16


def json_depth_check(data, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` levels (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            raise exceptions.ParseError(f"JSON 嵌套层数过深（超过 {limit} 层）。")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


class ObjectJSONParser(JSONParser):
    """DRF's JSON parser (the first of DEFAULT_PARSER_CLASSES) for bodies that must be one JSON
    object, as every endpoint of this API takes: an array, a bare string or number is refused
    with 400 here instead of failing later in a view that reads `request.data.get(...)`; so is
    JSON nested past `MAX_JSON_DEPTH` (thousands of `[` exhaust Python's recursion)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            message = f"JSON 嵌套层数过深（超过 {MAX_JSON_DEPTH} 层）。"
            raise exceptions.ParseError(message) from None
        if not isinstance(data, dict):
            raise exceptions.ParseError("请求体必须是一个 JSON 对象（{…}）。")
        json_depth_check(data)
        return data
