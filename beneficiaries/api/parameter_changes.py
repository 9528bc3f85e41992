"""The parameter changes' API (参数变更): list and read them, enter one, submit, withdraw, and the
second person's approve or return — the services of `beneficiaries.services.parameter_changes`
with the same named permissions and the same four-eyes rule (the proposer cannot decide their
own change). A change belongs to a pooling area, not a county: like the admin's pages it is for
city-wide staff only. Every refusal is the API's error envelope, in Chinese, naming its field."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from beneficiaries import services
from beneficiaries.models import ParameterChange, PoolingArea
from medaid.core.api import ModelPermissions, OperationPermissionsMixin, SafeCursorPagination
from medaid.core.fields import CodedErrorsMixin
from medaid.core.scoping import is_city_wide

PROPOSE = "beneficiaries.propose_parameterchange"
APPROVE = "beneficiaries.approve_parameterchange"
ERROR_REF = {"$ref": "#/components/schemas/Error"}


class ParameterChangeSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="变更编号（变更#N），计算轨迹据此引用")
    pooling_area = serializers.SlugRelatedField(slug_field="code", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    citation = serializers.CharField(read_only=True, help_text="依据文件（发文机关 文号 条款）")
    proposed_by = serializers.CharField(source="proposed_by.username", read_only=True)
    approved_by = serializers.CharField(
        source="approved_by.username", read_only=True, allow_null=True
    )
    replays = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="提交审批时发起的政策模拟测算"
    )

    class Meta:
        model = ParameterChange
        fields = [
            "id",
            "key",
            "pooling_area",
            "kind",
            "policy_code",
            "parameter",
            "value",
            "issuer",
            "document_number",
            "article",
            "citation",
            "published_on",
            "entered_start",
            "effective_date",
            "effective_rule",
            "state",
            "state_label",
            "reason",
            "proposed_by",
            "submitted_at",
            "approved_by",
            "decided_at",
            "decision_note",
            "replays",
            "created_at",
        ]
        read_only_fields = fields


class ParameterChangeCreateSerializer(CodedErrorsMixin, serializers.Serializer):
    pooling_area = serializers.SlugRelatedField(
        slug_field="code", queryset=PoolingArea.objects.all(), help_text="统筹区代码"
    )
    kind = serializers.ChoiceField(
        choices=ParameterChange.Kind.choices, default=ParameterChange.Kind.PARAMETER
    )
    parameter = serializers.CharField(required=False, allow_blank=True, help_text="参数名称")
    value = serializers.CharField(required=False, allow_blank=True, help_text="取值（文字）")
    policy_code = serializers.CharField(
        required=False, allow_blank=True, help_text="适用政策包变更：新的政策包"
    )
    issuer = serializers.CharField(required=False, allow_blank=True, help_text="发文机关")
    document_number = serializers.CharField(required=False, allow_blank=True, help_text="文号")
    article = serializers.CharField(required=False, allow_blank=True, help_text="条款")
    published_on = serializers.DateField(help_text="公布日期 YYYY-MM-DD")
    start = serializers.DateField(
        required=False, allow_null=True, help_text="录入的生效日期（政策包另有规则时按规则计算）"
    )
    reason = serializers.CharField(required=False, allow_blank=True, help_text="变更事由")


class NoteSerializer(CodedErrorsMixin, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, help_text="审核意见")


class ReadPermission(ModelPermissions):
    """Reading needs `view_parameterchange`; every write is one of the named operations
    (`operations` below), not Django's add/change permissions."""

    perms_map = {**ModelPermissions.perms_map, "POST": []}


def _refused(text: str) -> OpenApiResponse:
    return OpenApiResponse(ERROR_REF, description=text)


REFUSALS = {
    400: _refused("不能执行：状态不符、本人录入的不能本人审核、退回未填意见等（中文说明与字段）"),
    403: _refused("没有该操作的权限"),
}


@extend_schema_view(
    list=extend_schema(summary="参数变更列表", description="各统筹区的政策参数变更及其状态。"),
    retrieve=extend_schema(summary="参数变更详情", description="一项参数变更及其模拟测算。"),
    create=extend_schema(
        summary="录入参数变更",
        description="录入为草稿；生效日期按政策包对该参数的规则计算（如平顺细则第四十七条："
        "公布次月1日），否则按录入日期。",
        request=ParameterChangeCreateSerializer,
        responses={201: ParameterChangeSerializer, **REFUSALS},
    ),
    submit=extend_schema(
        summary="提交审核",
        description="录入人提交草稿或被退回的变更；提交后自动发起该统筹区当年的政策模拟测算。",
        request=None,
        responses={200: ParameterChangeSerializer, **REFUSALS},
    ),
    withdraw=extend_schema(
        summary="撤回参数变更",
        description="录入人撤回尚未批准的变更。",
        request=None,
        responses={200: ParameterChangeSerializer, **REFUSALS},
    ),
    approve=extend_schema(
        summary="批准参数变更",
        description="另一位具有审核权限的人员批准（不能审核本人录入的）；已到生效日的变更"
        "即重算该统筹区自生效日起的救助。",
        request=NoteSerializer,
        responses={200: ParameterChangeSerializer, **REFUSALS},
    ),
    send_back=extend_schema(
        summary="退回参数变更",
        description="审核人退回给录入人，须填写审核意见。",
        request=NoteSerializer,
        responses={200: ParameterChangeSerializer, **REFUSALS},
    ),
)
class ParameterChangeViewSet(
    OperationPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ParameterChangeSerializer
    permission_classes = [ReadPermission]
    pagination_class = SafeCursorPagination
    filterset_fields = ["state", "kind", "policy_code", "pooling_area__code"]
    operations = {
        "create": PROPOSE,
        "submit": PROPOSE,
        "withdraw": PROPOSE,
        "approve": APPROVE,
        "send_back": APPROVE,
    }

    def get_queryset(self):
        if not is_city_wide(self.request.user):
            return ParameterChange.objects.none()
        return (
            ParameterChange.objects.select_related("pooling_area", "proposed_by", "approved_by")
            .prefetch_related("replays")
            .order_by("-id")
        )

    def _answer(self, change, code=status.HTTP_200_OK) -> Response:
        change = self.get_queryset().get(pk=change.pk)
        return Response(self.get_serializer(change).data, status=code)

    def create(self, request):
        if not is_city_wide(request.user):
            raise PermissionDenied("参数变更仅限市级人员录入")
        body = ParameterChangeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        area = data.pop("pooling_area")
        change = services.parameter_change_propose(pooling_area=area, by=request.user, **data)
        return self._answer(change, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        change = services.parameter_change_submit(change=self.get_object(), by=request.user)
        return self._answer(change)

    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        change = services.parameter_change_withdraw(change=self.get_object(), by=request.user)
        return self._answer(change)

    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        note = _note(request)
        change = services.parameter_change_approve(
            change=self.get_object(), by=request.user, note=note
        )
        return self._answer(change)

    @action(detail=True, methods=["post"], url_path="return")
    def send_back(self, request, pk=None):
        note = _note(request)
        change = services.parameter_change_send_back(
            change=self.get_object(), by=request.user, note=note
        )
        return self._answer(change)


def _note(request) -> str:
    body = NoteSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data.get("note", "")
