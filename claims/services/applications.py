"""Counter applications (依申请救助): register with receipts, submit, a supervisor approves (twice
above the threshold), rejects or returns, and paid once the funds app has settled every claim."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone

from beneficiaries.models import Person
from beneficiaries.selectors import policy_on
from claims import selectors
from claims.models import (
    APPLICATION_WAITING_STATES,
    Application,
    ApplicationApproval,
    ApplicationTransition,
    Claim,
    ClaimKind,
    Decision,
    DecisionRun,
    Hospital,
)
from claims.services.checks import claim_facts_check, claim_figures_errors, policy_covers
from claims.services.errors import ClaimsError
from claims.services.recompute import people_recompute, run_create, run_execute
from medaid.core import validators
from medaid.core.money import ZERO

# --- counter applications ------------------------------------------------------------------


def _next_application_number(county) -> str:
    today = timezone.localdate()
    prefix = f"SQ{county.code}{today:%Y%m%d}"
    count = Application.objects.filter(number__startswith=prefix).count()
    return f"{prefix}{count + 1:04d}"


def _log(application: Application, source: str, by, reason: str = "") -> None:
    ApplicationTransition.objects.create(
        application=application,
        source=source,
        target=application.state,
        by=by,
        reason=reason[:500],
    )


def application_create(
    *, person: Person, applied: dt.date, created_by, claims: list[dict], note: str = ""
) -> Application:
    """Register a counter application with its claims (receipts) and decide them at once, so the
    clerk sees the decision and its trace. Claims are checked like declaration lines."""
    if not claims:
        raise ClaimsError("申请至少需要一笔费用明细", code="no_claims")
    validators.day(applied, field="applied", label="申请日期", today=timezone.localdate())
    note = validators.text(note, field="note", label="备注", max_length=500, multiline=True)
    with transaction.atomic():
        application = Application.objects.create(
            number=_next_application_number(person.county),
            person=person,
            county=person.county,
            applied=applied,
            created_by=created_by,
            note=note,
        )
        _log(application, "", created_by, "登记申请")
        for data in claims:
            application_claim_add(application=application, data=data, decide=False)
        _application_decide(application=application)
    application.refresh_from_db()
    return application


def application_claim_add(*, application: Application, data: dict, decide: bool = True) -> Claim:
    """Attach one receipt-backed claim to a draft or returned application."""
    if application.state not in (Application.State.DRAFT, Application.State.RETURNED):
        raise ClaimsError("只有草稿或退回补正的申请可以修改明细", code="not_editable")
    data = dict(data)
    hospital = data.pop("hospital")
    if not isinstance(hospital, Hospital):
        found = Hospital.objects.filter(code=hospital).first()
        if found is None:
            raise ClaimsError(f"医疗机构编码不存在：{hospital}", code="unknown_hospital")
        hospital = found
    if data.get("kind") not in ClaimKind.values:
        raise ClaimsError(f"救助项目无法识别：{data.get('kind')}", code="bad_kind")
    data.setdefault("admitted", data.get("discharged"))
    if data.get("total_cost") is None:
        data["total_cost"] = (data.get("in_policy_cost") or ZERO) + (
            data.get("out_of_catalog_cost") or ZERO
        )
    claim_facts_check(data, today=timezone.localdate())
    problems = claim_figures_errors(data)
    if problems:
        raise ClaimsError(problems[0][1], code=problems[0][0])
    area_policy = policy_on(pooling_area=application.county.pooling_area_id, day=data["discharged"])
    if not policy_covers(area_policy.code, data["discharged"]):
        raise ClaimsError("就诊日期不在任何政策版本的有效期内", code="no_policy")
    if data["discharged"] > application.applied:
        raise ClaimsError("出院（就诊）日期不能晚于申请日期", code="future_date")
    overlapping = selectors.claims_overlapping(
        person_id=application.person_id,
        kind=data["kind"],
        admitted=data["admitted"],
        discharged=data["discharged"],
    ).exclude(application=application)
    clash = overlapping.first()
    if clash is not None:
        raise ClaimsError(
            f"同一时段同类费用已有记录（{clash.hospital.name} {clash.external_ref}），不能重复申请",
            code="overlap",
        )
    receipts = data.get("receipt_numbers", "")
    if not receipts:
        raise ClaimsError("依申请救助必须登记票据号", code="receipts_required")
    count = application.claims.count()
    claim = Claim(
        person_id=application.person_id,
        county_id=application.county_id,
        hospital=hospital,
        source=Claim.Source.APPLICATION,
        settlement=Claim.Settlement.APPLICATION,
        external_ref=data.pop("external_ref", None) or f"{application.number}-{count + 1}",
        applied=application.applied,
        application=application,
        **data,
    )
    claim.full_clean(exclude=["person", "county", "application"])
    claim.save()
    if decide:
        _application_decide(application=application)
    return claim


def _application_decide(*, application: Application) -> Decimal:
    """Decide the person's years the application's claims fall in and keep the total."""
    years = sorted(
        application.claims.order_by().values_list("discharged__year", flat=True).distinct()
    )
    people = Person.objects.filter(pk=application.person_id).values("id")
    for year in years:
        run = run_create(
            kind=DecisionRun.Kind.APPLICATION,
            year=year,
            people=people,
            reason=f"申请 {application.number}",
            partitions=1,
        )
        run_execute(run=run)
    total = (
        Decision.objects.filter(claim__application=application, is_current=True).aggregate(
            s=Sum("total")
        )["s"]
        or ZERO
    )
    Application.objects.filter(pk=application.pk).update(total=total)
    application.total = total
    return total


def _locked(application_id: int) -> Application:
    return Application.objects.select_for_update().get(pk=application_id)


def application_submit(*, application: Application, by) -> Application:
    """`by` must hold `claims.submit_application` (None: the system, e.g. the demo).
    Lock: the application row (taken here)."""
    if by is not None and not by.has_perm("claims.submit_application"):
        raise ClaimsError("没有提交救助申请的权限", code="permission_denied")
    with transaction.atomic():
        app = _locked(application.pk)
        if app.state not in (Application.State.DRAFT, Application.State.RETURNED):
            raise ClaimsError(f"当前状态（{app.get_state_display()}）不能提交", code="bad_state")
        source = app.state
        app.submit()
        app.submitted_by = by
        app.submitted_at = timezone.now()
        app.save()
        _log(app, source, by, "提交审批")
    _application_decide(application=app)
    return app


def second_approval_threshold() -> Decimal:
    return Decimal(str(settings.SECOND_APPROVAL_THRESHOLD))


def _check_supervisor(app: Application, by, permission: str) -> None:
    if not by.has_perm(permission):
        raise PermissionDenied("无审批权限")
    if by.pk in (app.submitted_by_id, app.created_by_id):
        raise PermissionDenied("审批人不能是该申请的受理人或提交人")
    if not by.is_superuser and by.county_id is not None and by.county_id != app.county_id:
        raise PermissionDenied("不能审批其他区县的申请")


def _locked_for_decision(application: Application, by, permission: str) -> Application:
    """The application row, locked, still waiting for a supervisor who may decide it (holding
    `permission`: approve, reject or return)."""
    app = _locked(application.pk)
    if app.state not in APPLICATION_WAITING_STATES:
        raise ClaimsError(f"该申请已处理（{app.get_state_display()}）", code="already_decided")
    _check_supervisor(app, by, permission)
    return app


def _reason_text(reason: str) -> str:
    # 400, not the column's 500: a second approval's log line adds its own words before it.
    label = "意见或理由"
    return validators.text(reason, field="reason", label=label, max_length=400, multiline=True)


def _decide(app: Application, transition, *, by, reason: str) -> None:
    """Run one FSM transition, keep the supervisor's reason, and log it."""
    source = app.state
    transition()
    app.reason = reason
    app.save()
    _log(app, source, by, reason)


