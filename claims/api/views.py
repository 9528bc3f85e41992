"""The claims API. Querysets go through `scope_to_user`; a hospital's token sees only its own
hospital's claims and declarations; a department's token sees its county and answers only the
warnings pushed to it."""

from __future__ import annotations

import tempfile

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import FilteredRelation, Prefetch, Q
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, permissions, status, viewsets
from rest_framework import serializers as drf
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from beneficiaries.models import Person
from claims import imports, selectors, services
from claims.api import serializers as s
from claims.models import (
    Application,
    Claim,
    Decision,
    Declaration,
    Hospital,
    Warning,
    WarningDispatch,
)
from claims.platform import services as platform_services
from medaid.core import validators
from medaid.core.api import HasOperation, OperationPermissionsMixin, SafeCursorPagination
from medaid.core.api_errors import ObjectJSONParser
from medaid.core.scoping import scope_to_user

# --- the OpenAPI description of each endpoint (drf-spectacular), in Chinese -------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_RESPONSE = {(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="Excel 文件")}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _conflict(text: str) -> OpenApiResponse:
    return OpenApiResponse(ERROR_REF, description=text)


REASON_BODY = inline_serializer(
    "ReasonRequest",
    fields={"reason": drf.CharField(required=False, help_text="理由或意见")},
)
REVIEW_BODY = inline_serializer(
    "ClaimReviewRequest",
    fields={
        "accept": drf.BooleanField(help_text="true 复核通过，false 不予救助"),
        "note": drf.CharField(required=False, help_text="复核意见"),
    },
)
CORRECT_BODY = inline_serializer(
    "ClaimCorrectRequest",
    fields={
        "changes": s.ClaimCorrectionSerializer(help_text="要更正的字段及新值"),
        "reason": drf.CharField(required=False, help_text="更正原因"),
    },
)
HISTORY_RESPONSE = inline_serializer(
    "ClaimHistory",
    fields={
        "decisions": s.DecisionSerializer(many=True),
        "adjustments": s.AdjustmentSerializer(many=True),
    },
)
DECLARATION_ERRORS = inline_serializer(
    "DeclarationErrors",
    fields={
        "status": drf.CharField(allow_null=True, help_text="申报状态（中文）"),
        "lines": drf.ListField(
            child=drf.DictField(), help_text="出错的行：行号、外部单号、错误代码与说明"
        ),
    },
)


