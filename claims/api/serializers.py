from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from claims.models import (
    CLAIM_AMOUNT_FIELDS,
    CLAIM_STAY_FIELDS,
    DECISION_FIGURES,
    Adjustment,
    Application,
    ApplicationTransition,
    Claim,
    ClaimKind,
    Decision,
    Declaration,
    Hospital,
    Warning,
    WarningDispatch,
)
from medaid.core.fields import (
    CodedErrorsMixin,
    Day,
    InputSerializer,
    Money,
    StrictBoolean,
    Text,
)
from medaid.core.scoping import mask_id_number


def _label(name: str) -> str:
    """The Chinese name a refusal calls a field by: the claim's, or the application's."""
    for model in (Claim, Application, WarningDispatch):
        try:
            return str(model._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            continue
    return {"id_number": "公民身份号码"}.get(name, name)


class HospitalSerializer(CodedErrorsMixin, serializers.ModelSerializer):
    class Meta:
        model = Hospital
        fields = [
            "id",
            "code",
            "name",
            "level",
            "fee_class",
            "county",
            "in_area",
            "in_province",
            "designated",
        ]


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = [
            "id",
            "claim",
            "is_current",
            *DECISION_FIGURES,
            "trace",
            "decided_at",
        ]


class ClaimSerializer(serializers.ModelSerializer):
    id_number = serializers.SerializerMethodField()
    person_name = serializers.CharField(source="person.name", read_only=True)
    hospital_code = serializers.CharField(source="hospital.code", read_only=True)
    decision = serializers.SerializerMethodField()

    class Meta:
        model = Claim
        fields = [
            "id",
            "person",
            "person_name",
            "id_number",
            "county",
            "hospital",
            "hospital_code",
            "source",
            "external_ref",
            *CLAIM_STAY_FIELDS,
            "settlement",
            "applied",
            *CLAIM_AMOUNT_FIELDS,
            "receipt_numbers",
            "status",
            "review_reason",
            "review_note",
            "declaration",
            "application",
            "decision",
        ]

    def get_id_number(self, obj) -> str:
        return mask_id_number(obj.person.id_number, self.context["request"].user)

    @extend_schema_field(DecisionSerializer(allow_null=True, help_text="当前有效的救助决定"))
    def get_decision(self, obj):
        current = getattr(obj, "current_decisions", None)
        decision = current[0] if current else None
        return DecisionSerializer(decision).data if decision else None


class AdjustmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Adjustment
        fields = ["id", "claim", "decision", "previous_decision", "amount", "reason", "created_at"]


class DeclarationSerializer(serializers.ModelSerializer):
    error_file_url = serializers.SerializerMethodField()

    class Meta:
        model = Declaration
        fields = [
            "id",
            "hospital",
            "year",
            "month",
            "channel",
            "file_name",
            "status",
            "refused_reason",
            "lines_total",
            "lines_refused",
            "claims_accepted",
            "claims_review",
            "declared_total",
            "computed_total",
            "error_file_url",
            "created_at",
            "finished_at",
        ]

    def get_error_file_url(self, obj) -> str | None:
        return obj.error_file.url if obj.error_file else None


class DeclarationRowsSerializer(InputSerializer):
    hospital = serializers.CharField(required=False, help_text="机构编码；医院账户可省略")
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    month = serializers.IntegerField(min_value=1, max_value=12)
    rows = serializers.ListField(child=serializers.DictField(), allow_empty=False)


class DeclarationFileSerializer(InputSerializer):
    hospital = serializers.CharField(required=False)
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    month = serializers.IntegerField(min_value=1, max_value=12)
    file = serializers.FileField()


class ApplicationClaimInSerializer(InputSerializer):
    """A counter receipt: the hospital by code and the claim's facts (claims.models.
    CLAIM_FACT_FIELDS, a test keeps them in step), each field typed and defaulted here."""

    hospital = serializers.CharField(help_text="机构编码")
    kind = serializers.ChoiceField(choices=ClaimKind.choices)
    admitted = Day(required=False, label=_label("admitted"))
    discharged = Day(label=_label("discharged"))
    referred = StrictBoolean(default=True, label=_label("referred"))
    follow_up = StrictBoolean(default=False, label=_label("follow_up"))
    emergency = StrictBoolean(default=False, label=_label("emergency"))
    major_disease = StrictBoolean(default=False, label=_label("major_disease"))
    # The policy contract knows categories 1-3 only (medaid.policy.contract); anything else is
    # refused here, not stored (or overflowing the column on PostgreSQL).
    chronic_category = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=3, help_text="慢特病类别：1、2 或 3"
    )
    total_cost = Money(required=False, label=_label("total_cost"))
    in_policy_cost = Money(label=_label("in_policy_cost"))
    out_of_catalog_cost = Money(default=0, label=_label("out_of_catalog_cost"))
    basic_insurance_paid = Money(default=0, label=_label("basic_insurance_paid"))
    critical_illness_paid = Money(default=0, label=_label("critical_illness_paid"))
    other_paid = Money(default=0, label=_label("other_paid"))
    receipt_numbers = Text(max_length=500, label=_label("receipt_numbers"))


