from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from beneficiaries.models import (
    Identity,
    Person,
    RosterImport,
    SubsidyLine,
    SubsidyRoster,
)
from medaid.core.fields import Day, InputSerializer, StrictBoolean
from medaid.core.scoping import mask_id_number


class MaskedIdNumberField(serializers.CharField):
    def to_representation(self, value):
        request = self.context.get("request")
        return mask_id_number(value, request.user if request else None)


class IdentitySerializer(serializers.ModelSerializer):
    code_display = serializers.CharField(source="get_code_display", read_only=True)
    person_id_number = MaskedIdNumberField(source="person.id_number", read_only=True)

    class Meta:
        model = Identity
        fields = [
            "id",
            "person",
            "person_id_number",
            "code",
            "code_display",
            "start",
            "end",
            "department",
            "certified_on",
            "source_line",
            "created_at",
        ]
        read_only_fields = fields


class PersonSerializer(serializers.ModelSerializer):
    id_number = MaskedIdNumberField(read_only=True)
    identities = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "id",
            "id_number",
            "name",
            "sex",
            "birth_date",
            "county",
            "township",
            "household",
            "insurance_scheme",
            "insured_place",
            "identities",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "array",
            "description": "持有的救助身份",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "身份代码"},
                    "start": {"type": "string", "format": "date"},
                    "end": {"type": "string", "format": "date", "nullable": True},
                    "department": {"type": "integer", "nullable": True},
                },
            },
        }
    )
    def get_identities(self, person):
        return [
            {"code": i.code, "start": i.start, "end": i.end, "department": i.department_id}
            for i in person.identities.all()
        ]


class RosterImportSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()
    bounds = serializers.SerializerMethodField()
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = RosterImport
        fields = [
            "id",
            "department",
            "county",
            "kind",
            "period",
            "stated_date",
            "delivered_at",
            "channel",
            "file_name",
            "file_format",
            "content_hash",
            "status",
            "error",
            "rows_total",
            "rows_error",
            "counts",
            "bounds",
            "errors_url",
            "applied_at",
            "review_requested_by",
            "reviewed_by",
            "reviewed_at",
            "reversed_by",
            "reversed_at",
            "reversal",
            "created_at",
        ]
        read_only_fields = fields

    def get_counts(self, batch) -> dict[str, int]:
        return (batch.result or batch.preview or {}).get("counts", {})

    def get_bounds(self, batch) -> dict:
        """Identities the apply opens, changes and ends, and whether it waits for review."""
        return (batch.result or batch.preview or {}).get("bounds", {})

    def get_errors_url(self, batch) -> str | None:
        if not batch.rows_error:
            return None
        request = self.context.get("request")
        url = f"/api/v1/imports/{batch.pk}/errors/"
        return request.build_absolute_uri(url) if request else url


class RosterUploadSerializer(InputSerializer):
    file = serializers.FileField(label="名册文件")
    kind = serializers.ChoiceField(choices=RosterImport.Kind.choices, label="名单类型")
    stated_date = Day(label="名单载明日期")
    period = Day(label="所属月份", required=False, ahead="planned")
    department = serializers.IntegerField(label="报送部门", required=False)
    apply = serializers.BooleanField(label="校验后直接入库", default=False)
    end_absent = serializers.BooleanField(
        label="全量名册中未列出的在册身份按名单日期前一日终止", default=False
    )


class RosterReviewSerializer(InputSerializer):
    approve = StrictBoolean(
        label="复核结论",
        help_text="true：同意入库（按预览统计的终止数，不多终止一个）；false：退回，不入库",
    )


class RosterReverseSerializer(InputSerializer):
    confirm = StrictBoolean(
        label="确认撤销",
        help_text="须为 true：删除本次导入新增的身份、恢复其终止的身份，相关人员重算",
    )


class SubsidyLineSerializer(serializers.ModelSerializer):
    person_id_number = MaskedIdNumberField(source="person.id_number", read_only=True)
    person_name = serializers.CharField(source="person.name", read_only=True)

    class Meta:
        model = SubsidyLine
        fields = [
            "id",
            "person",
            "person_name",
            "person_id_number",
            "kind",
            "identity",
            "amount",
            "decided_on",
            "transfer",
        ]
        read_only_fields = fields


class SubsidyRosterSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubsidyRoster
        fields = [
            "id",
            "county",
            "year",
            "decision_date",
            "individual_contribution",
            "policy_code",
            "policy_version",
            "status",
            "headcount",
            "total",
            "created_at",
        ]
        read_only_fields = fields
