"""The OpenAPI schema's shared parts: the one error component every operation answers with,
and the hook that documents the error responses on every operation (drf-spectacular's
POSTPROCESSING_HOOKS, settings.SPECTACULAR_SETTINGS)."""

from __future__ import annotations

ERROR_COMPONENT = "Error"

ERROR_RESPONSES = {
    "400": (
        "请求有误：数据校验未通过、JSON 无法解析或分页游标无效；"
        "`error.field` 指出第一个出错的字段。"
    ),
    "401": "未登录或身份令牌无效。",
    "403": "无权执行该操作（账户类型、区县或机构范围不符）。",
    "404": "资源不存在，或不在当前账户可见的范围内。",
    "405": "不支持该请求方法。",
    "406": "无法按请求的 Accept 格式返回。",
    "415": "不支持该请求数据格式（Content-Type）。",
    "429": "请求过于频繁（见 Retry-After）。",
    "500": "服务器内部错误（已记录），请稍后重试。",
}
# Errors every operation may answer; 404 only where a path names an object, 400/415 only
# where a body or query is read.
ALWAYS = ("401", "403", "405", "406", "429", "500")


ERROR_SCHEMA = {
    "type": "object",
    "description": "每个错误的统一格式 / the one error shape of every API error.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": (
                        "错误代码（英文，供程序判断），如 date_too_late、not_object、not_found"
                        "（见 docs/bad-input.md）"
                    ),
                },
                "message": {"type": "string", "description": "中文错误说明，可直接展示给用户"},
                "field": {
                    "type": "string",
                    "nullable": True,
                    "description": "出错的字段或行（如 rows.3.amount）；无则为 null",
                },
            },
            "required": ["code", "message", "field"],
        },
        "fields": {
            "type": "object",
            "additionalProperties": {},
            "description": "校验错误时：每个出错字段的全部中文说明",
        },
    },
    "required": ["error"],
}


def add_error_responses(result, generator, request, public):
    """Document the shared error component and the error responses on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_COMPONENT] = ERROR_SCHEMA
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            codes = list(ALWAYS)
            if "{" in path:
                codes.append("404")
            codes += ["400", "415"] if method in {"post", "put", "patch"} else ["400"]
            for code in sorted(set(codes)):
                responses.setdefault(
                    code,
                    {
                        "description": ERROR_RESPONSES[code],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result


def build_mock_request(method, path, view, original_request, **kwargs):
    """drf-spectacular's GET_MOCK_REQUEST, as a view sees a request in real life: `view.request`
    set before the parsers are asked for (as Django's `View.setup` does), and — for the
    `spectacular` command, which has no request — an unsaved superuser in place of the
    anonymous one, so that every viewset's scoped `get_queryset` names its model."""
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIRequestFactory

    request = getattr(APIRequestFactory(), method.lower())(path=path)
    view.request = request
    request = view.initialize_request(request)
    if original_request is not None:
        request.user = original_request.user
        request.auth = original_request.auth
    else:
        request.user = get_user_model()(
            username="schema", is_staff=True, is_superuser=True, is_active=True
        )
    return request