class ApplicationCreateSerializer(InputSerializer):
    id_number = Text(max_length=18, label=_label("id_number"))
    applied = Day(label=_label("applied"))
    note = Text(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        multiline=True,
        label=_label("note"),
    )
    claims = ApplicationClaimInSerializer(many=True)


class TransitionSerializer(serializers.ModelSerializer):
    by = serializers.StringRelatedField()

    class Meta:
        model = ApplicationTransition
        fields = ["source", "target", "by", "reason", "at"]


class ApplicationSerializer(serializers.ModelSerializer):
    transitions = TransitionSerializer(many=True, read_only=True)
    claim_ids = serializers.PrimaryKeyRelatedField(source="claims", many=True, read_only=True)

    class Meta:
        model = Application
        fields = [
            "id",
            "number",
            "person",
            "county",
            "applied",
            "state",
            "note",
            "reason",
            "total",
            "created_by",
            "submitted_by",
            "submitted_at",
            "claim_ids",
            "transitions",
        ]
        read_only_fields = fields


class ReasonSerializer(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class WarningSerializer(serializers.ModelSerializer):
    person_name = serializers.CharField(source="person.name", read_only=True)
    id_number = serializers.SerializerMethodField()

    class Meta:
        model = Warning
        fields = [
            "id",
            "person",
            "person_name",
            "id_number",
            "county",
            "year",
            "kind",
            "group",
            "claim",
            "amount",
            "threshold",
            "policy_code",
            "found_on",
        ]

    def get_id_number(self, obj) -> str:
        user = self.context["request"].user
        if user.department_id:
            return obj.person.id_number
        return mask_id_number(obj.person.id_number, user)


class WarningDispatchSerializer(serializers.ModelSerializer):
    warning = WarningSerializer(read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = WarningDispatch
        fields = [
            "id",
            "warning",
            "department",
            "sent_on",
            "due_on",
            "answered_on",
            "outcome",
            "answer",
            "overdue",
        ]
        read_only_fields = fields

    def get_overdue(self, obj) -> bool:
        from django.utils import timezone

        return obj.is_overdue(timezone.localdate())


class AnswerSerializer(InputSerializer):
    outcome = serializers.ChoiceField(choices=WarningDispatch.Outcome.choices)
    answer = Text(max_length=1000, multiline=True, label=_label("answer"))


class ClaimCorrectionSerializer(InputSerializer):
    """A correction's changes: any of `services.CORRECTABLE_FIELDS` (a test keeps them in
    step), each optional; the rules of `claim_figures_errors` then check the whole claim."""

    kind = serializers.ChoiceField(choices=ClaimKind.choices, required=False)
    admitted = Day(required=False, label=_label("admitted"))
    discharged = Day(required=False, label=_label("discharged"))
    referred = StrictBoolean(required=False, label=_label("referred"))
    follow_up = StrictBoolean(required=False, label=_label("follow_up"))
    emergency = StrictBoolean(required=False, label=_label("emergency"))
    major_disease = StrictBoolean(required=False, label=_label("major_disease"))
    # The policy contract knows categories 1-3 only (medaid.policy.contract); anything else is
    # refused here, not stored (or overflowing the column on PostgreSQL).
    chronic_category = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=3, help_text="慢特病类别：1、2 或 3"
    )
    total_cost = Money(required=False, label=_label("total_cost"))
    in_policy_cost = Money(required=False, label=_label("in_policy_cost"))
    out_of_catalog_cost = Money(required=False, label=_label("out_of_catalog_cost"))
    basic_insurance_paid = Money(required=False, label=_label("basic_insurance_paid"))
    critical_illness_paid = Money(required=False, label=_label("critical_illness_paid"))
    other_paid = Money(required=False, label=_label("other_paid"))
    receipt_numbers = Text(max_length=500, required=False, label=_label("receipt_numbers"))
