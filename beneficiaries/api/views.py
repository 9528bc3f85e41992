"""The registry's API. Department tokens see and write only their department's county (and
upload only as their own department); staff see their county, city-wide staff everything."""

import django_filters
from django.db.models import Prefetch, Q
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from beneficiaries import exports, services
from beneficiaries.api.serializers import (
    IdentitySerializer,
    PersonSerializer,
    RosterImportSerializer,
    RosterReverseSerializer,
    RosterReviewSerializer,
    RosterUploadSerializer,
    SubsidyLineSerializer,
    SubsidyRosterSerializer,
)
from beneficiaries.id_numbers import normalise
from beneficiaries.models import (
    Department,
    Identity,
    IdentityCode,
    Person,
    RosterImport,
    SubsidyRoster,
)
from medaid.core.api import (
    ModelPermissions,
    OperationPermissionsMixin,
    SafeCursorPagination,
    ScopedViewSetMixin,
)
from medaid.core.errors import Refusal

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERROR_REF = {"$ref": "#/components/schemas/Error"}


class ById(SafeCursorPagination):
    ordering = "-id"


class PersonFilter(django_filters.FilterSet):
    id_number = django_filters.CharFilter(method="filter_id_number", label="公民身份号码")
    name = django_filters.CharFilter(lookup_expr="exact", label="姓名")
    identity = django_filters.ChoiceFilter(
        choices=IdentityCode.choices, method="filter_identity", label="持有身份"
    )
    on = django_filters.DateFilter(method="filter_noop", label="持有日期")

    class Meta:
        model = Person
        fields = ["county", "township", "household", "insurance_scheme"]

    def filter_id_number(self, queryset, name, value):
        return queryset.filter(id_number=normalise(value))

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_identity(self, queryset, name, value):
        on = self.form.cleaned_data.get("on")
        held = Identity.objects.filter(code=value)
        if on:
            held = held.filter(start__lte=on).filter(Q(end__isnull=True) | Q(end__gte=on))
        return queryset.filter(pk__in=held.values("person_id"))


@extend_schema_view(
    list=extend_schema(
        summary="救助对象列表",
        description="名册中的人员及其身份；可按身份证号、姓名、持有身份及日期筛选。",
    ),
    retrieve=extend_schema(summary="救助对象详情", description="一个人员及其全部身份。"),
)
class PersonViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PersonSerializer
    permission_classes = [ModelPermissions]
    filterset_class = PersonFilter
    pagination_class = ById
    queryset = Person.objects.prefetch_related(
        Prefetch("identities", queryset=Identity.objects.order_by("start"))
    )


class IdentityFilter(django_filters.FilterSet):
    active_on = django_filters.DateFilter(method="filter_active_on", label="当日有效")
    id_number = django_filters.CharFilter(method="filter_id_number", label="公民身份号码")

    class Meta:
        model = Identity
        fields = ["person", "code", "department"]

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(start__lte=value).filter(Q(end__isnull=True) | Q(end__gte=value))

    def filter_id_number(self, queryset, name, value):
        return queryset.filter(person__id_number=normalise(value))


@extend_schema_view(
    list=extend_schema(summary="救助身份列表", description="人员持有的救助身份及有效期。"),
    retrieve=extend_schema(summary="救助身份详情", description="一条身份记录。"),
)
class IdentityViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    county_field = "person__county"
    serializer_class = IdentitySerializer
    permission_classes = [ModelPermissions]
    filterset_class = IdentityFilter
    pagination_class = ById
    queryset = Identity.objects.select_related("person")