class ByIdCursor(SafeCursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 1000


def _text_of(data, name: str) -> str:
    """A text field of a body read by hand: a number or a list is not text."""
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({name: "应为文字"}, code="not_text")
    return value


def _error(exc: services.ClaimsError) -> ValidationError:
    return ValidationError({"error": {"code": exc.code, "message": exc.message}})


def _already_declared(exc: services.DuplicateDeclaration) -> Response:
    """409 with the declaration the same file already made, so the hospital can look it up."""
    return Response(
        {"error": {"code": exc.code, "message": exc.message}, "id": exc.existing.pk},
        status=status.HTTP_409_CONFLICT,
    )


@extend_schema_view(
    list=extend_schema(
        summary="医疗机构列表", description="定点医疗机构名录；医院账户只看到本机构。"
    ),
    retrieve=extend_schema(summary="医疗机构详情", description="一个医疗机构。"),
    create=extend_schema(summary="新增医疗机构", description="需要新增医疗机构的权限。"),
    partial_update=extend_schema(summary="修改医疗机构", description="需要修改医疗机构的权限。"),
)
class HospitalViewSet(OperationPermissionsMixin, viewsets.ModelViewSet):
    serializer_class = s.HospitalSerializer
    pagination_class = ByIdCursor
    permission_classes = [permissions.IsAuthenticated]
    operations = {
        "create": "claims.change_hospital",
        "update": "claims.change_hospital",
        "partial_update": "claims.change_hospital",
    }
    filterset_fields = ["county", "level", "in_area", "designated", "code"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return scope_to_user(
            Hospital.objects.all(), self.request.user, county_field=None, hospital_field="id"
        )


def scoped_claims(user):
    return scope_to_user(Claim.objects.all(), user, hospital_field="hospital")


class ClaimFilter(django_filters.FilterSet):
    discharged_from = django_filters.DateFilter(field_name="discharged", lookup_expr="gte")
    discharged_to = django_filters.DateFilter(field_name="discharged", lookup_expr="lte")
    id_number = django_filters.CharFilter(field_name="person__id_number")
    year = django_filters.NumberFilter(field_name="discharged", lookup_expr="year")
    month = django_filters.NumberFilter(field_name="discharged", lookup_expr="month")

    class Meta:
        model = Claim
        fields = [
            "county",
            "hospital",
            "status",
            "source",
            "kind",
            "settlement",
            "declaration",
            "application",
            "review_reason",
            "person",
        ]


@extend_schema_view(
    list=extend_schema(
        summary="救助费用列表",
        description="就医费用及其当前救助决定；可按区县、机构、状态、出院日期等筛选，游标分页。",
    ),
    retrieve=extend_schema(summary="救助费用详情", description="一笔费用及其当前救助决定。"),
    review=extend_schema(
        summary="复核费用",
        description="处理复核队列中的一笔费用：通过或不予救助。",
        request=REVIEW_BODY,
        responses={200: s.ClaimSerializer},
    ),
    correct=extend_schema(
        summary="更正费用",
        description="更正费用信息；此人之后的费用重新计算，已结算的生成调整。",
        request=CORRECT_BODY,
        responses={200: s.ClaimSerializer},
    ),
    export=extend_schema(
        summary="导出救助明细台账",
        description="按列表的筛选条件导出 Excel（.xlsx）。",
        responses=XLSX_RESPONSE,
    ),
    history=extend_schema(
        summary="费用的决定与调整历史",
        description="一笔费用的全部救助决定（新在前）与结算后调整。",
        responses={200: HISTORY_RESPONSE},
    ),
)
class ClaimViewSet(OperationPermissionsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.ClaimSerializer
    pagination_class = ByIdCursor
    filterset_class = ClaimFilter
    operations = {"review": "claims.review_claim", "correct": "claims.correct_claim"}

    def get_queryset(self):
        return (
            scoped_claims(self.request.user)
            .select_related("person", "hospital")
            .prefetch_related(
                Prefetch(
                    "decisions",
                    queryset=Decision.objects.filter(is_current=True),
                    to_attr="current_decisions",
                )
            )
        )

    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Resolve a claim in the review queue: {"accept": true|false, "note": "…"}."""
        claim = self.get_object()
        validators.known_fields(request.data, ("accept", "note"), what="复核")
        # `bool("false")` is true: only JSON's true and false decide a review.
        accept = validators.boolean(request.data.get("accept"), field="accept", label="复核结论")
        try:
            claim = services.claim_review_resolve(
                claim=claim,
                by=request.user,
                accept=accept,
                note=_text_of(request.data, "note"),
            )
        except services.ClaimsError as exc:
            raise _error(exc) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=claim.pk)).data)

    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        """Correct a claim's facts: {"changes": {"in_policy_cost": "…"}, "reason": "…"}; the
        person's later claims are recomputed and settled ones adjusted."""
        claim = self.get_object()
        validators.known_fields(request.data, ("changes", "reason"), what="更正")
        # An empty list or string is not an empty correction: only an object is.
        given = request.data.get("changes", {})
        if not isinstance(given, dict):
            raise ValidationError(
                {"changes": "应为一个 JSON 对象：{字段: 新值}"}, code="not_object"
            )
        # A field the serializer would drop silently is refused by name (the service refuses
        # it too: a change the sender thinks was made must not vanish).
        validators.known_fields(given, services.CORRECTABLE_FIELDS, what="更正", prefix="changes.")
        changes = s.ClaimCorrectionSerializer(data=given, partial=True)
        changes.is_valid(raise_exception=True)
        try:
            services.claim_correct(
                claim=claim,
                changes=dict(changes.validated_data),
                by=request.user,
                reason=_text_of(request.data, "reason"),
            )
        except services.ClaimsError as exc:
            raise _error(exc) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=claim.pk)).data)

    @action(detail=False, methods=["get"])
    def export(self, request):
        """The claims register (救助明细台账) as .xlsx, filtered like the list."""
        from claims.exports import claims_register_write

        qs = self.filter_queryset(scoped_claims(request.user)).order_by(
            "county_id", "discharged", "id"
        )
        qs = qs.annotate(
            current=FilteredRelation("decisions", condition=Q(decisions__is_current=True))
        )
        tmp = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 — FileResponse closes it
        claims_register_write(
            tmp.name,
            queryset=qs,
            user=request.user,
            title=f"医疗救助明细台账 导出时间 {timezone.localtime():%Y-%m-%d %H:%M}",
        )
        tmp.seek(0)
        return FileResponse(
            tmp, as_attachment=True, filename=f"救助明细台账_{timezone.localdate():%Y%m%d}.xlsx"
        )

    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        claim = self.get_object()
        decisions = claim.decisions.order_by("-decided_at", "-id")
        adjustments = claim.adjustments.all()
        return Response(
            {
                "decisions": s.DecisionSerializer(decisions, many=True).data,
                "adjustments": s.AdjustmentSerializer(adjustments, many=True).data,
            }
        )


