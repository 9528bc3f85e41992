"""因病致贫 (illness-poverty) certification at the counter: a clerk enters the application, the
pack's certification rule checks it at once, and a supervisor other than the clerk decides;
an approval opens an `illness_poverty` identity."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from beneficiaries.models import (
    Department,
    DepartmentKind,
    IdentityCode,
    IllnessPovertyApplication,
    Person,
)
from beneficiaries.services.identities import identity_open
from medaid import policy as engine
from medaid.core import validators
from medaid.core.errors import Refusal
from medaid.core.money import to_yuan


class ApprovalError(Refusal):
    """An application that cannot be entered or decided as asked."""

    code = "approval"


def illness_application_check(
    *,
    applied_on: date | None,
    household_size,
    household_income,
    financial_assets,
    cost_90_days,
    urban_dibao_standard,
    birth_date: date | None = None,
) -> None:
    """The figures of a 因病致贫 application: received by today and not before the applicant
    was born, a household of at least one, amounts not negative, to the cent, within the
    income maximum. The admin's form calls it too, to show a refusal under its field."""
    today = timezone.localdate()
    since = {"earliest": birth_date, "earliest_label": "出生日期"} if birth_date else {}
    if applied_on is None:
        raise ApprovalError("请填写申请日期", code="required", field="applied_on")
    validators.day(applied_on, field="applied_on", label="申请日期", today=today, **since)
    if isinstance(household_size, bool) or not isinstance(household_size, int):
        raise ApprovalError("家庭人口数应为整数", code="bad_number", field="household_size")
    if not 1 <= household_size <= 50:
        raise ApprovalError(
            f"家庭人口数应在 1–50 之间：{household_size}",
            code="household_size_out_of_range",
            field="household_size",
        )
    for field, label, value in (
        ("household_income", "家庭年收入", household_income),
        ("financial_assets", "家庭金融资产", financial_assets),
        ("cost_90_days", "近90天目录内个人负担医疗费用", cost_90_days),
        ("urban_dibao_standard", "当地城市低保标准", urban_dibao_standard),
    ):
        validators.money(value, field=field, label=label, kind="income")


def illness_application_create(
    *,
    person: Person,
    applied_on: date,
    household_size: int,
    household_income,
    financial_assets,
    cost_90_days,
    urban_dibao_standard,
    insured_in_province: bool,
    created_by,
):
    """Enter an application and check it with the pack's certification rule at once, so the
    supervisor sees each test with its figures. Refuses what `illness_application_check`
    refuses, before anything is written."""
    illness_application_check(
        applied_on=applied_on,
        household_size=household_size,
        household_income=household_income,
        financial_assets=financial_assets,
        cost_90_days=cost_90_days,
        urban_dibao_standard=urban_dibao_standard,
        birth_date=person.birth_date,
    )
    facts = engine.CertificationFacts(
        application_date=applied_on,
        insured_in_province=insured_in_province,
        personal_in_catalog_cost_90d=Decimal(cost_90_days),
        household_income_per_capita=to_yuan(Decimal(household_income) / household_size),
        local_urban_dibao_standard=Decimal(urban_dibao_standard),
        financial_assets_per_capita=to_yuan(Decimal(financial_assets) / household_size),
    )
    try:
        result = engine.certify_illness_poverty(person.county.pooling_area.policy_code, facts)
        eligible, trace = result.certified, result.trace
    except engine.RuleNotInPack:
        eligible, trace = None, ["本地政策包未规定因病致贫认定条件，由审批人依本地规定认定"]
    return IllnessPovertyApplication.objects.create(
        person=person,
        county=person.county,
        applied_on=applied_on,
        household_size=household_size,
        household_income=household_income,
        financial_assets=financial_assets,
        cost_90_days=cost_90_days,
        urban_dibao_standard=urban_dibao_standard,
        insured_in_province=insured_in_province,
        eligible=eligible,
        check_trace=trace,
        created_by=created_by,
    )


def illness_application_decide(*, application, approver, approve: bool, note: str = ""):
    """A supervisor's decision. The approver must hold the approval permission and must not be
    the clerk who entered the application (four eyes). Approval opens an `illness_poverty`
    identity from the approval date, certified by the county's 民政. Locks the application."""
    if not approver.has_perm("beneficiaries.approve_illnesspovertyapplication"):
        raise ApprovalError("无审批因病致贫认定申请的权限")
    with transaction.atomic():
        locked = IllnessPovertyApplication.objects.select_for_update().get(pk=application.pk)
        if locked.status != IllnessPovertyApplication.Status.SUBMITTED:
            raise ApprovalError("该申请已审批")
        if locked.created_by_id == approver.pk:
            raise ApprovalError("审批人不能是录入该申请的经办人")
        if approve and locked.eligible is False:
            raise ApprovalError("不符合认定条件（见核查过程），不能认定")
        today = timezone.localdate()
        if approve:
            department = Department.objects.filter(
                county_id=locked.county_id, kind=DepartmentKind.CIVIL_AFFAIRS
            ).first()
            locked.identity = identity_open(
                person=locked.person,
                code=IdentityCode.ILLNESS_POVERTY,
                start=today,
                department=department,
                certified_on=today,
                source_line=f"因病致贫申请{locked.pk}",
            )
        locked.status = (
            IllnessPovertyApplication.Status.APPROVED
            if approve
            else IllnessPovertyApplication.Status.REJECTED
        )
        locked.approved_by = approver
        locked.decided_at = timezone.now()
        locked.decision_note = note[:200]
        locked.save()
    return locked