@extend_schema_view(
    list=extend_schema(summary="名册报送列表", description="各部门报送的名册批次。"),
    retrieve=extend_schema(summary="名册报送详情", description="一个批次及其校验结果。"),
    create=extend_schema(
        summary="报送名册",
        description=(
            "以 multipart 上传名册文件并校验；apply=true 时校验通过即入库。同一文件重复报送"
            "返回 200 与 duplicate=true；文件被拒返回 400。"
        ),
        request={"multipart/form-data": RosterUploadSerializer},
        responses={
            201: RosterImportSerializer,
            200: RosterImportSerializer,
            400: OpenApiResponse(ERROR_REF, description="文件无法读取或被拒收"),
        },
    ),
    apply=extend_schema(
        summary="名册入库",
        description=(
            "把已校验的批次入库；状态不允许时返回 409。终止的身份超过本部门在册身份的复核比例时"
            "不入库，批次转为“待复核”，返回 409（code=review_required）与将新增、变更、终止的"
            "身份数，须由另一位人员在后台复核同意。"
        ),
        request=None,
        responses={
            200: RosterImportSerializer,
            409: OpenApiResponse(ERROR_REF, description="批次当前状态不能入库"),
        },
    ),
    review=extend_schema(
        summary="复核名册入库",
        description=(
            "待复核批次（入库将终止的身份超过复核比例）由第二人复核：approve=true 同意，按预览"
            "统计的终止数开始入库（后台任务，返回 job）；approve=false 退回，不入库。须持有"
            "“复核名册入库”权限，且不是上传人或提请入库人（否则 403，code=same_person）；批次"
            "不在待复核时返回 409（code=state）。"
        ),
        request=RosterReviewSerializer,
        responses={
            200: RosterImportSerializer,
            400: OpenApiResponse(ERROR_REF, description="复核结论缺失或不是 true/false"),
            403: OpenApiResponse(ERROR_REF, description="无权限，或复核人是上传人、提请入库人"),
            409: OpenApiResponse(ERROR_REF, description="批次不在待复核"),
        },
    ),
    reverse_apply=extend_schema(
        summary="撤销本次导入",
        description=(
            "一步撤销一次已入库的名单：删除其新增的身份，恢复其终止的身份，相关人员重算；须"
            "confirm=true 与“撤销名册入库”权限。批次不是已入库（code=state），或其后有名单、"
            "经办人员改动了相关身份（code=reversal_conflict）时返回 409，什么也不改。"
        ),
        request=RosterReverseSerializer,
        responses={
            200: RosterImportSerializer,
            400: OpenApiResponse(ERROR_REF, description="未确认（confirm 须为 true）"),
            409: OpenApiResponse(ERROR_REF, description="批次不能撤销，或相关身份其后已改动"),
        },
    ),
    errors=extend_schema(
        summary="下载出错行",
        description="未通过校验的行及原因（Excel）。",
        responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="Excel 文件")},
    ),
)
class RosterImportViewSet(
    OperationPermissionsMixin, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet
):
    """`POST /imports/` (multipart: file, kind, stated_date[, period, apply]) stages and
    validates a list; `apply=true` applies it in the same call. `POST /imports/{id}/apply/`
    applies a staged list; `GET /imports/{id}/errors/` returns the refused rows as .xlsx."""

    serializer_class = RosterImportSerializer
    permission_classes = [ModelPermissions]
    filterset_fields = ["status", "kind", "period", "department"]
    pagination_class = ById
    queryset = RosterImport.objects.all()
    operations = {
        "create": "beneficiaries.add_rosterimport",
        "apply": "beneficiaries.apply_rosterimport",
        # The same operations as the admin's 复核 and 撤销本次导入 buttons.
        "review": "beneficiaries.review_rosterimport",
        "reverse_apply": "beneficiaries.reverse_rosterimport",
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        user = self.request.user
        if user.department_id:
            queryset = queryset.filter(department_id=user.department_id)
        return queryset

    def get_parsers(self):
        # Parsers are chosen before DRF sets `self.action`: read it from the action map.
        action = getattr(self, "action", None)
        request = getattr(self, "request", None)
        if action is None and request is not None:
            action = getattr(self, "action_map", {}).get(request.method.lower())
        if action == "create":
            return [MultiPartParser(), FormParser()]
        return super().get_parsers()

    def _department(self, requested: int | None) -> Department:
        user = self.request.user
        if user.department_id:
            if requested and requested != user.department_id:
                raise PermissionDenied("部门账户只能报送本部门名册")
            return user.department
        if not requested:
            raise ValidationError({"department": "请指定报送部门"}, code="required")
        department = Department.objects.filter(pk=requested).first()
        if department is None:
            raise ValidationError({"department": "报送部门不存在"}, code="does_not_exist")
        if user.county_id and department.county_id != user.county_id and not user.is_superuser:
            raise PermissionDenied("不能为其他区县报送名册")
        return department

    def create(self, request, *args, **kwargs):
        form = RosterUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if data["apply"] and not request.user.has_perm("beneficiaries.apply_rosterimport"):
            raise PermissionDenied("没有“名册入库”的权限")
        department = self._department(data.get("department"))
        try:
            batch, created = services.roster_import_receive(
                department=department,
                kind=data["kind"],
                upload=data["file"],
                file_name=data["file"].name,
                stated_date=data["stated_date"],
                period=data.get("period"),
                end_absent=data["end_absent"],
                channel=RosterImport.Channel.API,
                uploaded_by=request.user,
            )
        except Refusal as exc:
            return Response(exc.as_dict(), status=status.HTTP_400_BAD_REQUEST)
        if created:
            batch = services.roster_import_process(
                batch=batch, apply=data["apply"], applied_by=request.user
            )
        body = self.get_serializer(batch).data
        body["duplicate"] = not created
        if not created:
            body["message"] = (
                f"该文件已于 {timezone.localtime(batch.created_at):%Y-%m-%d %H:%M} 上传过"
                f"（{batch}），未重复导入；以下为当时的批次。"
            )
        if batch.status == RosterImport.Status.REJECTED:
            refusal = getattr(batch, "refusal", None)
            code = refusal.code if refusal is not None else "file_refused"
            # The batch's own "error" (its text) gives way to the one error shape.
            body.pop("error", None)
            return Response(
                {"error": {"code": code, "message": batch.error, "field": "file"}, **body},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if batch.status == RosterImport.Status.REVIEW:
            return self._awaits_review(batch, body)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @staticmethod
    def _awaits_review(batch: RosterImport, body: dict) -> Response:
        """The bound was hit: nothing was applied; the counts and who must act next."""
        bounds = batch.preview["bounds"]
        return Response(
            {**body, "error": {"code": "review_required", "message": bounds["review_message"]}},
            status=status.HTTP_409_CONFLICT,
        )

    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        batch = self.get_object()
        try:
            services.roster_import_apply(batch=batch, applied_by=request.user)
        except services.ImportStateError as exc:
            return Response(
                {"error": {"code": "state", "message": exc.message, "field": None}}, status=409
            )
        batch.refresh_from_db()
        body = self.get_serializer(batch).data
        if batch.status == RosterImport.Status.REVIEW:
            return self._awaits_review(batch, body)
        return Response(body)

    @staticmethod
    def _refused(exc: Refusal) -> Response:
        """A review or reversal refused: the state or a later change is a conflict (409), the
        second-person rule a refusal of who asks (403), the rest bad input (400)."""
        if isinstance(exc, services.ImportStateError) or exc.code == "reversal_conflict":
            status_code = status.HTTP_409_CONFLICT
        elif exc.code in ("same_person", "permission"):
            status_code = status.HTTP_403_FORBIDDEN
        else:
            status_code = status.HTTP_400_BAD_REQUEST
        return Response(exc.as_dict(), status=status_code)

    # Not ModelPermissions (a POST there needs add_rosterimport, which a supervisor does not
    # hold): the operation of `operations` is the check, as on the admin's buttons.
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated])
    def review(self, request, pk=None):
        form = RosterReviewSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        batch = self.get_object()
        try:
            job = services.roster_import_review(
                batch=batch, by=request.user, approve=form.validated_data["approve"]
            )
        except Refusal as exc:
            return self._refused(exc)
        batch.refresh_from_db()
        body = self.get_serializer(batch).data
        body["job"] = job.pk if job is not None else None
        return Response(body)

    @action(
        detail=True,
        methods=["post"],
        url_path="reverse",
        url_name="reverse",
        permission_classes=[permissions.IsAuthenticated],
    )
    def reverse_apply(self, request, pk=None):
        form = RosterReverseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if not form.validated_data["confirm"]:
            raise Refusal(
                "撤销本次导入须确认：confirm 应为 true", code="not_confirmed", field="confirm"
            )
        batch = self.get_object()
        try:
            services.roster_import_reverse(batch=batch, by=request.user)
        except Refusal as exc:
            return self._refused(exc)
        batch.refresh_from_db()
        return Response(self.get_serializer(batch).data)

    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        import tempfile

        batch = self.get_object()
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
        exports.errors_xlsx(batch, handle, user=request.user)
        handle.seek(0)
        return FileResponse(handle, as_attachment=True, filename=f"errors-{batch.pk}.xlsx")


@extend_schema_view(
    list=extend_schema(summary="参保资助名册列表", description="各年度的参保资助名册。"),
    retrieve=extend_schema(summary="参保资助名册详情", description="一份资助名册。"),
    lines=extend_schema(
        summary="资助名册明细",
        description="名册的逐人明细，游标分页。",
        responses={200: SubsidyLineSerializer(many=True)},
    ),
)
class SubsidyRosterViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = SubsidyRosterSerializer
    permission_classes = [ModelPermissions]
    filterset_fields = ["county", "year", "status"]
    pagination_class = ById
    queryset = SubsidyRoster.objects.all()

    @action(detail=True, methods=["get"])
    def lines(self, request, pk=None):
        roster = self.get_object()
        page = self.paginate_queryset(roster.lines.select_related("person").order_by("id"))
        data = SubsidyLineSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)