@extend_schema_view(
    list=extend_schema(summary="救助决定列表", description="每次计算的救助决定（含计算过程）。"),
    retrieve=extend_schema(summary="救助决定详情", description="一次救助决定。"),
)
class DecisionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.DecisionSerializer
    pagination_class = ByIdCursor
    filterset_fields = ["claim", "is_current", "eligible", "policy_code", "reason"]

    def get_queryset(self):
        return Decision.objects.filter(claim__in=scoped_claims(self.request.user))


@extend_schema_view(
    list=extend_schema(summary="费用申报列表", description="医疗机构的月度费用申报批次。"),
    retrieve=extend_schema(summary="费用申报详情", description="一个申报批次及其处理状态。"),
    create=extend_schema(
        summary="申报费用（JSON）",
        description="以 JSON 提交一个月的费用明细；同一内容重复申报返回 409 及已有批次的 id。",
        request=s.DeclarationRowsSerializer,
        responses={201: s.DeclarationSerializer, 409: _conflict("该申报已接收过")},
    ),
    upload=extend_schema(
        summary="申报费用（文件）",
        description="以 multipart 上传 .xlsx 或 .csv 费用明细文件。",
        request={"multipart/form-data": s.DeclarationFileSerializer},
        responses={201: s.DeclarationSerializer, 409: _conflict("该申报已接收过")},
    ),
    platform=extend_schema(
        summary="申报费用（平台结算清单 JSON）",
        description="以国家医保信息平台结算清单字段（setl_id、certno、med_type、maf_pay 等）"
        "提交记录；可含多家机构，冲销、重发按平台规则处理。",
        request=s.DeclarationRowsSerializer,
        responses={201: s.DeclarationSerializer, 409: _conflict("该申报已接收过")},
    ),
    platform_upload=extend_schema(
        summary="申报费用（平台结算清单文件）",
        description="以 multipart 上传平台结算清单 .xlsx 或 .csv（UTF-8 或 GBK）。",
        request={"multipart/form-data": s.DeclarationFileSerializer},
        responses={201: s.DeclarationSerializer, 409: _conflict("该申报已接收过")},
    ),
    errors=extend_schema(
        summary="申报的出错行",
        description="申报中未通过校验的行及原因（最多 5000 行）。",
        responses={200: DECLARATION_ERRORS},
    ),
)
class DeclarationViewSet(
    OperationPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.DeclarationSerializer
    pagination_class = ByIdCursor
    # A hospital's token declares its own hospital's claims (checked in `_hospital`).
    operations = {
        "create": HasOperation("claims.add_declaration", hospital_accounts=True),
        "upload": HasOperation("claims.add_declaration", hospital_accounts=True),
        "platform": HasOperation("claims.add_declaration", hospital_accounts=True),
        "platform_upload": HasOperation("claims.add_declaration", hospital_accounts=True),
    }
    filterset_fields = ["hospital", "year", "month", "status", "channel"]
    parser_classes = [ObjectJSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        if self.request.user.department_id:
            return Declaration.objects.none()
        return scope_to_user(
            Declaration.objects.all(),
            self.request.user,
            county_field=selectors.DECLARATION_COUNTY_PATHS,
            hospital_field="hospital",
        )

    def _hospital(self, code: str | None, required: bool = True) -> Hospital | None:
        user = self.request.user
        if user.hospital_id:
            if code and code != user.hospital.code:
                raise PermissionDenied("医院账户只能申报本机构的费用")
            return user.hospital
        if not user.has_perm("claims.add_declaration"):
            raise PermissionDenied("无申报上传权限")
        if not code and not required:
            return None  # a platform list may hold every hospital of the county
        if not code:
            raise ValidationError({"hospital": "请填写机构编码"}, code="required")
        hospital = Hospital.objects.filter(code=code).first()
        if hospital is None:
            raise ValidationError(
                {"error": {"code": "unknown_hospital", "message": f"医疗机构编码不存在：{code}"}}
            )
        return hospital

    def create(self, request):
        """JSON upload: {"year": 2024, "month": 3, "rows": [{…claim fields…}, …]}."""
        return self._declare(
            request,
            s.DeclarationRowsSerializer,
            lambda data, **common: imports.declaration_from_rows(rows=data["rows"], **common),
        )

    @action(detail=False, methods=["post"])
    def upload(self, request):
        """Multipart upload of a .xlsx or .csv file."""
        return self._declare(
            request,
            s.DeclarationFileSerializer,
            lambda data, **common: imports.declaration_upload_file(upload=data["file"], **common),
        )

    @action(detail=False, methods=["post"])
    def platform(self, request):
        """The platform's settlement list as JSON: {"year", "month", "rows": [{setl_id, …}]}."""
        return self._declare(
            request,
            s.DeclarationRowsSerializer,
            lambda data, **common: platform_services.platform_from_rows(
                rows=data["rows"], **common
            ),
            hospital_required=False,
        )

    @action(detail=False, methods=["post"], url_path="platform-upload")
    def platform_upload(self, request):
        """Multipart upload of a platform settlement list (.xlsx or .csv)."""
        return self._declare(
            request,
            s.DeclarationFileSerializer,
            lambda data, **common: platform_services.platform_upload_file(
                upload=data["file"], **common
            ),
            hospital_required=False,
        )

    def _declare(self, request, serializer_class, receive, hospital_required: bool = True):
        """Check the request, receive the declaration and answer with it (201), or 409 when
        the same declaration was already received."""
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            declaration = receive(
                data,
                year=data["year"],
                month=data["month"],
                hospital=self._hospital(data.get("hospital"), hospital_required),
                uploaded_by=request.user,
            )
        except services.DuplicateDeclaration as exc:
            return _already_declared(exc)
        except services.ClaimsError as exc:
            raise _error(exc) from exc
        declaration.refresh_from_db()
        return Response(self.get_serializer(declaration).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        declaration = self.get_object()
        labels = dict(Declaration._meta.get_field("status").choices)
        rows = selectors.declaration_lines_seen(declaration=declaration, user=request.user)
        rows = rows.exclude(error="").order_by("line_no")
        return Response(
            {
                "status": labels.get(declaration.status),
                "lines": [
                    {
                        "line_no": line.line_no,
                        "external_ref": line.external_ref,
                        "error": line.error,
                        "message": line.get_error_display(),
                        "detail": line.error_detail,
                    }
                    for line in rows[:5000]
                ],
            }
        )


@extend_schema_view(
    list=extend_schema(summary="救助申请列表", description="窗口受理的救助申请。"),
    retrieve=extend_schema(summary="救助申请详情", description="一个申请及其流转记录。"),
    create=extend_schema(
        summary="受理救助申请",
        description="按身份证号为名册中的救助对象登记申请及其费用。",
        request=s.ApplicationCreateSerializer,
        responses={201: s.ApplicationSerializer},
    ),
    submit=extend_schema(
        summary="提交审批",
        description="把申请提交审批。",
        request=None,
        responses={200: s.ApplicationSerializer},
    ),
    approve=extend_schema(
        summary="审批通过",
        description="审批通过（大额需第二人审批）。",
        request=REASON_BODY,
        responses={200: s.ApplicationSerializer},
    ),
    reject=extend_schema(
        summary="不予救助",
        description="审批不通过，需填写理由。",
        request=REASON_BODY,
        responses={200: s.ApplicationSerializer},
    ),
    send_back=extend_schema(
        summary="退回补正",
        description="退回申请人补正材料，需填写理由。",
        request=REASON_BODY,
        responses={200: s.ApplicationSerializer},
    ),
)
class ApplicationViewSet(
    OperationPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.ApplicationSerializer
    pagination_class = ByIdCursor
    filterset_fields = ["state", "county", "person"]
    operations = {
        "create": "claims.add_application",
        "submit": "claims.submit_application",
        "approve": "claims.approve_application",
        "reject": "claims.reject_application",
        "send_back": "claims.return_application",
    }

    def get_queryset(self):
        user = self.request.user
        if user.hospital_id or user.department_id:
            return Application.objects.none()
        return scope_to_user(Application.objects.all(), user).prefetch_related("transitions")

    def create(self, request):
        data = s.ApplicationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        person = (
            scope_to_user(Person.objects.all(), request.user)
            .filter(id_number=v["id_number"])
            .first()
        )
        if person is None:
            raise ValidationError(
                {"error": {"code": "unknown_person", "message": "身份证号不在救助对象名册中"}}
            )
        try:
            application = services.application_create(
                person=person,
                applied=v["applied"],
                created_by=request.user,
                claims=[dict(c) for c in v["claims"]],
                note=v["note"],
            )
        except services.ClaimsError as exc:
            raise _error(exc) from exc
        return Response(self.get_serializer(application).data, status=status.HTTP_201_CREATED)

    def _act(self, request, service, **kwargs):
        application = self.get_object()
        try:
            application = service(application=application, by=request.user, **kwargs)
        except services.ClaimsError as exc:
            raise _error(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        application = get_object_or_404(self.get_queryset(), pk=application.pk)
        return Response(self.get_serializer(application).data)

    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._act(request, services.application_submit)

    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        note = _text_of(request.data, "reason")
        return self._act(request, services.application_approve, note=note)

    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._act(
            request, services.application_reject, reason=_text_of(request.data, "reason")
        )

    @action(detail=True, methods=["post"], url_path="return")
    def send_back(self, request, pk=None):
        return self._act(
            request, services.application_return, reason=_text_of(request.data, "reason")
        )


@extend_schema_view(
    list=extend_schema(summary="监测预警列表", description="自付费用超过监测线的人员预警。"),
    retrieve=extend_schema(summary="监测预警详情", description="一条预警。"),
)
class WarningViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.WarningSerializer
    pagination_class = ByIdCursor
    filterset_fields = ["county", "year", "kind", "group", "policy_code"]

    def get_queryset(self):
        user = self.request.user
        if user.hospital_id:
            return Warning.objects.none()
        qs = scope_to_user(Warning.objects.select_related("person"), user)
        if user.department_id:
            qs = qs.filter(dispatches__department_id=user.department_id)
        return qs


class DispatchFilter(django_filters.FilterSet):
    answered = django_filters.BooleanFilter(
        field_name="answered_on", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = WarningDispatch
        fields = ["department", "sent_on", "outcome"]


@extend_schema_view(
    list=extend_schema(summary="预警推送列表", description="推送给各部门的预警及答复情况。"),
    retrieve=extend_schema(summary="预警推送详情", description="一条推送及答复。"),
    answer=extend_schema(
        summary="答复预警",
        description="部门答复推送给它的预警：处理结果与说明。",
        request=s.AnswerSerializer,
        responses={200: s.WarningDispatchSerializer},
    ),
    export=extend_schema(
        summary="导出预警名单",
        description="按列表的筛选条件导出 Excel（.xlsx）。",
        responses=XLSX_RESPONSE,
    ),
)
class WarningDispatchViewSet(OperationPermissionsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.WarningDispatchSerializer
    pagination_class = ByIdCursor
    filterset_class = DispatchFilter
    # A department's token answers the warnings pushed to it (checked by the service).
    operations = {"answer": HasOperation("claims.change_warningdispatch", department_accounts=True)}

    def get_queryset(self):
        user = self.request.user
        if user.hospital_id:
            return WarningDispatch.objects.none()
        qs = scope_to_user(
            WarningDispatch.objects.select_related("warning__person"),
            user,
            county_field="department__county",
        )
        if user.department_id:
            qs = qs.filter(department_id=user.department_id)
        return qs

    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        dispatch = self.get_object()
        data = s.AnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            dispatch = services.warning_answer(
                dispatch=dispatch, by=request.user, **data.validated_data
            )
        except services.ClaimsError as exc:
            raise _error(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(self.get_serializer(dispatch).data)

    @action(detail=False, methods=["get"])
    def export(self, request):
        """The list as .xlsx (预警名单), filtered like the list."""
        from claims.exports import warning_list_write

        dispatches = self.filter_queryset(self.get_queryset())
        tmp = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 — FileResponse closes it
        user = None if request.user.department_id else request.user
        warning_list_write(
            tmp.name,
            dispatches=dispatches,
            title=f"监测预警名单 {timezone.localdate():%Y-%m-%d}",
            user=user,
        )
        tmp.seek(0)
        return FileResponse(
            tmp, as_attachment=True, filename=f"预警名单_{timezone.localdate():%Y%m%d}.xlsx"
        )