def application_approve(*, application: Application, by, note: str = "") -> Application:
    """A supervisor approves. Lock: the application row (select_for_update, taken here), so of
    two supervisors approving at once exactly one wins; the other finds it already decided.
    Above SECOND_APPROVAL_THRESHOLD a second, different supervisor must approve too."""
    note = _reason_text(note)
    with transaction.atomic():
        app = _locked_for_decision(application, by, "claims.approve_application")
        if app.approvals.filter(approver=by).exists():
            raise ClaimsError("您已审批过该申请，需另一位审批人复核", code="already_approved")
        # The figures the supervisor approves are recomputed now, not those of the submission.
        total = _application_decide(application=app)
        ApplicationApproval.objects.create(application=app, approver=by, total=total, note=note)
        needed = 2 if total > second_approval_threshold() else 1
        if app.approvals.count() < needed:
            # 待初审 → 待复审: the state itself says a second supervisor is awaited.
            source = app.state
            if source == Application.State.SUBMITTED:
                app.first_approve()
                app.save()
            _log(
                app,
                source,
                by,
                f"初审通过，救助合计 {total} 超过 "
                f"{second_approval_threshold()}，待另一位审批人复审。{note}",
            )
            return app
        _decide(app, app.approve, by=by, reason=note or "审批通过")
        app.claims.filter(status=Claim.Status.PENDING).update(
            status=Claim.Status.ACCEPTED, updated_at=timezone.now()
        )
    return app


