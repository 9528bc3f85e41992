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
from medaid.core.errors import Refusal
from medaid.core.money import to_yuan


class ApprovalError(Refusal):
    """An application that cannot be entered or decided as asked."""

    code = "approval"


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
    supervisor sees each test with its figures."""
    if household_size < 1:
        raise ApprovalError("家庭人口数至少为1")
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
