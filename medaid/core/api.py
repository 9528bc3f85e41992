"""The API's shared parts: county-scoped viewsets, permissions for department and hospital
tokens, and the benefit preview endpoint.

Every app's viewsets inherit `ScopedViewSetMixin`, which routes querysets through
`scope_to_user` (a department token sees its department's county, a hospital token its own
hospital's rows, a county clerk's session its county) and stamps the county on what they create.

Accounts:
- department accounts (`User.department`) hold a DRF token and send rosters and changes for
  their department's county only;
- hospital accounts (`User.hospital`) hold a token and declare and read their own claims only;
- staff use their browser session (the admin) or a token of their own.
"""

from __future__ import annotations

import functools

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from medaid.core.pagination import InvalidCursor, SafeCursorPagination  # noqa: F401 (re-export)
from medaid.core.scoping import is_city_wide, scope_to_user, user_county_id

# --- the router ---------------------------------------------------------------------------


class Router(DefaultRouter):
    """DRF's DefaultRouter, every app's. Its format-suffix routes (`…/submit.json`,
    `…/claims.json`) hand the suffix to the handler as `format=`, which the list and detail
    handlers take and an `@action` method does not (a 500 on every custom action): here the
    suffix travels as the `?format=` DRF also reads, so every route answers alike, and an
    unknown suffix is DRF's JSON 404."""

    def get_urls(self):
        urls = super().get_urls()
        for pattern in urls:
            if "format" in pattern.pattern.regex.groupindex:
                pattern.callback = _suffix_as_query(pattern.callback)
        return urls


def _suffix_as_query(callback):
    @functools.wraps(callback)
    def view(request, *args, format=None, **kwargs):
        if format:
            query = request.GET.copy()
            query[api_settings.URL_FORMAT_OVERRIDE] = format
            request.GET = query
        return callback(request, *args, **kwargs)

    return view


# --- permissions ----------------------------------------------------------------------------


class IsDepartmentAccount(permissions.BasePermission):
    """A department's system (民政, 乡村振兴 …) authenticated by its token."""

    message = "仅限部门报送账户"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.department_id)


class IsHospitalAccount(permissions.BasePermission):
    """A hospital's system authenticated by its token."""

    message = "仅限医疗机构账户"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.hospital_id)


class IsStaff(permissions.BasePermission):
    """A member of staff (neither a department nor a hospital account)."""

    message = "仅限经办人员"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_staff
            and not user.department_id
            and not user.hospital_id
        )


class HasOperation(permissions.BasePermission):
    """The request needs the permission of one operation of `medaid.core.roles.OPERATIONS`:
    `permission_classes = [IsAuthenticated, HasOperation("claims.submit_application")]`, or
    per action through `OperationPermissionsMixin`. Checked before the body is read or the
    object looked up, so a refused request changes nothing and learns nothing.

    An instance stands where DRF expects a class (calling it returns itself).
    `hospital_accounts` / `department_accounts` also let a hospital's or department's token
    through (their own rows are enforced by the view's scoping).
    """

    def __init__(
        self,
        permission: str,
        *,
        hospital_accounts: bool = False,
        department_accounts: bool = False,
    ):
        from medaid.core.roles import operation_label

        self.permission = permission
        self.hospital_accounts = hospital_accounts
        self.department_accounts = department_accounts
        self.message = f"没有“{operation_label(permission)}”的权限"

    def __call__(self):
        return self

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if self.hospital_accounts and user.hospital_id:
            return True
        if self.department_accounts and user.department_id:
            return True
        return user.has_perm(self.permission)


class OperationPermissionsMixin:
    """`operations = {"submit": "claims.submit_application", "create": HasOperation(...)}`:
    each named viewset action also needs its operation's permission (on top of
    `permission_classes`). Every viewset that writes has it (the fuzz of every write route,
    tests/medaid/test_api_fuzz.py, holds it to the body rule below)."""

    operations: dict = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A route that reads no body (…/submit/, …/apply/) refuses one that is not a JSON
        # object as the routes that read one do: parsed here, it raises the same ParseError
        # (or 415) before the action runs. No body at all is fine.
        if request.method in ("POST", "PUT", "PATCH") and request.stream is not None:
            _ = request.data

    def get_permissions(self):
        checks = list(super().get_permissions())
        operation = self.operations.get(getattr(self, "action", None))
        if operation is not None:
            if isinstance(operation, str):
                operation = HasOperation(operation)
            checks.append(operation)
        return checks


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django model permissions, reading included (`view_*` for GET)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


# --- scoped viewsets ----------------------------------------------------------------------


class ScopedViewSetMixin:
    """Put first in a viewset's bases: `class PersonViewSet(ScopedViewSetMixin, ModelViewSet)`.

    `county_field` is the path from the model to its county (None: rows of no county);
    `hospital_field` the path to the hospital for viewsets hospital accounts may use. Creating
    or updating a row through a county-bound account forces the row's `county` to the
    account's county (when `county_field == "county"`), and refuses a body naming another.
    """

    county_field: str | None = "county"
    hospital_field: str | None = None

    def get_queryset(self):
        return scope_to_user(
            super().get_queryset(),
            self.request.user,
            county_field=self.county_field,
            hospital_field=self.hospital_field,
        )

    def scoped_save_kwargs(self, serializer) -> dict:
        """Fields forced on a save by who is saving."""
        user = self.request.user
        kwargs: dict = {}
        if self.county_field == "county" and not is_city_wide(user):
            county_id = user_county_id(user)
            given = serializer.validated_data.get("county")
            if given is not None and getattr(given, "pk", given) != county_id:
                raise PermissionDenied("不能为其他区县报送或修改数据")
            if county_id is not None:
                kwargs["county_id"] = county_id
        if self.hospital_field == "hospital" and user.hospital_id:
            given = serializer.validated_data.get("hospital")
            if given is not None and getattr(given, "pk", given) != user.hospital_id:
                raise PermissionDenied("不能为其他医疗机构申报数据")
            kwargs["hospital_id"] = user.hospital_id
        return kwargs

    def perform_create(self, serializer):
        serializer.save(**self.scoped_save_kwargs(serializer))

    def perform_update(self, serializer):
        serializer.save(**self.scoped_save_kwargs(serializer))


# --- the benefit preview ------------------------------------------------------------------


class PreviewView(APIView):
    """`POST /api/v1/preview/`: one case of the preview contract in, its result out; a case
    that cannot be read answers 400 with `{"error": {"code", "message", "field"}}`."""

    permission_classes = [permissions.IsAuthenticated]
    # The body is read raw so that bad JSON is answered in the contract's own error shape.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="preview",
        summary="待遇测算",
        description=(
            "按测算合同提交一个案例（人员身份、费用、政策），返回按政策包计算的救助金额与计算过程；"
            "不保存任何数据。无法读取的案例返回 400 与统一错误格式。"
        ),
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=["preview"],
    )
    def post(self, request):
        from medaid.core.services import PreviewError, benefit_preview

        try:
            result = benefit_preview(data=request.body)
        except PreviewError as error:
            return Response(error.as_dict(), status=status.HTTP_400_BAD_REQUEST)
        return Response(result)


urlpatterns = [path("preview/", PreviewView.as_view(), name="api-preview")]