def application_reject(*, application: Application, by, reason: str) -> Application:
    """Lock: the application row (taken here). Its claims leave the person's year."""
    reason = _reason_text(reason)
    if not reason:
        raise ClaimsError("不予救助必须填写原因", code="reason_required")
    with transaction.atomic():
        app = _locked_for_decision(application, by, "claims.reject_application")
        _decide(app, app.reject, by=by, reason=reason)
        app.claims.update(status=Claim.Status.REJECTED, updated_at=timezone.now())
        years = list(app.claims.order_by().values_list("discharged__year", flat=True).distinct())
    if years:
        people_recompute(
            people=Person.objects.filter(pk=app.person_id).values("id"),
            since=dt.date(min(years), 1, 1),
            until_year=max(years),
            reason=f"申请 {app.number} 不予救助",
        )
    return app


def application_return(*, application: Application, by, reason: str) -> Application:
    """Send back for correction. Lock: the application row (taken here)."""
    reason = _reason_text(reason)
    if not reason:
        raise ClaimsError("退回必须填写原因", code="reason_required")
    with transaction.atomic():
        app = _locked_for_decision(application, by, "claims.return_application")
        _decide(app, app.send_back, by=by, reason=reason)
        app.approvals.all().delete()
    return app


def applications_mark_paid(*, claim_ids=None, by=None) -> int:
    """Approved applications whose every claim is settled become paid — once: an application
    already paid is left alone, so a settlement reported twice pays nothing twice. With
    `claim_ids` (the claims a settlement just paid), only their applications are looked at.
    The claims app runs it when the funds app reports a posted settlement (`settlement.posted`)."""
    unsettled = Claim.objects.filter(application_id=OuterRef("pk")).exclude(
        status=Claim.Status.SETTLED
    )
    candidates = Application.objects.filter(state=Application.State.APPROVED).filter(
        ~Exists(unsettled)
    )
    if claim_ids is not None:
        candidates = candidates.filter(claims__id__in=claim_ids).distinct()
    return _transition_each(
        candidates.values_list("id", flat=True),
        Application.State.APPROVED,
        lambda app: app.pay(),
        by,
        "救助金已结算支付",
    )


def applications_payment_reversed(*, claim_ids, by=None) -> int:
    """Paid applications among those of `claim_ids` go back to approved: the voucher that paid
    them was reversed, and the next settlement pays them again (`voucher.reversed`)."""
    candidates = Application.objects.filter(
        state=Application.State.PAID, claims__id__in=claim_ids
    ).distinct()
    return _transition_each(
        candidates.values_list("id", flat=True),
        Application.State.PAID,
        lambda app: app.payment_reversed(),
        by,
        "支付凭证已冲销，待重新结算支付",
    )


def _transition_each(ids, source: str, transition, by, reason: str) -> int:
    done = 0
    for app_id in list(ids):
        with transaction.atomic():
            app = _locked(app_id)
            if app.state != source:
                continue
            transition(app)
            app.save()
            _log(app, source, by, reason)
            done += 1
    return done
